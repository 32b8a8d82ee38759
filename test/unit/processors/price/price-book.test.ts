import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decimalToString } from '../../../../schemas/decimal';
import { ConfigError } from '../../../../runtime/errors';
import {
  atCostPriceBook,
  loadPriceBook,
  parsePriceBook,
  priceBookFingerprint,
  PriceBookError,
  type CostPlusRule,
  type PriceBook,
} from '../../../../processors/price';
import { fixture } from '../../../support/fixtures';

const EXAMPLE = fixture('price', 'pricebook.example.yaml');

function issuesOf(text: string, source = 'pricebook.yaml'): string[] {
  try {
    parsePriceBook(text, source);
  } catch (err) {
    expect(err).toBeInstanceOf(PriceBookError);
    return (err as PriceBookError).issues;
  }
  throw new Error('expected the price book to be rejected');
}

function rule(book: PriceBook, id: string) {
  const r = book.rules.find((x) => x.id === id);
  if (!r) throw new Error(`no rule ${id}`);
  return r;
}

describe('the example price book', () => {
  const book = loadPriceBook(EXAMPLE);

  it('loads with every rule model, customer, rate and plan model', () => {
    expect(book.version).toBe('2026-03.1');
    expect(book.currency_default).toBe('USD');
    expect(new Set(book.rules.map((r) => r.model))).toEqual(
      new Set(['cost_plus', 'per_unit', 'fixed_per_line']),
    );
    expect(new Set(book.plans.map((p) => p.model))).toEqual(
      new Set(['graduated', 'volume', 'package', 'minimum_commitment', 'prepaid_credit']),
    );
    expect(book.customers.globex.billing_currency).toBe('EUR');
    expect(book.rules.some((r) => r.customers !== '*')).toBe(true);
    expect(book.exchange_rates.map((r) => decimalToString(r.rate))).toEqual(['0.92', '0.94', '1.08']);
  });

  it('resolves defaults: priority 0, no discount, wildcard customers, per_unit currency', () => {
    const d = rule(book, 'default-markup');
    expect(d.priority).toBe(0);
    expect(d.customers).toBe('*');
    expect(d.discount_percent.isZero()).toBe(true);
    expect(d.match).toEqual({});
    const plan = book.plans.find((p) => p.id === 'globex-storage-graduated');
    expect(plan?.currency).toBe('EUR'); // the customer's billing currency
    expect(book.plans.find((p) => p.id === 'acme-commit')?.currency).toBe('USD'); // currency_default
  });

  it('is immutable', () => {
    expect(Object.isFrozen(book)).toBe(true);
    expect(Object.isFrozen(book.rules[0])).toBe(true);
    expect(() => {
      (book.rules as PriceBook['rules'][number][]).push(book.rules[0]);
    }).toThrow(TypeError);
  });
});

describe('decimals are read from the YAML source text', () => {
  it('keeps 0.1, 0.10, 1e-7 and quoted decimals exact', () => {
    const book = parsePriceBook(
      [
        'version: 1.10',
        'rules:',
        '  - { id: a, model: cost_plus, basis: BilledCost, markup_percent: 0.1 }',
        '  - { id: b, model: cost_plus, basis: BilledCost, markup_percent: 0.10000000000000000001 }',
        "  - { id: c, model: cost_plus, basis: BilledCost, markup_percent: '0.3' }",
        '  - { id: d, model: cost_plus, basis: BilledCost, markup_percent: 1e-7 }',
        '  - { id: "012345", model: cost_plus, basis: BilledCost, markup_percent: 12345678901234567890.123456789 }',
      ].join('\n'),
      'inline.yaml',
    );
    const markups = book.rules.map((r) => decimalToString((r as CostPlusRule).markup_percent));
    expect(markups).toEqual([
      '0.1',
      '0.10000000000000000001',
      '0.3',
      '0.0000001',
      '12345678901234567890.123456789',
    ]);
    // A JS number would have made 0.1 + 0.2 != 0.3; the source text keeps it exact.
    const [a, , c] = book.rules as CostPlusRule[];
    expect(a.markup_percent.plus('0.2').equals(c.markup_percent)).toBe(true);
    // Versions written as numbers keep their text (1.10, not 1.1).
    expect(book.version).toBe('1.10');
  });

  it('keeps numeric-looking ids and matcher values as written (leading zeros)', () => {
    const book = parsePriceBook(
      [
        'version: v1',
        'customers: { 0042: {} }',
        'rules:',
        '  - id: r',
        '    customers: 0042',
        '    match: { SkuId: [007, 1.50] }',
        '    model: cost_plus',
        '    basis: BilledCost',
        '    markup_percent: 1',
      ].join('\n'),
    );
    expect(Object.keys(book.customers)).toEqual(['0042']);
    expect(book.rules[0].customers).toEqual(['0042']);
    expect(book.rules[0].match.SkuId).toEqual(['007', '1.50']);
  });
});

