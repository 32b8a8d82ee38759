import { Decimal, decimalToString, parseDecimal } from '../../schemas/decimal';
import type { UsageRecord } from '../../schemas/types.generated';
import { DeadLetterReasons } from '../../runtime/errors';
import {
  MATCH_COLUMNS,
  parseBookDate,
  type CostPlusRule,
  type Customer,
  type Matcher,
  type PriceBook,
  type PriceRule,
  type RuleMatch,
} from './price-book';

/**
 * Rating one usage line with a price book. Pure and deterministic: the result depends only on
 * the record and the book, never on other records, their order or how they are batched, so a
 * redelivered or re-rated line gets the same price.
 *
 * The rated amount is exact decimal text and is NOT rounded: rounding to the currency's minor
 * unit happens once per invoice line, later. Because every model used here is a product of the
 * line's amount or quantity with constants, rating is linear: rate(a) + rate(b) = rate(a + b)
 * for cost_plus and per_unit.
 *
 * Credits, refunds and corrections (negative BilledCost / EffectiveCost) under cost_plus are
 * rated proportionally, markup and discounts included: a credit of -10 with a 15% markup is
 * rated -11.5, so a charge and its full refund net to exactly zero for the customer. A negative
 * PricingQuantity under per_unit is rated negative the same way.
 *
 * Failures are results, not exceptions, and map to dead-letter reasons:
 *   unpriced          no rule of the book is in effect and matches the line (never rated at zero)
 *   no_exchange_rate  the customer is billed in another currency and the book has no rate for
 *                     that pair effective on or before ChargePeriodStart
 *   malformed         a field the rating needs is missing or not valid (named in `field`)
 */

/** The dead-letter reasons rating produces (runtime/errors.ts DeadLetterReasons). */
export type RateFailureReason =
  | typeof DeadLetterReasons.UNPRICED
  | typeof DeadLetterReasons.NO_EXCHANGE_RATE
  | typeof DeadLetterReasons.MALFORMED_INPUT;

export type RateResult =
  | { ok: true; record: UsageRecord }
  | { ok: false; reason: RateFailureReason; message: string; field?: string };

/** The fields rating writes: the last five of UsageRecord (the price stage relies on that order). */
export const RATED_FIELDS = [
  'x_RatedCost',
  'x_RatedCurrency',
  'x_PriceRuleId',
  'x_PriceBookVersion',
  'x_ExchangeRate',
] as const;
export type RatedFields = Pick<UsageRecord, (typeof RATED_FIELDS)[number]>;

/**
 * The fields a SUCCESSFUL rating with `book` reads: the ones every line needs, the columns and tags
 * its rules match on, the basis of its cost_plus rules and PricingQuantity for per_unit ones. A
 * failure may read more (its message describes the line): rate the whole record for that.
 */
export function ratingFieldsOf(book: PriceBook): Array<(typeof RATING_INPUT_FIELDS)[number]> {
  const fields = new Set<(typeof RATING_INPUT_FIELDS)[number]>([
    'ChargePeriodStart',
    'x_CustomerId',
    'BillingCurrency',
  ]);
  for (const rule of book.rules) {
    for (const column of MATCH_COLUMNS) if (rule.match[column] !== undefined) fields.add(column);
    if (Object.keys(rule.match.Tags ?? {}).length > 0) fields.add('Tags');
    if (rule.model === 'cost_plus') fields.add(rule.basis);
    if (rule.model === 'per_unit') fields.add('PricingQuantity');
  }
  return [...fields];
}

/** Every field rating reads, whatever the book: a record needs no others to be rated. */
export const RATING_INPUT_FIELDS = [
  ...MATCH_COLUMNS,
  'Tags',
  'ChargePeriodStart',
  'x_CustomerId',
  'BilledCost',
  'EffectiveCost',
  'BillingCurrency',
  'PricingQuantity',
] as const;
export type RatingInput = Pick<UsageRecord, (typeof RATING_INPUT_FIELDS)[number]>;

export type RatingResult =
  | { ok: true; rated: RatedFields }
  | { ok: false; reason: RateFailureReason; message: string; field?: string };

