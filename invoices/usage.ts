import { Decimal, parseDecimal } from '../schemas/decimal';
import type { Plan, PriceBook } from '../processors/price/price-book';
import type { GroupByField } from './config';
import { addTo } from './lines';
import { isEmptyMatch, isQuantityPlan, planMatches, plansInEffect } from './plans';
import { TraceAcc } from './trace';

/**
 * Usage summaries: a customer's usage of one period, grouped into invoice lines (one per value of
 * `group_by` and covering quantity plan) and per quantity plan. Records are folded in one at a time,
 * so a month of usage never sits in memory. Money is summed exactly with Decimal from the `_source`
 * decimal text; line discounts are already inside x_RatedCost and are not applied again.
 */

/** The _source fields the invoice stage reads from usage documents. */
export const USAGE_SOURCE_FIELDS = [
  'x_RecordId',
  'x_RatedCost',
  'x_RatedCurrency',
  'BilledCost',
  'BillingCurrency',
  'PricingQuantity',
  'PricingUnit',
  'ProviderName',
  'ServiceName',
  'ServiceCategory',
  'SkuId',
  'RegionId',
  'ChargeCategory',
  'Tags',
  'x_Scope',
  'x_Revision',
  'x_SourceObject',
] as const;

/** One usage document as the invoice stage reads it (money fields are exact decimal text). */
export interface UsageInput {
  x_RecordId: string;
  x_RatedCost: string | null;
  x_RatedCurrency: string | null;
  BilledCost: string;
  BillingCurrency: string;
  PricingQuantity: string | null;
  PricingUnit: string | null;
  ProviderName: string | null;
  ServiceName: string | null;
  ServiceCategory: string | null;
  SkuId: string | null;
  RegionId: string | null;
  ChargeCategory: string | null;
  Tags?: Record<string, string> | null;
  x_Scope: string;
  x_Revision: string;
  x_SourceObject: string;
}

export interface Acc {
  rated: Decimal;
  quantities: Map<string, Decimal>;
  cloud: Map<string, Decimal>;
  trace: TraceAcc;
  /** Commitment / credit plans with a match -> whether every record so far matched. */
  matchesAll: Map<string, boolean>;
}

interface LineAcc extends Acc {
  group: string | null;
  coverPlan: string | null;
}

export interface UsageSummary {
  customer: string;
  period: string;
  groupBy: GroupByField;
  lines: Map<string, LineAcc>;
  /** Quantity plans -> what they cover. */
  plans: Map<string, Acc>;
  ratedCurrencies: Set<string>;
  problems: Set<string>;
  records: number;
}

function newAcc(): Acc {
  return {
    rated: new Decimal(0),
    quantities: new Map(),
    cloud: new Map(),
    trace: new TraceAcc(),
    matchesAll: new Map(),
  };
}

const MAX_PROBLEMS = 20;

export class UsageAccumulator {
  private readonly summary: UsageSummary;
  private readonly quantityPlans: Plan[];
  /** Commitment and credit plans with a non-empty match: lines track whether they count. */
  private readonly countingPlans: Plan[];

  constructor(ctx: { book: PriceBook; customer: string; period: string; groupBy: GroupByField }) {
    const plans = plansInEffect(ctx.book, ctx.customer, ctx.period);
    this.quantityPlans = plans.filter(isQuantityPlan);
    this.countingPlans = plans.filter((p) => !isQuantityPlan(p) && !isEmptyMatch(p.match));
    this.summary = {
      customer: ctx.customer,
      period: ctx.period,
      groupBy: ctx.groupBy,
      lines: new Map(),
      plans: new Map(),
      ratedCurrencies: new Set(),
      problems: new Set(),
      records: 0,
    };
  }

  private problem(text: string): void {
    if (this.summary.problems.size < MAX_PROBLEMS) this.summary.problems.add(text);
  }

  private fold(acc: Acc, r: UsageInput, rated: Decimal, billed: Decimal | undefined): void {
    acc.rated = acc.rated.plus(rated);
    const qty = r.PricingQuantity === null ? undefined : parseDecimal(r.PricingQuantity);
    if (qty !== undefined) addTo(acc.quantities, r.PricingUnit ?? '', qty);
    if (billed !== undefined) addTo(acc.cloud, r.BillingCurrency, billed);
    acc.trace.add(r);
    for (const p of this.countingPlans)
      acc.matchesAll.set(p.id, (acc.matchesAll.get(p.id) ?? true) && planMatches(p.match, r));
  }

  add(r: UsageInput): void {
    const s = this.summary;
    s.records++;
    const rated = r.x_RatedCost === null ? undefined : parseDecimal(r.x_RatedCost);
    if (rated === undefined || !r.x_RatedCurrency) {
      this.problem(`usage record ${r.x_RecordId} has no rated cost (x_RatedCost / x_RatedCurrency)`);
      return;
    }
    s.ratedCurrencies.add(r.x_RatedCurrency);
    const billed = parseDecimal(r.BilledCost ?? '');
    if (billed === undefined)
      this.problem(`usage record ${r.x_RecordId}: BilledCost "${r.BilledCost}" is not a decimal`);
    // A record two quantity plans cover would be charged twice: an error, not a guess of which wins.
    const covering = this.quantityPlans.filter((p) => planMatches(p.match, r));
    if (covering.length > 1)
      this.problem(
        `plans ${covering.map((p) => p.id).join(' and ')} both cover usage record ${r.x_RecordId}`,
      );
    const cover = covering[0] ?? null;
    const group = r[s.groupBy] ?? null;
    const key = JSON.stringify([group, cover?.id ?? null]);
    let line = s.lines.get(key);
    if (!line) {
      line = { ...newAcc(), group, coverPlan: cover?.id ?? null };
      s.lines.set(key, line);
    }
    this.fold(line, r, rated, billed);
    if (cover) {
      if (r.PricingQuantity === null || parseDecimal(r.PricingQuantity) === undefined)
        this.problem(
          `usage record ${r.x_RecordId} is covered by plan ${cover.id} but has no PricingQuantity`,
        );
      let acc = s.plans.get(cover.id);
      if (!acc) {
        acc = newAcc();
        s.plans.set(cover.id, acc);
      }
      this.fold(acc, r, rated, billed);
    }
  }

  result(): UsageSummary {
    return this.summary;
  }
}

export function summarizeUsage(
  records: Iterable<UsageInput>,
  ctx: { book: PriceBook; customer: string; period: string; groupBy: GroupByField },
): UsageSummary {
  const acc = new UsageAccumulator(ctx);
  for (const r of records) acc.add(r);
  return acc.result();
}
