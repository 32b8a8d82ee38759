import { BOOK, draft, finalize, lineOf, rec } from './fixtures';
import { Decimal, sumDecimals } from '../../../schemas/decimal';
import { InvoiceError, type InvoiceDocument } from '../../../invoices';

const JAN = '2026-01';

function totalOfLines(doc: InvoiceDocument): string {
  return sumDecimals(doc.lines.map((l) => new Decimal(l.amount))).toFixed(2);
}

describe('usage lines and totals', () => {
  it('sums rated cost exactly per group, rounds each line once, totals the rounded lines', () => {
    const doc = draft({
      customer: 'hooli', // no plans; currency from the rated lines
      period: JAN,
      usage: [
        rec({ ServiceName: 'A', x_RatedCost: '0.1' }),
        rec({ ServiceName: 'A', x_RatedCost: '0.025' }), // A = 0.125 -> 0.12 (tie, even)
        rec({ ServiceName: 'B', x_RatedCost: '0.125' }), // B = 0.125 -> 0.12
        rec({ ServiceName: 'C', x_RatedCost: '6000' }), // keeps the 5000 commitment satisfied
      ],
    });
    expect(lineOf(doc, 'usage:A')).toMatchObject({ amount_exact: '0.125', amount: '0.12', kind: 'usage' });
    expect(lineOf(doc, 'usage:B').amount).toBe('0.12');
    // 0.12 + 0.12 + 6000.00 = 6000.24 (rounding the exact sum 6000.25 would give 6000.25 - not used)
    expect(doc.total).toBe('6000.24');
    expect(doc.lines.map((l) => l.kind)).toEqual(['usage', 'usage', 'usage']);
    expect(doc.rounding).toEqual({ mode: 'HALF_EVEN', minor_units: 2 });
    // cloud cost = BilledCost sum 6000.25, margin = 6000.24 - 6000.25 = -0.01
    expect(doc.cloud_cost).toEqual([{ currency: 'EUR', amount: '6000.25' }]);
    expect(doc.margin).toBe('-0.01');
  });

  it('invoices in JPY with whole-yen lines', () => {
    const doc = draft({
      customer: 'umbrella',
      period: JAN,
      usage: [
        rec({
          ServiceName: 'A',
          x_RatedCost: '100.5',
          x_RatedCurrency: 'JPY',
          BillingCurrency: 'USD',
          BilledCost: '0.7',
        }),
        rec({
          ServiceName: 'B',
          x_RatedCost: '101.5',
          x_RatedCurrency: 'JPY',
          BillingCurrency: 'USD',
          BilledCost: '0.7',
        }),
      ],
    });
    // 100.5 -> 100 (tie, even), 101.5 -> 102 (tie, odd up); total 202
    expect(doc.lines.map((l) => l.amount)).toEqual(['100', '102']);
    expect(doc.total).toBe('202');
    expect(doc.currency).toBe('JPY');
    // cloud cost is in USD: no margin across currencies
    expect(doc.cloud_cost).toEqual([{ currency: 'USD', amount: '1.4' }]);
    expect(doc.margin).toBeNull();
  });

  it('reports usage rated in several currencies when the customer has no billing currency', () => {
    const run = () =>
      draft({
        customer: 'hooli',
        period: JAN,
        usage: [
          rec({ x_RatedCost: '1', x_RatedCurrency: 'EUR' }),
          rec({ x_RatedCost: '1', x_RatedCurrency: 'USD' }),
        ],
      });
    expect(run).toThrow(InvoiceError);
    expect(run).toThrow(/several currencies \(EUR, USD\)/);
  });

  it('reports a line in another currency than the billing currency', () => {
    expect(() =>
      draft({ customer: 'acme', period: JAN, usage: [rec({ x_RatedCost: '1', x_RatedCurrency: 'USD' })] }),
    ).toThrow(/billed in EUR but usage of 2026-01 is rated in USD/);
  });

  it('keeps trace: revisions, first source objects and their count', () => {
    const doc = draft({
      customer: 'hooli',
      period: JAN,
      usage: [
        rec({ x_RatedCost: '1', x_Revision: 'r2', x_SourceObject: 'b.csv' }),
        rec({ x_RatedCost: '1', x_Revision: 'r2', x_SourceObject: 'a.csv' }),
        rec({ x_RatedCost: '1', x_Scope: 'gcp:bq', x_Revision: 'r9', x_SourceObject: 'a.csv' }),
      ],
    });
    expect(lineOf(doc, 'usage:AmazonEC2').trace).toEqual({
      revisions: [
        { scope: 'aws:cur', revision_id: 'r2' },
        { scope: 'gcp:bq', revision_id: 'r9' },
      ],
      source_objects: ['a.csv', 'b.csv'],
      source_object_count: 2,
      record_count: 3,
    });
  });
});

