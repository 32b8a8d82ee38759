import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { Decimal, decimalToString, parseDecimal } from '../../schemas/decimal';
import { tierProblems, type Tier } from './charge-models';
import { PriceBookError } from './errors';

/**
 * The price book: how meterflow turns a cloud cost line into the customer's price.
 *
 * One YAML file, versioned (`version` is stamped on every rated record as x_PriceBookVersion)
 * and distributed on the compacted <prefix>.price-book topic; `priceBookFingerprint` identifies
 * its content. Unknown keys are rejected and every problem is reported at once, each with the
 * file, the line and the rule (or customer, or plan) it is in.
 *
 * Decimals (percentages, prices, rates, quantities) may be written as YAML strings ('0.92') or
 * as YAML numbers (0.92); numbers are read from their source text, never through a binary
 * float, so 0.1 is exactly 0.1 and 0.10 is 0.1. Any other scalar written as a YAML number
 * (a version 2026.10, an id 012345) is read as its source text too. Dates are YYYY-MM-DD (UTC
 * midnight) or a full ISO-8601 instant with a zone (2026-03-01T12:00:00Z).
 *
 * Full example (test/fixtures/price/pricebook.example.yaml is a larger one):
 *
 *   version: '2026-03.1'            # required, text; a new version for every change you ship
 *   description: List prices 2026   # optional
 *   currency_default: USD           # optional: currency of per_unit / fixed prices that state none,
 *                                   # and the billing currency of customers that state none.
 *                                   # Unset: such customers are billed in each line's own currency.
 *   customers:                      # optional; customer id (x_CustomerId) -> settings
 *     acme:
 *       name: Acme GmbH             # optional, for people
 *       billing_currency: EUR       # optional; lines in another currency are converted
 *       discount_percent: '3'       # optional; applied to every line of the customer, after the rule's
 *     globex: {}
 *   exchange_rates:                 # optional; dated, one direction each (no implied inverse)
 *     - { from: USD, to: EUR, rate: '0.92', effective_from: 2026-01-01 }
 *     - { from: USD, to: EUR, rate: '0.94', effective_from: 2026-03-01 }
 *   rules:                          # required, at least one
 *     - id: default-markup          # required, unique; stamped on records as x_PriceRuleId
 *       description: 12% on everything
 *       priority: 0                 # optional integer, default 0; higher wins
 *       model: cost_plus            # cost_plus | per_unit | fixed_per_line
 *       basis: EffectiveCost        # cost_plus: BilledCost or EffectiveCost
 *       markup_percent: 12          # cost_plus: >= -100
 *     - id: ec2-markup
 *       match:                      # optional; every key present must match (AND); a key is a value,
 *         ProviderName: AWS         # a list of values (OR), or '*' (anything, same as leaving it out)
 *         ServiceName: [AmazonEC2, AmazonEBS]
 *         RegionId: '*'
 *         ChargeCategory: Usage
 *         Tags: { env: prod, team: '*' }   # tag present with that value / with any value
 *       model: cost_plus
 *       basis: BilledCost
 *       markup_percent: '15'
 *       effective_to: 2026-04-01    # optional, exclusive
 *     - id: ec2-markup-q2
 *       match: { ProviderName: AWS, ServiceName: [AmazonEC2, AmazonEBS], ChargeCategory: Usage }
 *       model: cost_plus
 *       basis: BilledCost
 *       markup_percent: '14'
 *       effective_from: 2026-04-01  # optional, inclusive
 *     - id: gpu-hours
 *       match: { SkuId: 8ZQ2Y7GVNHF4, PricingUnit: Hrs }   # per_unit must match PricingUnit
 *       model: per_unit
 *       unit_price: '2.95'          # per PricingUnit; rated = PricingQuantity * unit_price
 *       currency: USD               # optional, default currency_default
 *     - id: acme-discounted
 *       customers: [acme]           # x_CustomerId matcher: a value, a list, or '*' (default)
 *       priority: 100
 *       model: cost_plus
 *       basis: EffectiveCost
 *       markup_percent: '10'
 *       discount_percent: '2.5'     # optional, any model; 0..100
 *     - id: marketplace-line-fee
 *       match: { ChargeCategory: Purchase, ServiceCategory: Marketplace }
 *       priority: 10
 *       model: fixed_per_line       # a fixed amount per line, whatever its cost
 *       amount: '0.05'
 *       currency: EUR               # optional, default currency_default
 *   plans: []                       # period-level charge models; see charge-models.ts
 *
 * Matching keys under `match` are the FOCUS columns they compare, exactly and case-sensitively:
 * ProviderName, ServiceName, ServiceCategory, SkuId, RegionId, PricingUnit, ChargeCategory, and
 * Tags (key -> value matcher). A value matcher never matches a null column; '*' matches
 * anything, null included. `customers` matches x_CustomerId and must name customers defined
 * under `customers:`.
 *
 * Effective dating: a rule applies to a line when the line's ChargePeriodStart lies in
 * [effective_from, effective_to); either bound may be left out. To change a price from a date,
 * end the old rule (effective_to) and start the new one (effective_from) on the same date.
 *
 * PRECEDENCE. Of the rules that are in effect and match a line, exactly one prices it:
 *   1. the highest `priority` wins;
 *   2. on equal priority, the most specific rule wins: specificity is the number of non-'*'
 *      matchers (each `match` key counts 1, each Tags key counts 1, `customers` counts 1);
 *   3. on equal priority and specificity, the rule written first in the file wins.
 * Customer-specific rules override general ones through the same order: `customers` adds one
 * to specificity, so it beats an equally specific general rule of the same priority; to make a
 * customer's price win over every general rule, give it a higher priority (the example uses
 * 100 for customer rules). A line no rule matches is `unpriced` (dead-lettered), never rated at
 * zero: a catch-all rule (no match, priority below the others) prices everything else.
 *
 * Rating (rate.ts), exact decimals throughout, no rounding:
 *   cost_plus       amount = record[basis] * (100 + markup_percent) / 100, in the record's BillingCurrency
 *   per_unit        amount = PricingQuantity * unit_price, in the rule's currency
 *   fixed_per_line  amount = amount, in the rule's currency
 *   then            amount *= (100 - rule discount_percent) / 100 * (100 - customer discount_percent) / 100
 *   then            converted with the latest exchange rate whose effective_from <= ChargePeriodStart
 *                   when the customer's billing currency (else currency_default) differs.
 */