describe('validation', () => {
  it('names file, line and rule, and reports every problem at once', () => {
    const text = [
      'version: 2026-03', // 1
      'currency_default: usd', // 2
      'customers:', // 3
      '  acme: { billing_currency: EUR, discount_percent: 120 }', // 4
      'rules:', // 5
      '  - id: default', // 6
      '    model: cost_plus', // 7
      '    basis: BilledCost', // 8
      '    markup_percent: 10', // 9
      '  - id: ec2-markup', // 10
      '    match:', // 11
      '      ServiceName: AmazonEC2', // 12
      '      Region: us-east-1', // 13
      '    model: cost_plus', // 14
      '    basis: BilledCost', // 15
      '    markup_percent: abc', // 16
      '  - id: ec2-markup', // 17
      '    model: cost_plus', // 18
      '    basis: Billed', // 19
      '    markup_percent: 5', // 20
      '    colour: red', // 21
    ].join('\n');
    const issues = issuesOf(text);
    expect(issues).toEqual([
      'pricebook.yaml line 2: currency_default: expected an ISO 4217 currency code such as USD (three capital letters)',
      'pricebook.yaml line 4, customer "acme": discount_percent: must be at most 100, got 120',
      'pricebook.yaml line 13, rule "ec2-markup" (#2): match.Region: unknown key "Region"',
      'pricebook.yaml line 16, rule "ec2-markup" (#2): markup_percent: expected a decimal string, got "abc"',
      'pricebook.yaml line 17, rule "ec2-markup" (#3): id: duplicate rule id "ec2-markup" (also rule #2)',
      'pricebook.yaml line 19, rule "ec2-markup" (#3): basis: expected BilledCost or EffectiveCost, got "Billed"',
      'pricebook.yaml line 21, rule "ec2-markup" (#3): colour: unknown key "colour"',
    ]);
  });

  it('puts every issue into the thrown error message', () => {
    expect(() => parsePriceBook('version: x\nrules:\n  - { id: a, model: cost_plus }\n', 'pb.yaml')).toThrow(
      /invalid price book pb\.yaml \(2 problems\):\n {2}- pb\.yaml line 3, rule "a": basis: .*\n {2}- pb\.yaml line 3, rule "a": markup_percent: required/,
    );
  });

  it('is a ConfigError: permanent, code config_invalid', () => {
    try {
      parsePriceBook('version: x\nrules: []\n', 'pb.yaml');
      throw new Error('not rejected');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).code).toBe('config_invalid');
      expect((err as ConfigError).retryable).toBe(false);
      expect((err as ConfigError).issues).toEqual(['pb.yaml line 2: rules: at least one rule is required']);
    }
  });

  it('requires version and rules', () => {
    expect(issuesOf('description: nothing\n')).toEqual([
      'pricebook.yaml: version: required',
      'pricebook.yaml: rules: required',
    ]);
  });

  it('checks references, dates and per-unit safety across fields', () => {
    const issues = issuesOf(
      [
        'version: v1', // 1
        'customers: { acme: {} }', // 2
        'exchange_rates:', // 3
        '  - { from: USD, to: USD, rate: 1, effective_from: 2026-01-01 }', // 4
        '  - { from: USD, to: EUR, rate: 0, effective_from: 2026-02-30 }', // 5
        'rules:', // 6
        '  - id: r1', // 7
        '    customers: [acme, nobody]', // 8
        '    effective_from: 2026-03-01', // 9
        '    effective_to: 2026-03-01', // 10
        '    model: cost_plus', // 11
        '    basis: EffectiveCost', // 12
        '    markup_percent: -101', // 13
        '  - id: r2', // 14
        '    model: per_unit', // 15
        '    unit_price: 1', // 16
        '  - { id: r3, model: bulk }', // 17
        'plans:', // 18
        '  - { id: p1, customer: ghost, model: volume, tiers: [{ up_to: 5, unit_price: 1 }] }', // 19
      ].join('\n'),
    );
    expect(issues).toEqual([
      'pricebook.yaml line 4: exchange_rates[0].to: must differ from `from`',
      'pricebook.yaml line 5: exchange_rates[1].rate: must be greater than 0, got 0',
      'pricebook.yaml line 5: exchange_rates[1].effective_from: expected a date YYYY-MM-DD or an ISO-8601 instant with zone, got "2026-02-30"',
      'pricebook.yaml line 8, rule "r1": customers: customer "nobody" is not defined under customers',
      'pricebook.yaml line 10, rule "r1": effective_to: must be later than effective_from',
      'pricebook.yaml line 13, rule "r1": markup_percent: must be at least -100, got -101',
      'pricebook.yaml line 14, rule "r2": match.PricingUnit: a per_unit rule must match PricingUnit, so that a price per unit is never applied to another unit',
      'pricebook.yaml line 14, rule "r2": currency: required when the book sets no currency_default',
      'pricebook.yaml line 17, rule "r3": model: expected one of cost_plus, per_unit, fixed_per_line',
      'pricebook.yaml line 19, plan "p1": tiers[0].up_to: the last tier must be unbounded (leave out up_to)',
      'pricebook.yaml line 19, plan "p1": customer: customer "ghost" is not defined under customers',
      'pricebook.yaml line 19, plan "p1": match.PricingUnit: a volume plan must match PricingUnit, so that a price per unit is never applied to another unit',
      'pricebook.yaml line 19, plan "p1": currency: required when neither the customer billing_currency nor currency_default is set',
    ]);
  });

  it('validates matchers', () => {
    const issues = issuesOf(
      [
        'version: v1',
        'rules:',
        '  - id: a',
        "    match: { ServiceName: [], SkuId: ['x', '*'], RegionId: [a, a], Tags: { env: { a: 1 } } }",
        '    model: cost_plus',
        '    basis: BilledCost',
        '    markup_percent: 1',
      ].join('\n'),
    );
    expect(issues).toEqual([
      'pricebook.yaml line 4, rule "a": match.ServiceName: an empty list matches nothing; use "*" to match anything',
      "pricebook.yaml line 4, rule \"a\": match.SkuId: '*' cannot be part of a list; write '*' alone",
      'pricebook.yaml line 4, rule "a": match.RegionId: "a" is listed twice',
      'pricebook.yaml line 4, rule "a": match.Tags.env: expected a value, a list of values, or \'*\', got a mapping',
    ]);
  });

  it('reports YAML syntax errors with their line', () => {
    const issues = issuesOf('version: v1\nrules:\n  - id: a\n    model: [cost_plus\n');
    expect(issues.length).toBeGreaterThan(0);
    expect(issues[0]).toMatch(/^pricebook\.yaml line \d+: /);
  });

  it('rejects duplicate keys and a non-mapping document', () => {
    expect(issuesOf('version: a\nversion: b\n')[0]).toMatch(
      /^pricebook\.yaml line 2: Map keys must be unique/,
    );
    expect(issuesOf('- a\n- b\n')).toEqual(['pricebook.yaml: the file must hold a mapping at the top level']);
  });

  it('names a missing file', () => {
    expect(() => loadPriceBook('/nonexistent/pricebook.yaml')).toThrow(
      /\/nonexistent\/pricebook\.yaml: cannot read the file \(ENOENT\)/,
    );
  });
});

