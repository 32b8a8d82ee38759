import type { Producer, TopicMessages } from 'kafkajs';
import { rawBatchMessage } from '../collectors/core/raw-batches';
import { checkpointMessage, type Checkpoint } from '../collectors/core/checkpoints';
import { controlRecord, type RevisionToWrite } from '../collectors/core/revision-writer';
import { platform } from '../providers/platform';
import { EVENT_COLUMNS, PLATFORM_FORMAT } from '../providers/platform/columns';
import { AvroTypes } from '../schemas';
import { sendChunked } from '../runtime/kafka';
import type { ValidEvent } from './cloudevents';

/** Rows per raw-topic message, as the collectors batch export lines. */
const ROWS_PER_MESSAGE = 500;

export interface SealTopics {
  raw: string;
  control: string;
  /** The collectors' compacted checkpoint topic: the open revision of each scope, per transaction. */
  checkpoints: string;
}

export interface SealWriterOptions {
  producer: Producer;
  topics: SealTopics;
  instanceId: string;
  currency: string;
  /** Events one Kafka transaction holds at most. */
  maxEvents: number;
  lingerMs: number;
  /** How long a scope's revision stays open (takes rows) before it is sealed (REVISION_COMPLETED). */
  sealIntervalMs: number;
  /** Open revisions found at start (loadCheckpoints): continued, then sealed like any. */
  resume?: Iterable<Checkpoint>;
  now?: () => number;
}

interface OpenBatch {
  events: ValidEvent[];
  done: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** The scope of an ingest instance's events of one billing period. */
export function eventScope(instanceId: string, period: string): string {
  return `${platform.name}/${instanceId}/${period}`;
}

/**
 * Revision ids: `s` + 15-digit epoch milliseconds, strictly increasing within the process (a second
 * revision in the same millisecond takes the next one). Fixed width, so the text order IS the commit
 * order: the publisher shows an accumulating scope's revisions up to an id with one range filter.
 */
export function sealId(ms: number): string {
  return `s${String(ms).padStart(15, '0')}`;
}

/**
 * Writes accepted events to Kafka. Two clocks, as a collector writes an export revision:
 *
 *   - every request's events are DURABLE at once: group-committed in a Kafka transaction (the
 *     events of every request that arrived while the previous transaction was committing, or within
 *     `lingerMs`), and each request is answered only once its transaction committed (a
 *     transactional, idempotent producer: acks=all);
 *   - they become VISIBLE per seal: each scope platform/<instance>/<period> has one open revision
 *     that takes the rows of many transactions (REVISION_STARTED in the first), and is sealed with
 *     REVISION_COMPLETED (row count, exact control totals: rows per currency, billed cost 0) once
 *     it has been open `sealIntervalMs`. The sink and publisher then reconcile it like an export
 *     revision. So revisions (and revision documents) grow with time, one per scope per seal
 *     interval, not with requests.
 *
 * Each transaction also writes the scope's checkpoint (collectors/core/checkpoints.ts) with the
 * open revision's running counts, so the checkpoint and the rows it covers commit together. A
 * process that dies with a revision open leaves that checkpoint: the next start (same instance id,
 * whose transactional id fences the old process) continues the revision and seals it, so a seal
 * never stays open forever and never holds back the seals after it.
 */
export class SealWriter {
  private open: OpenBatch | undefined;
  private committing = false;
  private timer: NodeJS.Timeout | undefined;
  private sealTimer: NodeJS.Timeout | undefined;
  private lastSealMs = 0;
  private readonly now: () => number;
  /** The open revision of each scope: its checkpoint as committed (or about to be). */
  private readonly revisions = new Map<string, Checkpoint & { period: string; openedMs: number }>();

  constructor(private readonly o: SealWriterOptions) {
    this.now = o.now ?? Date.now;
    for (const cp of o.resume ?? [])
      if (cp.state === 'in_progress')
        this.revisions.set(cp.scope, { ...cp, period: cp.scope.slice(-7), openedMs: 0 });
    if (this.revisions.size) this.scheduleSeal(0);
  }

  /** Resolves when `events` are committed to Kafka; rejects when their transaction failed. */
  add(events: ValidEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    const batch = this.open ?? (this.open = newBatch());
    batch.events.push(...events);
    this.schedule();
    return batch.done;
  }

  /** Seals every open revision now (tests, shutdown). */
  async sealAll(): Promise<void> {
    while (this.committing) await new Promise((r) => setTimeout(r, 5));
    this.committing = true;
    try {
      await this.commit([], true);
    } finally {
      this.committing = false;
      this.schedule();
    }
  }

  /** Stops the timers (the process is stopping: sealAll, else the next start seals what is open). */
  close(): void {
    clearTimeout(this.timer);
    clearTimeout(this.sealTimer);
  }

  private schedule(): void {
    if (this.committing || !this.open) return;
    if (this.open.events.length >= this.o.maxEvents || this.o.lingerMs === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.flush();
    } else this.timer ??= setTimeout(() => void this.flush(), this.o.lingerMs);
  }

  private scheduleSeal(delayMs: number): void {
    if (this.sealTimer) return;
    this.sealTimer = setTimeout(() => {
      this.sealTimer = undefined;
      void this.sealDue();
    }, delayMs);
  }

  /** A transaction that seals the revisions whose interval is over, when no request does it first. */
  private async sealDue(): Promise<void> {
    if (this.committing) return this.scheduleSeal(Math.max(1, this.o.lingerMs));
    const due = [...this.revisions.values()].some((r) => this.now() - r.openedMs >= this.o.sealIntervalMs);
    if (due) {
      this.committing = true;
      try {
        await this.commit([], false);
      } catch {
        // The next tick tries again; the revisions stay open meanwhile.
      } finally {
        this.committing = false;
        this.schedule();
      }
    }
    if (this.revisions.size) this.scheduleSeal(this.nextSealDelay());
  }

