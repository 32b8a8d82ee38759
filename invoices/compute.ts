import { createHash } from 'node:crypto';
import { Decimal, decimalToString, parseDecimal } from '../schemas/decimal';
import { ErrorCodes, PermanentError } from '../runtime/errors';
import { graduated, packages, volume } from '../processors/price/charge-models';
import {
  canonicalJson,
  MATCH_COLUMNS,
  parseBookDate,
  type Plan,
  type PriceBook,
  type RuleMatch,
} from '../processors/price/price-book';
import { exchangeRateAt } from '../processors/price/rate';
import type { GroupByField, InvoiceOptions } from './config';
import { formatAmount, minorUnits, roundAmount } from './rounding';
import type { InvoiceDocument, InvoiceLine, InvoiceLineTrace } from './types';

/**
 * The invoice computation, pure: usage summaries and stored invoices in, one invoice document out.
 * All Elasticsearch I/O lives in store.ts; everything here is deterministic for its inputs, which is
 * what makes regeneration idempotent (same inputs -> same fingerprint -> nothing written).
 *
 * Order of computation for customer C and billing period P (charge-models.ts is the spec):
 *   1. Usage lines: the customer's rated usage of P grouped by options.group_by, x_RatedCost summed
 *      exactly. Line discounts are already inside x_RatedCost and are not applied again.
 *   2. Quantity plans (graduated, volume, package) in effect for P: the summed PricingQuantity of the
 *      lines a plan matches is priced by the plan; those lines stay on the invoice as separate usage
 *      lines at amount 0 showing their rated cost under included_in_plan. A record matched by two
 *      quantity plans, a negative period quantity or a covered record without PricingQuantity is an
 *      error (nothing is guessed).
 *   3. Minimum commitment: true-up = minimum - (sum of the ROUNDED amounts of the lines it counts),
 *      one line when positive. Counting rounded amounts makes counted lines + true-up equal the
 *      minimum to the cent.
 *   4. Adjustments for finalized earlier periods (see computeAdjustments).
 *   5. Prepaid credit, last, on what remains due (burn = min(balance, due)); the balance is
 *      credit_amount minus the burns on FINALIZED invoices of earlier periods, so regenerating a draft
 *      never burns twice. Credit is granted at effective_from and lapses at effective_to.
 *   6. Each line's amount is rounded once (rounding.ts); total = exact sum of the rounded amounts.
 *
 * A commitment or credit with a `match` counts a line only when EVERY record of the line matches
 * (a plan line: every record it covers); partially matching lines do not count. Group by a finer
 * field (SkuId) when a match is finer than the grouping. Commitment true-ups and adjustments count
 * only toward a credit without `match`.
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

export class InvoiceError extends PermanentError {
  readonly problems: string[];
  constructor(invoiceId: string, problems: string[]) {
    super(ErrorCodes.MALFORMED_INPUT, `invoice ${invoiceId}: ${problems.join('; ')}`, {
      details: { invoice_id: invoiceId, problems },
    });
    this.problems = problems;
  }
}

export function invoiceId(customer: string, period: string): string {
  return `${customer}:${period}`;
}

const PERIOD = /^(\d{4})-(0[1-9]|1[0-2])$/;

export function isPeriod(text: string): boolean {
  return PERIOD.test(text);
}

/** Epoch ms of the first instant of a billing period (UTC). */
export function periodStartMs(period: string): number {
  const m = PERIOD.exec(period);
  if (!m) throw new RangeError(`billing period "${period}" is not YYYY-MM`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, 1);
}

/** The billing period `delta` months from `period`. */
export function shiftPeriod(period: string, delta: number): string {
  const d = new Date(periodStartMs(period));
  d.setUTCMonth(d.getUTCMonth() + delta);
  return periodOf(d);
}

export function periodOf(date: Date): string {
  return `${date.getUTCFullYear()}-${String(date.getUTCMonth() + 1).padStart(2, '0')}`;
}

// ---------------------------------------------------------------------------------------------
// Plans

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

function isQuantityPlan(plan: Plan): boolean {
  return plan.model === 'graduated' || plan.model === 'volume' || plan.model === 'package';
}

