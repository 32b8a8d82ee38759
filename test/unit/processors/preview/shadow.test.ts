import { PriceBookError, parsePriceBook, priceBookFingerprint } from '../../../../processors/price';
import {
  formatDiffTable,
  LISTED_RECORDS_LIMIT,
  loadCandidateBook,
  shadowDiff,
  type PriceBookDiff,
} from '../../../../processors/preview';
import type { UsageRecord } from '../../../../schemas/types.generated';
import { usageRecord } from '../../../support/usage-record';

/**
 * Shadow rating (processors/preview/shadow.ts): records rated under the current book, re-rated
 * with a candidate. Every expected amount below is worked out by hand in the comments.
 */

// The book the records were rated with (their x_RatedCost / x_PriceRuleId below are its prices).
const CURRENT = `
version: v1
rules:
  - { id: compute, match: { ServiceName: AmazonEC2 }, model: cost_plus, basis: BilledCost, markup_percent: 15 }
  - { id: storage, match: { ServiceName: AmazonS3 }, model: cost_plus, basis: BilledCost, markup_percent: 10 }
  - { id: lambda, match: { ServiceName: AWSLambda }, model: cost_plus, basis: BilledCost, markup_percent: 5 }
  - id: gpu
    match: { SkuId: GPU, PricingUnit: Hrs }
    priority: 10
    model: per_unit
    unit_price: '2.95'
    currency: USD
`;

// The candidate: compute goes from 15% to 20% (changes), storage and gpu stay (unchanged), spot
// EC2 gets its own at-cost rule (a rule only the candidate has), lambda is dropped (its lines are
// unpriced), globex gets 10% off everything and initech is billed in EUR without a rate.
const CANDIDATE = `
version: v2
customers:
  globex: { discount_percent: '10' }
  initech: { billing_currency: EUR }
rules:
  - { id: compute, match: { ServiceName: AmazonEC2 }, model: cost_plus, basis: BilledCost, markup_percent: 20 }
  - { id: storage, match: { ServiceName: AmazonS3 }, model: cost_plus, basis: BilledCost, markup_percent: 10 }
  - id: ec2-spot
    match: { ServiceName: AmazonEC2, Tags: { lifecycle: spot } }
    priority: 10
    model: cost_plus
    basis: BilledCost
    markup_percent: 0
  - id: gpu
    match: { SkuId: GPU, PricingUnit: Hrs }
    priority: 10
    model: per_unit
    unit_price: '2.95'
    currency: USD
`;

const current = parsePriceBook(CURRENT, 'current.yaml');
const candidate = parsePriceBook(CANDIDATE, 'candidate.yaml');

function rated(
  id: string,
  customer: string,
  fields: Partial<UsageRecord> & Pick<UsageRecord, 'x_RatedCost' | 'x_PriceRuleId'>,
): UsageRecord {
  return usageRecord({
    x_RecordId: id,
    x_CustomerId: customer,
    x_BillingPeriod: '2026-02',
    x_RatedCurrency: 'USD',
    x_PriceBookVersion: 'v1',
    ...fields,
  });
}

const EC2 = { ServiceName: 'AmazonEC2', SkuId: 'M5' };
const S3 = { ServiceName: 'AmazonS3', SkuId: 'STD' };
const RECORDS: UsageRecord[] = [
  rated('a1', 'acme', { ...EC2, BilledCost: '10', x_RatedCost: '11.5', x_PriceRuleId: 'compute' }), // 10 * 1.15
  rated('a2', 'acme', { ...EC2, BilledCost: '0.1', x_RatedCost: '0.115', x_PriceRuleId: 'compute' }), // 0.1 * 1.15
  rated('a3', 'acme', {
    ...EC2,
    Tags: { lifecycle: 'spot' },
    BilledCost: '4',
    x_RatedCost: '4.6', // 4 * 1.15
    x_PriceRuleId: 'compute',
  }),
  rated('a4', 'acme', { ...S3, BilledCost: '20', x_RatedCost: '22', x_PriceRuleId: 'storage' }), // 20 * 1.1
  rated('a5', 'acme', {
    ServiceName: 'AmazonEC2',
    SkuId: 'GPU',
    PricingUnit: 'Hrs',
    PricingQuantity: '3',
    BilledCost: '5',
    x_RatedCost: '8.85', // 3 * 2.95
    x_PriceRuleId: 'gpu',
  }),
  rated('a6', 'acme', {
    ServiceName: 'AWSLambda',
    SkuId: 'REQ',
    BilledCost: '1',
    x_RatedCost: '1.05', // 1 * 1.05
    x_PriceRuleId: 'lambda',
  }),
  rated('g1', 'globex', { ...EC2, BilledCost: '0.2', x_RatedCost: '0.23', x_PriceRuleId: 'compute' }), // 0.2 * 1.15
  rated('g2', 'globex', { ...S3, BilledCost: '0.3', x_RatedCost: '0.33', x_PriceRuleId: 'storage' }), // 0.3 * 1.1
  rated('i1', 'initech', { ...EC2, BilledCost: '1', x_RatedCost: '1.15', x_PriceRuleId: 'compute' }), // 1 * 1.15
];

