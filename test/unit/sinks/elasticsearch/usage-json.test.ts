import avro from 'avsc';
import { AvroTypes, type UsageRecord } from '../../../../schemas';
import { usageDocumentJson } from '../../../../sinks/elasticsearch/indices';
import { usageDocumentFromAvro } from '../../../../sinks/elasticsearch/usage-json';
import { usageRecord } from '../../../support/usage-record';
import { prng } from '../../../support/random';

/** What the sink did before for these bytes: decode, then the document's JSON. */
const expected = (bytes: Buffer) =>
  Buffer.from(usageDocumentJson(AvroTypes.usageRecord.fromBuffer(bytes) as UsageRecord));

const nullable = (Object.keys(usageRecord()) as Array<keyof UsageRecord>).filter(
  (k) => usageRecord({ [k]: null }) && AvroTypes.usageRecord.isValid(usageRecord({ [k]: null })),
);

/** Text of every kind a cloud export carries: plain, quoted, escaped, controls, non-ASCII, emoji, lone surrogates. */
function text(next: () => number): string {
  const pieces = [
    'a',
    'Z',
    '0',
    '.',
    '-',
    ' ',
    '"',
    '\\',
    '\n',
    '\t',
    '\u0000',
    '\u001f',
    '\u007f',
    'é',
    '€',
    '\u2028',
    '😀',
    '\ud800',
    '\udfff',
    '/',
    '<',
  ];
  const plainOnly = next() < 0.6;
  const length = Math.floor(next() * 40);
  let out = '';
  for (let i = 0; i < length; i++)
    out += plainOnly
      ? 'abcXYZ019.-_ :/'[Math.floor(next() * 15)]
      : pieces[Math.floor(next() * pieces.length)];
  return out;
}

function generated(count: number): UsageRecord[] {
  const next = prng(7);
  const records: UsageRecord[] = [];
  const base = usageRecord() as unknown as Record<string, unknown>;
  for (let i = 0; i < count; i++) {
    const r: Record<string, unknown> = { ...base };
    for (const k of Object.keys(base)) {
      if (typeof base[k] !== 'string' && base[k] !== null) continue;
      if (nullable.includes(k as keyof UsageRecord) && next() < 0.3) r[k] = null;
      else if (next() < 0.5) r[k] = text(next);
    }
    for (const k of ['BilledCost', 'EffectiveCost', 'x_RatedCost'])
      if (r[k] !== null && next() < 0.7)
        r[k] = `${Math.floor(next() * 1e6) - 5e5}.${Math.floor(next() * 1e9)}`;
    const tags: Record<string, string> = {};
    const tagCount = Math.floor(next() * 5);
    for (let t = 0; t < tagCount; t++)
      tags[next() < 0.2 ? String(Math.floor(next() * 20)) : text(next)] = text(next);
    r.Tags = tags;
    r.x_SourceLine = Math.floor(next() * 2 ** (next() < 0.1 ? 40 : 20));
    records.push(r as unknown as UsageRecord);
  }
  return records;
}

