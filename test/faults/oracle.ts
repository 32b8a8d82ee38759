import type { Kafka } from 'kafkajs';
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
