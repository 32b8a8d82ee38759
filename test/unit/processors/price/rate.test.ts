import {
  atCostPriceBook,
  findRule,
  loadPriceBook,
  parsePriceBook,
  rateRecord,
  ruleSpecificity,
  type RateResult,
} from '../../../../processors/price';
import type { UsageRecord } from '../../../../schemas/types.generated';
import { fixture } from '../../../support/fixtures';
import { usageRecord } from '../../../support/usage-record';

const EXAMPLE = fixture('price', 'pricebook.example.yaml');
const example = loadPriceBook(EXAMPLE);

function rated(result: RateResult): UsageRecord {
  if (!result.ok) throw new Error(`expected a rated record, got ${result.reason}: ${result.message}`);
  return result.record;
}

function ratedWith(text: string, overrides: Partial<UsageRecord>) {
  return rated(rateRecord(usageRecord(overrides), parsePriceBook(text, 'test.yaml')));
}

const book = (rules: string[], head: string[] = ['version: t1']) =>
  parsePriceBook([...head, 'rules:', ...rules].join('\n'), 'test.yaml');

describe('cost_plus', () => {
  it('is exact: 0.0000001 * 1.15 = 0.000000115', () => {
    const r = ratedWith(
      'version: v\nrules:\n  - { id: m, model: cost_plus, basis: BilledCost, markup_percent: 15 }',
      { BilledCost: '0.0000001' },
    );
    expect(r.x_RatedCost).toBe('0.000000115');
    expect(r.x_RatedCurrency).toBe('USD');
    expect(r.x_PriceRuleId).toBe('m');
    expect(r.x_PriceBookVersion).toBe('v');
    expect(r.x_ExchangeRate).toBeNull();
  });

  it('does not round: many digits survive, and 0.1 + 0.2 style sums stay exact', () => {
    const r = ratedWith(
      'version: v\nrules:\n  - { id: m, model: cost_plus, basis: BilledCost, markup_percent: 0.1 }',
      { BilledCost: '12345678901234.123456789012345' },
    );
    // 12345678901234.123456789012345 * 1.001
    expect(r.x_RatedCost).toBe('12358024580135.357580245801357345');
  });

  it('uses the chosen basis', () => {
    const text = (basis: string) =>
      `version: v\nrules:\n  - { id: m, model: cost_plus, basis: ${basis}, markup_percent: 10 }`;
    expect(ratedWith(text('BilledCost'), { BilledCost: '10', EffectiveCost: '8' }).x_RatedCost).toBe('11');
    expect(ratedWith(text('EffectiveCost'), { BilledCost: '10', EffectiveCost: '8' }).x_RatedCost).toBe(
      '8.8',
    );
  });

  it('rates credits and negative costs proportionally, so a refund nets to zero', () => {
    const b = book(['  - { id: m, model: cost_plus, basis: BilledCost, markup_percent: 15 }']);
    const charge = rated(rateRecord(usageRecord({ BilledCost: '10' }), b));
    const credit = rated(rateRecord(usageRecord({ BilledCost: '-10', ChargeCategory: 'Credit' }), b));
    expect(charge.x_RatedCost).toBe('11.5');
    expect(credit.x_RatedCost).toBe('-11.5');
  });

  it('rates zero cost as zero and keeps the record otherwise unchanged', () => {
    const input = usageRecord({ BilledCost: '0.000' });
    const r = rated(rateRecord(input, atCostPriceBook()));
    expect(r.x_RatedCost).toBe('0');
    expect({
      ...r,
      x_RatedCost: null,
      x_RatedCurrency: null,
      x_PriceRuleId: null,
      x_PriceBookVersion: null,
    }).toEqual(input);
    expect(input.x_RatedCost).toBeNull(); // the input is not mutated
  });
});

