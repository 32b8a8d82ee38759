import fc from 'fast-check';
import { Decimal, decimalToString, sumDecimals } from '../../../../schemas/decimal';
import { parsePriceBook, rateRecord, type PriceBook } from '../../../../processors/price';
import type { UsageRecord } from '../../../../schemas/types.generated';
import { usageRecord } from '../../../support/usage-record';

/** Exact decimal text: an integer of up to 16 digits scaled by 10^-scale (negative allowed). */
const decimalText = (opts: { min?: bigint; maxScale?: number } = {}) =>
  fc
    .tuple(
      fc.bigInt({ min: opts.min ?? -(10n ** 16n), max: 10n ** 16n }),
      fc.integer({ min: 0, max: opts.maxScale ?? 12 }),
    )
    .map(([n, scale]) => decimalToString(new Decimal(n.toString()).div(new Decimal(10).pow(scale))));

const percent = fc
  .tuple(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 4 }))
  .map(([n, scale]) => decimalToString(new Decimal(n).div(new Decimal(10).pow(scale))))
  .filter((p) => new Decimal(p).lte(100));
const rate = fc
  .integer({ min: 1, max: 10_000_000 })
  .map((n) => decimalToString(new Decimal(n).div(1_000_000)));

/** A book with random markups, discounts and an exchange rate, parsed from YAML text. */
const bookArb = fc
  .record({
    markup: percent,
    ruleDiscount: percent,
    customerDiscount: percent,
    unitPrice: decimalText({ min: 0n }),
    rate,
  })
  .map(({ markup, ruleDiscount, customerDiscount, unitPrice, rate: r }): PriceBook =>
    parsePriceBook(
      [
        'version: prop',
        'currency_default: USD',
        `customers: { eu: { billing_currency: EUR, discount_percent: '${customerDiscount}' }, us: {} }`,
        'exchange_rates:',
        `  - { from: USD, to: EUR, rate: '${r}', effective_from: 2026-01-01 }`,
        'rules:',
        `  - { id: cp, match: { ChargeCategory: [Usage, Credit] }, model: cost_plus, basis: BilledCost, markup_percent: '${markup}', discount_percent: '${ruleDiscount}' }`,
        `  - { id: pu, priority: 1, match: { PricingUnit: Hrs, SkuId: UNIT }, model: per_unit, unit_price: '${unitPrice}', discount_percent: '${ruleDiscount}' }`,
      ].join('\n'),
      'property.yaml',
    ),
  );

const customer = fc.constantFrom('eu', 'us');

function ratedCost(record: UsageRecord, book: PriceBook): Decimal {
  const result = rateRecord(record, book);
  if (!result.ok) throw new Error(`${result.reason}: ${result.message}`);
  if (result.record.x_RatedCost === null) throw new Error('x_RatedCost not set');
  return new Decimal(result.record.x_RatedCost);
}

const costLine = (BilledCost: string, x_CustomerId: string) =>
  usageRecord({ BilledCost, x_CustomerId, ChargeCategory: BilledCost.startsWith('-') ? 'Credit' : 'Usage' });
const unitLine = (PricingQuantity: string, x_CustomerId: string) =>
  usageRecord({ SkuId: 'UNIT', PricingUnit: 'Hrs', PricingQuantity, x_CustomerId });

