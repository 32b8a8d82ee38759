import { Decimal, decimalToString } from '../../schemas/decimal';
import { recordIdOf } from '../../schemas/record-id';
import type { RevisionControl, UsageRecord } from '../../schemas';
import type { RevisionDocument } from '../../sinks/elasticsearch/indices';
import { parseBookDate, type PriceBook } from '../price/price-book';
import { rateRecord, type RateFailureReason } from '../price/rate';

/**
 * Re-rating after a price-book change, the pure part: names, decisions and the re-pricing of one
 * scope's records. Reading Elasticsearch and writing Kafka are in run.ts.
 *
 * A re-rate re-emits a scope's PUBLISHED revision as a new revision `<published>+rr-<version>`,
 * so the sink, the publisher, history and invoices treat it as any restatement: it replaces the
 * published revision whole, the old one is kept as history, and a finalized period gets
 * adjustment lines on the next invoice. Records whose ChargePeriodStart is on or after `from`
 * are priced again with `rateRecord` (the price stage's own function); earlier ones are carried
 * over with their price. Every record gets the new revision's record id (schemas/record-id.ts):
 * revisions never share record ids, so the old revision's documents stay as they were.
 */

/**
 * `YYYY-MM-DD` as a UTC instant (ms), or undefined when it is not a real calendar date: a
 * price-book date without a time, read as the book's own dates are, since it is compared with
 * ChargePeriodStart as the book's effective dates are.
 */
export function parseFromDate(text: string): number | undefined {
  return /^\d{4}-\d{2}-\d{2}$/.test(text) ? parseBookDate(text) : undefined;
}

/** Why a scope is left alone, for the operator (run.ts turns a hold into exit 1). */
export type ScopeDecision =
  { kind: 'rerate' } | { kind: 'skip'; why: string } | { kind: 'hold'; why: string };

/**
 * What to do with one scope whose published revision has records on or after the date that the
 * book version did not price. `revisions` are every revision document of the scope.
 *
 *   skip  first-party scopes (they accumulate seals, never restated whole: see docs/re-rating.md)
 *   hold  a newer revision of the scope is on its way (collecting, pending or unreconciled): the
 *         re-rate would race it, and re-rating the published one would either hide it or be
 *         replaced by it. Also when the published revision has dead-lettered rows: they are not
 *         in the published usage, and a re-rated copy would drop them from a later replay's view.
 */
export function decideScope(
  published: Pick<RevisionDocument, 'revision_id' | 'completed_offset' | 'dead_lettered_rows'> & {
    accumulates: boolean;
  },
  revisions: Array<Pick<RevisionDocument, 'revision_id' | 'state' | 'failed' | 'completed_offset'>>,
): ScopeDecision {
  if (published.accumulates) return { kind: 'skip', why: 'first-party events scope (accumulates seals)' };
  const newer = revisions.filter(
    (r) =>
      r.revision_id !== published.revision_id &&
      !r.failed &&
      (r.state === 'collecting' || r.state === 'pending' || r.state === 'unreconciled') &&
      (r.completed_offset === null || r.completed_offset > (published.completed_offset ?? -1)),
  );
  if (newer.length)
    return {
      kind: 'hold',
      why: `revision ${newer.map((r) => `${r.revision_id} (${r.state})`).join(', ')} is newer than the published ${published.revision_id} and not published yet`,
    };
  if (published.dead_lettered_rows > 0)
    return {
      kind: 'hold',
      why: `the published revision ${published.revision_id} has ${published.dead_lettered_rows} dead-lettered row(s): replay them first (meterflow replay)`,
    };
  return { kind: 'rerate' };
}

/** Exact totals per currency. */
export class Totals {
  private readonly sums = new Map<string, Decimal>();

  add(currency: string | null | undefined, amount: string | null | undefined): void {
    if (amount === null || amount === undefined) return;
    const c = currency ?? '(none)';
    this.sums.set(c, (this.sums.get(c) ?? new Decimal(0)).plus(new Decimal(amount)));
  }

  addAll(other: Record<string, string>): void {
    for (const [c, v] of Object.entries(other)) this.add(c, v);
  }

