import { Decimal } from '../../../schemas/decimal';
import {
  computeInvoice,
  InvoiceError,
  parseInvoiceOptions,
  renderInvoiceHtml,
  taxLine,
  taxRateFor,
  type InvoiceDocument,
} from '../../../invoices';
import { BOOK, rec, summary } from './fixtures';

/**
 * Taxes: one rate per invoice from the customer's jurisdiction, on the subtotal (the exact sum of
 * the rounded lines), rounded ONCE per invoice, HALF_EVEN, to the currency's minor unit. Every
 * expected amount below is worked out by hand in the comment next to it.
 */

function invoiceFor(
  costs: string[],
  tax: Record<string, string>,
  jurisdiction: string | undefined,
  currency = 'EUR',
): InvoiceDocument {
  const options = parseInvoiceOptions({
    customers: { hooli: jurisdiction === undefined ? {} : { jurisdiction } },
    tax: { rates: tax, label: 'VAT' },
  });
  const usage = costs.map((c, i) =>
    rec({
      x_CustomerId: 'hooli',
      ServiceName: `S${i}`,
      x_RatedCost: c,
      x_RatedCurrency: currency,
      BillingCurrency: currency,
    }),
  );
  return computeInvoice({
    customer: 'hooli',
    period: '2026-01',
    book: BOOK,
    options,
    usage: summary('hooli', '2026-01', usage),
    invoices: [],
    restated: {},
    now: '2026-02-01T00:00:00.000Z',
  });
}

const taxOf = (d: InvoiceDocument) => d.taxes!.map((t) => [t.jurisdiction, t.rate_percent, t.base, t.amount]);