describe('atCostPriceBook', () => {
  it('is one cost_plus rule at 0% on BilledCost, rule and version at-cost', () => {
    const book = atCostPriceBook();
    expect(book.version).toBe('at-cost');
    expect(book.rules).toHaveLength(1);
    const r = book.rules[0] as CostPlusRule;
    expect(r.id).toBe('at-cost');
    expect(r.model).toBe('cost_plus');
    expect(r.basis).toBe('BilledCost');
    expect(r.markup_percent.isZero()).toBe(true);
    expect(book.currency_default).toBeNull();
  });
});

describe('priceBookFingerprint', () => {
  const base = [
    'version: v1',
    'currency_default: EUR',
    'rules:',
    '  - id: a',
    '    model: cost_plus',
    '    basis: BilledCost',
    '    markup_percent: 10',
  ];
  const fp = (lines: string[]) => priceBookFingerprint(parsePriceBook(lines.join('\n')));

  it('is a sha256 hex and stable across formatting, comments, key order and decimal spelling', () => {
    const a = fp(base);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    const reformatted = [
      '# a comment',
      'rules:',
      "  - { markup_percent: '10.00', basis: BilledCost, model: cost_plus, id: a, match: { RegionId: '*' } }",
      'currency_default: EUR',
      "version: 'v1'",
    ];
    expect(fp(reformatted)).toBe(a);
    expect(priceBookFingerprint(parsePriceBook(base.join('\n')))).toBe(a);
  });

  it('changes with any price, version or rule order change', () => {
    const a = fp(base);
    expect(fp(base.map((l) => l.replace('10', '10.5')))).not.toBe(a);
    expect(fp(base.map((l) => l.replace('v1', 'v2')))).not.toBe(a);
    const twoRules = [...base, '  - { id: b, model: cost_plus, basis: BilledCost, markup_percent: 10 }'];
    const swapped = [...base.slice(0, 3), twoRules[7], ...base.slice(3)];
    expect(fp(twoRules)).not.toBe(fp(swapped));
  });

  it('fingerprints the example and the at-cost book differently and repeatably', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-price-'));
    const copy = path.join(dir, 'copy.yaml');
    fs.copyFileSync(EXAMPLE, copy);
    expect(priceBookFingerprint(loadPriceBook(copy))).toBe(priceBookFingerprint(loadPriceBook(EXAMPLE)));
    expect(priceBookFingerprint(atCostPriceBook())).toBe(priceBookFingerprint(atCostPriceBook()));
    expect(priceBookFingerprint(atCostPriceBook())).not.toBe(priceBookFingerprint(loadPriceBook(EXAMPLE)));
  });
});

describe('documentation', () => {
  it('the full example in the price-book.ts header parses and rates', () => {
    const source = fs.readFileSync(
      path.join(__dirname, '../../../../processors/price/price-book.ts'),
      'utf8',
    );
    const header = source.slice(0, source.indexOf('*/'));
    const start = header.indexOf(' *   version:');
    const end = header.indexOf(' *\n', start);
    const yaml = header
      .slice(start, end)
      .split('\n')
      .map((l) => l.replace(/^ \* {3}/, ''))
      .join('\n');
    const book = parsePriceBook(yaml, 'price-book.ts header');
    expect(book.rules.map((r) => r.id)).toEqual([
      'default-markup',
      'ec2-markup',
      'ec2-markup-q2',
      'gpu-hours',
      'acme-discounted',
      'marketplace-line-fee',
    ]);
    expect(book.rules[5]).toMatchObject({ model: 'fixed_per_line', currency: 'EUR' });
  });
});
