// First: it replaces kafkajs internals before kafkajs loads them (see the module).
import './kafkajs-patches';
import crypto from 'node:crypto';
import fs from 'node:fs';
import {
  Kafka,
  logLevel,
  type Admin,
  type Consumer,
  type KafkaConfig,
  type SASLOptions,
  type LogEntry,
  type Message,
  type Producer,
  type ProducerConfig,
  type RetryOptions,
  type TopicMessages,
} from 'kafkajs';
import type { MeterflowConfig } from './config';
import type { Logger } from './logger';
import { ErrorCodes, TransientError } from './errors';
import { retry, type RetryOptions as BackoffOptions } from './retry';
import { keyHashPartitioner } from './kafka-partitioner';

/** Topic names, all derived from kafka.topic_prefix. */
export function topicNames(config: MeterflowConfig) {
  const p = config.kafka.topic_prefix;
  return {
    raw: (provider: string) => `${p}.raw.${provider}`,
    control: `${p}.control`,
    collectorCheckpoints: `${p}.collector-checkpoints`,
    // `meterflow pricebook rerate`: the scopes a re-rate has committed (processors/rerate/).
    rerateCheckpoints: `${p}.rerate-checkpoints`,
    normalized: `${p}.normalized`,
    deduped: `${p}.deduped`,
    rated: `${p}.rated`,
    deadLetter: `${p}.dead-letter`,
    priceBook: `${p}.price-book`,
    audit: `${p}.audit`,
    revisionEvents: `${p}.revision-events`,
    invoiceEvents: `${p}.invoice-events`,
  };
}

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * kafkajs with meterflow's defaults for every producer it makes: the partitioner is kafkajs's
 * default choice at a fraction of its CPU (runtime/kafka-partitioner.ts). Giving one also keeps
 * kafkajs from warning, on every producer, that its default partitioner changed in v2.
 */
class MeterflowKafka extends Kafka {
  override producer(config: ProducerConfig = {}): Producer {
    return super.producer({ createPartitioner: keyHashPartitioner, ...config });
  }
}

/**
 * How long a long-running consumer's fetch waits on the broker for data (kafkajs default 5 s).
 * Stopping a consumer waits for its fetch in flight, so this bounds each consumer's part of a
 * shutdown (ops.shutdown_timeout_ms, 10 s for the whole process); an idle consumer then asks
 * once a second, which costs nothing measurable, and a busy one never waits at all.
 */
export const CONSUMER_MAX_WAIT_MS = 1000;

/**
 * The offset to commit once a fetched batch is done: past its last offset, which counts the
 * transaction commit markers and aborted records a read_committed consumer is never given.
 * Committing only past the last delivered message would leave the group short of a trailing
 * marker for good (a lag that never reaches 0) and, mid-batch, make kafkajs fetch the rest again.
 */
export function endOfFetch(batch: { lastOffset(): string }): string {
  return (BigInt(batch.lastOffset()) + 1n).toString();
}