describe('usageDocumentFromAvro', () => {
  it('writes the bytes of usageDocumentJson(decoded record), for 3,000 generated records', () => {
    let checked = 0;
    for (const record of generated(3000)) {
      const bytes = AvroTypes.usageRecord.toBuffer(record);
      const document = usageDocumentFromAvro(bytes);
      expect(document).toBeDefined();
      const want = expected(bytes);
      // Compared as bytes; shown as text when they differ.
      if (!document!.json.equals(want)) expect(document!.json.toString()).toBe(want.toString());
      // As decoded: lone surrogates in the generated text come back as U+FFFD.
      const decoded = AvroTypes.usageRecord.fromBuffer(bytes) as UsageRecord;
      expect(document!.recordId).toBe(decoded.x_RecordId);
      expect(document!.billingPeriod).toBe(decoded.x_BillingPeriod);
      checked++;
    }
    expect(checked).toBe(3000);
  });

  it('writes the record with the hand-picked values the sink tests use', () => {
    const records = [
      usageRecord(),
      usageRecord({
        Tags: { team: 'payments', 'cost-center': 'cc "7"', '10': 'x', '2': 'y' },
        BilledCost: '-0.000000001',
      }),
      usageRecord({
        Tags: {},
        BilledCost: '0.0000000000000000001',
        EffectiveCost: '90071992547409930',
        x_RatedCost: null,
      }),
      usageRecord({ ServiceName: 'Line\nbreak \\ "quoted" \u2028 é', x_SourceLine: 0 }),
      usageRecord({ ServiceName: 'x'.repeat(100_000) }),
    ];
    for (const record of records) {
      const bytes = AvroTypes.usageRecord.toBuffer(record);
      expect(usageDocumentFromAvro(bytes)!.json.equals(expected(bytes))).toBe(true);
    }
  });

  it('writes a map as the decoded object does: repeated keys, __proto__, block sizes', () => {
    // Bytes a generic Avro writer may produce but avsc never does from an object: a repeated key,
    // a `__proto__` key, and a map block with a negative count and its byte size.
    const record = usageRecord({ Tags: { a: '1' } });
    const framed = AvroTypes.usageRecord.toBuffer(record);
    const mapOf = (entries: Array<[string, string]>, negativeBlock: boolean) => {
      const entryBytes = Buffer.concat(
        entries.map(([k, v]) =>
          Buffer.concat([
            avro.Type.forSchema('string').toBuffer(k),
            avro.Type.forSchema('string').toBuffer(v),
          ]),
        ),
      );
      const long = (n: number) => avro.Type.forSchema('long').toBuffer(n);
      return Buffer.concat(
        negativeBlock
          ? [long(-entries.length), long(entryBytes.length), entryBytes, long(0)]
          : [long(entries.length), entryBytes, long(0)],
      );
    };
    const original = mapOf([['a', '1']], false);
    const at = framed.indexOf(original);
    expect(at).toBeGreaterThan(10);
    for (const [entries, negative] of [
      [
        [
          ['b', '1'],
          ['a', '2'],
          ['b', '3'],
        ],
        false,
      ],
      [
        [
          ['__proto__', 'p'],
          ['c', 'd'],
        ],
        true,
      ],
    ] as Array<[Array<[string, string]>, boolean]>) {
      const bytes = Buffer.concat([
        framed.subarray(0, at),
        mapOf(entries, negative),
        framed.subarray(at + original.length),
      ]);
      const document = usageDocumentFromAvro(bytes);
      expect(document!.json.toString()).toBe(expected(bytes).toString());
    }
    // A map claiming 2^40 entries, then the record's end: declined at once, not read 2^40 times.
    const huge = Buffer.concat([framed.subarray(0, at), avro.Type.forSchema('long').toBuffer(2 ** 40)]);
    expect(usageDocumentFromAvro(huge)).toBeUndefined();
  });

  it('leaves to avsc what it is not sure of: earlier schemas, bytes that do not read cleanly', () => {
    const bytes = AvroTypes.usageRecord.toBuffer(usageRecord());
    // Unframed, and framed with another fingerprint.
    expect(usageDocumentFromAvro(bytes.subarray(10))).toBeUndefined();
    const other = Buffer.from(bytes);
    other[5] ^= 0xff;
    expect(usageDocumentFromAvro(other)).toBeUndefined();
    // Cut short anywhere, or with a byte left over.
    for (let end = 10; end < bytes.length; end += 7)
      expect(usageDocumentFromAvro(bytes.subarray(0, end))).toBeUndefined();
    expect(usageDocumentFromAvro(Buffer.concat([bytes, Buffer.from([0])]))).toBeUndefined();
    // A union branch that does not exist: BillingAccountName's branch (after the header and
    // BillingAccountId's branch, length and text) set from 0 to 2 (zigzag 4).
    const firstNullable = usageRecord({ BillingAccountId: 'acct', BillingAccountName: null });
    const framed = AvroTypes.usageRecord.toBuffer(firstNullable);
    const branch = 10 + 1 + 1 + 4;
    expect(framed[branch]).toBe(0);
    const broken = Buffer.from(framed);
    broken[branch] = 4;
    expect(usageDocumentFromAvro(broken)).toBeUndefined();
    expect(() => AvroTypes.usageRecord.fromBuffer(broken)).toThrow();
    // A line number past what this reader takes (avsc decodes it).
    const far = AvroTypes.usageRecord.toBuffer(usageRecord({ x_SourceLine: 2 ** 50 }));
    expect(usageDocumentFromAvro(far)).toBeUndefined();
  });
});
