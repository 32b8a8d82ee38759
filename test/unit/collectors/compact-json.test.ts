import { parse as parseLossless } from 'lossless-json';
import {
  flattenCompactJson,
  parseCompactJsonKeepingNumberText,
} from '../../../collectors/formats/compact-json';
import { flattenJsonLine } from '../../../collectors/formats/jsonl-rows';
import { prng } from '../../support/random';

// The compact path must give exactly the general path's columns, in the same order (the order is
// the object's header order), or decline the line. It must never accept a line the general path
// rejects.
function expectAgreement(line: string): 'fast' | 'declined' {
  const fast = flattenCompactJson(line);
  const slow = flattenJsonLine(line);
  if (fast === undefined) return 'declined';
  if (!('columns' in slow)) throw new Error(`compact path accepted a line the general path rejects: ${line}`);
  expect(Object.entries(fast)).toEqual(Object.entries(slow.columns));
  return 'fast';
}

// BigQuery EXPORT DATA (format='JSON') shape: INT64 as strings, FLOAT64 as numbers, `<>&` escaped
// as \u003c \u003e \u0026, REPEATED fields as arrays.
const bigQueryRow = String.raw`{"billing_account_id":"01A2B3-C4D5E6-F7A8B9","service":{"id":"6F81-5844-456A","description":"Compute Engine"},"sku":{"id":"2E27-4F75-95CD","description":"N1 \u003cPredefined\u003e Instance Core \u0026 RAM"},"usage_start_time":"2026-11-01 03:00:00 UTC","usage_end_time":"2026-11-01 04:00:00 UTC","project":{"id":"p1","number":"123456789012","labels":[{"key":"env","value":"prod"}],"ancestry_numbers":"/1/2/"},"labels":[{"key":"team","value":"a"},{"key":"team","value":"b"}],"system_labels":[],"location":{"location":"us-central1","region":"us-central1","zone":null},"export_time":"2026-11-02 01:11:12.066 UTC","cost":0.12345678901234567890,"currency":"EUR","currency_conversion_rate":0.9213,"usage":{"amount":3600,"unit":"seconds","amount_in_pricing_units":1.0000000000000002,"pricing_unit":"hour"},"credits":[{"name":"Sustained use discount","amount":-0.0123456789012345678,"full_name":"","id":"","type":"SUSTAINED_USAGE_DISCOUNT"},{"name":"Promo","amount":-1e-7,"type":"PROMOTION"}],"invoice":{"month":"202611","publisher_type":"GOOGLE"},"cost_type":"regular","adjustment_info":{"id":null},"cost_at_list":0.2,"transaction_type":"GOOGLE","seller_name":"","price":{"tier_start_amount":"0"},"resource":{"global_name":"//compute.googleapis.com/x"},"big":12345678901234567890123,"flag":true,"off":false}`;

/** Random rows of the export's shape, with the values that stress a JSON reader. */
const PLAIN_TEXTS = ['Compute Engine', 'N1 <Core> & RAM', 'ünïcödé ✓ 𝄞', 'a/b', '', 'x\u2028y'];
/** JSON.stringify writes these with escapes (\" \\ \t \u0001). */
const ESCAPED_TEXTS = ['quote " and \\ back', 'tab\there', 'bell \u0001'];

function generatedRow(rnd: () => number, texts: readonly string[]): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const text = () => JSON.stringify(pick(texts));
  const number = () =>
    pick(['0', '-0', '3600', '0.1234567890123456789', '-1e-7', '1E+21', '12345678901234567890123', '2.50']);
  const label = () => `{"key":${text()},"value":${text()}}`;
  const labels = () => `[${Array.from({ length: Math.floor(rnd() * 4) }, label).join(',')}]`;
  const credits = () =>
    `[${Array.from({ length: Math.floor(rnd() * 3) }, () => `{"name":${text()},"amount":${number()},"type":"PROMOTION"}`).join(',')}]`;
  const members = [
    `"billing_account_id":"012345-ABCDEF-678901"`,
    `"service":{"id":"SVC-${Math.floor(rnd() * 20)}","description":${text()}}`,
    `"sku":{"id":"SKU-1","description":${text()}}`,
    `"usage_start_time":"2026-10-01 00:00:00 UTC"`,
    `"project":{"id":"p","labels":${labels()},"ancestors":[{"resource_name":"folders/1","display_name":${text()}}]}`,
    `"labels":${labels()}`,
    `"location":{"region":${pick(['"us-central1"', 'null', '""'])},"zone":null}`,
    `"cost":${number()}`,
    `"usage":{"amount":${number()},"unit":"seconds","amount_in_pricing_units":${number()}}`,
    `"credits":${credits()}`,
    `"adjustment_info":${pick(['{}', '{"id":null}', '{"id":"adj","type":"GENERAL_ADJUSTMENT"}'])}`,
    `"tags":${pick(['[]', '[[1,2],[]]', '[{"key":"k","value":null,"inherited":true}]'])}`,
    `"flag":${pick(['true', 'false', 'null'])}`,
  ];
  return `{${members.filter(() => rnd() < 0.9).join(',')}}`;
}

