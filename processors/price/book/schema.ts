import { z } from 'zod';
import { tierProblems, type Tier } from '../charge-models';
import {
  currencySchema,
  dateSchema,
  decimalSchema,
  idSchema,
  integerSchema,
  matcherSchema,
  show,
  textSchema,
} from './fields';
import { MATCH_COLUMNS, type RuleMatch } from './types';

/**
 * The document schema of a price book: its sections (customers, exchange_rates, rules, plans)
 * and what each entry may hold. Every object is strict, so a misspelt key is an error rather
 * than a silently ignored setting. The `describe` texts document each field for people and
 * generated references. Checks that span fields or entries (dates in order, references to
 * customers, duplicate ids) are in cross-checks.ts.
 */

const columnMatcher = (column: string) =>
  matcherSchema(`Matches the FOCUS column ${column}: a value, a list of values, or '*'.`).optional();

const MatchSchema = z
  .object({
    ProviderName: columnMatcher('ProviderName'),
    ServiceName: columnMatcher('ServiceName'),
    ServiceCategory: columnMatcher('ServiceCategory'),
    SkuId: columnMatcher('SkuId'),
    RegionId: columnMatcher('RegionId'),
    PricingUnit: columnMatcher('PricingUnit'),
    ChargeCategory: columnMatcher('ChargeCategory'),
    Tags: z
      .record(
        z.string().min(1),
        matcherSchema("Tag value: a value, a list of values, or '*' (tag present with any value)."),
      )
      .optional()
      .describe('Resource tags: tag key -> value matcher. Every listed key must match.'),
  })
  .strict()
  .transform((m): RuleMatch => {
    const out: Record<string, unknown> = {};
    for (const column of MATCH_COLUMNS) {
      const v = m[column];
      if (v !== undefined && v !== '*') out[column] = v;
    }
    if (m.Tags && Object.keys(m.Tags).length > 0) out.Tags = m.Tags;
    return out as RuleMatch;
  })
  .describe('Conditions on the record; all must hold. Leave a key out (or write "*") to match anything.');

const percentDiscount = (description: string) => decimalSchema(description, { min: 0, max: 100 });

const ruleCommon = {
  id: idSchema('Unique rule id; stamped on every record it prices as x_PriceRuleId.'),
  description: textSchema('For people.').optional(),
  priority: integerSchema(
    'Precedence: the highest priority among matching rules wins. Default 0.',
  ).optional(),
  effective_from: dateSchema(
    'First ChargePeriodStart the rule applies to (inclusive). Unset: always.',
  ).optional(),
  effective_to: dateSchema('ChargePeriodStart from which the rule no longer applies (exclusive).').optional(),
  match: MatchSchema.optional(),
  customers: matcherSchema(
    "x_CustomerId matcher: a customer id, a list of them, or '*' (default). Ids must be defined under customers.",
  ).optional(),
  discount_percent: percentDiscount(
    'Discount on the line after the model price, in percent (0..100). Applied before the customer discount.',
  ).optional(),
};

const CostPlusSchema = z
  .object({
    ...ruleCommon,
    model: z.literal('cost_plus').describe('Price = the cloud cost plus a markup.'),
    basis: z
      .enum(['BilledCost', 'EffectiveCost'], {
        error: (iss) => `expected BilledCost or EffectiveCost, got ${show(iss.input)}`,
      })
      .describe('Which cost the markup applies to: BilledCost (invoiced) or EffectiveCost (amortized).'),
    markup_percent: decimalSchema('Markup on the basis, in percent; at least -100.', { min: -100 }),
  })
  .strict();

const PerUnitSchema = z
  .object({
    ...ruleCommon,
    model: z.literal('per_unit').describe('Price = PricingQuantity * unit_price.'),
    unit_price: decimalSchema('Price of one PricingUnit, in `currency`.', { min: 0 }),
    currency: currencySchema('Currency of unit_price. Default: the book currency_default.').optional(),
  })
  .strict();

const FixedPerLineSchema = z
  .object({
    ...ruleCommon,
    model: z.literal('fixed_per_line').describe('Price = a fixed amount per line.'),
    amount: decimalSchema('The amount of every matching line, in `currency`.'),
    currency: currencySchema('Currency of amount. Default: the book currency_default.').optional(),
  })
  .strict();

const RuleSchema = z.discriminatedUnion('model', [CostPlusSchema, PerUnitSchema, FixedPerLineSchema]);

const CustomerSchema = z
  .object({
    name: textSchema('Display name, for people.').optional(),
    billing_currency: currencySchema(
      'Currency the customer is billed in. Default: currency_default, else each line\u2019s own currency.',
    ).optional(),
    discount_percent: percentDiscount(
      'Discount on every line of the customer, in percent, after the rule discount.',
    ).optional(),
  })
  .strict();

