import crypto from 'node:crypto';
import type { Client } from '@elastic/elasticsearch';
import type { Admin, Kafka } from 'kafkajs';
import { isSentinel } from '../../processors/core/dead-letter';
import { scanAll } from '../../runtime/elasticsearch';
import type { UsageRecord } from '../../schemas';
import { decodeUsageRecords } from '../../schemas/usage-record-batch';
import { eventually } from '../integration/helpers';

/**
 * Resolves once `group` has committed, on every partition of `topics`, the topic's end: whatever
 * was produced before the call has been handled. (Transaction markers take offsets, so "end" is
 * the high watermark, which a read_committed consumer's commit reaches after the last marker.)
 */
export async function caughtUp(
  kafka: Kafka,
  group: string,
  topics: string[],
  timeoutMs: number,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = new Map<string, string>();
    for (const topic of topics)
      for (const p of await admin.fetchTopicOffsets(topic)) ends.set(`${topic}/${p.partition}`, p.high);
    await eventually(
      async () => {
        const committed = await admin.fetchOffsets({ groupId: group, topics });
        for (const t of committed)
          for (const p of t.partitions) {
            const end = BigInt(ends.get(`${t.topic}/${p.partition}`) ?? '0');
            if (BigInt(p.offset === '-1' ? '0' : p.offset) < end) return undefined;
          }
        return true;
      },
      timeoutMs,
      200,
    );
  } finally {
    await admin.disconnect();
  }
}

interface CommitSample {
  /** The sink group's committed offset per partition of the rated topic. */
  committed: Map<number, bigint>;
  /** Ids of every usage document Elasticsearch held (refreshed) right after reading `committed`. */
  ids: Set<string>;
}

/**
 * Oracle 5: no offset the sink commits is ahead of an Elasticsearch acknowledgement. While a
 * scenario runs, the watcher samples the sink group's committed offsets on the rated topic and,
 * right after each change, the ids of every usage document in Elasticsearch (read directly, around
 * any fault proxy, after a refresh so that every acknowledged write is visible). `verify` then
 * reads the rated topic and checks that every record below a sampled committed offset was among
 * that sample's documents: a sink that committed before its bulk was acknowledged (and would lose
 * those records on a crash) fails it.
 */
export class CommitWatcher {
  private readonly samples: CommitSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private last = '';
  private admin: Admin | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly es: Client,
    private readonly group: string,
    private readonly topic: string,
    private readonly usagePattern: string,
  ) {}

  async start(intervalMs = 1_000): Promise<void> {
    this.admin = this.kafka.admin();
    await this.admin.connect();
    this.timer = setInterval(() => void this.sample(), intervalMs);
  }

  private async sample(): Promise<void> {
    if (this.busy || !this.admin) return;
    this.busy = true;
    try {
      const [t] = await this.admin.fetchOffsets({ groupId: this.group, topics: [this.topic] });
      const committed = new Map(
        (t?.partitions ?? [])
          .filter((p) => p.offset !== '-1')
          .map((p) => [p.partition, BigInt(p.offset)] as const),
      );
      const key = JSON.stringify([...committed].map(([p, o]) => [p, o.toString()]));
      if (committed.size === 0 || key === this.last) return;
      await this.es.indices.refresh({
        index: this.usagePattern,
        ignore_unavailable: true,
        allow_no_indices: true,
      });
      const ids = new Set<string>();
      for await (const hits of scanAll(this.es, this.usagePattern, { match_all: {} }, false))
        for (const h of hits) ids.add(h._id!);
      this.samples.push({ committed, ids });
      this.last = key;
    } catch {
      // A sample that cannot be taken (the broker restarting) is skipped, not judged.
    } finally {
      this.busy = false;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    while (this.busy) await new Promise((r) => setTimeout(r, 50));
    await this.admin?.disconnect();
    this.admin = undefined;
  }

  /**
   * Checks every sample against the rated topic; `exempt` names records whose documents may
   * legitimately be gone (a superseded revision's). Returns how many samples were checked.
   */
  async verify(exempt: (record: UsageRecord) => boolean = () => false): Promise<number> {
    await this.stop();
    const records = await readWithOffsets(this.kafka, this.topic);
    const missing: string[] = [];
    for (const s of this.samples)
      for (const r of records) {
        const committed = s.committed.get(r.partition);
        if (committed === undefined || r.offset >= committed) continue;
        for (const record of r.records)
          if (!s.ids.has(record.x_RecordId) && !exempt(record))
            missing.push(
              `${record.x_RecordId} (partition ${r.partition}, offset ${r.offset}, committed ${committed})`,
            );
      }
    expect(missing.slice(0, 5)).toEqual([]);
    return this.samples.length;
  }
}

/** Every usage record of `topic` with its partition and offset (read_committed; sentinels skipped). */
async function readWithOffsets(
  kafka: Kafka,
  topic: string,
): Promise<Array<{ partition: number; offset: bigint; records: UsageRecord[] }>> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
  await admin.disconnect();
  const out: Array<{ partition: number; offset: bigint; records: UsageRecord[] }> = [];
  const consumer = kafka.consumer({
    groupId: `${topic}.oracle-${crypto.randomUUID()}`,
    readUncommitted: false,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const reached = new Set<number>();
  let lastMessage = Date.now();
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      lastMessage = Date.now();
      const offset = BigInt(message.offset);
      if (offset + 1n >= (ends.get(partition) ?? 0n)) reached.add(partition);
      if (isSentinel(message.key) || !message.value) return;
      out.push({ partition, offset, records: decodeUsageRecords(message.value, message.headers) });
    },
  });
  // Transaction markers take the last offsets of a transactional topic, so "the end" is also
  // reached when nothing more arrives.
  await eventually(
    async () =>
      [...ends].every(([p, end]) => end === 0n || reached.has(p)) || Date.now() - lastMessage > 5_000
        ? true
        : undefined,
    120_000,
    250,
  );
  await consumer.disconnect();
  return out;
}
