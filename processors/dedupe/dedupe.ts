/**
 * Record-id dedupe state, bounded in memory.
 *
 * Within a revision a record id is emitted once, whatever is redelivered. Ids are tracked per
 * revision (x_Scope + x_Revision); when the number of tracked ids passes `max_ids`, the revisions
 * seen least recently are forgotten whole. That is safe because duplicates arrive close together
 * (a redelivered batch, a zombie's double commit, a replay), and a revision that is superseded is
 * never written again by the collectors.
 *
 * Memory: an id is 32 hex characters; with the Set and Map overheads of V8 one tracked id costs about
 * 145 bytes (measured by `npm run bench -- dedupe-memory 1000000`: 144.8 MB of heap for 1M ids), so
 * the default max_ids of 1,000,000 per instance bounds the state at roughly 150 MB.
 */
export interface DedupeOptions {
  max_ids: number;
}

export type DedupeVerdict = 'first' | 'duplicate';

/**
 * Verdicts are pending until the Kafka transaction that emits the batch commits: `observe` records
 * an id in a pending layer, `commit` makes the batch's ids part of the state, `rollback` forgets
 * them. An aborted transaction emitted nothing, so its redelivered batch must meet the state as it
 * was before the batch; marking ids seen before the commit would drop every row of that batch as a
 * duplicate and leave its revision pending forever. The stage processes one batch at a time
 * (TransactionalStage), so there is one pending batch at most.
 */
export class DedupeState {
  private readonly revisions = new Map<string, Set<string>>();
  private readonly pending: Array<[string, string]> = [];
  private readonly pendingKeys = new Set<string>();
  private size = 0;
  private evicted = 0;

  constructor(private readonly options: DedupeOptions) {}

  /** Tells whether the id is new, counting the pending batch; a new id joins the pending batch. */
  observe(revisionKey: string, recordId: string): DedupeVerdict {
    if (this.has(revisionKey, recordId)) return 'duplicate';
    const key = `${revisionKey}\u0000${recordId}`;
    if (this.pendingKeys.has(key)) return 'duplicate';
    this.pendingKeys.add(key);
    this.pending.push([revisionKey, recordId]);
    return 'first';
  }

  /** The pending batch's transaction committed: its ids are now emitted for good. */
  commit(): void {
    for (const [revisionKey, recordId] of this.pending) this.add(revisionKey, recordId);
    this.rollback();
  }

  /** The pending batch's transaction aborted (or never started): forget its ids. */
  rollback(): void {
    this.pending.length = 0;
    this.pendingKeys.clear();
  }

  get pendingIds(): number {
    return this.pending.length;
  }

  private add(revisionKey: string, recordId: string): void {
    let ids = this.revisions.get(revisionKey);
    if (ids) {
      if (ids.has(recordId)) return;
      // Move the revision to the most-recently-used end of the Map's insertion order.
      this.revisions.delete(revisionKey);
      this.revisions.set(revisionKey, ids);
    } else {
      ids = new Set();
      this.revisions.set(revisionKey, ids);
    }
    ids.add(recordId);
    this.size++;
    this.evict(revisionKey);
  }

  /** Seeds the state from ids already emitted (state rebuild); never counts as a verdict. */
  remember(revisionKey: string, recordId: string): void {
    this.add(revisionKey, recordId);
  }

  has(revisionKey: string, recordId: string): boolean {
    return this.revisions.get(revisionKey)?.has(recordId) ?? false;
  }

  get trackedIds(): number {
    return this.size;
  }

  get trackedRevisions(): number {
    return this.revisions.size;
  }

  get evictedRevisions(): number {
    return this.evicted;
  }

  private evict(keep: string): void {
    while (this.size > this.options.max_ids && this.revisions.size > 1) {
      const [oldest, ids] = this.revisions.entries().next().value as [string, Set<string>];
      if (oldest === keep) break;
      this.revisions.delete(oldest);
      this.size -= ids.size;
      this.evicted++;
    }
  }
}

export const revisionKeyOf = (scope: string, revision: string) => `${scope}\u0000${revision}`;
