import type { Decimal } from '../schemas/decimal';
import {
  MATCH_COLUMNS,
  parseBookDate,
  type Plan,
  type PriceBook,
  type RuleMatch,
} from '../processors/price/price-book';
import { exchangeRateAt } from '../processors/price/rate';
import { periodStartMs } from './period';
import type { InvoiceLine } from './types';
import type { UsageInput } from './usage';

/**
 * The price book's plans (period-level charge models, processors/price/charge-models.ts) as the
 * invoice applies them: which plans are in effect for a period, which usage a plan's `match` covers,
 * which lines a commitment or credit counts, and a plan amount in the invoice currency.
 */

function inEffect(plan: Plan, startMs: number): boolean {
  const from = plan.effective_from === null ? -Infinity : (parseBookDate(plan.effective_from) ?? NaN);
  const to = plan.effective_to === null ? Infinity : (parseBookDate(plan.effective_to) ?? NaN);
  return startMs >= from && startMs < to;
}

/** The customer's plans that apply to the period, in book order. */
export function plansInEffect(book: PriceBook, customer: string, period: string): Plan[] {
  const start = periodStartMs(period);
  return book.plans.filter((p) => p.customer === customer && inEffect(p, start));
}

/** Graduated, volume and package plans price the period's summed quantity of the usage they cover. */
export function isQuantityPlan(plan: Plan): boolean {
  return plan.model === 'graduated' || plan.model === 'volume' || plan.model === 'package';
}

export function isEmptyMatch(match: RuleMatch): boolean {
  return MATCH_COLUMNS.every((c) => match[c] === undefined) && Object.keys(match.Tags ?? {}).length === 0;
}

/** A plan's `match`, evaluated like a price rule's matchers (rate.ts): AND of columns, exact values. */
export function planMatches(match: RuleMatch, record: UsageInput): boolean {
  for (const column of MATCH_COLUMNS) {
    const values = match[column];
    if (values === undefined) continue;
    const v = record[column];
    if (v === null || v === undefined || !values.includes(v)) return false;
  }
  for (const [key, m] of Object.entries(match.Tags ?? {})) {
    const tags = record.Tags ?? {};
    if (!Object.hasOwn(tags, key)) return false;
    if (m !== '*' && !m.includes(tags[key])) return false;
  }
  return true;
}

/**
 * A line with what a commitment or credit needs to decide whether it counts the line: for each such
 * plan with a `match`, whether EVERY record of the line matched it (null: the line matches no plan
 * with a match, e.g. true-ups, adjustments and credits).
 */
export interface CountedLine {
  line: InvoiceLine;
  matchesAll: Map<string, boolean> | null;
}

/**
 * Whether a commitment or credit counts the line: a plan without `match` counts every line; with one,
 * only lines whose every record matches it (partially matching lines do not count).
 */
export function counts(plan: Plan, c: CountedLine): boolean {
  if (isEmptyMatch(plan.match)) return true;
  return c.matchesAll?.get(plan.id) === true;
}

/**
 * A plan amount in the invoice currency: converted with the book's rate in force at the period
 * start when the plan is in another currency. A missing rate is a problem, never a guess.
 */
export function planAmount(
  book: PriceBook,
  plan: Plan,
  amount: Decimal,
  currency: string,
  period: string,
  problems: string[],
): Decimal {
  if (plan.currency === null || plan.currency === currency) return amount;
  const rate = exchangeRateAt(book, plan.currency, currency, periodStartMs(period));
  if (rate === undefined) {
    problems.push(
      `plan ${plan.id} is in ${plan.currency}; the price book has no ${plan.currency}->${currency} rate`,
    );
    return amount;
  }
  return amount.times(rate);
}
