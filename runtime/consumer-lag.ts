import type { Admin, Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { Logger } from './logger';
import { gauge, stageCounter } from './metrics';

/** How often a stage's consumer lag is read: cheap (two small admin requests per topic), and fine-grained enough for alerts that wait minutes. */
export const LAG_POLL_INTERVAL_MS = 30_000;

export interface PartitionEnd {
  partition: number;
  low: string;
  high: string;
}

export interface PartitionCommit {
  partition: number;
  /** The group's committed offset (the next offset it will read); "-1" when it never committed. */
  offset: string;
}

/** Where the offsets come from: the Kafka admin API in production, a fake in unit tests. */
export interface OffsetsSource {
  committed(
    groupId: string,
    topics: string[],
  ): Promise<Array<{ topic: string; partitions: PartitionCommit[] }>>;
  ends(topic: string): Promise<PartitionEnd[]>;
  close(): Promise<void>;
}

/**
 * Messages a group still has to read, per partition: the end of the partition minus where the group
 * resumes. A group that never committed, or whose committed offset fell below the partition's
 * start (retention deleted it), resumes at the start (meterflow consumers read from the beginning),
 * so everything retained counts. On a transactional topic an idle group reads 1 per partition
 * after a transaction: the commit marker takes an offset but is never delivered.
 */
export function computeLag(
  ends: PartitionEnd[],
  committed: PartitionCommit[],
): Array<{ partition: number; lag: number }> {
  const at = new Map(committed.map((c) => [c.partition, Number(c.offset)]));
  return ends
    .map((e) => {
      const low = Number(e.low);
      const high = Number(e.high);
      const offset = at.get(e.partition) ?? -1;
      const resume = offset < low ? low : offset;
      return { partition: e.partition, lag: Math.max(0, high - resume) };
    })
    .sort((a, b) => a.partition - b.partition);
}

/** The admin API, over ONE admin client kept connected between polls (reconnected after a failure). */
export function kafkaOffsetsSource(kafka: Kafka): OffsetsSource {
  let admin: Admin | undefined;
  const connected = async (): Promise<Admin> => {
    if (admin) return admin;
    const a = kafka.admin();
    await a.connect();
    admin = a;
    return a;
  };
  const drop = async () => {
    const a = admin;
    admin = undefined;
    await a?.disconnect().catch(() => undefined);
  };
  const guarded = async <T>(fn: (a: Admin) => Promise<T>): Promise<T> => {
    try {
      return await fn(await connected());
    } catch (err) {
      await drop();
      throw err;
    }
  };
  return {
    committed: (groupId, topics) => guarded((a) => a.fetchOffsets({ groupId, topics })),
    ends: (topic) => guarded((a) => a.fetchTopicOffsets(topic)),
    close: drop,
  };
}

export interface ConsumerLagOptions {
  registry: Registry;
  /** The stage, as in every other metric (`processor.dedupe`, `sink.elasticsearch`). */
  component: string;
  groupId: string;
  topics: string[];
  source: OffsetsSource;
  logger: Logger;
  intervalMs?: number;
}

/**
 * Exports `meterflow_consumer_lag_messages{component,group,topic,partition}` for one consumer group,
 * read every LAG_POLL_INTERVAL_MS in the background. A failed read is counted
 * (`meterflow_consumer_lag_poll_errors_total`) and logged once per run of failures; it never
 * throws into the stage and never delays it: the stage's consumer does not wait on this.
 */
export class ConsumerLagMonitor {
  private readonly lag;
  private readonly errors;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private failing = false;

  constructor(private readonly o: ConsumerLagOptions) {
    this.lag = gauge(
      o.registry,
      'meterflow_consumer_lag_messages',
      'Messages the consumer group has not read yet, per topic and partition (end offset minus committed offset)',
      ['component', 'group', 'topic', 'partition'],
    );
    this.errors = stageCounter(
      o.registry,
      'meterflow_consumer_lag_poll_errors_total',
      'Failed reads of the consumer lag (the lag gauge keeps its last values meanwhile)',
      ['component'],
    );
    // Present from the start (0): an alert on its increase then sees the first failure too.
    this.errors.inc({ component: o.component }, 0);
  }

  /** One read of the group's offsets and the topics' ends; updates the gauge. */
  async poll(): Promise<void> {
    const { source, groupId, topics, component } = this.o;
    const committed = new Map(
      (await source.committed(groupId, topics)).map((t) => [t.topic, t.partitions] as const),
    );
    for (const topic of topics) {
      const ends = await source.ends(topic);
      for (const { partition, lag } of computeLag(ends, committed.get(topic) ?? []))
        this.lag.set({ component, group: groupId, topic, partition: String(partition) }, lag);
    }
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.poll()
        .then(() => {
          if (this.failing) this.o.logger.info({ group: this.o.groupId }, 'consumer lag readable again');
          this.failing = false;
        })
        .catch((err: unknown) => {
          this.errors.inc({ component: this.o.component });
          if (!this.failing)
            this.o.logger.warn(
              { group: this.o.groupId, err: (err as Error).message },
              'could not read the consumer lag; the stage goes on, the next read retries',
            );
          this.failing = true;
        })
        .finally(() => {
          if (this.stopped) return;
          this.timer = setTimeout(tick, this.o.intervalMs ?? LAG_POLL_INTERVAL_MS);
          // A lag read never keeps a process alive on its own.
          this.timer.unref();
        });
    };
    tick();
  }

  /** Stops polling. Waits at most a second for a read in flight: shutdown never waits on metrics. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    let waited: NodeJS.Timeout | undefined;
    await Promise.race([
      this.running,
      new Promise<void>((resolve) => {
        waited = setTimeout(resolve, 1_000);
        waited.unref();
      }),
    ]);
    if (waited) clearTimeout(waited);
    await this.o.source.close();
  }
}

/** Starts a lag monitor for a stage's consumer group and stops it with the process. */
export function monitorConsumerLag(
  kafka: Kafka,
  options: Omit<ConsumerLagOptions, 'source'>,
  shutdown: { register(name: string, fn: () => Promise<void>): void },
): ConsumerLagMonitor {
  const monitor = new ConsumerLagMonitor({ ...options, source: kafkaOffsetsSource(kafka) });
  monitor.start();
  shutdown.register(`consumer lag of ${options.component}`, () => monitor.stop());
  return monitor;
}