function isEmptyMatch(match: RuleMatch): boolean {
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

// ---------------------------------------------------------------------------------------------
// Usage summaries: records are folded in one at a time, so a month of usage never sits in memory.

class TraceAcc {
  readonly revisions = new Map<string, { scope: string; revision_id: string }>();
  readonly objects = new Set<string>();
  records = 0;

  add(r: UsageInput): void {
    this.revisions.set(`${r.x_Scope}\u0000${r.x_Revision}`, { scope: r.x_Scope, revision_id: r.x_Revision });
    this.objects.add(r.x_SourceObject);
    this.records++;
  }

  merge(other: TraceAcc): void {
    for (const [k, v] of other.revisions) this.revisions.set(k, v);
    for (const o of other.objects) this.objects.add(o);
    this.records += other.records;
  }

  toTrace(maxObjects: number): InvoiceLineTrace {
    const objects = [...this.objects].sort();
    return {
      revisions: sortRevisions([...this.revisions.values()]),
      source_objects: objects.slice(0, maxObjects),
      source_object_count: objects.length,
      record_count: this.records,
    };
  }
}

interface Acc {
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

function addTo(map: Map<string, Decimal>, key: string, value: Decimal): void {
  map.set(key, (map.get(key) ?? new Decimal(0)).plus(value));
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

// ---------------------------------------------------------------------------------------------
// Lines

function sortRevisions(revs: { scope: string; revision_id: string }[]) {
  return [...revs].sort((a, b) =>
    a.scope === b.scope ? cmp(a.revision_id, b.revision_id) : cmp(a.scope, b.scope),
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function cloudList(map: Map<string, Decimal>): { currency: string; amount: string }[] {
  return [...map.entries()]
    .filter(([, v]) => !v.isZero())
    .sort(([a], [b]) => cmp(a, b))
    .map(([currency, v]) => ({ currency, amount: decimalToString(v) }));
}

function cloudMap(list: { currency: string; amount: string }[]): Map<string, Decimal> {
  const m = new Map<string, Decimal>();
  for (const c of list) addTo(m, c.currency, new Decimal(c.amount));
  return m;
}

const EMPTY_TRACE: InvoiceLineTrace = {
  revisions: [],
  source_objects: [],
  source_object_count: 0,
  record_count: 0,
};

function line(
  fields: Omit<
    InvoiceLine,
    'amount' | 'amount_exact' | 'included_in_plan' | 'cloud_cost' | 'trace' | 'adjusts'
  > &
    Partial<Pick<InvoiceLine, 'included_in_plan' | 'cloud_cost' | 'trace' | 'adjusts'>>,
  exact: Decimal,
  currency: string,
): InvoiceLine {
  return {
    ...fields,
    amount_exact: decimalToString(exact),
    amount: formatAmount(roundAmount(exact, currency), currency),
    included_in_plan: fields.included_in_plan ?? null,
    cloud_cost: fields.cloud_cost ?? [],
    trace: fields.trace ?? EMPTY_TRACE,
    adjusts: fields.adjusts ?? null,
  };
}

function singleQuantity(acc: Acc): { quantity: string | null; unit: string | null } {
  if (acc.quantities.size !== 1) return { quantity: null, unit: null };
  const [[unit, q]] = [...acc.quantities.entries()];
  return { quantity: decimalToString(q), unit: unit === '' ? null : unit };
}

/** Lines counted toward a commitment or credit, per the rule in the header. */
interface CountedLine {
  line: InvoiceLine;
  matchesAll: Map<string, boolean> | null;
}

function counts(plan: Plan, c: CountedLine): boolean {
  if (isEmptyMatch(plan.match)) return true;
  return c.matchesAll?.get(plan.id) === true;
}

interface PeriodLines {
  currency: string | null;
  lines: CountedLine[];
  problems: string[];
}

function resolveCurrency(book: PriceBook, summary: UsageSummary, fallback: string | null) {
  const problems: string[] = [];
  const billing = book.customers[summary.customer]?.billing_currency;
  const rated = [...summary.ratedCurrencies].sort();
  if (billing) {
    const other = rated.filter((c) => c !== billing);
    if (other.length)
      problems.push(
        `customer ${summary.customer} is billed in ${billing} but usage of ${summary.period} is rated in ${other.join(', ')}`,
      );
    return { currency: billing, problems };
  }
  if (rated.length > 1) {
    // One invoice per currency would hide the problem: the book should give the customer a
    // billing_currency (rating then converts every line).
    problems.push(
      `usage of customer ${summary.customer} in ${summary.period} is rated in several currencies (${rated.join(', ')}); ` +
        `set customers.${summary.customer}.billing_currency in the price book`,
    );
    return { currency: null, problems };
  }
  return { currency: rated[0] ?? book.currency_default ?? fallback, problems };
}

function planAmount(
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

/**
 * The lines a period owes by itself: usage, quantity plans and commitment true-ups (no credits, no
 * adjustments). Used for the invoice being generated and to recompute finalized periods.
 */
export function computePeriodLines(
  book: PriceBook,
  summary: UsageSummary,
  options: { max_trace_objects: number },
  fallbackCurrency: string | null = null,
): PeriodLines {
  const { currency, problems } = resolveCurrency(book, summary, fallbackCurrency);
  problems.push(...summary.problems);
  if (currency === null) {
    if (summary.lines.size > 0 || plansInEffect(book, summary.customer, summary.period).length > 0)
      problems.push(`no invoice currency for customer ${summary.customer}`);
    return { currency, lines: [], problems };
  }
  const max = options.max_trace_objects;
  const out: CountedLine[] = [];
  const groupLabel = (g: string | null) => g ?? `(no ${summary.groupBy})`;
  const usage = [...summary.lines.values()].sort((a, b) =>
    a.group === b.group ? cmp(a.coverPlan ?? '', b.coverPlan ?? '') : cmp(a.group ?? '', b.group ?? ''),
  );
  for (const acc of usage) {
    const common = {
      kind: 'usage' as const,
      group: acc.group,
      plan_id: acc.coverPlan,
      ...singleQuantity(acc),
      cloud_cost: cloudList(acc.cloud),
      trace: acc.trace.toTrace(max),
    };
    const l = acc.coverPlan
      ? line(
          {
            ...common,
            line_id: `usage:${groupLabel(acc.group)}:${acc.coverPlan}`,
            description: `${groupLabel(acc.group)} (included in plan ${acc.coverPlan})`,
            included_in_plan: formatAmount(roundAmount(acc.rated, currency), currency),
          },
          new Decimal(0),
          currency,
        )
      : line(
          { ...common, line_id: `usage:${groupLabel(acc.group)}`, description: groupLabel(acc.group) },
          acc.rated,
          currency,
        );
    // Covered lines are charged through their plan line; counting them again would double.
    out.push({ line: l, matchesAll: acc.coverPlan ? new Map() : acc.matchesAll });
  }

  const plans = plansInEffect(book, summary.customer, summary.period);
  for (const plan of plans) {
    const acc = summary.plans.get(plan.id);
    if (!acc || !isQuantityPlan(plan)) continue;
    const units = [...acc.quantities.keys()];
    if (units.length > 1) problems.push(`plan ${plan.id} covers several pricing units (${units.join(', ')})`);
    const quantity = [...acc.quantities.values()].reduce((a, b) => a.plus(b), new Decimal(0));
    if (quantity.isNegative() && !quantity.isZero()) {
      problems.push(`plan ${plan.id}: period quantity ${decimalToString(quantity)} is negative`);
      continue;
    }
    let charge: Decimal;
    if (plan.model === 'graduated') charge = graduated(quantity, plan.tiers);
    else if (plan.model === 'volume') charge = volume(quantity, plan.tiers);
    else if (plan.model === 'package') charge = packages(quantity, plan.package_size, plan.package_price);
    else continue;
    const l = line(
      {
        line_id: `plan:${plan.id}`,
        kind: 'plan',
        description: plan.description ?? `${plan.id} (${plan.model})`,
        group: null,
        plan_id: plan.id,
        quantity: decimalToString(quantity),
        unit: units.length === 1 && units[0] !== '' ? units[0] : null,
        cloud_cost: cloudList(acc.cloud),
        trace: acc.trace.toTrace(max),
      },
      planAmount(book, plan, charge, currency, summary.period, problems),
      currency,
    );
    out.push({ line: l, matchesAll: acc.matchesAll });
  }

  for (const plan of plans) {
    if (plan.model !== 'minimum_commitment') continue;
    const counted = out.filter((c) => counts(plan, c));
    const sum = counted.reduce((a, c) => a.plus(c.line.amount), new Decimal(0));
    const minimum = planAmount(book, plan, plan.minimum_amount, currency, summary.period, problems);
    const trueUp = minimum.minus(sum);
    if (!trueUp.isPositive() || trueUp.isZero()) continue;
    const trace = new TraceAcc();
    const l = line(
      {
        line_id: `commitment:${plan.id}`,
        kind: 'minimum_commitment',
        description:
          `${plan.description ?? `Minimum commitment ${plan.id}`}: minimum ${decimalToString(minimum)} ${currency}, ` +
          `counted ${decimalToString(sum)} ${currency}`,
        group: null,
        plan_id: plan.id,
        quantity: null,
        unit: null,
        trace: mergeTraces(
          counted.map((c) => c.line.trace),
          trace,
          max,
        ),
      },
      trueUp,
      currency,
    );
    out.push({ line: l, matchesAll: null });
  }
  return { currency, lines: out, problems };
}

function mergeTraces(traces: InvoiceLineTrace[], into: TraceAcc, max: number): InvoiceLineTrace {
  // Source objects beyond the first `max` of each line are not kept; the count is a lower bound then.
  let count = 0;
  for (const t of traces) {
    for (const r of t.revisions) into.revisions.set(`${r.scope}\u0000${r.revision_id}`, r);
    for (const o of t.source_objects) into.objects.add(o);
    into.records += t.record_count;
    count = Math.max(count, t.source_object_count);
  }
  const out = into.toTrace(max);
  return { ...out, source_object_count: Math.max(out.source_object_count, count) };
}

// ---------------------------------------------------------------------------------------------
// Adjustments

/**
 * Adjustment lines for finalized earlier periods, on the invoice of `period`.
 *
 * For every FINALIZED invoice F of the customer for a period Q < P, and every line L that F carried
 * or that Q's usage yields now:
 *
 *   adjustment(L) = recomputed amount of L now - (F's amount of L + adjustments of (F, L) already
 *                   on FINALIZED invoices of later periods)
 *
 * and a line is produced only when that difference is not zero. Because only finalized invoices
 * enter the right-hand side, regenerating a draft gives the same adjustments, and once the invoice
 * carrying them is finalized the difference is zero. An adjustment belongs to the NEXT invoice: when
 * the customer has a draft for a period between Q and P, that draft carries it and P does not (finalize
 * checks drafts are not stale, see basis_finalized). Credits are not recomputed: a finalized period's
 * burn stands, and the adjustment is due (and credit-able) on the invoice that carries it. Amounts are
 * differences of rounded amounts, so they are already at the minor unit.
 */
export function computeAdjustments(args: {
  period: string;
  currency: string;
  invoices: InvoiceDocument[];
  recomputed: Record<string, PeriodLines>;
  problems: string[];
}): InvoiceLine[] {
  const { period, currency, invoices, problems } = args;
  const finalized = invoices.filter((i) => i.status === 'finalized');
  const drafts = invoices.filter((i) => i.status === 'draft' && i.period !== period);
  const out: InvoiceLine[] = [];
  for (const f of [...finalized].sort((a, b) => cmp(a.period, b.period))) {
    if (f.period >= period) continue;
    if (drafts.some((d) => d.period > f.period && d.period < period)) continue;
    const now = args.recomputed[f.period];
    if (!now) throw new RangeError(`no recomputed usage for finalized period ${f.period}`);
    if (now.currency !== null && now.currency !== f.currency) {
      problems.push(
        `finalized invoice ${f.invoice_id} is in ${f.currency} but its usage is now in ${now.currency}`,
      );
      continue;
    }
    if (f.currency !== currency) {
      problems.push(`finalized invoice ${f.invoice_id} is in ${f.currency}, this invoice in ${currency}`);
      continue;
    }
    const billedLines = new Map(
      f.lines.filter((l) => l.kind !== 'adjustment' && l.kind !== 'credit').map((l) => [l.line_id, l]),
    );
    const currentLines = new Map(now.lines.map((c) => [c.line.line_id, c.line]));
    const prior = finalized
      .filter((g) => g.period > f.period)
      .sort((a, b) => cmp(a.period, b.period))
      .flatMap((g) =>
        g.lines
          .filter((l) => l.kind === 'adjustment' && l.adjusts?.invoice_id === f.invoice_id)
          .map((l) => ({ invoice: g, line: l })),
      );
    // A line already adjusted once may since have vanished from both the invoice and the usage.
    const adjusted = prior.map((p) => p.line.adjusts!.line_id);
    const ids = [...new Set([...billedLines.keys(), ...currentLines.keys(), ...adjusted])].sort();
    for (const id of ids) {
      const billedLine = billedLines.get(id);
      const currentLine = currentLines.get(id);
      const priorLines = prior.filter((p) => p.line.adjusts?.line_id === id);
      const billed = priorLines.reduce((a, p) => a.plus(p.line.amount), new Decimal(billedLine?.amount ?? 0));
      const current = new Decimal(currentLine?.amount ?? 0);
      const diff = current.minus(billed);
      if (diff.isZero()) continue;
      const before = priorLines.length ? priorLines[priorLines.length - 1].line.trace : billedLine?.trace;
      const cloud = cloudMap(currentLine?.cloud_cost ?? []);
      for (const c of billedLine?.cloud_cost ?? []) addTo(cloud, c.currency, new Decimal(c.amount).negated());
      for (const p of priorLines)
        for (const c of p.line.cloud_cost) addTo(cloud, c.currency, new Decimal(c.amount).negated());
      const lastPrior = priorLines.length ? priorLines[priorLines.length - 1].line : undefined;
      const ref = currentLine ??
        billedLine ?? {
          // Only earlier adjustments know the line: take its description back out of theirs.
          description: lastPrior!.description.slice(lastPrior!.description.indexOf('): ') + 3),
          group: lastPrior!.group,
          plan_id: lastPrior!.plan_id,
        };
      out.push(
        line(
          {
            line_id: `adjustment:${f.period}:${id}`,
            kind: 'adjustment',
            description: `Adjustment of ${f.period} (invoice ${f.number ?? f.invoice_id}): ${ref.description}`,
            group: ref.group,
            plan_id: ref.plan_id,
            quantity: null,
            unit: null,
            cloud_cost: cloudList(cloud),
            trace: currentLine?.trace ?? EMPTY_TRACE,
            adjusts: {
              invoice_id: f.invoice_id,
              invoice_number: f.number,
              period: f.period,
              line_id: id,
              billed_amount: formatAmount(billed, currency),
              current_amount: formatAmount(current, currency),
              cause: causeText(f, before, currentLine?.trace),
            },
          },
          diff,
          currency,
        ),
      );
    }
  }
  return out;
}

function revText(revs: { scope: string; revision_id: string }[]): string {
  return revs.length ? revs.map((r) => `${r.scope}@${r.revision_id}`).join(', ') : 'none';
}

function causeText(f: InvoiceDocument, before?: InvoiceLineTrace, now?: InvoiceLineTrace): string {
  const was = sortRevisions(before?.revisions ?? []);
  const is = sortRevisions(now?.revisions ?? []);
  const head = `usage of ${f.period} changed after invoice ${f.number ?? f.invoice_id} was finalized`;
  if (revText(was) === revText(is))
    return `${head}: same revisions (${revText(is)}), recomputed amount differs (price book or plan change)`;
  return `${head}: billed from revisions ${revText(was)}, now ${revText(is)}`;
}

// ---------------------------------------------------------------------------------------------
// Credits

/** Credit of `planId` burned by the customer's finalized invoices of periods before `period`. */
export function creditBurnedBefore(invoices: InvoiceDocument[], period: string, planId: string): Decimal {
  let burned = new Decimal(0);
  for (const inv of invoices) {
    if (inv.status !== 'finalized' || inv.period >= period) continue;
    for (const l of inv.lines)
      if (l.kind === 'credit' && l.plan_id === planId) burned = burned.minus(l.amount);
  }
  return burned;
}

// ---------------------------------------------------------------------------------------------
// The invoice

export interface InvoiceInputs {
  customer: string;
  period: string;
  book: PriceBook;
  options: Pick<InvoiceOptions, 'max_trace_objects'>;
  /** The customer's usage of `period`. */
  usage: UsageSummary;
  /** The customer's stored invoices, any status and period (the one of `period` is ignored). */
  invoices: InvoiceDocument[];
  /** Current usage of every period Q < period that has a finalized invoice. */
  restated: Record<string, UsageSummary>;
  /** ISO-8601 instant, generated_at. */
  now: string;
}

/** Compute the draft invoice. Throws InvoiceError listing every problem of the inputs. */
export function computeInvoice(inputs: InvoiceInputs): InvoiceDocument {
  const { customer, period, book } = inputs;
  const id = invoiceId(customer, period);
  const others = inputs.invoices.filter((i) => i.customer === customer && i.period !== period);
  const latestFinalized = others
    .filter((i) => i.status === 'finalized')
    .sort((a, b) => cmp(b.period, a.period))[0];
  const own = computePeriodLines(book, inputs.usage, inputs.options, latestFinalized?.currency ?? null);
  const problems = [...own.problems];
  const currency = own.currency;
  if (currency === null) throw new InvoiceError(id, problems.length ? problems : ['no invoice currency']);

  const recomputed: Record<string, PeriodLines> = {};
  for (const inv of others) {
    if (inv.status !== 'finalized' || inv.period >= period) continue;
    const summary = inputs.restated[inv.period];
    if (!summary) throw new RangeError(`restated usage of ${inv.period} is missing`);
    const q = computePeriodLines(book, summary, inputs.options, inv.currency);
    problems.push(...q.problems);
    recomputed[inv.period] = q;
  }
  const adjustments = computeAdjustments({ period, currency, invoices: others, recomputed, problems });

  const lines: CountedLine[] = [...own.lines, ...adjustments.map((l) => ({ line: l, matchesAll: null }))];
  for (const plan of plansInEffect(book, customer, period)) {
    if (plan.model !== 'prepaid_credit') continue;
    if (plan.currency !== null && plan.currency !== currency) {
      problems.push(`prepaid credit ${plan.id} is in ${plan.currency}, the invoice in ${currency}`);
      continue;
    }
    const balance = plan.credit_amount.minus(creditBurnedBefore(others, period, plan.id));
    if (!balance.isPositive() || balance.isZero()) continue;
    const running = lines.reduce((a, c) => a.plus(c.line.amount), new Decimal(0));
    const counted = lines
      .filter((c) => counts(plan, c))
      .reduce((a, c) => a.plus(c.line.amount), new Decimal(0));
    const due = Decimal.min(running, counted);
    if (!due.isPositive() || due.isZero()) continue;
    const burn = Decimal.min(balance, due);
    const expiry = plan.effective_to ? `, expires ${plan.effective_to.slice(0, 10)}` : '';
    lines.push({
      line: line(
        {
          line_id: `credit:${plan.id}`,
          kind: 'credit',
          description:
            `${plan.description ?? `Prepaid credit ${plan.id}`}: balance ${decimalToString(balance)} ${currency}, ` +
            `used ${decimalToString(burn)}, remaining ${decimalToString(balance.minus(burn))}${expiry}`,
          group: null,
          plan_id: plan.id,
          quantity: null,
          unit: null,
        },
        burn.negated(),
        currency,
      ),
      matchesAll: null,
    });
  }
  if (problems.length) throw new InvoiceError(id, [...new Set(problems)]);
  return assemble({
    inputs,
    currency,
    lines: lines.map((c) => c.line),
    basis: others
      .filter((i) => i.status === 'finalized')
      .map((i) => `${i.invoice_id}#${i.number}`)
      .sort(),
  });
}

function assemble(args: {
  inputs: InvoiceInputs;
  currency: string;
  lines: InvoiceLine[];
  basis: string[];
}): InvoiceDocument {
  const { inputs, currency, lines } = args;
  const total = lines.reduce((a, l) => a.plus(l.amount), new Decimal(0));
  const cloud = new Map<string, Decimal>();
  for (const l of lines) for (const c of l.cloud_cost) addTo(cloud, c.currency, new Decimal(c.amount));
  const cloudCost = cloudList(cloud);
  // Margin only when it is one subtraction in one currency; converting cloud cost would need a rate
  // the book may not have, and a margin in mixed currencies means nothing.
  const margin =
    cloudCost.length === 0
      ? total
      : cloudCost.length === 1 && cloudCost[0].currency === currency
        ? total.minus(cloudCost[0].amount)
        : null;
  const revisions = new Map<string, { scope: string; revision_id: string }>();
  for (const l of lines)
    for (const r of l.trace.revisions) revisions.set(`${r.scope}\u0000${r.revision_id}`, r);
  const doc: InvoiceDocument = {
    invoice_id: invoiceId(inputs.customer, inputs.period),
    number: null,
    customer: inputs.customer,
    period: inputs.period,
    currency,
    status: 'draft',
    generated_at: inputs.now,
    finalized_at: null,
    price_book_version: inputs.book.version,
    rounding: { mode: 'HALF_EVEN', minor_units: minorUnits(currency) },
    lines,
    total: formatAmount(total, currency),
    cloud_cost: cloudCost,
    margin: margin === null ? null : decimalToString(margin),
    revisions: sortRevisions([...revisions.values()]),
    basis_finalized: args.basis,
    fingerprint: '',
  };
  doc.fingerprint = invoiceFingerprint(doc);
  return doc;
}

/** sha256 of everything that is computed (not when, not the lifecycle fields). */
export function invoiceFingerprint(doc: InvoiceDocument): string {
  const content: Partial<InvoiceDocument> = { ...doc };
  delete content.generated_at;
  delete content.fingerprint;
  delete content.status;
  delete content.number;
  delete content.finalized_at;
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}