export function createKafka(
  config: MeterflowConfig,
  component: string,
  logger?: Logger,
  // A bounded check (runtime/kafka-reachable.ts) gives up sooner than a working client.
  retryOverride?: RetryOptions,
): Kafka {
  const k = config.kafka;
  const options: KafkaConfig = {
    clientId: `${k.client_id}-${component}`,
    brokers: k.brokers,
    connectionTimeout: k.connection_timeout_ms,
    requestTimeout: k.request_timeout_ms,
    // kafkajs's own retry for broker requests; our retry helper wraps whole operations.
    retry: retryOverride ?? { initialRetryTime: 300, retries: 10, maxRetryTime: 30_000 },
    logLevel: logger ? logLevel.WARN : logLevel.NOTHING,
    logCreator: () => (entry: LogEntry) => {
      if (!logger) return;
      const { message, ...extra } = entry.log;
      // kafkajs logs every retried request at ERROR; those are expected during broker restarts.
      // Two warnings are known and harmless here: the retry-limit note on idempotent producers
      // (exactly-once rests on transactions and fencing, not on unbounded retries) and the broker's
      // CONCURRENT_TRANSACTIONS answer that kafkajs retries while a partition joins a transaction.
      const known =
        /Limiting retries for the idempotent producer|another concurrent operation on the same transaction/.test(
          String(message),
        );
      const level = known
        ? 'debug'
        : LEVELS[entry.level] === 'error'
          ? 'warn'
          : (LEVELS[entry.level] ?? 'info');
      logger[level]({ kafka: entry.namespace, ...extra }, message);
    },
  };
  if (k.tls.enabled) {
    options.ssl = {
      rejectUnauthorized: k.tls.reject_unauthorized,
      ca: k.tls.ca_file ? [fs.readFileSync(k.tls.ca_file, 'utf8')] : undefined,
      cert: k.tls.cert_file ? fs.readFileSync(k.tls.cert_file, 'utf8') : undefined,
      key: k.tls.key_file ? fs.readFileSync(k.tls.key_file, 'utf8') : undefined,
    };
  }
  if (k.sasl) {
    options.sasl = {
      mechanism: k.sasl.mechanism,
      username: k.sasl.username,
      password: k.sasl.password,
    } as SASLOptions;
  }
  return new MeterflowKafka(options);
}

/**
 * A one-off consumer group that reads `topic` from its start and commits nothing (state rebuilds,
 * price-book followers). Named after the topic, so it carries the topic prefix: two pipelines on
 * one cluster never share one, and a Kafka ACL grants it by prefix (`<topic>.`).
 */
export function transientGroupId(topic: string, purpose: string): string {
  return `${topic}.${purpose}-${crypto.randomUUID()}`;
}

/**
 * Calls `fail` with the consumer's error when kafkajs stops it for good (a crash it does not
 * restart from, such as an authorization failure), so that a read that waits for the end of a
 * topic fails at once, naming the cause, instead of at its timeout.
 */
export function onConsumerStopped(consumer: Consumer, fail: (err: Error) => void): void {
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (!payload.restart) fail(payload.error);
  });
}

/**
 * What each topic meterflow creates is for decides how it is kept, stated here rather than
 * inherited from the broker's defaults: the price book and the collector and re-rate checkpoints are state
 * (compacted, one partition: the latest value per key is all that matters, in order); every other
 * topic is a log kept for `kafka.topic_retention_days`. Unknown names (benchmarks) get the
 * broker's retention and the caller's partitions.
 */
export function topicSettings(
  config: MeterflowConfig,
  topic: string,
): { partitions?: number; compacted: boolean; retentionDays?: number } | undefined {
  const names = topicNames(config);
  const days = config.kafka.topic_retention_days;
  if (topic === names.priceBook || topic === names.collectorCheckpoints || topic === names.rerateCheckpoints)
    return { partitions: 1, compacted: true };
  const logs: Array<[string, number]> = [
    [names.control, days.control],
    [names.normalized, days.normalized],
    [names.deduped, days.deduped],
    [names.rated, days.rated],
    // Kept as long as the rated records they describe.
    [names.revisionEvents, days.rated],
    // Finalized invoices are a record for billing systems: kept as long as the audit trail.
    [names.invoiceEvents, days.audit],
    [names.deadLetter, days.dead_letter],
    [names.audit, days.audit],
  ];
  const found = logs.find(([name]) => name === topic);
  if (found) return { compacted: false, retentionDays: found[1] };
  if (topic.startsWith(names.raw(''))) return { compacted: false, retentionDays: days.raw };
  return undefined;
}

const DAY_MS = 86_400_000;

/**
 * Create topics that are missing, with their stated settings (`topicSettings`), the configured
 * replication factor and min.insync.replicas. Existing topics are left as they are: changing a
 * live topic's retention is an operator's decision (`kafka-configs --alter`).
 */
export async function ensureTopics(
  kafka: Kafka,
  config: MeterflowConfig,
  topics: Array<{ topic: string; partitions?: number }>,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length > 0) await createMissing(admin, config, missing);
  } finally {
    await admin.disconnect();
  }
  await waitForLeaders(
    kafka,
    topics.map((t) => t.topic),
  );
}

