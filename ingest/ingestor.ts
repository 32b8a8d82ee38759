import type { Kafka, Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import { stageCounter } from '../runtime/metrics';
import type { IngestGrant } from '../api/auth';
import { KeyRateLimiter } from '../api/limits';
import type { MeterflowConfig } from '../runtime/config';
import { ensureTopics, topicNames } from '../runtime/kafka';
import { eventRecordIdOf } from '../schemas/record-id';
import { validateEvent, type EventRejection, type ValidEvent } from './cloudevents';
import type { EventsOptions } from './config';
import { platform } from '../providers/platform';
import { committedEventKeys } from './recovery';
import { SealWriter, eventScope } from './seal-writer';
import { loadCheckpoints } from '../collectors/core/checkpoints';

/** What happened to one event of a request. */
export type EventOutcome =
  | { index: number; status: 'accepted'; period: string; lateness: Lateness }
  | { index: number; status: 'duplicate'; period: string }
  | ({ status: 'rejected' } & EventRejection);

/**
 * on_time: within its period. late: after its period ended, inside events.late_window_hours, so it
 * still belongs to the period's own invoice. adjustment: after the window; it lands in its period,
 * whose invoice is finalized by then, and the invoices bill it as an adjustment line.
 */
export type Lateness = 'on_time' | 'late' | 'adjustment';

export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: number;
  results: EventOutcome[];
}

