import { atCostPriceBook, parsePriceBook, rateRecord, type RateResult } from '../../../../processors/price';
import { Decimal, decimalToString, parseDecimal } from '../../../../schemas/decimal';
import type { UsageRecord } from '../../../../schemas/types.generated';
import { usageRecord } from '../../../support/usage-record';
import { prng } from '../../../support/random';

// An identity rule (cost_plus, markup 0, discount 0) rates canonical basis text as is, without a
// Decimal. These tests hold that shortcut to the general formula: cost * (100 + markup) / 100.

function rated(result: RateResult): UsageRecord {
  if (!result.ok) throw new Error(`expected a rated record, got ${result.reason}: ${result.message}`);
  return result.record;
}

const general = (text: string): string =>
  decimalToString((parseDecimal(text) as Decimal).times(new Decimal(100).plus(0)).div(100));

function randomDecimalText(rand: () => number): string {
  const digits = (n: number) => Array.from({ length: n }, () => String(Math.floor(rand() * 10))).join('');
  const sign = rand() < 0.3 ? '-' : '';
  const intPart = rand() < 0.4 ? '0' : digits(1 + Math.floor(rand() * 25));
  const frac = rand() < 0.2 ? '' : `.${digits(1 + Math.floor(rand() * 25))}`;
  return `${sign}${intPart}${frac}`;
}

describe('rating at cost (identity rule)', () => {
  const book = atCostPriceBook();

  it.each([
    '0',
    '-0',
    '0.000',
    '1.50',
    '+5',
    '007',
    '1e-7',
    '-2.5E+3',
    '.5',
    ' 3.25 ',
    '0.0000000123456789',
    '-0.00377554707705832',
    '123456789012345678901234567890.123456789', // 40 chars: the longest rated as is
    '123456789012345678901234567890.1234567891', // 41 chars: the general path
    `${'9'.repeat(29)}.${'1'.repeat(40)}`, // the bounds of schemas/decimal.ts
  ])('gives the general formula for BilledCost %p', (text) => {
    const r = rated(rateRecord(usageRecord({ BilledCost: text }), book));
    expect(r.x_RatedCost).toBe(general(text));
    expect(r.x_RatedCurrency).toBe('USD');
    expect(r.x_ExchangeRate).toBeNull();
  });

  it('gives the general formula for random decimal text', () => {
    const rand = prng(11);
    for (let i = 0; i < 2_000; i++) {
      const text = randomDecimalText(rand);
      const r = rated(rateRecord(usageRecord({ BilledCost: text }), book));
      expect(r.x_RatedCost).toBe(general(text));
    }
  });

  it('returns a new record and leaves the input as it was', () => {
    const input = usageRecord({ BilledCost: '12.5' });
    const r = rated(rateRecord(input, book));
    expect(r).not.toBe(input);
    expect(input.x_RatedCost).toBeNull();
    expect(Object.keys(r)).toEqual(Object.keys(input));
    expect({
      ...r,
      x_RatedCost: null,
      x_RatedCurrency: null,
      x_PriceRuleId: null,
      x_PriceBookVersion: null,
    }).toEqual(input);
  });

  it('still applies customer discounts and currency conversion under a markup-0 rule', () => {
    const b = parsePriceBook(
      [
        'version: v0',
        'rules:',
        '  - { id: zero, model: cost_plus, basis: BilledCost, markup_percent: 0 }',
        'customers:',
        '  initech: { discount_percent: 10 }',
        '  globex: { billing_currency: EUR }',
        'exchange_rates:',
        '  - { from: USD, to: EUR, rate: 0.5, effective_from: 2026-01-01 }',
      ].join('\n'),
      'test.yaml',
    );
    expect(rated(rateRecord(usageRecord({ BilledCost: '10', x_CustomerId: 'initech' }), b)).x_RatedCost).toBe(
      '9',
    );
    const converted = rated(rateRecord(usageRecord({ BilledCost: '10', x_CustomerId: 'globex' }), b));
    expect(converted).toMatchObject({ x_RatedCost: '5', x_RatedCurrency: 'EUR', x_ExchangeRate: '0.5' });
    const other = rated(rateRecord(usageRecord({ BilledCost: '10.10', x_CustomerId: 'hooli' }), b));
    expect(other).toMatchObject({ x_RatedCost: '10.1', x_RatedCurrency: 'USD', x_PriceRuleId: 'zero' });
  });

  it('fails an invalid BillingCurrency as the general path does', () => {
    const r = rateRecord(usageRecord({ BilledCost: '1', BillingCurrency: 'usd' }), book);
    expect(r).toMatchObject({ ok: false, reason: 'malformed', field: 'BillingCurrency' });
  });

  it('remembers no instant wrongly: each line is rated in its own period', () => {
    const b = parsePriceBook(
      [
        'version: v1',
        'rules:',
        '  - { id: jan, model: cost_plus, basis: BilledCost, markup_percent: 0, effective_to: 2026-02-01 }',
        '  - { id: feb, model: cost_plus, basis: BilledCost, markup_percent: 0, effective_from: 2026-02-01 }',
      ].join('\n'),
      'test.yaml',
    );
    const jan = usageRecord({
      ChargePeriodStart: '2026-01-31T23:00:00Z',
      ChargePeriodEnd: '2026-02-01T00:00:00Z',
    });
    const feb = usageRecord({ ChargePeriodStart: '2026-02-01T00:00:00Z' });
    for (let i = 0; i < 3; i++) {
      expect(rated(rateRecord(jan, b)).x_PriceRuleId).toBe('jan');
      expect(rated(rateRecord(feb, b)).x_PriceRuleId).toBe('feb');
    }
    expect(rateRecord(usageRecord({ ChargePeriodStart: 'not a date' }), b)).toMatchObject({
      ok: false,
      field: 'ChargePeriodStart',
    });
  });
});
