import type { Sink } from '../../schemas/stages';
import type { Client } from '@elastic/elasticsearch';
import type { Consumer, Kafka, KafkaMessage, Producer } from 'kafkajs';
import {
  classifyError,
  DeadLetterReasons,
  ErrorCodes,
  MeterflowError,
  type DeadLetterReason,
} from '../../runtime/errors';
import { CONSUMER_MAX_WAIT_MS, endOfFetch, isSentinel } from '../../runtime/kafka';
import type { Logger } from '../../runtime/logger';
import { histogram, stageCounter, type StageMetrics } from '../../runtime/metrics';
import { backoffDelayMs, sleep } from '../../runtime/retry';
import { AvroTypes, type DeadLetter, type RevisionControl, type UsageRecord } from '../../schemas';
import { deadLetterMessage, decodeFailureReason } from '../../processors/core/dead-letter';
import { type BulkAction, bulkAction, bulkActionJson, bulkBody, chunkActions, classifyItem } from './bulk';
import type { SinkOptions } from './config';
import { deadLetterWrite, revisionWrite, type SinkWrite, usageWrite, usageWriteFromAvro } from './documents';
import type { IndexNames } from './indices';
import { ensureUsageIndex } from './layout';
import { ContiguousOffsets } from './offsets';
import { withHeartbeats } from './heartbeats';
import { ConsumerHealth } from '../../runtime/consumer-health';
import { indexingFreshness } from './freshness';
import { NotReady } from '../../runtime/http-server';

export interface SinkTopics {
  rated: string;
  control: string;
  deadLetter: string;
}

export interface ElasticsearchSinkOptions {
  kafka: Kafka;
  es: Client;
  names: IndexNames;
  topics: SinkTopics;
  groupId: string;
  options: SinkOptions;
  logger: Logger;
  metrics: StageMetrics;
  /** Called after every flushed batch (the publisher uses it to look sooner). */
  onFlushed?: (topic: string) => void;
  /** The consumer stopped on an error kafkajs does not restart from (see ConsumerHealth). */
  onFatal?: (err: Error) => void;
}

interface Pending {
  offset: string;
  write: SinkWrite | undefined;
  /** The original message, for a dead letter if Elasticsearch rejects the document. */
  message: KafkaMessage;
}

/** The sink is stopping mid-batch: not retried; uncommitted messages go to the next owner. */
class Stopping extends MeterflowError {
  constructor() {
    super(ErrorCodes.STOPPING, '', { retryable: false });
  }
}

/** Status 0 stands for a message that could not be decoded; any other is Elasticsearch's refusal. */
function deadLetterReasonOf(status: number): DeadLetterReason {
  return status === 0 ? DeadLetterReasons.MALFORMED_INPUT : DeadLetterReasons.MAPPING_ERROR;
}

/**
 * The only parts of a bulk response the sink reads: each item's status and error, by position.
 * Elasticsearch otherwise answers ~200 bytes per item (index, id, version, shards, seq_no) that
 * it must serialize and the sink must parse, for every document indexed.
 */
const BULK_RESPONSE_FIELDS = 'errors,items.*.status,items.*.error';

/**
 * `meterflow sink elasticsearch`: the rated, control and dead-letter topics into Elasticsearch.
 *
 * Rated records become usage documents (_id = x_RecordId, so a redelivered record overwrites
 * itself); control records become revision documents; dead letters become dead-letter documents.
 * What readers see is decided later, by the publisher (publisher.ts): this sink only makes sure
 * every message is in Elasticsearch, exactly as the topic has it, before its offset is committed.
 */
export class ElasticsearchSink implements Sink {
  private health: ConsumerHealth | undefined;
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  private readonly knownIndices = new Set<string>();
  private stopping = false;
  private readonly retries;
  private readonly conflicts;
  private readonly bulkSeconds;
  private readonly indexed;