/** Why a whole request is refused (nothing of it was written). */
export class IngestRefused extends Error {
  constructor(
    readonly status: 413 | 429 | 503,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

const HOUR_MS = 3_600_000;

/** The first instant after the billing period YYYY-MM. */
export function periodEndMs(period: string): number {
  const [y, m] = period.split('-').map(Number);
  return Date.UTC(y, m, 1);
}

export function latenessOf(period: string, nowMs: number, lateWindowHours: number): Lateness {
  const end = periodEndMs(period);
  if (nowMs < end) return 'on_time';
  return nowMs < end + lateWindowHours * HOUR_MS ? 'late' : 'adjustment';
}

/**
 * The ingest side of first-party usage (POST /v1/events): per event, validation and the key's
 * authorization; per request, the key's event-rate limit; then EXACT de-duplication by idempotency
 * key and the group-committed write to Kafka (SealWriter).
 *
 * De-duplication: `accepted` maps each idempotency key (eventRecordIdOf(source, id)) to true once
 * its seal committed, or to the commit in flight. A key seen before, in this request or an earlier
 * one, is a duplicate and is not written again; a duplicate of an event whose commit is still in
 * flight waits for it, and if that commit fails the duplicate's request fails too (503), so a
 * sender is never told "duplicate" of an event that was not stored. Keys of a failed commit are
 * forgotten, so the sender's retry is accepted. Downstream, the record id IS the key, so even an
 * event written twice (two instances, or a key forgotten past dedupe_max_keys) is one Elasticsearch
 * document per period index.
 */
export class EventIngestor {
  private readonly accepted = new Map<string, true | Promise<void>>();
  private readonly limiters = new Map<string, KeyRateLimiter>();

  constructor(
    private readonly options: EventsOptions,
    private readonly writer: Pick<SealWriter, 'add'>,
    private readonly now: () => number = Date.now,
    /** Counts each request's outcomes (the meterflow_events_total metric). */
    private readonly onOutcomes?: (counts: Record<EventOutcome['status'], number>) => void,
  ) {}

  async ingest(keyId: string, grant: IngestGrant, events: unknown[]): Promise<IngestResult> {
    if (events.length > this.options.max_batch_events)
      throw new IngestRefused(
        413,
        `a batch may carry at most ${this.options.max_batch_events} events (events.max_batch_events); this one has ${events.length}`,
      );
    if (events.length > 0) {
      const limiter = this.limiterOf(keyId, grant);
      const wait = limiter.take(keyId, events.length);
      if (wait === Number.POSITIVE_INFINITY)
        throw new IngestRefused(
          413,
          `a batch of ${events.length} events is larger than this key's events_burst (${grant.eventsBurst}); send smaller batches`,
        );
      if (wait > 0)
        throw new IngestRefused(
          429,
          `this key may send ${grant.eventsPerSecond} events per second; retry after the Retry-After seconds`,
          wait,
        );
    }
    const nowMs = this.now();
    const ctx = {
      grant,
      nowMs,
      maxFutureMs: this.options.max_future_seconds * 1000,
      currency: this.options.currency,
      providerName: this.options.provider_name,
    };
    const results: EventOutcome[] = [];
    const toWrite: ValidEvent[] = [];
    const inFlight: Promise<void>[] = [];
    const inRequest = new Set<string>();
    events.forEach((raw, index) => {
      const v = validateEvent(raw, index, ctx, eventRecordIdOf);
      if (!('key' in v)) {
        results.push({ status: 'rejected', ...v });
        return;
      }
      const prior = this.accepted.get(v.key);
      if (inRequest.has(v.key) || prior !== undefined) {
        if (prior instanceof Promise) inFlight.push(prior);
        results.push({ index, status: 'duplicate', period: v.period });
        return;
      }
      inRequest.add(v.key);
      toWrite.push(v);
      results.push({
        index,
        status: 'accepted',
        period: v.period,
        lateness: latenessOf(v.period, nowMs, this.options.late_window_hours),
      });
    });

    // Reserve the keys before the first await, so a concurrent request sees them.
    const written = this.writer.add(toWrite);
    for (const e of toWrite) this.accepted.set(e.key, written);
    try {
      await written;
    } catch (err) {
      for (const e of toWrite) if (this.accepted.get(e.key) === written) this.accepted.delete(e.key);
      throw new IngestRefused(
        503,
        `writing the events to Kafka failed (${(err as Error).message}); retry`,
        1,
      );
    }
    for (const e of toWrite) this.accepted.set(e.key, true);
    this.forgetOldest();
    try {
      await Promise.all(inFlight);
    } catch {
      throw new IngestRefused(
        503,
        'an earlier copy of an event in this request failed to be written; retry the request',
        1,
      );
    }
    const count = (s: EventOutcome['status']) => results.filter((r) => r.status === s).length;
    const counts = {
      accepted: count('accepted'),
      duplicate: count('duplicate'),
      rejected: count('rejected'),
    };
    this.onOutcomes?.(counts);
    return { accepted: counts.accepted, duplicates: counts.duplicate, rejected: counts.rejected, results };
  }

  /** Keys committed before this process started (ingest/recovery.ts), oldest first. */
  remember(keys: Iterable<string>): void {
    for (const key of keys) this.accepted.set(key, true);
    this.forgetOldest();
  }

  /** Keys remembered (for tests and the memory estimate). */
  get rememberedKeys(): number {
    return this.accepted.size;
  }

  private limiterOf(keyId: string, grant: IngestGrant): KeyRateLimiter {
    let l = this.limiters.get(keyId);
    if (!l)
      this.limiters.set(keyId, (l = new KeyRateLimiter(grant.eventsPerSecond, grant.eventsBurst, this.now)));
    return l;
  }

  private forgetOldest(): void {
    // A Map iterates in insertion order: the first keys are the oldest.
    for (const [key, state] of this.accepted) {
      if (this.accepted.size <= this.options.dedupe_max_keys) break;
      if (state === true) this.accepted.delete(key);
    }
  }
}

/** The ingestor with its Kafka producer, as `meterflow api` runs it when events.enabled. */
export interface RunningIngestor {
  ingestor: EventIngestor;
  close(): Promise<void>;
}

export async function startIngestor(
  config: MeterflowConfig,
  kafka: Kafka,
  registry?: Registry,
): Promise<RunningIngestor> {
  const names = topicNames(config);
  const topics = {
    raw: names.raw(platform.name),
    control: names.control,
    checkpoints: names.collectorCheckpoints,
  };
  await ensureTopics(kafka, config, [
    { topic: topics.raw },
    { topic: topics.control },
    { topic: topics.checkpoints },
  ]);
  const transactionalId = `${config.kafka.topic_prefix}-ingest-${config.events.instance_id}`;
  const producer: Producer = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const keys = await committedEventKeys(kafka, topics.raw);
  // This instance's revisions a previous process left open: continued and sealed (seal-writer.ts).
  const own = `${eventScope(config.events.instance_id, '')}`;
  const corrupt: string[] = [];
  const checkpoints = await loadCheckpoints(kafka, producer, topics.checkpoints, transactionalId, (c) => {
    if (c.scope.startsWith(own)) corrupt.push(`${c.scope} (${c.error})`);
  });
  // A lost open revision would never be sealed and would hold back its scope: refuse to start instead.
  if (corrupt.length) throw new Error(`corrupt ingest checkpoints: ${corrupt.join('; ')}`);
  const open = [...checkpoints.values()].filter((cp) => cp.scope.startsWith(own));
  const writer = new SealWriter({
    producer,
    topics,
    instanceId: config.events.instance_id,
    currency: config.events.currency,
    maxEvents: config.events.seal_max_events,
    lingerMs: config.events.seal_linger_ms,
    sealIntervalMs: config.events.seal_interval_ms,
    resume: open,
  });
  const events = registry
    ? stageCounter(registry, 'meterflow_events_total', 'First-party usage events by outcome', ['outcome'])
    : undefined;
  for (const outcome of ['accepted', 'duplicate', 'rejected']) events?.inc({ outcome }, 0);
  const ingestor = new EventIngestor(config.events, writer, Date.now, (counts) => {
    for (const [outcome, n] of Object.entries(counts)) if (n > 0) events?.inc({ outcome }, n);
  });
  ingestor.remember(keys);
  return {
    ingestor,
    close: async () => {
      writer.close();
      // Seal what is open, so a decommissioned instance's last events become visible; if this
      // fails, the next start of the instance seals them.
      await writer.sealAll().catch(() => undefined);
      await producer.disconnect();
    },
  };
}