describe('invoice taxes', () => {
  it('19% on a subtotal whose tax is a tie rounds half to even, up here: 12.50 x 19% = 2.375 -> 2.38', () => {
    // lines 10.00 + 2.50 = 12.50; 12.50 * 0.19 = 2.375; the kept digit 7 is odd -> 2.38; total 14.88
    const d = invoiceFor(['10', '2.5'], { DE: '19' }, 'DE');
    expect(d.subtotal).toBe('12.50');
    expect(taxOf(d)).toEqual([['DE', '19', '12.50', '2.38']]);
    expect(d.taxes![0].amount_exact).toBe('2.375');
    expect(d.total).toBe('14.88');
  });

  it('a tie rounds down to the even digit: 0.50 x 25% = 0.125 -> 0.12 (half-up would say 0.13)', () => {
    const d = invoiceFor(['0.5'], { SE: '25' }, 'SE');
    expect(taxOf(d)).toEqual([['SE', '25', '0.50', '0.12']]);
    expect(d.total).toBe('0.62');
  });

  it('the tax is computed once on the subtotal, not per line', () => {
    // three lines of 0.02 at 25%: per line 0.005 -> 0.00 each (0.00 in all); on the subtotal
    // 0.06 * 0.25 = 0.015 -> 0.02 (tie, 1 is odd -> up). The invoice says 0.02.
    const d = invoiceFor(['0.02', '0.02', '0.02'], { SE: '25' }, 'SE');
    expect(d.subtotal).toBe('0.06');
    expect(taxOf(d)).toEqual([['SE', '25', '0.06', '0.02']]);
    expect(d.total).toBe('0.08');
  });

  it('the subtotal is the sum of ROUNDED lines: 0.125 + 0.135 -> 0.12 + 0.14 = 0.26; 7.25% of it = 0.01885 -> 0.02', () => {
    const d = invoiceFor(['0.125', '0.135'], { 'US-CA': '7.25' }, 'US-CA');
    expect(d.subtotal).toBe('0.26');
    expect(taxOf(d)).toEqual([['US-CA', '7.25', '0.26', '0.02']]);
    expect(d.total).toBe('0.28');
  });

  it('a subdivision without a rate takes its country rate; its own rate wins when set', () => {
    expect(taxRateFor({ US: '0', 'US-CA': '7.25' }, 'US-CA')).toEqual({
      jurisdiction: 'US-CA',
      rate: '7.25',
    });
    expect(taxRateFor({ US: '0' }, 'US-NY')).toEqual({ jurisdiction: 'US', rate: '0' });
    expect(taxRateFor({ DE: '19' }, 'FR')).toBeUndefined();
    // 100.10 at 0%: 0.00; total 100.10
    const d = invoiceFor(['100.1'], { US: '0' }, 'US-NY');
    expect(taxOf(d)).toEqual([['US', '0', '100.10', '0.00']]);
    expect(d.total).toBe('100.10');
  });

  it('rounds to the minor unit of the currency: JPY 0 decimals, KWD 3', () => {
    // 1005 JPY * 10% = 100.5 -> tie, 0 is even -> 100; 1015 * 10% = 101.5 -> 102
    expect(
      taxLine({
        label: 'T',
        jurisdiction: 'JP',
        ratePercent: '10',
        subtotal: new Decimal('1005'),
        currency: 'JPY',
      }).amount,
    ).toBe('100');
    expect(
      taxLine({
        label: 'T',
        jurisdiction: 'JP',
        ratePercent: '10',
        subtotal: new Decimal('1015'),
        currency: 'JPY',
      }).amount,
    ).toBe('102');
    // 1.005 KWD * 5% = 0.05025 -> 0.050
    expect(
      taxLine({
        label: 'T',
        jurisdiction: 'KW',
        ratePercent: '5',
        subtotal: new Decimal('1.005'),
        currency: 'KWD',
      }).amount,
    ).toBe('0.050');
  });

  it('a negative subtotal (credit) gets a negative tax, rounded the same way: -12.50 x 19% = -2.375 -> -2.38', () => {
    const t = taxLine({
      label: 'VAT',
      jurisdiction: 'DE',
      ratePercent: '19',
      subtotal: new Decimal('-12.50'),
      currency: 'EUR',
    });
    expect(t.amount).toBe('-2.38');
  });

  it('no rates configured: no tax, total = subtotal', () => {
    const d = invoiceFor(['10', '2.5'], {}, undefined);
    expect(d.taxes).toEqual([]);
    expect(d.total).toBe('12.50');
    expect(d.subtotal).toBe('12.50');
  });

  it('rates configured but the customer has no jurisdiction, or no rate for it: an error, never a silent 0', () => {
    expect(() => invoiceFor(['10'], { DE: '19' }, undefined)).toThrow(InvoiceError);
    expect(() => invoiceFor(['10'], { DE: '19' }, undefined)).toThrow(
      /customer hooli has no tax jurisdiction/,
    );
    expect(() => invoiceFor(['10'], { DE: '19' }, 'FR')).toThrow(
      /no tax rate for jurisdiction FR of customer hooli/,
    );
  });

  it('rejects malformed rates and jurisdictions in the config', () => {
    expect(() => parseInvoiceOptions({ tax: { rates: { DE: '19%' } } })).toThrow();
    expect(() => parseInvoiceOptions({ tax: { rates: { germany: '19' } } })).toThrow();
    expect(() => parseInvoiceOptions({ customers: { a: { jurisdiction: 'de' } } })).toThrow();
    expect(() => parseInvoiceOptions({ html_links: { secret: 'short' } })).toThrow(/32 characters/);
  });

  it('a rate change changes the draft fingerprint (the next generate rewrites the draft)', () => {
    expect(invoiceFor(['10'], { DE: '19' }, 'DE').fingerprint).not.toBe(
      invoiceFor(['10'], { DE: '7' }, 'DE').fingerprint,
    );
  });

  it('the page prints the tax line and the rounding rule', () => {
    const html = renderInvoiceHtml(invoiceFor(['10', '2.5'], { DE: '19' }, 'DE'));
    expect(html).toContain('VAT 19% (DE) on 12.50</td><td class="num">2.38 EUR');
    expect(html).toContain(
      'tax is computed on the subtotal and rounded once per invoice, HALF_EVEN, to 2 decimal(s)',
    );
  });
});
