import { Decimal, decimalToString } from '../../schemas/decimal';
import type { DeadLetter, RevisionControl, UsageRecord } from '../../schemas';

/**
 * How a consumer of the rated topic keeps exact totals across restatements.
 *
 * Contract (README, "The rated topic"): rated records are keyed by x_RecordId and carry x_Scope and
 * x_Revision. A scope's revision is WHOLE downstream when the collector's REVISION_COMPLETED record
 * for it is on the control topic and
 *
 *     distinct x_RecordIds of the revision, rated or dead-lettered by a processor stage  ==  row_count
 *
 * (every raw row is either rated or dead-lettered; a redelivered record or a dead letter that was
 * replayed and then rated counts once). The CURRENT revision of a scope is the newest whole one (by the order of
 * their COMPLETED records on the control topic, which is keyed by scope and so ordered per scope).
 * A newer revision replaces the previous one entirely: totals never mix two revisions of a scope.
 * Until a newer revision is whole, the previous one stays current.
 */
interface RevisionState {
  completed?: RevisionControl;
  completedSeq?: number;
  failed: boolean;
  records: Map<
    string,
    { customer: string; currency: string; rated: Decimal; billed: Decimal; billedCurrency: string }
  >;
  deadLetterIds: Set<string>;
}

export interface CustomerTotal {
  customer: string;
  currency: string;
  rated: string;
}

export class RevisionTracker {
  private readonly scopes = new Map<string, Map<string, RevisionState>>();
  private seq = 0;

  private state(scope: string, revision: string): RevisionState {
    let revisions = this.scopes.get(scope);
    if (!revisions) this.scopes.set(scope, (revisions = new Map()));
    let s = revisions.get(revision);
    if (!s) revisions.set(revision, (s = { failed: false, records: new Map(), deadLetterIds: new Set() }));
    return s;
  }

  onControl(c: RevisionControl): void {
    const s = this.state(c.scope, c.revision_id);
    if (c.type === 'REVISION_COMPLETED') {
      s.completed = c;
      s.completedSeq = ++this.seq;
    } else if (c.type === 'REVISION_FAILED') s.failed = true;
  }

  onRated(r: UsageRecord): void {
    if (r.x_RatedCost === null || r.x_RatedCurrency === null) return;
    this.state(r.x_Scope, r.x_Revision).records.set(r.x_RecordId, {
      customer: r.x_CustomerId,
      currency: r.x_RatedCurrency,
      rated: new Decimal(r.x_RatedCost),
      billed: new Decimal(r.BilledCost),
      billedCurrency: r.BillingCurrency,
    });
  }

  onDeadLetter(d: DeadLetter): void {
    // Collector dead letters are lines that never became rows (row_count excludes them).
    if (!d.scope || !d.revision_id || !d.stage.startsWith('processor.')) return;
    this.state(d.scope, d.revision_id).deadLetterIds.add(d.record_id ?? `${d.object}#${d.line}`);
  }

  isWhole(scope: string, revision: string): boolean {
    const s = this.scopes.get(scope)?.get(revision);
    if (!s?.completed || s.failed) return false;
    // A replayed dead letter is later rated too: count each record id once.
    let deadOnly = 0;
    for (const id of s.deadLetterIds) if (!s.records.has(id)) deadOnly++;
    return s.records.size + deadOnly === s.completed.row_count;
  }

  scopeNames(): string[] {
    return [...this.scopes.keys()].sort();
  }

  /** Rated and dead-lettered record counts of a revision. */
  counts(scope: string, revision: string): { rated: number; deadLettered: number; rows: number | null } {
    const s = this.scopes.get(scope)?.get(revision);
    if (!s) return { rated: 0, deadLettered: 0, rows: null };
    let deadOnly = 0;
    for (const id of s.deadLetterIds) if (!s.records.has(id)) deadOnly++;
    return { rated: s.records.size, deadLettered: deadOnly, rows: s.completed?.row_count ?? null };
  }

  /** The newest whole revision of a scope, if any. */
  currentRevision(scope: string): string | undefined {
    let best: { id: string; seq: number } | undefined;
    for (const [id, s] of this.scopes.get(scope) ?? []) {
      if (this.isWhole(scope, id) && (!best || s.completedSeq! > best.seq))
        best = { id, seq: s.completedSeq! };
    }
    return best?.id;
  }

  /** Exact rated totals per customer and currency over the current revision of every scope. */
  totals(): CustomerTotal[] {
    const sums = new Map<string, Decimal>();
    for (const scope of this.scopes.keys()) {
      const current = this.currentRevision(scope);
      if (!current) continue;
      for (const r of this.scopes.get(scope)!.get(current)!.records.values()) {
        const key = `${r.customer}\u0000${r.currency}`;
        sums.set(key, (sums.get(key) ?? new Decimal(0)).plus(r.rated));
      }
    }
    return [...sums]
      .map(([key, v]) => {
        const [customer, currency] = key.split('\u0000');
        return { customer, currency, rated: decimalToString(v) };
      })
      .sort((a, b) => a.customer.localeCompare(b.customer) || a.currency.localeCompare(b.currency));
  }

  /** Drops revisions older than the current one of each scope (bounded memory for a long-running consumer). */
  compact(): void {
    for (const [scope, revisions] of this.scopes) {
      const current = this.currentRevision(scope);
      if (!current) continue;
      const currentSeq = revisions.get(current)!.completedSeq!;
      for (const [id, s] of revisions)
        if (id !== current && s.completedSeq !== undefined && s.completedSeq < currentSeq)
          revisions.delete(id);
    }
  }
}