// ---------------------------------------------------------------------------------------------
// Public types

/** A column matcher: '*' (anything) or the accepted values. */
export type Matcher = '*' | readonly string[];

export const MATCH_COLUMNS = [
  'ProviderName',
  'ServiceName',
  'ServiceCategory',
  'SkuId',
  'RegionId',
  'PricingUnit',
  'ChargeCategory',
] as const;
export type MatchColumn = (typeof MATCH_COLUMNS)[number];

/** Matchers of a rule or plan; '*' matchers are dropped, so every key present constrains. */
export type RuleMatch = { readonly [K in MatchColumn]?: readonly string[] } & {
  readonly Tags?: Readonly<Record<string, Matcher>>;
};

interface RuleCommon {
  readonly id: string;
  readonly description?: string;
  readonly priority: number;
  /** ISO-8601 instant, inclusive; null: since always. */
  readonly effective_from: string | null;
  /** ISO-8601 instant, exclusive; null: for ever. */
  readonly effective_to: string | null;
  readonly match: RuleMatch;
  readonly customers: Matcher;
  readonly discount_percent: Decimal;
}

export type CostBasis = 'BilledCost' | 'EffectiveCost';

export interface CostPlusRule extends RuleCommon {
  readonly model: 'cost_plus';
  readonly basis: CostBasis;
  readonly markup_percent: Decimal;
}
export interface PerUnitRule extends RuleCommon {
  readonly model: 'per_unit';
  readonly unit_price: Decimal;
  /** Resolved: the rule's currency, else the book's currency_default. */
  readonly currency: string;
}
export interface FixedPerLineRule extends RuleCommon {
  readonly model: 'fixed_per_line';
  readonly amount: Decimal;
  readonly currency: string;
}
export type PriceRule = CostPlusRule | PerUnitRule | FixedPerLineRule;

export interface Customer {
  readonly name?: string;
  readonly billing_currency?: string;
  readonly discount_percent?: Decimal;
}