describe('rating properties (exact decimals)', () => {
  it('cost_plus is linear: rate(a) + rate(b) = rate(a + b)', () => {
    fc.assert(
      fc.property(bookArb, decimalText(), decimalText(), customer, (book, a, b, who) => {
        const sum = decimalToString(new Decimal(a).plus(b));
        const separately = ratedCost(costLine(a, who), book).plus(ratedCost(costLine(b, who), book));
        expect(decimalToString(separately)).toBe(decimalToString(ratedCost(costLine(sum, who), book)));
      }),
      { numRuns: 300 },
    );
  });

  it('per_unit is linear in PricingQuantity', () => {
    fc.assert(
      fc.property(bookArb, decimalText(), decimalText(), customer, (book, a, b, who) => {
        const sum = decimalToString(new Decimal(a).plus(b));
        const separately = ratedCost(unitLine(a, who), book).plus(ratedCost(unitLine(b, who), book));
        expect(decimalToString(separately)).toBe(decimalToString(ratedCost(unitLine(sum, who), book)));
      }),
      { numRuns: 300 },
    );
  });

  it('scaling: rating k identical lines equals rating one line of k times the amount', () => {
    fc.assert(
      fc.property(bookArb, decimalText(), fc.integer({ min: 1, max: 50 }), customer, (book, a, k, who) => {
        const one = ratedCost(costLine(a, who), book).times(k);
        const scaled = ratedCost(costLine(decimalToString(new Decimal(a).times(k)), who), book);
        expect(decimalToString(one)).toBe(decimalToString(scaled));
      }),
      { numRuns: 200 },
    );
  });

  it('totals are independent of record order and batch boundaries', () => {
    const line = fc.oneof(
      fc.tuple(decimalText(), customer).map(([a, who]) => costLine(a, who)),
      fc.tuple(decimalText(), customer).map(([q, who]) => unitLine(q, who)),
    );
    fc.assert(
      fc.property(
        bookArb,
        fc
          .array(line, { minLength: 1, maxLength: 40 })
          .chain((lines) =>
            fc.tuple(
              fc.constant(lines),
              fc.shuffledSubarray(lines, { minLength: lines.length, maxLength: lines.length }),
              fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, lines.length - 1) }), { maxLength: 5 }),
            ),
          ),
        (book, [lines, shuffled, cuts]) => {
          const total = (list: UsageRecord[]) => {
            const byCurrency = new Map<string, Decimal[]>();
            for (const r of list) {
              const result = rateRecord(r, book);
              if (!result.ok || result.record.x_RatedCost === null) throw new Error('not rated');
              const c = result.record.x_RatedCurrency ?? '?';
              byCurrency.set(c, [...(byCurrency.get(c) ?? []), new Decimal(result.record.x_RatedCost)]);
            }
            return [...byCurrency.entries()]
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([c, amounts]) => `${c} ${decimalToString(sumDecimals(amounts))}`)
              .join(', ');
          };
          const whole = total(lines);
          expect(total(shuffled)).toBe(whole);
          // Split the shuffled list at the cut points into batches, rate each batch on its own,
          // and add the batch totals.
          const bounds = [
            0,
            ...[...cuts].sort((a, b) => a - b).filter((c) => c < shuffled.length),
            shuffled.length,
          ];
          const batchTotals = new Map<string, Decimal>();
          for (let i = 0; i + 1 < bounds.length; i++) {
            for (const part of total(shuffled.slice(bounds[i], bounds[i + 1]))
              .split(', ')
              .filter(Boolean)) {
              const [c, amount] = part.split(' ');
              batchTotals.set(c, (batchTotals.get(c) ?? new Decimal(0)).plus(amount));
            }
          }
          const combined = [...batchTotals.entries()]
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([c, amount]) => `${c} ${decimalToString(amount)}`)
            .join(', ');
          expect(combined).toBe(whole);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('matches an independent computation of cost_plus with conversion', () => {
    fc.assert(
      fc.property(percent, percent, rate, decimalText(), (markup, discount, r, cost) => {
        const book = parsePriceBook(
          [
            'version: p',
            `customers: { eu: { billing_currency: EUR, discount_percent: '${discount}' } }`,
            `exchange_rates: [{ from: USD, to: EUR, rate: '${r}', effective_from: 2026-01-01 }]`,
            `rules: [{ id: cp, model: cost_plus, basis: BilledCost, markup_percent: '${markup}' }]`,
          ].join('\n'),
        );
        // cost * (1 + markup/100) * (1 - discount/100) * rate, computed with scaled integers.
        const expected = new Decimal(cost)
          .times(new Decimal(markup).plus(100))
          .times(new Decimal(100).minus(discount))
          .times(r)
          .div(10_000);
        const result = rateRecord(usageRecord({ BilledCost: cost, x_CustomerId: 'eu' }), book);
        expect(result.ok && result.record.x_RatedCost).toBe(decimalToString(expected));
        expect(result.ok && result.record.x_ExchangeRate).toBe(r);
      }),
      { numRuns: 200 },
    );
  });
});