describe('per_unit and fixed_per_line', () => {
  const perUnit = [
    'version: v',
    'rules:',
    '  - id: gpu',
    '    match: { SkuId: GPU, PricingUnit: Hrs }',
    '    model: per_unit',
    '    unit_price: 2.95',
    '    currency: USD',
  ].join('\n');

  it('is PricingQuantity * unit_price, whatever the cost', () => {
    const r = ratedWith(perUnit, { SkuId: 'GPU', PricingQuantity: '3.5', BilledCost: '1' });
    expect(r.x_RatedCost).toBe('10.325');
    expect(r.x_RatedCurrency).toBe('USD');
    expect(r.x_PriceRuleId).toBe('gpu');
  });

  it('without PricingQuantity is malformed and names the field', () => {
    const result = rateRecord(usageRecord({ SkuId: 'GPU', PricingQuantity: null }), parsePriceBook(perUnit));
    expect(result).toMatchObject({ ok: false, reason: 'malformed', field: 'PricingQuantity' });
    if (!result.ok) expect(result.message).toContain('rule "gpu"');
  });

  it('with a PricingQuantity that is not a decimal is malformed', () => {
    const result = rateRecord(usageRecord({ SkuId: 'GPU', PricingQuantity: '3,5' }), parsePriceBook(perUnit));
    expect(result).toMatchObject({ ok: false, reason: 'malformed', field: 'PricingQuantity' });
  });

  it('does not price another unit of the same SKU', () => {
    const result = rateRecord(usageRecord({ SkuId: 'GPU', PricingUnit: 'GB' }), parsePriceBook(perUnit));
    expect(result).toMatchObject({ ok: false, reason: 'unpriced' });
  });

  it('fixed_per_line charges the amount per line in its currency (from the example book)', () => {
    const r = rated(
      rateRecord(
        usageRecord({ ChargeCategory: 'Purchase', ServiceCategory: 'Marketplace', x_CustomerId: 'globex' }),
        example,
      ),
    );
    expect(r.x_PriceRuleId).toBe('marketplace-line-fee');
    expect(r.x_RatedCost).toBe('0.05');
    expect(r.x_RatedCurrency).toBe('EUR');
    expect(r.x_ExchangeRate).toBeNull();
  });
});

describe('discounts', () => {
  it('applies the rule discount, then the customer discount, multiplicatively', () => {
    const text = [
      'version: v',
      "customers: { acme: { discount_percent: '5' } }",
      'rules:',
      '  - { id: m, model: cost_plus, basis: BilledCost, markup_percent: 20, discount_percent: 10 }',
    ].join('\n');
    // 100 * 1.2 * 0.9 * 0.95
    expect(ratedWith(text, { BilledCost: '100', x_CustomerId: 'acme' }).x_RatedCost).toBe('102.6');
    // another customer gets only the rule discount: 100 * 1.2 * 0.9
    expect(ratedWith(text, { BilledCost: '100', x_CustomerId: 'other' }).x_RatedCost).toBe('108');
  });

  it('applies to per_unit prices too', () => {
    const text = [
      'version: v',
      'currency_default: USD',
      'rules:',
      '  - { id: u, match: { PricingUnit: Hrs }, model: per_unit, unit_price: 2, discount_percent: 25 }',
    ].join('\n');
    expect(ratedWith(text, { PricingQuantity: '3' }).x_RatedCost).toBe('4.5');
  });

  it('100% discount rates at zero (explicitly priced, not unpriced)', () => {
    const text =
      'version: v\nrules:\n  - { id: f, model: cost_plus, basis: BilledCost, markup_percent: 5, discount_percent: 100 }';
    const r = ratedWith(text, { BilledCost: '7' });
    expect(r.x_RatedCost).toBe('0');
    expect(r.x_PriceRuleId).toBe('f');
  });
});