export interface ExchangeRate {
  readonly from: string;
  readonly to: string;
  readonly rate: Decimal;
  readonly effective_from: string;
}

interface PlanCommon {
  readonly id: string;
  readonly description?: string;
  readonly customer: string;
  readonly match: RuleMatch;
  readonly period: 'month';
  readonly effective_from: string | null;
  readonly effective_to: string | null;
  /** Resolved: the plan's currency, else the customer's billing currency, else currency_default. */
  readonly currency: string | null;
}
export type Plan =
  | (PlanCommon & { readonly model: 'graduated' | 'volume'; readonly tiers: readonly Tier[] })
  | (PlanCommon & {
      readonly model: 'package';
      readonly package_size: Decimal;
      readonly package_price: Decimal;
    })
  | (PlanCommon & { readonly model: 'minimum_commitment'; readonly minimum_amount: Decimal })
  | (PlanCommon & { readonly model: 'prepaid_credit'; readonly credit_amount: Decimal });

/** A validated, immutable price book. Rules keep their file order (the last tie-breaker). */
export interface PriceBook {
  readonly version: string;
  readonly description?: string;
  readonly currency_default: string | null;
  readonly customers: Readonly<Record<string, Customer>>;
  readonly exchange_rates: readonly ExchangeRate[];
  readonly rules: readonly PriceRule[];
  readonly plans: readonly Plan[];
}

// ---------------------------------------------------------------------------------------------
// Field schemas

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@/-]*$/;
const CURRENCY_PATTERN = /^[A-Z]{3}$/;

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a mapping' : String(v);
}

const idSchema = (description: string) =>
  z
    .string({ error: (iss) => `expected an id (text), got ${show(iss.input)}` })
    .regex(ID_PATTERN, 'expected an id of letters, digits and . _ : @ / - (starting with a letter or digit)')
    .describe(description);

const textSchema = (description: string) =>
  z.string({ error: (iss) => `expected text, got ${show(iss.input)}` }).describe(description);

const currencySchema = (description: string) =>
  z
    .string({ error: (iss) => `expected an ISO 4217 currency code such as USD, got ${show(iss.input)}` })
    .regex(CURRENCY_PATTERN, 'expected an ISO 4217 currency code such as USD (three capital letters)')
    .describe(description);

interface DecimalBounds {
  /** Inclusive lower bound. */
  min?: number;
  /** Exclusive lower bound. */
  above?: number;
  /** Inclusive upper bound. */
  max?: number;
}

/** A decimal from YAML text (strings and numbers alike arrive here as their source text). */
const decimalSchema = (description: string, bounds: DecimalBounds = {}) =>
  z
    .unknown()
    .transform((v, ctx): Decimal => {
      const d = typeof v === 'string' ? parseDecimal(v) : undefined;
      if (d === undefined || !d.isFinite()) {
        ctx.addIssue({
          code: 'custom',
          message: v === undefined ? 'required' : `expected a decimal string, got ${show(v)}`,
        });
        return z.NEVER;
      }
      if (bounds.min !== undefined && d.lessThan(bounds.min))
        ctx.addIssue({
          code: 'custom',
          message: `must be at least ${bounds.min}, got ${decimalToString(d)}`,
        });
      if (bounds.above !== undefined && d.lessThanOrEqualTo(bounds.above))
        ctx.addIssue({
          code: 'custom',
          message: `must be greater than ${bounds.above}, got ${decimalToString(d)}`,
        });
      if (bounds.max !== undefined && d.greaterThan(bounds.max))
        ctx.addIssue({ code: 'custom', message: `must be at most ${bounds.max}, got ${decimalToString(d)}` });
      return d;
    })
    .describe(description);

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Parse a price-book date to epoch milliseconds; undefined when it is not a valid date. */
export function parseBookDate(text: string): number | undefined {
  const m = DATE_ONLY.exec(text) ?? DATE_TIME.exec(text);
  if (!m) return undefined;
  const ms = Date.parse(DATE_ONLY.test(text) ? `${text}T00:00:00Z` : text);
  if (Number.isNaN(ms)) return undefined;
  // Reject dates Date.parse silently rolls over (2026-02-30).
  const day = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  if (day.getUTCFullYear() !== Number(m[1]) || day.getUTCMonth() !== Number(m[2]) - 1) return undefined;
  if (day.getUTCDate() !== Number(m[3])) return undefined;
  return ms;
}