/** About 30 s at most: longer than a leader election, short enough to fail a start clearly. */
const LEADER_WAIT: Partial<BackoffOptions> = { max_attempts: 10, base_delay_ms: 250, max_delay_ms: 5_000 };

async function createMissing(
  admin: Admin,
  config: MeterflowConfig,
  missing: Array<{ topic: string; partitions?: number }>,
): Promise<void> {
  // Not kafkajs's waitForLeaders: it retries only LEADER_NOT_AVAILABLE, and a broker that has not
  // yet loaded a just-created topic answers UNKNOWN_TOPIC_OR_PARTITION, which kafkajs then raises
  // out of createTopics and the component exited at start (seen in CI with four components
  // starting together). `waitForLeaders` below retries both, each time with fresh metadata.
  await admin.createTopics({
    waitForLeaders: false,
    topics: missing.map((t) => {
      const stated = topicSettings(config, t.topic);
      const compacted = stated?.compacted ?? false;
      const retention = stated?.retentionDays;
      return {
        topic: t.topic,
        numPartitions: stated?.partitions ?? t.partitions ?? config.kafka.topic_partitions,
        replicationFactor: config.kafka.topic_replication_factor,
        configEntries: [
          { name: 'cleanup.policy', value: compacted ? 'compact' : 'delete' },
          { name: 'min.insync.replicas', value: String(config.kafka.topic_min_insync_replicas) },
          ...(retention === undefined
            ? []
            : [{ name: 'retention.ms', value: retention === 0 ? '-1' : String(retention * DAY_MS) }]),
        ],
      };
    }),
  });
}

/**
 * Waits until every partition of the topics has a leader. Components start together, and the one
 * that creates a topic is not always the one that reads it first: the others see the topic listed
 * while its partitions have no leader yet, and a consumer's subscribe or a producer's first send
 * then fails with UNKNOWN_TOPIC_OR_PARTITION ("This server does not host this topic-partition")
 * and the component exits at start. Each attempt uses a new admin client, so it starts from fresh
 * metadata; the budget (about 15 s) outlasts a leader election.
 */
export async function waitForLeaders(
  kafka: Pick<Kafka, 'admin'>,
  topics: string[],
  options: Partial<BackoffOptions> = LEADER_WAIT,
): Promise<void> {
  await retry(async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const { topics: found } = await admin.fetchTopicMetadata({ topics });
      const leaderless = found.filter(
        (t) =>
          t.partitions.length === 0 || t.partitions.some((p) => p.partitionErrorCode !== 0 || p.leader < 0),
      );
      if (leaderless.length > 0)
        throw new TransientError(
          ErrorCodes.NETWORK,
          `kafka: no leader yet for ${leaderless.map((t) => t.name).join(', ')}`,
        );
    } finally {
      await admin.disconnect();
    }
  }, options);
}

/**
 * A topic's low and high offsets per partition. Just after a topic is created, or while a leader
 * moves, a broker can answer NOT_LEADER_FOR_PARTITION; kafkajs's admin gives up on that at once,
 * and a stage that read its topic's end at start-up then exited. Each attempt here uses a new admin
 * client, so it also starts from fresh metadata; the budget (about 15 s) outlasts a leader election.
 */
export async function fetchTopicOffsets(
  kafka: Kafka,
  topic: string,
): Promise<Array<{ partition: number; low: string; high: string }>> {
  return retry(
    async () => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        return await admin.fetchTopicOffsets(topic);
      } finally {
        await admin.disconnect();
      }
    },
    { max_attempts: 8, base_delay_ms: 250, max_delay_ms: 5_000 },
  );
}

/**
 * Sends topic messages in requests of at most `maxBytes` of payload each. kafkajs puts every
 * message of a partition in one record batch per request, and a broker refuses a batch above its
 * message.max.bytes (1 MB by default), so a large transaction must be split into several sends.
 * All sends of one transaction still commit or abort together.
 */