  toRecord(): Record<string, string> {
    return Object.fromEntries(
      [...this.sums].sort(([a], [b]) => (a < b ? -1 : 1)).map(([c, d]) => [c, decimalToString(d)]),
    );
  }
}

export interface RerateFailure {
  record_id: string;
  reason: RateFailureReason;
  message: string;
}

/**
 * Re-rates the records of one scope revision, one at a time (records are streamed, never held
 * together). Counts and exact totals are kept for the control record, the checkpoint, progress
 * and the audit event.
 */
export class ScopeRerate {
  records = 0;
  rerated = 0;
  /** x_RatedCost of the re-rated records, before and after, per rated currency. */
  readonly oldTotals = new Totals();
  readonly newTotals = new Totals();
  /** BilledCost per BillingCurrency with row counts: the COMPLETED control totals. */
  private readonly control = new Map<string, { cost: Decimal; rows: number }>();
  readonly failures: RerateFailure[] = [];

  constructor(
    readonly scope: string,
    readonly revisionId: string,
    private readonly book: PriceBook,
    private readonly fromMs: number,
  ) {}

  /** The record as the re-rated revision carries it, or undefined when the book cannot price it. */
  add(record: UsageRecord): UsageRecord | undefined {
    this.records++;
    let out: UsageRecord = record;
    const at = Date.parse(record.ChargePeriodStart ?? '');
    // A record with an unreadable date is re-rated: rateRecord then reports it as malformed.
    if (Number.isNaN(at) || at >= this.fromMs) {
      const result = rateRecord(record, this.book);
      if (!result.ok) {
        this.failures.push({ record_id: record.x_RecordId, reason: result.reason, message: result.message });
        return undefined;
      }
      this.rerated++;
      this.oldTotals.add(record.x_RatedCurrency, record.x_RatedCost);
      this.newTotals.add(result.record.x_RatedCurrency, result.record.x_RatedCost);
      out = result.record;
    }
    const c = this.control.get(record.BillingCurrency ?? '(none)') ?? { cost: new Decimal(0), rows: 0 };
    c.cost = c.cost.plus(new Decimal(record.BilledCost ?? 0));
    c.rows++;
    this.control.set(record.BillingCurrency ?? '(none)', c);
    return {
      ...out,
      x_Revision: this.revisionId,
      x_RecordId: recordIdOf(this.scope, this.revisionId, record.x_SourceObject, Number(record.x_SourceLine)),
    };
  }

  /** STARTED or COMPLETED of the re-rated revision, framed as a collector frames a revision. */
  controlRecord(
    type: 'REVISION_STARTED' | 'REVISION_COMPLETED',
    published: Pick<RevisionDocument, 'provider' | 'format' | 'billing_period' | 'files'>,
    now = new Date().toISOString(),
  ): RevisionControl {
    const completed = type === 'REVISION_COMPLETED';
    return {
      type,
      provider: published.provider,
      format: published.format,
      scope: this.scope,
      revision_id: this.revisionId,
      billing_period: published.billing_period,
      files: published.files,
      expected_rows: null,
      row_count: completed ? this.records : null,
      dead_letter_count: completed ? 0 : null,
      // The publisher reconciles the indexed documents' BilledCost against these, exactly.
      control_totals: completed
        ? [...this.control]
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(([currency, t]) => ({ currency, billed_cost: decimalToString(t.cost), rows: t.rows }))
        : [],
      billed_cost_column: 'BilledCost',
      error: null,
      produced_at: now,
    };
  }
}

/** old, new and change per currency, exact text: the audit event's effect and the summary. */
export function totalsEffect(
  oldTotals: Record<string, string>,
  newTotals: Record<string, string>,
): Array<{ currency: string; old: string; new: string; change: string }> {
  const currencies = [...new Set([...Object.keys(oldTotals), ...Object.keys(newTotals)])].sort();
  return currencies.map((currency) => {
    const o = new Decimal(oldTotals[currency] ?? 0);
    const n = new Decimal(newTotals[currency] ?? 0);
    return {
      currency,
      old: decimalToString(o),
      new: decimalToString(n),
      change: decimalToString(n.minus(o)),
    };
  });
}
