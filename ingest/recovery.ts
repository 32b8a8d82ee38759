import type { Kafka } from 'kafkajs';
import { EVENT_COLUMN } from '../providers/platform/columns';
import { SCHEMA_HEADER } from '../schemas';
import { decodeRawBatch } from '../schemas/raw-batch-codec';
import { eventRecordIdOf } from '../schemas/record-id';
import { fetchTopicOffsets, onConsumerStopped, transientGroupId } from '../runtime/kafka';

/**
 * The idempotency keys of every event committed to `<prefix>.raw.platform`, read at start so that
 * an event re-sent after a restart is still a duplicate. Read with read_committed from the
 * beginning up to the end offsets seen when the read starts (the ingest producer has connected
 * by then, which fenced the previous process and aborted its open transaction, so nothing of
 * ours can still commit below those offsets). Every instance's keys are read, so a re-send to
 * another instance after it restarted is caught too.
 *
 * The end of a partition is detected from kafkajs's END_BATCH_PROCESS events, which also fire for
 * batches holding only transaction markers (the last records of a transactional topic), so the
 * read finishes although such a batch delivers no message. Cost: the retained raw events are read
 * once per start (about 120 bytes of Avro each; 200,000 keys in about 2 s, bench/RESULTS.md, events).
 */
export async function committedEventKeys(
  kafka: Kafka,
  topic: string,
  timeoutMs = 120_000,
): Promise<string[]> {
  // The retrying read: just after the topic is created a broker can answer NOT_LEADER, and the
  // API would otherwise exit at start.
  const offsets = await fetchTopicOffsets(kafka, topic);
  const ends = new Map(offsets.filter((o) => BigInt(o.high) > 0n).map((o) => [o.partition, BigInt(o.high)]));
  if (ends.size === 0) return [];
  const keys: string[] = [];
  const consumer = kafka.consumer({
    groupId: transientGroupId(topic, 'ingest-keys'),
    readUncommitted: false,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`reading the accepted event keys from ${topic} timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      onConsumerStopped(consumer, reject);
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        const end = ends.get(payload.partition);
        if (end !== undefined && BigInt(payload.lastOffset) >= end - 1n) ends.delete(payload.partition);
        if (ends.size === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ message }) => {
            if (message.headers?.[SCHEMA_HEADER]?.toString() !== 'RawRowBatch' || !message.value) return;
            const batch = decodeRawBatch(message.value);
            for (const row of batch.rows)
              keys.push(eventRecordIdOf(row.values[EVENT_COLUMN.ce_source], row.values[EVENT_COLUMN.ce_id]));
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return keys;
}