const CONTEXT = { period: '2026-02', fingerprint: priceBookFingerprint(candidate) };

describe('shadow rating with a candidate price book', () => {
  let diff: PriceBookDiff;
  beforeAll(() => {
    diff = shadowDiff(RECORDS, candidate, CONTEXT);
  });

  it("the records carry the current book's prices (diffing with the current book changes nothing)", () => {
    const same = shadowDiff(RECORDS, current, { ...CONTEXT, fingerprint: priceBookFingerprint(current) });
    for (const c of same.customers) {
      expect(c.unpriced.count).toBe(0);
      expect(c.failed.count).toBe(0);
      for (const cur of c.currencies)
        for (const r of cur.rules) expect([r.rule_id, r.change]).toEqual([r.rule_id, '0']);
    }
  });

  it('per customer, currency and rule: old, new and change, exactly', () => {
    const acme = diff.customers.find((c) => c.customer === 'acme')!;
    expect(acme.records).toBe(6);
    expect(acme.currencies).toEqual([
      {
        currency: 'USD',
        // 11.5 + 0.115 + 4.6 + 22 + 8.85 + 1.05
        old: '48.115',
        // 12 + 0.12 + 4 + 22 + 8.85 (a6 is unpriced)
        new: '46.97',
        change: '-1.145',
        rules: [
          // a1, a2, a3 under the current 15%; a1 (10 * 1.2 = 12) and a2 (0.1 * 1.2 = 0.12) under
          // the candidate's 20%, a3 moves to ec2-spot.
          {
            rule_id: 'compute',
            old: '16.215',
            new: '12.12',
            change: '-4.095',
            old_records: 3,
            new_records: 2,
          },
          // a3 at cost under the candidate: 4.
          { rule_id: 'ec2-spot', old: '0', new: '4', change: '4', old_records: 0, new_records: 1 },
          // unchanged rule: 3 * 2.95 both times.
          { rule_id: 'gpu', old: '8.85', new: '8.85', change: '0', old_records: 1, new_records: 1 },
          // dropped rule: a6 is unpriced by the candidate.
          { rule_id: 'lambda', old: '1.05', new: '0', change: '-1.05', old_records: 1, new_records: 0 },
          // unchanged rule: 20 * 1.1 both times.
          { rule_id: 'storage', old: '22', new: '22', change: '0', old_records: 1, new_records: 1 },
        ],
      },
    ]);
    expect(acme.unpriced.count).toBe(1);
    expect(acme.unpriced.records).toEqual([
      expect.objectContaining({
        record_id: 'a6',
        reason: 'unpriced',
        old_rule_id: 'lambda',
        old_amount: '1.05',
        old_currency: 'USD',
      }),
    ]);
    expect(acme.unpriced.records[0].message).toMatch(/no rule of price book "v2" matches the line/);
    expect(acme.failed.count).toBe(0);

    const globex = diff.customers.find((c) => c.customer === 'globex')!;
    expect(globex.currencies).toEqual([
      {
        currency: 'USD',
        old: '0.56', // 0.23 + 0.33
        new: '0.513', // 0.216 + 0.297
        change: '-0.047',
        rules: [
          // 0.2 * 1.2 * 0.9 = 0.216
          { rule_id: 'compute', old: '0.23', new: '0.216', change: '-0.014', old_records: 1, new_records: 1 },
          // the rule is unchanged but the customer discount is new: 0.3 * 1.1 * 0.9 = 0.297
          { rule_id: 'storage', old: '0.33', new: '0.297', change: '-0.033', old_records: 1, new_records: 1 },
        ],
      },
    ]);
    expect(globex.unpriced).toEqual({ count: 0, records: [] });
  });

  it('a record the candidate has a rule for but cannot rate is listed apart, not fatal', () => {
    const initech = diff.customers.find((c) => c.customer === 'initech')!;
    expect(initech.currencies).toEqual([
      {
        currency: 'USD',
        old: '1.15',
        new: '0',
        change: '-1.15',
        rules: [
          { rule_id: 'compute', old: '1.15', new: '0', change: '-1.15', old_records: 1, new_records: 0 },
        ],
      },
    ]);
    expect(initech.unpriced.count).toBe(0);
    expect(initech.failed.count).toBe(1);
    expect(initech.failed.records[0]).toMatchObject({ record_id: 'i1', reason: 'no_exchange_rate' });
  });

  it('customers in code-point order, and totals over all of them per currency', () => {
    expect(diff.customers.map((c) => c.customer)).toEqual(['acme', 'globex', 'initech']);
    expect(diff.records).toBe(9);
    // old 48.115 + 0.56 + 1.15; new 46.97 + 0.513 + 0
    expect(diff.totals).toEqual([{ currency: 'USD', old: '49.825', new: '47.483', change: '-2.342' }]);
    expect(diff.book).toEqual({ version: 'v2', fingerprint: priceBookFingerprint(candidate) });
    expect(diff.period).toBe('2026-02');
    expect(diff.customer).toBeNull();
  });

  it('sums under the currency each side was rated in', () => {
    const eur = parsePriceBook(
      `version: v3
customers: { acme: { billing_currency: EUR } }
exchange_rates: [{ from: USD, to: EUR, rate: '0.5', effective_from: 2026-01-01 }]
rules: [{ id: compute, model: cost_plus, basis: BilledCost, markup_percent: 0 }]
`,
      'eur.yaml',
    );
    const d = shadowDiff([RECORDS[0]], eur, CONTEXT);
    // old: 11.5 USD; new: 10 * 0.5 = 5 EUR
    expect(d.customers[0].currencies.map((c) => [c.currency, c.old, c.new, c.change])).toEqual([
      ['EUR', '0', '5', '5'],
      ['USD', '11.5', '0', '-11.5'],
    ]);
  });

  it('counts every unpriced record and lists the first LISTED_RECORDS_LIMIT', () => {
    const many = Array.from({ length: LISTED_RECORDS_LIMIT + 5 }, (_, i) =>
      rated(`l${i}`, 'acme', {
        ServiceName: 'AWSLambda',
        BilledCost: '1',
        x_RatedCost: '1.05',
        x_PriceRuleId: 'lambda',
      }),
    );
    const d = shadowDiff(many, candidate, CONTEXT);
    expect(d.customers[0].unpriced.count).toBe(LISTED_RECORDS_LIMIT + 5);
    expect(d.customers[0].unpriced.records).toHaveLength(LISTED_RECORDS_LIMIT);
    // 105 * 1.05
    expect(d.customers[0].currencies[0].old).toBe('110.25');
  });

  it('a record without an indexed rated cost is reported, not counted in old, and still shadow-rated', () => {
    const r = rated('x1', 'acme', { ...S3, BilledCost: '2', x_RatedCost: null, x_PriceRuleId: null });
    const d = shadowDiff([r], candidate, CONTEXT);
    expect(d.customers[0].problems).toEqual([expect.stringContaining('usage record x1 has no rated cost')]);
    expect(d.customers[0].currencies[0].rules).toEqual([
      { rule_id: 'storage', old: '0', new: '2.2', change: '2.2', old_records: 0, new_records: 1 },
    ]);
  });

  it('prints a table with every row, the unpriced records and the totals', () => {
    const text = formatDiffTable(diff);
    expect(text).toContain('price book v2');
    expect(text).toMatch(/acme\s+USD\s+compute\s+16\.215\s+12\.12\s+-4\.095\s+3\/2/);
    expect(text).toMatch(/acme\s+USD\s+\(customer total\)\s+48\.115\s+46\.97\s+-1\.145/);
    expect(text).toMatch(/acme: 1 record\(s\) unpriced/);
    expect(text).toMatch(/a6: was 1\.05 USD under rule lambda/);
    expect(text).toMatch(/initech: 1 record\(s\) the candidate cannot rate/);
    expect(text).toMatch(/USD\s+49\.825\s+47\.483\s+-2\.342/);
  });
});

describe('the candidate book is validated as pricebook publish validates it', () => {
  it('names the source, the line, the rule and the field', () => {
    const bad = CANDIDATE.replace('markup_percent: 20', 'markup_percent: lots');
    let error: unknown;
    try {
      loadCandidateBook({ text: bad, sourceName: 'body.book' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PriceBookError);
    expect((error as Error).message).toMatch(/body\.book line 7, rule "compute": markup_percent: /);
  });

  it('names a file that cannot be read', () => {
    expect(() => loadCandidateBook({ file: '/nonexistent/candidate.yaml' })).toThrow(
      /\/nonexistent\/candidate\.yaml: cannot read the file \(ENOENT\)/,
    );
  });
});