describe('precedence', () => {
  const general = '  - { id: general, model: cost_plus, basis: BilledCost, markup_percent: 10 }';
  const ec2 =
    '  - { id: ec2, match: { ServiceName: AmazonEC2 }, model: cost_plus, basis: BilledCost, markup_percent: 20 }';

  it('the highest priority wins, even over a more specific rule', () => {
    const b = book([
      ec2,
      '  - { id: hi, priority: 5, model: cost_plus, basis: BilledCost, markup_percent: 30 }',
      general,
    ]);
    expect(rated(rateRecord(usageRecord(), b)).x_PriceRuleId).toBe('hi');
    expect(rated(rateRecord(usageRecord(), b)).x_RatedCost).toBe('13');
  });

  it('negative priorities rank below the default 0', () => {
    const b = book([
      '  - { id: fallback, priority: -1, match: { ServiceName: AmazonEC2, RegionId: us-east-1 }, model: cost_plus, basis: BilledCost, markup_percent: 1 }',
      general,
    ]);
    expect(findRule(usageRecord(), b)?.id).toBe('general');
  });

  it('on equal priority, the more specific rule wins whatever the file order', () => {
    const regional =
      '  - { id: ec2-us, match: { ServiceName: AmazonEC2, RegionId: [us-east-1, us-west-2] }, model: cost_plus, basis: BilledCost, markup_percent: 25 }';
    expect(findRule(usageRecord(), book([general, ec2, regional]))?.id).toBe('ec2-us');
    expect(findRule(usageRecord(), book([regional, ec2, general]))?.id).toBe('ec2-us');
    expect(findRule(usageRecord({ RegionId: 'eu-west-1' }), book([general, regional, ec2]))?.id).toBe('ec2');
    expect(findRule(usageRecord({ ServiceName: 'AmazonS3' }), book([regional, ec2, general]))?.id).toBe(
      'general',
    );
  });

  it("'*' matchers do not count toward specificity; tag keys and customers each count one", () => {
    const b = book([
      "  - { id: star, match: { ServiceName: '*', RegionId: '*' }, model: cost_plus, basis: BilledCost, markup_percent: 1 }",
      '  - { id: tagged, match: { Tags: { env: prod, team: "*" } }, model: cost_plus, basis: BilledCost, markup_percent: 2 }',
    ]);
    expect(b.rules.map(ruleSpecificity)).toEqual([0, 2]);
    expect(findRule(usageRecord({ Tags: { env: 'prod', team: 'x' } }), b)?.id).toBe('tagged');
    expect(findRule(usageRecord({ Tags: { env: 'prod' } }), b)?.id).toBe('star'); // team tag missing
    expect(findRule(usageRecord({ Tags: { env: 'dev', team: 'x' } }), b)?.id).toBe('star');
  });

  it('on equal priority and specificity, the first rule in the file wins', () => {
    const a =
      '  - { id: first, match: { RegionId: us-east-1 }, model: cost_plus, basis: BilledCost, markup_percent: 1 }';
    const z =
      '  - { id: second, match: { ServiceName: AmazonEC2 }, model: cost_plus, basis: BilledCost, markup_percent: 2 }';
    expect(findRule(usageRecord(), book([a, z]))?.id).toBe('first');
    expect(findRule(usageRecord(), book([z, a]))?.id).toBe('second');
  });

  it('customer rules override general ones: by specificity at equal priority, by priority otherwise', () => {
    const head = ['version: t1', 'customers: { acme: {}, globex: {} }'];
    const acme = '  - { id: acme, customers: acme, model: cost_plus, basis: BilledCost, markup_percent: 5 }';
    // acme (1) beats the catch-all (0) even when written after it
    const b1 = book([general, acme], head);
    expect(findRule(usageRecord({ x_CustomerId: 'acme' }), b1)?.id).toBe('acme');
    expect(findRule(usageRecord({ x_CustomerId: 'globex' }), b1)?.id).toBe('general');
    // an equally specific general rule written first wins the tie...
    expect(findRule(usageRecord({ x_CustomerId: 'acme' }), book([ec2, acme], head))?.id).toBe('ec2');
    // ...so customer overrides that must always win carry a higher priority
    const acmeHigh =
      '  - { id: acme-high, customers: [acme, globex], priority: 100, model: cost_plus, basis: BilledCost, markup_percent: 5 }';
    expect(findRule(usageRecord({ x_CustomerId: 'globex' }), book([ec2, acmeHigh], head))?.id).toBe(
      'acme-high',
    );
  });

  it('in the example book: customer override, tax pass-through, per-unit SKU, tag rule', () => {
    const cases: Array<[Partial<UsageRecord>, string]> = [
      [{ x_CustomerId: 'acme' }, 'acme-all'],
      [{ x_CustomerId: 'acme', ChargeCategory: 'Tax' }, 'tax-at-cost'],
      [{ SkuId: '8ZQ2Y7GVNHF4' }, 'gpu-hours'],
      [{ SkuId: '8ZQ2Y7GVNHF4', PricingUnit: 'GB' }, 'aws-compute-markup'],
      [{ ServiceCategory: 'Storage', ServiceName: 'AmazonS3' }, 'storage-markup'],
      [{ ServiceCategory: 'Storage', Tags: { env: 'prod' } }, 'storage-prod-markup'],
      [{ ProviderName: 'Microsoft', ServiceCategory: 'Compute' }, 'default-markup'],
    ];
    for (const [overrides, id] of cases)
      expect([overrides, findRule(usageRecord(overrides), example)?.id]).toEqual([overrides, id]);
  });

  it('a value matcher does not match a null column; a missing tag does not match', () => {
    const b = book([
      '  - { id: r, match: { RegionId: us-east-1 }, model: cost_plus, basis: BilledCost, markup_percent: 1 }',
    ]);
    expect(rateRecord(usageRecord({ RegionId: null }), b)).toMatchObject({ ok: false, reason: 'unpriced' });
  });

  it('a tag named like an Object property does not match through the prototype', () => {
    const b = book([
      '  - { id: r, match: { Tags: { constructor: "*" } }, model: cost_plus, basis: BilledCost, markup_percent: 1 }',
    ]);
    expect(rateRecord(usageRecord({ Tags: {} }), b)).toMatchObject({ ok: false, reason: 'unpriced' });
    expect(rated(rateRecord(usageRecord({ Tags: { constructor: 'x' } }), b)).x_PriceRuleId).toBe('r');
  });
});