describe('flattenCompactJson', () => {
  it('flattens a BigQuery row exactly as the general path does', () => {
    expect(expectAgreement(bigQueryRow)).toBe('fast');
    const columns = flattenCompactJson(bigQueryRow)!;
    expect(columns['sku.description']).toBe('N1 <Predefined> Instance Core & RAM');
    expect(columns.cost).toBe('0.12345678901234567890');
    expect(columns.credits).toBe(
      '[{"name":"Sustained use discount","amount":-0.0123456789012345678,"full_name":"","id":"","type":"SUSTAINED_USAGE_DISCOUNT"},{"name":"Promo","amount":-1e-7,"type":"PROMOTION"}]',
    );
    expect(columns.off).toBe('false');
    expect(columns).not.toHaveProperty('location.zone');
  });

  it('takes every generated row without escapes in keys or arrays itself, with the same columns', () => {
    const rnd = prng(7);
    for (let i = 0; i < 2000; i++) expect(expectAgreement(generatedRow(rnd, PLAIN_TEXTS))).toBe('fast');
  });

  it('agrees with the general path on 2,000 generated rows with escaped text anywhere', () => {
    const rnd = prng(9);
    const outcomes = { fast: 0, declined: 0 };
    for (let i = 0; i < 2000; i++)
      outcomes[expectAgreement(generatedRow(rnd, [...PLAIN_TEXTS, ...ESCAPED_TEXTS]))]++;
    // An escape in a plain string value is decoded here; one inside an array sends the row to the
    // general path.
    expect(outcomes.fast).toBeGreaterThan(100);
    expect(outcomes.declined).toBeGreaterThan(100);
  });

  it('never accepts a line the general path rejects, nor flattens one differently (mutated rows)', () => {
    const rnd = prng(11);
    const alphabet = [
      '{',
      '}',
      '[',
      ']',
      '"',
      ':',
      ',',
      '\\',
      ' ',
      '\t',
      '0',
      '1',
      '.',
      'e',
      '-',
      '+',
      'n',
      't',
      'u',
      'x',
    ];
    let rejectedBySlowPath = 0;
    for (let i = 0; i < 4000; i++) {
      let line = i % 2 ? bigQueryRow : generatedRow(rnd, PLAIN_TEXTS);
      for (let m = 1 + Math.floor(rnd() * 3); m > 0; m--) {
        const at = Math.floor(rnd() * line.length);
        const op = rnd();
        if (op < 0.4) line = line.slice(0, at) + line.slice(at + 1);
        else if (op < 0.8)
          line = line.slice(0, at) + alphabet[Math.floor(rnd() * alphabet.length)] + line.slice(at);
        else {
          const len = Math.floor(rnd() * 40);
          line = line.slice(0, at) + line.slice(at, at + len) + line.slice(at);
        }
      }
      if (!('columns' in flattenJsonLine(line))) rejectedBySlowPath++;
      expectAgreement(line);
    }
    expect(rejectedBySlowPath).toBeGreaterThan(1000);
  });

  it.each([
    ['an unequal duplicate key', '{"a":1,"a":2}'],
    ['an equal duplicate key', '{"a":{"b":1},"a":{"b":1}}'],
    ['a duplicate key whose first value is null', '{"a":null,"a":1}'],
    ['a dotted key beside the object it names', '{"a":{"b":1},"a.b":2}'],
    ['a key starting with a digit (ordered first by JavaScript)', '{"b":1,"2":3}'],
    ['a __proto__ key', '{"__proto__":{"x":1}}'],
    ['an escaped key', String.raw`{"a\u0062":1}`],
    ['an escape inside an array', String.raw`{"l":[{"key":"\u003c"}]}`],
    ['a duplicate key inside an array', '{"l":[{"k":1,"k":1}]}'],
    ['whitespace between tokens', '{"a": 1}'],
    ['a trailing character', '{"a":1}x'],
    ['a leading zero', '{"a":01}'],
    ['a bare minus', '{"a":-}'],
    ['a trailing dot', '{"a":1.}'],
    ['a raw control character in a string', '{"a":"x\u0001y"}'],
    ['a lone surrogate', '{"l":["\udd1e"]}'],
    ['an unterminated string', '{"a":"x}'],
    ['a top-level array', '[{"a":1}]'],
  ])('declines %s', (_, line) => {
    expect(flattenCompactJson(line)).toBeUndefined();
    expectAgreement(line);
  });

  it('declines nesting deeper than 32 without exhausting the stack', () => {
    const deep = (n: number, open: string, close: string) => `{"a":${open.repeat(n)}1${close.repeat(n)}}`;
    expect(flattenCompactJson(deep(200_000, '{"a":', '}'))).toBeUndefined();
    expect(flattenCompactJson(deep(200_000, '[', ']'))).toBeUndefined();
    expect(expectAgreement(deep(20, '{"a":', '}'))).toBe('fast');
    expect(expectAgreement(deep(20, '[', ']'))).toBe('fast');
    expect(expectAgreement(deep(40, '{"a":', '}'))).toBe('declined');
  });

  it('reads lines whose members change order or set from line to line', () => {
    // Members are remembered from the previous line; each line must still be read from its own text.
    const lines = [
      '{"a":"1","b":{"c":"2","d":"3"},"e":"4"}',
      '{"b":{"d":"3","c":"2"},"a":"1"}',
      '{"a":"1","ab":"x","b":"y"}',
      '{"a":{"b":"1"},"c":"2"}',
      '{"a":"1","b":{"c":"2","d":"3"},"e":"4"}',
      '{"ab":"1","a":"2"}',
      '{"a":"1"}',
    ];
    for (const line of lines) expect(expectAgreement(line)).toBe('fast');
    expect(flattenCompactJson(lines[1])).toEqual({ 'b.d': '3', 'b.c': '2', a: '1' });
    expect(Object.keys(flattenCompactJson(lines[1])!)).toEqual(['b.d', 'b.c', 'a']);
    expect(flattenCompactJson(lines[5])).toEqual({ ab: '1', a: '2' });
  });

  it('keeps reading correctly when lines keep changing shape past the members it remembers', () => {
    // 3,000 lines with new keys each (9,000 new members in all, past the 4,096 remembered),
    // interleaved with the BigQuery row.
    for (let i = 0; i < 3000; i++) {
      expect(expectAgreement(`{"k${i}":"a","n${i}":{"x${i}":1},"z":[${i}]}`)).toBe('fast');
      if (i % 100 === 0) expect(expectAgreement(bigQueryRow)).toBe('fast');
    }
  });

  it('keeps nested arrays, empty arrays and objects as the general path does', () => {
    for (const line of ['{}', '{"a":{}}', '{"a":[]}', '{"a":[[1,[]],{},null,true,"x"]}', '{"a":"","b":null}'])
      expect(expectAgreement(line)).toBe('fast');
    expect(flattenCompactJson('{"a":[[1,[]],{},null,true,"x"]}')).toEqual({ a: '[[1,[]],{},null,true,"x"]' });
    expect(flattenCompactJson('{"a":"","b":null}')).toEqual({});
  });
});