export async function sendChunked(
  sender: { sendBatch: (args: { topicMessages: TopicMessages[] }) => Promise<unknown> },
  topicMessages: TopicMessages[],
  maxBytes = 512 * 1024,
): Promise<void> {
  let chunk: TopicMessages[] = [];
  let bytes = 0;
  const flush = async () => {
    if (chunk.length) await sender.sendBatch({ topicMessages: chunk });
    chunk = [];
    bytes = 0;
  };
  for (const tm of topicMessages) {
    let current: Message[] = [];
    for (const m of tm.messages) {
      const size = sizeOf(m.value) + sizeOf(m.key) + 64;
      if (bytes + size > maxBytes && bytes > 0) {
        if (current.length) chunk.push({ topic: tm.topic, messages: current });
        current = [];
        await flush();
      }
      current.push(m);
      bytes += size;
    }
    if (current.length) chunk.push({ topic: tm.topic, messages: current });
  }
  await flush();
}

function sizeOf(v: Message['value'] | Message['key']): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}

/**
 * Sentinel records mark "the end of a topic as of now" for readers that must read a transactional
 * topic to its end (transaction markers occupy offsets, so the high watermark alone cannot say
 * where the last record is). A reader commits a sentinel with a fresh nonce and reads until it sees
 * it. Every consumer of meterflow topics skips keys with this prefix.
 */
export const SENTINEL_PREFIX = '__meterflow_sentinel__/';
export const isSentinel = (key: Buffer | string | null | undefined): boolean =>
  key !== null && key !== undefined && key.toString().startsWith(SENTINEL_PREFIX);

/**
 * Reads a transactional topic from its start to its end as of now, read_committed, handing every
 * record but sentinels to `each`. The end is exact: a sentinel with a fresh nonce is committed
 * through `producer` (a transactional producer) first, and the read stops when that nonce comes
 * back. Committing the sentinel also proves the producer's transactional id is initialised: a
 * transaction left open by a killed process with the same id has been aborted by then, so its
 * records are never read here (read_committed) nor later.
 */
export async function readToSentinel(
  kafka: Kafka,
  producer: { transaction: () => Promise<import('kafkajs').Transaction> },
  topic: string,
  owner: string,
  each: (message: { key: string; value: string | undefined; partition: number; offset: string }) => void,
  timeoutMs = 60_000,
): Promise<void> {
  const nonce = crypto.randomUUID();
  const tx = await producer.transaction();
  try {
    await tx.send({ topic, messages: [{ key: `${SENTINEL_PREFIX}${owner}`, value: nonce }] });
    await tx.commit();
  } catch (err) {
    await tx.abort().catch(() => undefined);
    throw err;
  }
  const consumer = kafka.consumer({ groupId: transientGroupId(topic, 'reader'), readUncommitted: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`reading ${topic} to its end timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      onConsumerStopped(consumer, reject);
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const key = message.key?.toString() ?? '';
            const value = message.value?.toString();
            if (key.startsWith(SENTINEL_PREFIX)) {
              if (value === nonce) {
                clearTimeout(timer);
                resolve();
              }
              return;
            }
            each({ key, value, partition, offset: message.offset });
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
}

/**
 * tx.sendOffsets with a retry for CONCURRENT_TRANSACTIONS. Right after a commit the coordinator is
 * still writing the previous transaction's markers, and kafkajs does not retry AddOffsetsToTxn on
 * that answer (kafkajs issues #430 and #1068); the Java client does. The transaction is still open
 * and nothing was written yet, so retrying the call inside it is safe.
 */
export async function sendOffsetsRetrying(
  tx: { sendOffsets: (args: Parameters<import('kafkajs').Transaction['sendOffsets']>[0]) => Promise<void> },
  args: Parameters<import('kafkajs').Transaction['sendOffsets']>[0],
  attempts = 20,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await tx.sendOffsets(args);
      return;
    } catch (err) {
      const e = err as { type?: string; message?: string };
      const concurrent =
        e.type === 'CONCURRENT_TRANSACTIONS' ||
        /another concurrent operation on the same transaction/.test(String(e.message));
      if (!concurrent || attempt >= attempts) throw err;
      await new Promise((r) => setTimeout(r, Math.min(1000, 20 * 2 ** attempt)));
    }
  }
}
