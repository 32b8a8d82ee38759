import type { Producer, TopicMessages } from 'kafkajs';
import { rawBatchMessage } from '../collectors/core/raw-batches';
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
}

export interface SealWriterOptions {
  producer: Producer;
  topics: SealTopics;
  instanceId: string;
  currency: string;
  maxEvents: number;
  lingerMs: number;
  now?: () => number;
}

interface OpenSeal {
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
 * Seal ids: `s` + 15-digit epoch milliseconds, strictly increasing within the process (a second
 * seal in the same millisecond takes the next one). Fixed width, so the text order IS the commit
 * order: the publisher shows an accumulating scope's revisions up to an id with one range filter.
 */
export function sealId(ms: number): string {
  return `s${String(ms).padStart(15, '0')}`;
}

/**
 * Writes accepted events to Kafka as SEALS, a group commit: the events of every request that
 * arrived while the previous seal was committing (or within `lingerMs` of the first) go out in one
 * Kafka transaction, and each of those requests is answered only once that transaction committed
 * (a transactional producer: acks=all, idempotent). Per billing period the seal's events touch, the
 * transaction carries a whole revision of the scope platform/<instance>/<period>:
 *
 *   REVISION_STARTED, the raw rows (<prefix>.raw.platform), REVISION_COMPLETED with the row count
 *   and the exact control totals (rows per currency, billed cost 0)
 *
 * so a seal is visible to read_committed consumers whole or not at all, and the sink and publisher
 * reconcile it like any export revision. One transaction at a time per producer (Kafka's rule);
 * the transactional id is per instance, so a restarted instance fences its predecessor.
 */
export class SealWriter {
  private open: OpenSeal | undefined;
  private committing = false;
  private timer: NodeJS.Timeout | undefined;
  private lastSealMs = 0;
  private readonly now: () => number;

  constructor(private readonly o: SealWriterOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Resolves when `events` are committed to Kafka; rejects when their transaction failed. */
  add(events: ValidEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    const seal = this.open ?? (this.open = newSeal());
    seal.events.push(...events);
    this.schedule();
    return seal.done;
  }

  private schedule(): void {
    if (this.committing || !this.open) return;
    if (this.open.events.length >= this.o.maxEvents || this.o.lingerMs === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.flush();
    } else this.timer ??= setTimeout(() => void this.flush(), this.o.lingerMs);
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    if (this.committing || !this.open) return;
    const seal = this.open;
    this.open = undefined;
    this.committing = true;
    try {
      // A seal larger than maxEvents (one big request during a commit) is split across transactions.
      for (let i = 0; i < seal.events.length; i += this.o.maxEvents)
        await this.commit(seal.events.slice(i, i + this.o.maxEvents));
      seal.resolve();
    } catch (err) {
      seal.reject(err);
    } finally {
      this.committing = false;
      this.schedule();
    }
  }

  private async commit(events: ValidEvent[]): Promise<void> {
    const ms = Math.max(this.now(), this.lastSealMs + 1);
    this.lastSealMs = ms;
    const revisionId = sealId(ms);
    const byPeriod = new Map<string, ValidEvent[]>();
    for (const e of events) {
      const list = byPeriod.get(e.period);
      if (list) list.push(e);
      else byPeriod.set(e.period, [e]);
    }
    const control: TopicMessages = { topic: this.o.topics.control, messages: [] };
    const raw: TopicMessages = { topic: this.o.topics.raw, messages: [] };
    const completed: TopicMessages = { topic: this.o.topics.control, messages: [] };
    for (const [period, list] of [...byPeriod].sort(([a], [b]) => a.localeCompare(b))) {
      const scope = eventScope(this.o.instanceId, period);
      const object = `events://${this.o.instanceId}/${revisionId}`;
      const rev: RevisionToWrite = {
        provider: platform.name,
        format: PLATFORM_FORMAT,
        scope,
        revision_id: revisionId,
        billing_period: period,
        files: [object],
        expected_rows: list.length,
        billed_cost_column: 'billed_cost',
      };
      control.messages.push({
        key: scope,
        value: AvroTypes.revisionControl.toBuffer(controlRecord(rev, 'REVISION_STARTED', undefined)),
      });
      for (let i = 0; i < list.length; i += ROWS_PER_MESSAGE) {
        const rows = list
          .slice(i, i + ROWS_PER_MESSAGE)
          .map((e, j) => ({ line: i + j + 1, values: e.values }));
        raw.messages.push(
          rawBatchMessage({
            provider: platform.name,
            format: PLATFORM_FORMAT,
            scope,
            revision_id: revisionId,
            billing_period: period,
            object,
            header: [...EVENT_COLUMNS],
            rows,
          }),
        );
      }
      const at = new Date(ms).toISOString();
      completed.messages.push({
        key: scope,
        value: AvroTypes.revisionControl.toBuffer(
          controlRecord(rev, 'REVISION_COMPLETED', {
            scope,
            revision_id: revisionId,
            state: 'completed',
            file_index: 1,
            line: list.length,
            rows: list.length,
            dead_letters: 0,
            totals: { [this.o.currency]: { billed_cost: '0', rows: list.length } },
            started_at: at,
            updated_at: at,
          }),
        ),
      });
    }
    const tx = await this.o.producer.transaction();
    try {
      // STARTED before the rows and COMPLETED after them on the scope's control partition; all of
      // it commits together.
      await sendChunked(tx, [control, raw, completed]);
      await tx.commit();
    } catch (err) {
      await tx.abort().catch(() => undefined);
      throw err;
    }
  }
}

function newSeal(): OpenSeal {
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