  constructor(private readonly o: ElasticsearchSinkOptions) {
    const registry = o.metrics.registry;
    this.retries = stageCounter(
      registry,
      'meterflow_sink_retried_items_total',
      'Bulk items sent again after 429/5xx or an unreachable cluster',
      ['reason'],
    );
    this.conflicts = stageCounter(
      registry,
      'meterflow_sink_version_conflicts_total',
      'Bulk items answered with a version conflict (already indexed; not a failure)',
      [],
    );
    this.bulkSeconds = histogram(
      registry,
      'meterflow_sink_bulk_seconds',
      'Duration of one bulk request',
      [],
      [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    );
    this.indexed = indexingFreshness(registry);
  }

  async start(): Promise<void> {
    const { kafka, topics, options } = this.o;
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();
    this.consumer = kafka.consumer({
      groupId: this.o.groupId,
      readUncommitted: false,
      sessionTimeout: options.session_timeout_ms,
      heartbeatInterval: this.heartbeatEveryMs,
      maxBytesPerPartition: 4 * 1024 * 1024,
      maxWaitTimeInMs: CONSUMER_MAX_WAIT_MS,
    });
    this.health = new ConsumerHealth(this.consumer, 'sink.elasticsearch', this.o.onFatal);
    await this.consumer.connect();
    for (const topic of [topics.control, topics.rated, topics.deadLetter])
      await this.consumer.subscribe({ topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: Math.max(1, options.partitions_concurrently),
      eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset }) => {
        if (!isRunning() || isStale() || batch.messages.length === 0) return;
        try {
          await this.flush(
            batch.topic,
            batch.partition,
            batch.messages,
            endOfFetch(batch),
            heartbeat,
            () => isRunning() && !isStale(),
            resolveOffset,
          );
        } catch (err) {
          if (err instanceof Stopping) return; // uncommitted messages are redelivered to the next owner
          throw err;
        }
        this.o.onFlushed?.(batch.topic);
      },
    });
  }

  /** The group's heartbeat interval, also kept up during a long bulk request (withHeartbeats). */
  private get heartbeatEveryMs(): number {
    return Math.max(1000, Math.floor(this.o.options.session_timeout_ms / 10));
  }

  /** For /readyz: throws NotReady unless the sink's consumer is a member of its group. */
  checkReady(): void {
    if (!this.health) throw new NotReady('sink.elasticsearch: not started');
    this.health.check();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer?.disconnect();
    await this.producer?.disconnect();
  }

  /**
   * One fetched batch of one partition. ORDERING (this is what "nothing lost, nothing twice" rests on):
   *
   *   1. Decode every message into its Elasticsearch write. A message that cannot be decoded is
   *      dead-lettered (step 4) like a rejected document.
   *   2. Make sure the monthly indices exist (with both aliases) before any document goes to them.
   *   3. Send the writes as bulk requests sized by bytes and count, up to `bulk_concurrency` at
   *      once. Per item: ok or version conflict = acknowledged; 429/5xx = sent again alone, after a
   *      jittered backoff; other 4xx = rejected. A request that fails as a whole (cluster down,
   *      timeout) is retried with backoff for as long as it takes, heartbeating the group meanwhile
   *      so the partition is neither revoked nor reassigned: consumption simply pauses.
   *   4. Rejected documents go to the dead-letter topic (acks=all) BEFORE their offsets count as
   *      acknowledged.
   *   5. Only then is the offset committed, and only up to the first message not yet acknowledged
   *      (ContiguousOffsets): a later request finishing first never commits past an earlier one
   *      still in flight. Transaction markers between the messages are not waited for: this
   *      consumer is never given them. With every message acknowledged, the commit is the end of
   *      the fetch (`end`), so kafkajs does not fetch any of the batch again.
   * A sink killed anywhere in 1-5 restarts from the last commit and writes the same documents with
   * the same _ids again: an overwrite, never a second document. A dead letter written twice is one
   * dead-letter document (deterministic id) too.
   */
  private async flush(
    topic: string,
    partition: number,
    messages: KafkaMessage[],
    end: string,
    heartbeat: () => Promise<void>,
    running: () => boolean,
    resolveOffset: (offset: string) => void,
  ): Promise<void> {
    const { metrics, names, options } = this.o;
    metrics.received(messages.length);
    const tracker = new ContiguousOffsets(
      messages.map((m) => m.offset),
      end,
    );
    let committed = messages[0].offset;
    const commit = async () => {
      const offset = tracker.committable;
      if (offset === committed) return;
      committed = offset;
      await this.consumer!.commitOffsets([{ topic, partition, offset }]);
      // The consumer's in-memory fetch position follows the commit (kafkajs refetches unresolved offsets).
      resolveOffset((BigInt(offset) - 1n).toString());
    };

    // 1. decode
    const pending: Pending[] = [];
    const undecodable: Array<{ p: Pending; reason: string; code: DeadLetterReason }> = [];
    for (const m of messages) {
      const p: Pending = { offset: m.offset, write: undefined, message: m };
      if (!m.value || isSentinel(m.key)) {
        tracker.ack(m.offset);
        continue;
      }
      try {
        p.write = this.decode(topic, m);
        pending.push(p);
      } catch (err) {
        undecodable.push({
          p,
          reason: `cannot decode: ${(err as Error).message}`,
          code: decodeFailureReason(err, DeadLetterReasons.MALFORMED_INPUT),
        });
      }
    }

    // 2. indices
    for (const p of pending) {
      if (p.write?.kind !== 'usage' || this.knownIndices.has(p.write.index)) continue;
      await this.untilDone(heartbeat, running, 'create index', async () => {
        await ensureUsageIndex(this.o.es, names, (p.write as { billingPeriod: string }).billingPeriod);
      });
      this.knownIndices.add(p.write.index);
    }

    // 3. bulk, 4. dead letters, 5. commit
    const actions = pending.map((p) => this.toAction(p));
    const chunks = chunkActions(
      actions,
      Math.max(1, options.bulk_max_docs),
      Math.max(1, options.bulk_max_bytes),
    );
    const rejected: Array<{ p: Pending; reason: string; status: number }> = [];
    const queue = [...chunks];
    const worker = async () => {
      for (let chunk = queue.shift(); chunk; chunk = queue.shift()) {
        const rejects = await this.sendChunk(chunk, heartbeat, running);
        await this.deadLetter(rejects);
        rejected.push(...rejects);
        for (const a of chunk) tracker.ack(a.source.offset);
        await commit();
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, options.bulk_concurrency) }, worker));
    if (undecodable.length) {
      await this.deadLetter(undecodable.map((u) => ({ ...u, status: 0 })));
      for (const u of undecodable) tracker.ack(u.p.offset);
    }
    await commit();
    metrics.sent(pending.length - rejected.length);
    if (pending.length > rejected.length && topic === this.o.topics.rated) this.indexed();
  }

  private decode(topic: string, m: KafkaMessage): SinkWrite {
    const { topics, names } = this.o;
    if (topic === topics.rated)
      return (
        usageWriteFromAvro(names, m.value!) ??
        usageWrite(names, AvroTypes.usageRecord.fromBuffer(m.value!) as UsageRecord)
      );
    if (topic === topics.control)
      return revisionWrite(AvroTypes.revisionControl.fromBuffer(m.value!) as RevisionControl, m.offset);
    return deadLetterWrite(AvroTypes.deadLetter.fromBuffer(m.value!) as DeadLetter);
  }

  private toAction(p: Pending): BulkAction<Pending> {
    const w = p.write!;
    const { names } = this.o;
    if (w.kind === 'usage') return bulkActionJson({ index: { _index: w.index, _id: w.id } }, w.json, p);
    if (w.kind === 'revision')
      return bulkAction(
        { update: { _index: names.revisions, _id: w.id, retry_on_conflict: 5 } },
        { doc: { ...w.partial, updated_at: new Date().toISOString() }, upsert: w.upsert },
        p,
      );
    return bulkAction({ index: { _index: names.deadLetters, _id: w.id } }, w.doc, p);
  }

  /** Sends one chunk until every item is acknowledged or rejected; returns the rejected ones. */
  private async sendChunk(
    chunk: BulkAction<Pending>[],
    heartbeat: () => Promise<void>,
    running: () => boolean,
  ): Promise<Array<{ p: Pending; reason: string; status: number }>> {
    const rejected: Array<{ p: Pending; reason: string; status: number }> = [];
    let todo = chunk;
    for (let attempt = 0; todo.length > 0; attempt++) {
      if (attempt > 0) await this.backoff(attempt - 1, heartbeat, running);
      let items: Array<Record<string, unknown>>;
      const timer = this.bulkSeconds.startTimer();
      try {
        const response = await withHeartbeats(heartbeat, this.heartbeatEveryMs, () =>
          this.o.es.bulk({ body: bulkBody(todo), filter_path: BULK_RESPONSE_FIELDS } as never),
        );
        items = response.items as Array<Record<string, unknown>>;
      } catch (err) {
        // The request as a whole failed: cluster unreachable, timeout, 5xx. Nothing is known to be
        // indexed, so every item goes again.
        const e = classifyError(err);
        // A request Elasticsearch refuses as a whole for good (bad credentials, 400 on the request)
        // would be refused forever: fail loudly; kafkajs restarts from the last commit.
        if (!e.retryable) throw e;
        this.retries.inc({ reason: 'request' }, todo.length);
        if (attempt === 0 || attempt % 10 === 0)
          this.o.logger.warn(
            { err: e.message, items: todo.length, attempt },
            'bulk request failed; retrying',
          );
        continue;
      } finally {
        timer();
      }
      const again: BulkAction<Pending>[] = [];
      items.forEach((item, i) => {
        const result = Object.values(item)[0] as Parameters<typeof classifyItem>[0];
        const outcome = classifyItem(result);
        if (outcome.kind === 'conflict') this.conflicts.inc();
        else if (outcome.kind === 'retry') {
          again.push(todo[i]);
          this.retries.inc({ reason: String(outcome.status) });
        } else if (outcome.kind === 'reject')
          rejected.push({ p: todo[i].source, reason: outcome.reason, status: outcome.status });
      });
      todo = again;
    }
    return rejected;
  }

  private async backoff(
    attempt: number,
    heartbeat: () => Promise<void>,
    running: () => boolean,
  ): Promise<void> {
    const { options } = this.o;
    let wait = backoffDelayMs(Math.min(attempt, 16), {
      base_delay_ms: options.retry_base_delay_ms,
      max_delay_ms: options.retry_max_delay_ms,
    });
    // Heartbeat while waiting, so a cluster outage never looks like a dead consumer.
    while (wait > 0) {
      if (this.stopping || !running()) throw new Stopping();
      const step = Math.min(wait, 1000);
      await sleep(step);
      wait -= step;
      await heartbeat();
    }
    if (this.stopping || !running()) throw new Stopping();
  }

  private async untilDone(
    heartbeat: () => Promise<void>,
    running: () => boolean,
    what: string,
    fn: () => Promise<void>,
  ): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await withHeartbeats(heartbeat, this.heartbeatEveryMs, fn);
      } catch (err) {
        const e = classifyError(err);
        if (!e.retryable) throw e;
        if (attempt % 10 === 0) this.o.logger.warn({ err: e.message, attempt }, `${what} failed; retrying`);
        await this.backoff(attempt, heartbeat, running);
      }
    }
  }

  /** `code` overrides the reason the HTTP status implies (a message that did not decode has none). */
  private async deadLetter(
    rejects: Array<{ p: Pending; reason: string; status: number; code?: DeadLetterReason }>,
  ): Promise<void> {
    const { topics, metrics, logger } = this.o;
    // The sink reads the dead-letter topic too: a dead letter of its own that Elasticsearch refuses
    // is logged, never dead-lettered again (that would loop).
    const own = rejects.filter(
      (r) => r.p.write?.kind === 'dead-letter' && r.p.write.doc.stage === 'sink.elasticsearch',
    );
    for (const r of own) {
      metrics.failed(DeadLetterReasons.MAPPING_ERROR);
      logger.error(
        { offset: r.p.offset, reason: r.reason },
        'a sink dead letter could not be indexed; dropped',
      );
    }
    rejects = rejects.filter((r) => !own.includes(r));
    if (rejects.length === 0) return;
    const messages = rejects.map(({ p, reason, status, code }) => {
      const w = p.write;
      const record = w?.kind === 'usage' ? (w.record ?? usageRecordOf(p.message)) : undefined;
      return deadLetterMessage({
        stage: 'sink.elasticsearch',
        reason: code ?? deadLetterReasonOf(status),
        message: status === 0 ? reason : `Elasticsearch rejected the document (HTTP ${status}): ${reason}`,
        provider: record?.ProviderName ?? null,
        scope: record?.x_Scope ?? null,
        revision_id: record?.x_Revision ?? null,
        object: record?.x_SourceObject ?? null,
        line: record ? record.x_SourceLine : null,
        record_id: record?.x_RecordId ?? null,
        payload: p.message.value ?? Buffer.alloc(0),
        payload_format: record ? 'avro:UsageRecord' : 'avro:unknown',
      });
    });
    await this.producer!.send({ topic: topics.deadLetter, acks: -1, messages });
    for (const r of rejects) metrics.failed(r.code ?? deadLetterReasonOf(r.status));
    logger.warn(
      { count: rejects.length, first: rejects[0].reason },
      'documents Elasticsearch will not take were dead-lettered',
    );
  }
}

/**
 * The record of a usage document Elasticsearch rejected, for its dead letter: the sink writes most
 * documents without decoding their record (usage-json.ts), so it is decoded here, for the few.
 */
function usageRecordOf(message: KafkaMessage): UsageRecord | undefined {
  try {
    return AvroTypes.usageRecord.fromBuffer(message.value!) as UsageRecord;
  } catch {
    // Not reachable for a value the sink turned into a document; the dead letter keeps its bytes.
    return undefined;
  }
}