const dateSchema = (description: string) =>
  z
    .unknown()
    .transform((v, ctx): string => {
      const ms = typeof v === 'string' ? parseBookDate(v) : undefined;
      if (ms === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a date YYYY-MM-DD or an ISO-8601 instant with zone, got ${show(v)}`,
        });
        return z.NEVER;
      }
      return new Date(ms).toISOString();
    })
    .describe(description);

const integerSchema = (description: string) =>
  z
    .unknown()
    .transform((v, ctx): number => {
      if (typeof v === 'string' && /^[+-]?\d{1,15}$/.test(v.trim())) return Number(v.trim());
      ctx.addIssue({ code: 'custom', message: `expected an integer, got ${show(v)}` });
      return z.NEVER;
    })
    .describe(description);

const matcherSchema = (description: string) =>
  z
    .unknown()
    .transform((v, ctx): Matcher => {
      const bad = (message: string) => {
        ctx.addIssue({ code: 'custom', message });
        return z.NEVER;
      };
      if (v === '*') return '*';
      if (typeof v === 'string') return v === '' ? bad('an empty value matches nothing') : [v];
      if (!Array.isArray(v)) return bad(`expected a value, a list of values, or '*', got ${show(v)}`);
      if (v.length === 0) return bad('an empty list matches nothing; use "*" to match anything');
      const values: string[] = [];
      for (const item of v) {
        if (typeof item !== 'string' || item === '')
          return bad(`list items must be non-empty text, got ${show(item)}`);
        if (item === '*') return bad(`'*' cannot be part of a list; write '*' alone`);
        if (values.includes(item)) return bad(`"${item}" is listed twice`);
        values.push(item);
      }
      return values;
    })
    .describe(description);

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

// ---------------------------------------------------------------------------------------------
// YAML -> plain values, keeping source text and lines

type Path = (string | number)[];
const pathKey = (path: Path) => path.map(String).join('\u0000');

interface Located {
  value: unknown;
  /** Offset of each path (map keys: the key; list items: the item). */
  offsets: Map<string, number>;
}

/**
 * Convert the YAML document to plain values. Scalars that YAML would type as numbers or
 * booleans are replaced by their source text, so decimals never go through a JS number.
 */
function toPlain(doc: ReturnType<typeof parseDocument>): Located {
  const offsets = new Map<string, number>();
  const visit = (node: unknown, path: Path, depth: number): unknown => {
    if (depth > 64) return undefined;
    if (isAlias(node)) return visit(node.resolve(doc), path, depth + 1);
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        const keyNode = pair.key;
        const key = isScalar(keyNode)
          ? typeof keyNode.value === 'string'
            ? keyNode.value
            : (keyNode.source ?? String(keyNode.value))
          : String(keyNode);
        const childPath = [...path, key];
        const start = isScalar(keyNode) ? keyNode.range?.[0] : undefined;
        if (start !== undefined) offsets.set(pathKey(childPath), start);
        // defineProperty: a "__proto__" key stays an ordinary (and then rejected) key.
        Object.defineProperty(out, key, {
          value: visit(pair.value, childPath, depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    if (isSeq(node)) {
      return node.items.map((item, i) => {
        const start = (item as { range?: [number, number, number] } | null)?.range?.[0];
        if (start !== undefined) offsets.set(pathKey([...path, i]), start);
        return visit(item, [...path, i], depth + 1);
      });
    }
    if (isScalar(node)) {
      const v = node.value;
      if (v === null || v === undefined) return null;
      if (typeof v === 'string') return v;
      return node.source ?? String(v);
    }
    return node === null || node === undefined ? null : undefined;
  };
  return { value: visit(doc.contents, [], 0), offsets };
}

// ---------------------------------------------------------------------------------------------
// Issues

interface Issue {
  path: Path;
  message: string;
}

function formatIssues(source: string, raw: unknown, located: Located, lc: LineCounter, issues: Issue[]) {
  const rows = issues.map((issue) => {
    let offset: number | undefined;
    for (let n = issue.path.length; n >= 0 && offset === undefined; n--)
      offset = located.offsets.get(pathKey(issue.path.slice(0, n)));
    const line = offset === undefined ? undefined : lc.linePos(offset).line;
    const { owner, rest } = ownerOf(raw, issue.path);
    const where = [line !== undefined ? `${source} line ${line}` : source, owner].filter(Boolean).join(', ');
    const field = formatPath(rest);
    return { line: line ?? 0, text: `${where}: ${field ? `${field}: ` : ''}${issue.message}` };
  });
  rows.sort((a, b) => a.line - b.line);
  return [...new Set(rows.map((r) => r.text))];
}

function formatPath(path: Path): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

function ownerOf(raw: unknown, path: Path): { owner?: string; rest: Path } {
  const [section, index] = path;
  const root = isRecord(raw) ? raw : {};
  if ((section === 'rules' || section === 'plans') && typeof index === 'number') {
    const list = root[section];
    const item = Array.isArray(list) ? list[index] : undefined;
    const id = isRecord(item) && typeof item.id === 'string' ? item.id : undefined;
    const kind = section === 'rules' ? 'rule' : 'plan';
    if (!id) return { owner: `${kind} #${index + 1}`, rest: path.slice(2) };
    const shared = Array.isArray(list) && list.filter((x) => isRecord(x) && x.id === id).length > 1;
    return { owner: `${kind} "${id}"${shared ? ` (#${index + 1})` : ''}`, rest: path.slice(2) };
  }
  if (section === 'customers' && typeof index === 'string')
    return { owner: `customer "${index}"`, rest: path.slice(2) };
  return { rest: path };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function zodIssues(error: z.ZodError): Issue[] {
  const out: Issue[] = [];
  for (const issue of error.issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: [...path, key], message: `unknown key "${key}"` });
    } else if (
      issue.code === 'invalid_union' &&
      (issue as { note?: string }).note === 'No matching discriminator'
    ) {
      const options = (issue as { options?: unknown[] }).options ?? [];
      const owner = path.slice(0, -1);
      out.push({
        path: owner.length ? [...owner, 'model'] : path,
        message: `expected one of ${options.map(String).join(', ')}`,
      });
    } else if (issue.code === 'invalid_type' && issue.input === undefined) {
      out.push({ path, message: 'required' });
    } else {
      out.push({ path, message: issue.message });
    }
  }
  return out;
}

/**
 * Checks across fields and entries, made on the raw values so they are reported together with
 * the schema's own problems. Each check skips values the schema rejects anyway.
 */
function crossChecks(raw: Record<string, unknown>): Issue[] {
  const issues: Issue[] = [];
  const customers = isRecord(raw.customers) ? raw.customers : {};
  const customerIds = new Set(Object.keys(customers));
  const currencyDefault = typeof raw.currency_default === 'string' ? raw.currency_default : undefined;

  const checkDates = (item: Record<string, unknown>, path: Path) => {
    const from = typeof item.effective_from === 'string' ? parseBookDate(item.effective_from) : undefined;
    const to = typeof item.effective_to === 'string' ? parseBookDate(item.effective_to) : undefined;
    if (from !== undefined && to !== undefined && to <= from)
      issues.push({ path: [...path, 'effective_to'], message: 'must be later than effective_from' });
  };
  const needsUnit = (item: Record<string, unknown>, path: Path, what: string) => {
    const unit = isRecord(item.match) ? item.match.PricingUnit : undefined;
    if (unit === undefined || unit === '*')
      issues.push({
        path: [...path, 'match', 'PricingUnit'],
        message: `${what} must match PricingUnit, so that a price per unit is never applied to another unit`,
      });
  };
  const duplicates = (list: unknown[], section: string, kind: string) => {
    const seen = new Map<string, number>();
    list.forEach((item, i) => {
      if (!isRecord(item) || typeof item.id !== 'string') return;
      const first = seen.get(item.id);
      if (first === undefined) seen.set(item.id, i);
      else
        issues.push({
          path: [section, i, 'id'],
          message: `duplicate ${kind} id "${item.id}" (also ${kind} #${first + 1})`,
        });
    });
  };

  const rules = Array.isArray(raw.rules) ? raw.rules : [];
  duplicates(rules, 'rules', 'rule');
  rules.forEach((rule, i) => {
    if (!isRecord(rule)) return;
    const path: Path = ['rules', i];
    checkDates(rule, path);
    const refs = typeof rule.customers === 'string' ? [rule.customers] : rule.customers;
    if (Array.isArray(refs))
      refs.forEach((ref) => {
        if (typeof ref === 'string' && ref !== '*' && !customerIds.has(ref))
          issues.push({
            path: [...path, 'customers'],
            message: `customer "${ref}" is not defined under customers`,
          });
      });
    if (rule.model === 'per_unit') needsUnit(rule, path, 'a per_unit rule');
    if (
      (rule.model === 'per_unit' || rule.model === 'fixed_per_line') &&
      rule.currency === undefined &&
      !currencyDefault
    )
      issues.push({
        path: [...path, 'currency'],
        message: 'required when the book sets no currency_default',
      });
  });

  const rates = Array.isArray(raw.exchange_rates) ? raw.exchange_rates : [];
  const seenRates = new Map<string, number>();
  rates.forEach((rate, i) => {
    if (!isRecord(rate) || typeof rate.from !== 'string' || typeof rate.to !== 'string') return;
    if (rate.from === rate.to)
      issues.push({ path: ['exchange_rates', i, 'to'], message: 'must differ from `from`' });
    const at = typeof rate.effective_from === 'string' ? parseBookDate(rate.effective_from) : undefined;
    if (at === undefined) return;
    const key = `${rate.from}>${rate.to}@${at}`;
    const first = seenRates.get(key);
    if (first === undefined) seenRates.set(key, i);
    else
      issues.push({
        path: ['exchange_rates', i],
        message: `a ${rate.from}->${rate.to} rate from the same date is already exchange_rates[${first}]`,
      });
  });

  const plans = Array.isArray(raw.plans) ? raw.plans : [];
  duplicates(plans, 'plans', 'plan');
  plans.forEach((plan, i) => {
    if (!isRecord(plan)) return;
    const path: Path = ['plans', i];
    checkDates(plan, path);
    if (typeof plan.customer === 'string' && !customerIds.has(plan.customer))
      issues.push({
        path: [...path, 'customer'],
        message: `customer "${plan.customer}" is not defined under customers`,
      });
    if (plan.model === 'graduated' || plan.model === 'volume' || plan.model === 'package')
      needsUnit(plan, path, `a ${String(plan.model)} plan`);
    if (plan.model === 'prepaid_credit' && plan.effective_from === undefined)
      issues.push({
        path: [...path, 'effective_from'],
        message: 'required for prepaid_credit (when the credit is granted)',
      });
    const customer = typeof plan.customer === 'string' ? customers[plan.customer] : undefined;
    const customerCurrency = isRecord(customer) ? customer.billing_currency : undefined;
    if (plan.currency === undefined && customerCurrency === undefined && !currencyDefault)
      issues.push({
        path: [...path, 'currency'],
        message: 'required when neither the customer billing_currency nor currency_default is set',
      });
  });
  return issues;
}

// ---------------------------------------------------------------------------------------------
// Loading

/** Parse and validate price-book YAML. Throws PriceBookError listing every problem. */
export function parsePriceBook(text: string, sourceName = 'price book'): PriceBook {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new PriceBookError(
      sourceName,
      doc.errors.map((e) => `${sourceName} line ${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]}`),
    );
  }
  const located = toPlain(doc);
  const raw = located.value;
  if (!isRecord(raw))
    throw new PriceBookError(sourceName, [`${sourceName}: the file must hold a mapping at the top level`]);

  const result = PriceBookSchema.safeParse(raw, { reportInput: true });
  const issues = [...(result.success ? [] : zodIssues(result.error)), ...crossChecks(raw)];
  if (!result.success || issues.length > 0)
    throw new PriceBookError(sourceName, formatIssues(sourceName, raw, located, lc, issues));
  return normalize(result.data);
}