describe('effective dating', () => {
  it('picks the rule in effect at ChargePeriodStart: from inclusive, to exclusive', () => {
    const at = (ChargePeriodStart: string) => findRule(usageRecord({ ChargePeriodStart }), example)?.id;
    expect(at('2026-03-31T23:59:59Z')).toBe('aws-compute-markup');
    expect(at('2026-04-01T00:00:00Z')).toBe('aws-compute-markup-q2');
    expect(at('2026-04-01T01:59:59+02:00')).toBe('aws-compute-markup'); // 23:59:59Z on March 31
    expect(
      rated(rateRecord(usageRecord({ ChargePeriodStart: '2026-03-15T00:00:00Z' }), example)).x_RatedCost,
    ).toBe('11.5');
    expect(
      rated(rateRecord(usageRecord({ ChargePeriodStart: '2026-04-15T00:00:00Z' }), example)).x_RatedCost,
    ).toBe('11.4');
  });

  it('a line before the first or after the last effective rule is unpriced', () => {
    const b = book([
      '  - { id: only-2026, effective_from: 2026-01-01, effective_to: 2027-01-01, model: cost_plus, basis: BilledCost, markup_percent: 1 }',
    ]);
    expect(rateRecord(usageRecord({ ChargePeriodStart: '2025-12-31T23:00:00Z' }), b)).toMatchObject({
      ok: false,
      reason: 'unpriced',
    });
    expect(rateRecord(usageRecord({ ChargePeriodStart: '2027-01-01T00:00:00Z' }), b)).toMatchObject({
      ok: false,
      reason: 'unpriced',
    });
    expect(
      rated(rateRecord(usageRecord({ ChargePeriodStart: '2026-01-01T00:00:00Z' }), b)).x_PriceRuleId,
    ).toBe('only-2026');
  });

  it('an unreadable ChargePeriodStart is malformed', () => {
    expect(rateRecord(usageRecord({ ChargePeriodStart: 'yesterday' }), example)).toMatchObject({
      ok: false,
      reason: 'malformed',
      field: 'ChargePeriodStart',
    });
  });
});