describe('parseCompactJsonKeepingNumberText', () => {
  // The reference: lossless-json with every number kept as its source text (parseJsonCell's reading).
  function expectSameValue(text: string): 'fast' | 'declined' {
    const fast = parseCompactJsonKeepingNumberText(text);
    if (fast === undefined) return 'declined';
    let reference: unknown;
    try {
      reference = parseLossless(text, null, (s: string) => s);
    } catch (err) {
      throw new Error(`native path accepted what lossless-json rejects (${(err as Error).message}): ${text}`);
    }
    expect(fast.value).toStrictEqual(reference);
    expect(JSON.stringify(fast.value)).toBe(JSON.stringify(reference));
    return 'fast';
  }

  it('reads credits and labels with every number as its exact text', () => {
    const credits =
      '[{"name":"Sustained use","amount":-0.0123456789012345678,"type":"SUSTAINED_USAGE_DISCOUNT"},{"amount":1E+21,"n":[0,-0,2.50]}]';
    expect(expectSameValue(credits)).toBe('fast');
    expect(parseCompactJsonKeepingNumberText(credits)!.value).toEqual([
      { name: 'Sustained use', amount: '-0.0123456789012345678', type: 'SUSTAINED_USAGE_DISCOUNT' },
      { amount: '1E+21', n: ['0', '-0', '2.50'] },
    ]);
    for (const text of [
      '[{"key":"env","value":"prod"}]',
      '[]',
      '{}',
      '"x"',
      '12',
      'null',
      '{"a":[true,false,null]}',
    ])
      expect(expectSameValue(text)).toBe('fast');
  });

  it("reads Azure's tags (spaces after the colons) and spaced JSON as lossless-json does", () => {
    const tags =
      '{"CostCenter": "1234","cm-resource-parent": "/subscriptions/ed57/resourceGroups/ftk/providers/Microsoft.Cloud/hubs/finopshub","env": "prod"}';
    expect(expectSameValue(tags)).toBe('fast');
    expect(parseCompactJsonKeepingNumberText(tags)!.value).toEqual({
      CostCenter: '1234',
      'cm-resource-parent': '/subscriptions/ed57/resourceGroups/ftk/providers/Microsoft.Cloud/hubs/finopshub',
      env: 'prod',
    });
    for (const text of [' { "a" : [ 1 , 2.5 , { } , [ ] ] , "b" : null } ', '[ ]', '{ }', ' 7 '])
      expect(expectSameValue(text)).toBe('fast');
    expect(parseCompactJsonKeepingNumberText(' { "a" : [ 1 , -2.50 ] } ')!.value).toEqual({
      a: ['1', '-2.50'],
    });
  });

  it('agrees with lossless-json on the arrays of generated rows, and on mutated ones', () => {
    const rnd = prng(5);
    const alphabet = ['{', '}', '[', ']', '"', ':', ',', '\\', ' ', '0', '1', '.', 'e', '-', '+', 'n', 'x'];
    const outcomes = { fast: 0, declined: 0 };
    for (let i = 0; i < 3000; i++) {
      const row = generatedRow(rnd, i % 3 ? PLAIN_TEXTS : [...PLAIN_TEXTS, ...ESCAPED_TEXTS]);
      for (const match of row.matchAll(/"(?:labels|credits)":(\[.*?\])(?=,"|}$)/g)) {
        // Every other array gets spaces after its colons and commas, as Azure writes its tags.
        let text = i % 4 < 2 ? match[1] : match[1].replace(/([:,])"/g, '$1 "');
        if (i % 2) {
          const at = Math.floor(rnd() * text.length);
          text =
            rnd() < 0.5
              ? text.slice(0, at) + text.slice(at + 1)
              : text.slice(0, at) + alphabet[Math.floor(rnd() * alphabet.length)] + text.slice(at);
        }
        outcomes[expectSameValue(text)]++;
      }
    }
    expect(outcomes.fast).toBeGreaterThan(1000);
    expect(outcomes.declined).toBeGreaterThan(500);
  });

  it.each([
    ['a duplicate key', '[{"key":"a","key":"b"}]'],
    ['a tab between tokens', '[{"key":\t"a"}]'],
    ['an object wider than 64 keys', `{${Array.from({ length: 65 }, (_, i) => `"k${i}":1`).join(',')}}`],
    ['a leading zero', '[01]'],
    ['two values', '[] []'],
    ['an escaped string', String.raw`["\u003c"]`],
    ['a Python repr', "[{'key': 'a'}]"],
  ])('declines %s', (_, text) => {
    expect(parseCompactJsonKeepingNumberText(text)).toBeUndefined();
  });
});