describe('quantity plans', () => {
  it('graduated: replaces the covered lines, which show included_in_plan', () => {
    const doc = draft({
      customer: 'globex',
      period: JAN,
      usage: [
        rec({ ServiceName: 'AmazonS3', PricingUnit: 'GB-Mo', PricingQuantity: '600', x_RatedCost: '16' }),
        rec({ ServiceName: 'AmazonS3', PricingUnit: 'GB-Mo', PricingQuantity: '900', x_RatedCost: '24' }),
        rec({ ServiceName: 'AmazonEC2', x_RatedCost: '10.005' }), // -> 10.00 (tie, 0 even)
      ],
    });
    // 1500 GB-Mo graduated: 1000 * 0.023 + 500 * 0.021 = 23 + 10.5 = 33.5
    expect(lineOf(doc, 'plan:globex-storage')).toMatchObject({
      kind: 'plan',
      quantity: '1500',
      unit: 'GB-Mo',
      amount_exact: '33.5',
      amount: '33.50',
    });
    expect(lineOf(doc, 'usage:AmazonS3:globex-storage')).toMatchObject({
      amount: '0.00',
      included_in_plan: '40.00', // 16 + 24, shown, not charged
      plan_id: 'globex-storage',
    });
    // 10.00 + 0.00 + 33.50
    expect(doc.total).toBe('43.50');
    expect(totalOfLines(doc)).toBe(doc.total);
  });

  it('volume: the whole quantity at the tier it reaches', () => {
    const requests = (q: string) =>
      draft({
        customer: 'globex',
        period: JAN,
        usage: [
          rec({ ServiceName: 'AmazonS3', PricingUnit: 'Requests', PricingQuantity: q, x_RatedCost: '1' }),
        ],
      });
    // 1,500,000 > 1,000,000: every request at 0.0000004 = 0.6
    expect(lineOf(requests('1500000'), 'plan:globex-requests').amount).toBe('0.60');
    // exactly 1,000,000 is in the first tier (up_to inclusive): 1,000,000 * 0.0000005 = 0.5
    expect(lineOf(requests('1000000'), 'plan:globex-requests').amount).toBe('0.50');
  });

  it('package: started packages are whole packages', () => {
    const doc = draft({
      customer: 'globex',
      period: JAN,
      usage: [
        rec({ ServiceName: 'AmazonVPC', PricingUnit: 'IP-Hrs', PricingQuantity: '200', x_RatedCost: '1' }),
        rec({ ServiceName: 'AmazonEC2', PricingUnit: 'IP-Hrs', PricingQuantity: '50.5', x_RatedCost: '1' }),
      ],
    });
    // 250.5 IP-Hrs in packages of 100 = 3 packages * 2.50 = 7.50
    expect(lineOf(doc, 'plan:globex-ips')).toMatchObject({ quantity: '250.5', amount: '7.50' });
    expect(doc.total).toBe('7.50');
  });

  it('reports a negative period quantity instead of pricing it', () => {
    expect(() =>
      draft({
        customer: 'globex',
        period: JAN,
        usage: [rec({ ServiceName: 'X', PricingUnit: 'IP-Hrs', PricingQuantity: '-5', x_RatedCost: '-1' })],
      }),
    ).toThrow(/period quantity -5 is negative/);
  });

  it('reports a record two quantity plans cover', () => {
    const book = {
      ...BOOK,
      plans: [...BOOK.plans, { ...BOOK.plans[2], id: 'globex-ips-2' }],
    };
    expect(() =>
      draft({
        book,
        customer: 'globex',
        period: JAN,
        usage: [rec({ PricingUnit: 'IP-Hrs', PricingQuantity: '1', x_RatedCost: '1' })],
      }),
    ).toThrow(/plans globex-ips and globex-ips-2 both cover/);
  });
});