describe('currency conversion', () => {
  it('converts into the customer billing currency with the rate in force at ChargePeriodStart', () => {
    // globex bills in EUR; default-markup (12% on EffectiveCost) prices an Azure line.
    const line = { x_CustomerId: 'globex', ProviderName: 'Microsoft', EffectiveCost: '100' };
    const feb = rated(
      rateRecord(usageRecord({ ...line, ChargePeriodStart: '2026-02-28T23:00:00Z' }), example),
    );
    expect(feb).toMatchObject({ x_RatedCost: '103.04', x_RatedCurrency: 'EUR', x_ExchangeRate: '0.92' });
    const mar = rated(
      rateRecord(usageRecord({ ...line, ChargePeriodStart: '2026-03-01T00:00:00Z' }), example),
    );
    expect(mar).toMatchObject({ x_RatedCost: '105.28', x_RatedCurrency: 'EUR', x_ExchangeRate: '0.94' });
  });

  it('converts a fixed price stated in EUR for a customer billed in the book default USD', () => {
    const r = rated(
      rateRecord(usageRecord({ ChargeCategory: 'Purchase', ServiceCategory: 'Marketplace' }), example),
    );
    expect(r).toMatchObject({ x_RatedCost: '0.054', x_RatedCurrency: 'USD', x_ExchangeRate: '1.08' });
  });

  it('does not convert when the currencies agree', () => {
    const r = rated(
      rateRecord(usageRecord({ x_CustomerId: 'globex', BillingCurrency: 'EUR', ProviderName: 'X' }), example),
    );
    expect(r).toMatchObject({ x_RatedCost: '8.96', x_RatedCurrency: 'EUR', x_ExchangeRate: null });
  });

  it('without a rate for the pair, or none effective yet, fails with no_exchange_rate', () => {
    const gbp = rateRecord(usageRecord({ x_CustomerId: 'globex', BillingCurrency: 'GBP' }), example);
    expect(gbp).toMatchObject({ ok: false, reason: 'no_exchange_rate' });
    if (!gbp.ok) expect(gbp.message).toContain('GBP->EUR');
    const early = rateRecord(
      usageRecord({ x_CustomerId: 'globex', ChargePeriodStart: '2025-12-31T00:00:00Z', ProviderName: 'X' }),
      example,
    );
    expect(early).toMatchObject({ ok: false, reason: 'no_exchange_rate' });
  });

  it('customers without a billing currency and a book without currency_default keep the line currency', () => {
    const r = rated(
      rateRecord(usageRecord({ BillingCurrency: 'JPY', BilledCost: '1000' }), atCostPriceBook()),
    );
    expect(r).toMatchObject({ x_RatedCost: '1000', x_RatedCurrency: 'JPY', x_ExchangeRate: null });
  });
});

describe('failures', () => {
  it('a line no rule matches is unpriced, never rated at zero', () => {
    const b = book([
      '  - { id: s3, match: { ServiceName: AmazonS3 }, model: cost_plus, basis: BilledCost, markup_percent: 1 }',
    ]);
    const result = rateRecord(usageRecord({ ServiceName: 'AmazonEC2' }), b);
    expect(result.ok).toBe(false);
    expect(result).toMatchObject({ reason: 'unpriced' });
    if (!result.ok) {
      expect(result.message).toContain('price book "t1"');
      expect(result.message).toContain('ServiceName=AmazonEC2');
    }
  });

  it('a cost basis that is not decimal text is malformed, naming the basis column', () => {
    const b = book(['  - { id: m, model: cost_plus, basis: EffectiveCost, markup_percent: 1 }']);
    expect(rateRecord(usageRecord({ EffectiveCost: '1.2.3' }), b)).toMatchObject({
      ok: false,
      reason: 'malformed',
      field: 'EffectiveCost',
    });
    expect(rateRecord(usageRecord({ BillingCurrency: '' }), b)).toMatchObject({
      ok: false,
      reason: 'malformed',
      field: 'BillingCurrency',
    });
  });
});

describe('atCostPriceBook rating', () => {
  it('rates every line at BilledCost in its own currency, rule and version at-cost', () => {
    const r = rated(
      rateRecord(
        usageRecord({ BilledCost: '0.0000000123456789', EffectiveCost: '5', BillingCurrency: 'EUR' }),
        atCostPriceBook(),
      ),
    );
    expect(r).toMatchObject({
      x_RatedCost: '0.0000000123456789',
      x_RatedCurrency: 'EUR',
      x_PriceRuleId: 'at-cost',
      x_PriceBookVersion: 'at-cost',
      x_ExchangeRate: null,
    });
  });
});