  private nextSealDelay(): number {
    const oldest = Math.min(...[...this.revisions.values()].map((r) => r.openedMs));
    return Math.max(1, oldest + this.o.sealIntervalMs - this.now());
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    if (this.committing || !this.open) return;
    const batch = this.open;
    this.open = undefined;
    this.committing = true;
    try {
      // A batch larger than maxEvents (one big request during a commit) is split across transactions.
      for (let i = 0; i < batch.events.length; i += this.o.maxEvents)
        await this.commit(batch.events.slice(i, i + this.o.maxEvents), false);
      batch.resolve();
    } catch (err) {
      batch.reject(err);
    } finally {
      this.committing = false;
      this.schedule();
    }
  }

  private nextRevisionId(): string {
    const ms = Math.max(this.now(), this.lastSealMs + 1);
    this.lastSealMs = ms;
    return sealId(ms);
  }

  /**
   * One transaction: per scope, COMPLETED for a revision whose interval is over (or every one with
   * `sealEverything`), STARTED for a revision opened now, the rows, and the checkpoint. In-memory
   * state changes only after the commit, so a failed transaction leaves it as committed.
   */
  private async commit(events: ValidEvent[], sealEverything: boolean): Promise<void> {
    const nowMs = this.now();
    const byPeriod = new Map<string, ValidEvent[]>();
    for (const e of events) {
      const list = byPeriod.get(e.period);
      if (list) list.push(e);
      else byPeriod.set(e.period, [e]);
    }
    const next = new Map(this.revisions);
    const control: TopicMessages = { topic: this.o.topics.control, messages: [] };
    const raw: TopicMessages = { topic: this.o.topics.raw, messages: [] };
    const checkpoints: TopicMessages = { topic: this.o.topics.checkpoints, messages: [] };
    const at = new Date(nowMs).toISOString();
    const toWrite = (cp: Checkpoint & { period: string }): RevisionToWrite => {
      const object = `events://${this.o.instanceId}/${cp.revision_id}`;
      return {
        provider: platform.name,
        format: PLATFORM_FORMAT,
        scope: cp.scope,
        revision_id: cp.revision_id,
        billing_period: cp.period,
        files: [object],
        expected_rows: null,
        billed_cost_column: 'billed_cost',
      };
    };
    const seal = (cp: Checkpoint & { period: string; openedMs: number }) => {
      const done = { ...cp, state: 'completed' as const, updated_at: at };
      control.messages.push({
        key: cp.scope,
        value: AvroTypes.revisionControl.toBuffer(controlRecord(toWrite(cp), 'REVISION_COMPLETED', done)),
      });
      checkpoints.messages.push(checkpointMessage(done));
      next.delete(cp.scope);
    };
    // Seal what is due first: COMPLETED of a scope's revision precedes STARTED of its next one on
    // the scope's control partition.
    for (const cp of this.revisions.values())
      if (sealEverything || nowMs - cp.openedMs >= this.o.sealIntervalMs) seal(cp);
    for (const [period, list] of [...byPeriod].sort(([a], [b]) => a.localeCompare(b))) {
      const scope = eventScope(this.o.instanceId, period);
      let cp = next.get(scope);
      if (!cp) {
        cp = {
          scope,
          revision_id: this.nextRevisionId(),
          state: 'in_progress',
          file_index: 0,
          line: 0,
          rows: 0,
          dead_letters: 0,
          totals: {},
          started_at: at,
          updated_at: at,
          period,
          openedMs: nowMs,
        };
        control.messages.push({
          key: scope,
          value: AvroTypes.revisionControl.toBuffer(
            controlRecord(toWrite(cp), 'REVISION_STARTED', undefined),
          ),
        });
      }
      const object = `events://${this.o.instanceId}/${cp.revision_id}`;
      for (let i = 0; i < list.length; i += ROWS_PER_MESSAGE) {
        const rows = list
          .slice(i, i + ROWS_PER_MESSAGE)
          .map((e, j) => ({ line: cp!.line + i + j + 1, values: e.values }));
        raw.messages.push(
          rawBatchMessage({
            provider: platform.name,
            format: PLATFORM_FORMAT,
            scope,
            revision_id: cp.revision_id,
            billing_period: period,
            object,
            header: [...EVENT_COLUMNS],
            rows,
          }),
        );
      }
      const total = cp.totals[this.o.currency] ?? { billed_cost: '0', rows: 0 };
      const updated = {
        ...cp,
        line: cp.line + list.length,
        rows: cp.rows + list.length,
        totals: {
          ...cp.totals,
          [this.o.currency]: { billed_cost: total.billed_cost, rows: total.rows + list.length },
        },
        updated_at: at,
      };
      next.set(scope, updated);
      checkpoints.messages.push(checkpointMessage(updated));
    }
    if (control.messages.length + raw.messages.length === 0) return;
    const tx = await this.o.producer.transaction();
    try {
      // Control records first: STARTED before its rows, COMPLETED of an older revision before both.
      await sendChunked(tx, [control, raw, checkpoints]);
      await tx.commit();
    } catch (err) {
      await tx.abort().catch(() => undefined);
      throw err;
    }
    this.revisions.clear();
    for (const [scope, cp] of next) this.revisions.set(scope, cp);
    if (this.revisions.size) this.scheduleSeal(this.nextSealDelay());
  }
}

function newBatch(): OpenBatch {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Each request awaits `done` itself; this keeps an unawaited rejection from being reported twice.
  done.catch(() => undefined);
  return { events: [], done, resolve, reject };
}