describe('minimum commitment', () => {
  it('trues up to the minimum from the rounded lines', () => {
    const doc = draft({
      customer: 'acme',
      period: JAN,
      usage: [
        rec({ ServiceName: 'A', x_RatedCost: '1000.005' }), // -> 1000.00 (tie, even)
        rec({ ServiceName: 'B', x_RatedCost: '2000.015' }), // -> 2000.02 (tie, 1 odd: up)
      ],
    });
    // counted 1000.00 + 2000.02 = 3000.02; true-up 5000 - 3000.02 = 1999.98
    expect(lineOf(doc, 'commitment:acme-commit')).toMatchObject({
      kind: 'minimum_commitment',
      amount_exact: '1999.98',
      amount: '1999.98',
    });
    expect(doc.total).toBe('5000.00');
  });

  it('adds nothing when usage reaches the minimum, and does not apply before effective_from', () => {
    const above = draft({ customer: 'acme', period: JAN, usage: [rec({ x_RatedCost: '5000.01' })] });
    expect(above.lines.map((l) => l.kind)).toEqual(['usage']);
    const before = draft({ customer: 'acme', period: '2025-12', usage: [rec({ x_RatedCost: '10' })] });
    expect(before.total).toBe('10.00');
  });
});

describe('prepaid credit', () => {
  const usage = (amount: string) => [rec({ x_RatedCost: amount })];

  it('burns down across periods from finalized invoices and lapses at expiry', () => {
    // credit 100 EUR, effective 2026-01-01 .. 2026-03-01
    const jan = draft({ customer: 'initech', period: '2026-01', usage: usage('70') });
    // burn = min(100, 70) = 70; total 70 - 70 = 0
    expect(lineOf(jan, 'credit:initech-prepaid')).toMatchObject({ kind: 'credit', amount: '-70.00' });
    expect(jan.total).toBe('0.00');

    // While January is a draft its burn is not in the ledger: February sees the full 100.
    const febEarly = draft({ customer: 'initech', period: '2026-02', usage: usage('50'), invoices: [jan] });
    expect(lineOf(febEarly, 'credit:initech-prepaid').amount).toBe('-50.00');

    const janFinal = finalize(jan, 'MF-2026-000001');
    const feb = draft({
      customer: 'initech',
      period: '2026-02',
      usage: usage('50'),
      invoices: [janFinal],
      restated: { '2026-01': usage('70') },
    });
    // balance 100 - 70 = 30; burn = min(30, 50) = 30; total 50 - 30 = 20
    expect(lineOf(feb, 'credit:initech-prepaid').amount).toBe('-30.00');
    expect(feb.total).toBe('20.00');
    // regenerating is idempotent: same fingerprint
    const feb2 = draft({
      customer: 'initech',
      period: '2026-02',
      usage: usage('50'),
      invoices: [janFinal],
      restated: { '2026-01': usage('70') },
      now: '2026-05-01T00:00:00.000Z',
    });
    expect(feb2.fingerprint).toBe(feb.fingerprint);

    // March: plan expired (effective_to 2026-03-01 exclusive): no credit line at all
    const mar = draft({
      customer: 'initech',
      period: '2026-03',
      usage: usage('10'),
      invoices: [janFinal, finalize(feb, 'MF-2026-000002')],
      restated: { '2026-01': usage('70'), '2026-02': usage('50') },
    });
    expect(mar.lines.map((l) => l.kind)).toEqual(['usage']);
    expect(mar.total).toBe('10.00');
  });

  it('does not apply before effective_from', () => {
    const dec = draft({ customer: 'initech', period: '2025-12', usage: usage('70') });
    expect(dec.total).toBe('70.00');
  });
});