const ExchangeRateSchema = z
  .object({
    from: currencySchema('Currency converted from.'),
    to: currencySchema('Currency converted to.'),
    rate: decimalSchema('Units of `to` per unit of `from`.', { above: 0 }),
    effective_from: dateSchema(
      'First ChargePeriodStart this rate applies to; it applies until the next one.',
    ),
  })
  .strict();

const TierSchema = z
  .object({
    up_to: decimalSchema('Last quantity of the tier (inclusive); leave out on the last tier.', { above: 0 })
      .nullable()
      .optional(),
    unit_price: decimalSchema('Price of one unit in this tier.', { min: 0 }),
  })
  .strict()
  .transform((t): Tier => ({ up_to: t.up_to ?? null, unit_price: t.unit_price }));

const TiersSchema = z
  .array(TierSchema, { error: (iss) => `expected a list of tiers, got ${show(iss.input)}` })
  .superRefine((tiers, ctx) => {
    for (const problem of tierProblems(tiers)) {
      const m = /^tiers\[(\d+)\]\.(\w+): (.*)$/.exec(problem);
      if (m) ctx.addIssue({ code: 'custom', path: [Number(m[1]), m[2]], message: m[3] });
      else ctx.addIssue({ code: 'custom', message: problem });
    }
  })
  .describe('Price tiers, ascending by up_to; the last one unbounded.');

const planCommon = {
  id: idSchema('Unique plan id.'),
  description: textSchema('For people.').optional(),
  customer: idSchema('The customer (defined under customers) the plan belongs to.'),
  match: MatchSchema.optional(),
  period: z
    .enum(['month'], { error: (iss) => `expected month, got ${show(iss.input)}` })
    .optional()
    .describe('Invoice period the plan is evaluated over. Only month today.'),
  effective_from: dateSchema('First billing period start the plan applies to (inclusive).').optional(),
  effective_to: dateSchema(
    'Billing period start from which the plan no longer applies (exclusive).',
  ).optional(),
  currency: currencySchema(
    'Currency of the plan amounts. Default: the customer billing currency, else currency_default.',
  ).optional(),
};

const PlanSchema = z.discriminatedUnion('model', [
  z
    .object({
      ...planCommon,
      model: z.enum(['graduated', 'volume']).describe('Tiered price of the period quantity.'),
      tiers: TiersSchema,
    })
    .strict(),
  z
    .object({
      ...planCommon,
      model: z.literal('package').describe('Whole packages of the period quantity.'),
      package_size: decimalSchema('Units per package.', { above: 0 }),
      package_price: decimalSchema('Price of one package.', { min: 0 }),
    })
    .strict(),
  z
    .object({
      ...planCommon,
      model: z.literal('minimum_commitment').describe('Bill at least minimum_amount per period.'),
      minimum_amount: decimalSchema('Minimum billed per period.', { above: 0 }),
    })
    .strict(),
  z
    .object({
      ...planCommon,
      model: z
        .literal('prepaid_credit')
        .describe('A prepaid amount burned down by the customer\u2019s charges.'),
      credit_amount: decimalSchema('Credit granted at effective_from.', { above: 0 }),
    })
    .strict(),
]);

export const PriceBookSchema = z
  .object({
    version: textSchema('Version of the book; stamped on every rated record as x_PriceBookVersion.').min(
      1,
      'must not be empty',
    ),
    description: textSchema('For people.').optional(),
    currency_default: currencySchema(
      'Currency of per_unit / fixed prices that state none, and billing currency of customers that state none.',
    ).optional(),
    customers: z
      .record(idSchema('Customer id (x_CustomerId).'), CustomerSchema)
      .optional()
      .describe('Customer id -> billing currency and discount.'),
    exchange_rates: z
      .array(ExchangeRateSchema, { error: (iss) => `expected a list, got ${show(iss.input)}` })
      .optional()
      .describe('Dated exchange rates; the latest with effective_from <= ChargePeriodStart applies.'),
    rules: z
      .array(RuleSchema, { error: (iss) => `expected a list of rules, got ${show(iss.input)}` })
      .min(1, 'at least one rule is required')
      .describe('Line pricing rules; see PRECEDENCE.'),
    plans: z
      .array(PlanSchema, { error: (iss) => `expected a list of plans, got ${show(iss.input)}` })
      .optional()
      .describe('Period-level charge models, applied by the invoice stage (charge-models.ts).'),
  })
  .strict();