interface CompiledRule {
  rule: PriceRule;
  fromMs: number;
  toMs: number;
  columns: Array<[(typeof MATCH_COLUMNS)[number], Set<string>]>;
  tags: Array<[string, Set<string> | '*']>;
  customers: Set<string> | '*';
  specificity: number;
  index: number;
  /** cost_plus with markup 0 and discount 0: the rated amount is the basis amount itself. */
  identity: boolean;
}

interface CompiledBook {
  /** Rules in precedence order: the first in effect that matches prices the line. */
  ordered: CompiledRule[];
  customers: Map<string, Customer>;
  /** "FROM>TO" -> rates, latest effective_from first. */
  rates: Map<string, Array<{ fromMs: number; rate: Decimal }>>;
}

const compiledBooks = new WeakMap<PriceBook, CompiledBook>();

/** Number of non-'*' matchers of a rule: each match column, each tag key, and `customers`. */
export function ruleSpecificity(rule: { match: RuleMatch; customers: Matcher }): number {
  let n = 0;
  for (const column of MATCH_COLUMNS) if (rule.match[column] !== undefined) n++;
  for (const m of Object.values(rule.match.Tags ?? {})) if (m !== undefined) n++;
  if (rule.customers !== '*') n++;
  return n;
}

function dateMs(text: string | null, unset: number): number {
  if (text === null) return unset;
  const ms = parseBookDate(text);
  if (ms === undefined) throw new RangeError(`price book date "${text}" is not valid`);
  return ms;
}

function compile(book: PriceBook): CompiledBook {
  const cached = compiledBooks.get(book);
  if (cached) return cached;
  const rules = book.rules.map((rule, index): CompiledRule => {
    const columns: CompiledRule['columns'] = [];
    for (const column of MATCH_COLUMNS) {
      const values = rule.match[column];
      if (values !== undefined) columns.push([column, new Set(values)]);
    }
    const tags: CompiledRule['tags'] = Object.entries(rule.match.Tags ?? {}).map(([key, m]) => [
      key,
      m === '*' ? '*' : new Set(m),
    ]);
    return {
      rule,
      fromMs: dateMs(rule.effective_from, -Infinity),
      toMs: dateMs(rule.effective_to, Infinity),
      columns,
      tags,
      customers: rule.customers === '*' ? '*' : new Set(rule.customers),
      specificity: ruleSpecificity(rule),
      index,
      identity: rule.model === 'cost_plus' && rule.markup_percent.isZero() && rule.discount_percent.isZero(),
    };
  });
  const ordered = [...rules].sort(
    (a, b) => b.rule.priority - a.rule.priority || b.specificity - a.specificity || a.index - b.index,
  );
  const rates = new Map<string, Array<{ fromMs: number; rate: Decimal }>>();
  for (const r of book.exchange_rates) {
    const key = `${r.from}>${r.to}`;
    const list = rates.get(key) ?? [];
    list.push({ fromMs: dateMs(r.effective_from, -Infinity), rate: r.rate });
    rates.set(key, list);
  }
  for (const list of rates.values()) list.sort((a, b) => b.fromMs - a.fromMs);
  const compiled: CompiledBook = { ordered, customers: new Map(Object.entries(book.customers)), rates };
  compiledBooks.set(book, compiled);
  return compiled;
}

function matches(c: CompiledRule, record: RatingInput, atMs: number): boolean {
  if (atMs < c.fromMs || atMs >= c.toMs) return false;
  if (c.customers !== '*' && !c.customers.has(record.x_CustomerId)) return false;
  for (const [column, values] of c.columns) {
    const v = record[column];
    if (v === null || v === undefined || !values.has(v)) return false;
  }
  for (const [key, values] of c.tags) {
    const tags = record.Tags ?? {};
    if (!Object.hasOwn(tags, key)) return false;
    if (values !== '*' && !values.has(tags[key])) return false;
  }
  return true;
}

/** The first rule in precedence order that is in effect at `atMs` and matches the record. */
function firstMatch(compiled: CompiledBook, record: RatingInput, atMs: number): CompiledRule | undefined {
  const ordered = compiled.ordered;
  for (let i = 0; i < ordered.length; i++) if (matches(ordered[i], record, atMs)) return ordered[i];
  return undefined;
}