/** Read and validate a price-book file. Errors name the file as given. */
export function loadPriceBook(path: string): PriceBook {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    throw new PriceBookError(path, [
      `${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    ]);
  }
  return parsePriceBook(text, path);
}

type ParsedBook = z.output<typeof PriceBookSchema>;

function normalize(data: ParsedBook): PriceBook {
  const currencyDefault = data.currency_default ?? null;
  const customers: Record<string, Customer> = {};
  for (const [id, c] of Object.entries(data.customers ?? {})) {
    const customer: { -readonly [K in keyof Customer]: Customer[K] } = {};
    if (c.name !== undefined) customer.name = c.name;
    if (c.billing_currency !== undefined) customer.billing_currency = c.billing_currency;
    if (c.discount_percent !== undefined) customer.discount_percent = c.discount_percent;
    customers[id] = customer;
  }
  const rules = data.rules.map((r): PriceRule => {
    const common = {
      id: r.id,
      ...(r.description !== undefined ? { description: r.description } : {}),
      priority: r.priority ?? 0,
      effective_from: r.effective_from ?? null,
      effective_to: r.effective_to ?? null,
      match: r.match ?? {},
      customers: r.customers ?? '*',
      discount_percent: r.discount_percent ?? new Decimal(0),
    };
    switch (r.model) {
      case 'cost_plus':
        return { ...common, model: r.model, basis: r.basis, markup_percent: r.markup_percent };
      case 'per_unit':
        return {
          ...common,
          model: r.model,
          unit_price: r.unit_price,
          currency: (r.currency ?? currencyDefault)!,
        };
      case 'fixed_per_line':
        return { ...common, model: r.model, amount: r.amount, currency: (r.currency ?? currencyDefault)! };
    }
  });
  const plans = (data.plans ?? []).map((p): Plan => {
    const common: PlanCommon = {
      id: p.id,
      ...(p.description !== undefined ? { description: p.description } : {}),
      customer: p.customer,
      match: p.match ?? {},
      period: p.period ?? 'month',
      effective_from: p.effective_from ?? null,
      effective_to: p.effective_to ?? null,
      currency: p.currency ?? customers[p.customer]?.billing_currency ?? currencyDefault,
    };
    switch (p.model) {
      case 'graduated':
      case 'volume':
        return { ...common, model: p.model, tiers: p.tiers };
      case 'package':
        return { ...common, model: p.model, package_size: p.package_size, package_price: p.package_price };
      case 'minimum_commitment':
        return { ...common, model: p.model, minimum_amount: p.minimum_amount };
      case 'prepaid_credit':
        return { ...common, model: p.model, credit_amount: p.credit_amount };
    }
  });
  return deepFreeze({
    version: data.version,
    ...(data.description !== undefined ? { description: data.description } : {}),
    currency_default: currencyDefault,
    customers,
    exchange_rates: data.exchange_rates ?? [],
    rules,
    plans,
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Decimal.isDecimal(value) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Defaults and fingerprint

/**
 * The book in force when none is configured: every line at cost (cost_plus, markup 0, on
 * BilledCost so rated totals reconcile with the exports' control totals), in the line's own
 * currency, rule id `at-cost`, version `at-cost`.
 */
export function atCostPriceBook(basis: CostBasis = 'BilledCost'): PriceBook {
  return deepFreeze({
    version: 'at-cost',
    description: 'No price book configured: every line at cost.',
    currency_default: null,
    customers: {},
    exchange_rates: [],
    rules: [
      {
        id: 'at-cost',
        priority: 0,
        effective_from: null,
        effective_to: null,
        match: {},
        customers: '*',
        discount_percent: new Decimal(0),
        model: 'cost_plus',
        basis,
        markup_percent: new Decimal(0),
      },
    ],
    plans: [],
  });
}

/** Canonical JSON: object keys sorted, decimals as canonical text, list order kept. */
export function canonicalJson(value: unknown): string {
  if (Decimal.isDecimal(value)) return JSON.stringify(decimalToString(value as Decimal));
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * sha256 (hex) of the book's canonical JSON. Equal for books that price identically whatever
 * their formatting, comments, key order or decimal spelling (0.10 vs '0.1'); any change to a
 * price, matcher, date, id, order or the version changes it.
 */
export function priceBookFingerprint(book: PriceBook): string {
  return createHash('sha256').update(canonicalJson(book)).digest('hex');
}