// An export repeats a few hundred ChargePeriodStart values (the hours of its month): parsed
// instants are remembered, bounded. Date.parse is a pure function of the text: no result changes.
const INSTANT_CACHE_LIMIT = 10_000;
const instants = new Map<string, number>();

function chargeInstant(record: RatingInput): number | undefined {
  const text = record.ChargePeriodStart;
  if (typeof text !== 'string') return undefined;
  let ms = instants.get(text);
  if (ms === undefined) {
    ms = Date.parse(text);
    if (instants.size >= INSTANT_CACHE_LIMIT) instants.clear();
    instants.set(text, ms);
  }
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * The rule that prices a record under the book's precedence (see price-book.ts), or undefined
 * when none is in effect and matches. Throws RangeError on an unreadable ChargePeriodStart.
 */
export function findRule(record: UsageRecord, book: PriceBook): PriceRule | undefined {
  const at = chargeInstant(record);
  if (at === undefined) throw new RangeError(`ChargePeriodStart "${record.ChargePeriodStart}" is not a date`);
  return firstMatch(compile(book), record, at)?.rule;
}

/**
 * The exchange rate from -> to in force at `atMs`: the latest with effective_from <= atMs.
 */
export function exchangeRateAt(book: PriceBook, from: string, to: string, atMs: number): Decimal | undefined {
  return compile(book)
    .rates.get(`${from}>${to}`)
    ?.find((r) => r.fromMs <= atMs)?.rate;
}

const HUNDRED = new Decimal(100);
const CURRENCY = /^[A-Z]{3}$/;

function malformed(field: string, message: string): RatingResult {
  return { ok: false, reason: DeadLetterReasons.MALFORMED_INPUT, field, message: `${field}: ${message}` };
}

function describeLine(record: RatingInput): string {
  const parts = [
    ['ProviderName', record.ProviderName],
    ['ServiceName', record.ServiceName],
    ['SkuId', record.SkuId],
    ['RegionId', record.RegionId],
    ['PricingUnit', record.PricingUnit],
    ['ChargeCategory', record.ChargeCategory],
    ['x_CustomerId', record.x_CustomerId],
    ['ChargePeriodStart', record.ChargePeriodStart],
  ];
  return parts.map(([k, v]) => `${k}=${v ?? 'null'}`).join(', ');
}

// Text decimalToString returns unchanged: no `+`, no leading zero, no exponent, no trailing
// fractional zero (and not `-0`, checked apart).
const CANONICAL_DECIMAL = /^-?(?:0|[1-9]\d*)(?:\.\d*[1-9])?$/;
/** Longest basis text rated as is: far fewer digits than Decimal's precision, so x * 100 / 100 is exact. */
const AS_IS_MAX_LENGTH = 40;

/**
 * Rating under an identity rule (cost_plus, markup 0, discount 0; at cost) when nothing else
 * changes the amount: canonical basis text, a valid BillingCurrency, no customer discount and no
 * currency conversion. Then the general computation, cost * (100 + 0) / 100 with Decimal, gives
 * the basis amount exactly, whose decimalToString is the text itself; it is returned without
 * building a Decimal. Undefined when any condition fails: the general path rates the line.
 */
function rateAsIs(
  record: RatingInput,
  rule: CostPlusRule,
  compiled: CompiledBook,
  book: PriceBook,
): RatingResult | undefined {
  const text = record[rule.basis];
  if (
    typeof text !== 'string' ||
    text.length > AS_IS_MAX_LENGTH ||
    text === '-0' ||
    !CANONICAL_DECIMAL.test(text)
  )
    return undefined;
  const currency = record.BillingCurrency;
  if (typeof currency !== 'string' || !CURRENCY.test(currency)) return undefined;
  const customer = compiled.customers.get(record.x_CustomerId);
  if (customer?.discount_percent && !customer.discount_percent.isZero()) return undefined;
  const target = customer?.billing_currency ?? book.currency_default ?? currency;
  if (target !== currency) return undefined;
  return {
    ok: true,
    rated: {
      x_RatedCost: text,
      x_RatedCurrency: target,
      x_PriceRuleId: rule.id,
      x_PriceBookVersion: book.version,
      x_ExchangeRate: null,
    },
  };
}

/** Price one record: the record with its rated fields. Never throws on bad record data. */
export function rateRecord(record: UsageRecord, book: PriceBook): RateResult {
  const result = rateLine(record, book);
  return result.ok ? { ok: true, record: { ...record, ...result.rated } } : result;
}

/**
 * Price one line: only its rated fields, from only the fields rating reads (RATING_INPUT_FIELDS).
 * Never throws on bad record data; returns a failure instead.
 */
export function rateLine(record: RatingInput, book: PriceBook): RatingResult {
  const at = chargeInstant(record);
  if (at === undefined)
    return malformed(
      'ChargePeriodStart',
      `expected an ISO-8601 instant, got ${JSON.stringify(record.ChargePeriodStart)}`,
    );
  const compiled = compile(book);
  const match = firstMatch(compiled, record, at);
  if (!match)
    return {
      ok: false,
      reason: DeadLetterReasons.UNPRICED,
      message: `no rule of price book "${book.version}" matches the line (${describeLine(record)})`,
    };
  const rule = match.rule;
  if (match.identity) {
    const same = rateAsIs(record, rule as CostPlusRule, compiled, book);
    if (same !== undefined) return same;
  }

  let amount: Decimal;
  let currency: string;
  switch (rule.model) {
    case 'cost_plus': {
      const text = record[rule.basis];
      const cost = typeof text === 'string' ? parseDecimal(text) : undefined;
      if (cost === undefined)
        return malformed(rule.basis, `expected decimal text, got ${JSON.stringify(text)}`);
      if (typeof record.BillingCurrency !== 'string' || !CURRENCY.test(record.BillingCurrency))
        return malformed(
          'BillingCurrency',
          `expected an ISO 4217 code, got ${JSON.stringify(record.BillingCurrency)}`,
        );
      amount = cost.times(HUNDRED.plus(rule.markup_percent)).div(HUNDRED);
      currency = record.BillingCurrency;
      break;
    }
    case 'per_unit': {
      const text = record.PricingQuantity;
      if (text === null || text === undefined)
        return malformed(
          'PricingQuantity',
          `rule "${rule.id}" prices per unit and the line has no PricingQuantity`,
        );
      const quantity = parseDecimal(text);
      if (quantity === undefined)
        return malformed('PricingQuantity', `expected decimal text, got ${JSON.stringify(text)}`);
      amount = quantity.times(rule.unit_price);
      currency = rule.currency;
      break;
    }
    case 'fixed_per_line':
      amount = rule.amount;
      currency = rule.currency;
      break;
  }

  const customer = compiled.customers.get(record.x_CustomerId);
  if (!rule.discount_percent.isZero())
    amount = amount.times(HUNDRED.minus(rule.discount_percent)).div(HUNDRED);
  if (customer?.discount_percent && !customer.discount_percent.isZero())
    amount = amount.times(HUNDRED.minus(customer.discount_percent)).div(HUNDRED);

  const target = customer?.billing_currency ?? book.currency_default ?? currency;
  let exchangeRate: string | null = null;
  if (target !== currency) {
    const rate = exchangeRateAt(book, currency, target, at);
    if (!rate)
      return {
        ok: false,
        reason: DeadLetterReasons.NO_EXCHANGE_RATE,
        message:
          `no ${currency}->${target} exchange rate effective on or before ${new Date(at).toISOString()} ` +
          `in price book "${book.version}" (customer ${record.x_CustomerId} is billed in ${target})`,
      };
    amount = amount.times(rate);
    exchangeRate = decimalToString(rate);
  }

  return {
    ok: true,
    rated: {
      x_RatedCost: decimalToString(amount),
      x_RatedCurrency: target,
      x_PriceRuleId: rule.id,
      x_PriceBookVersion: book.version,
      x_ExchangeRate: exchangeRate,
    },
  };
}
