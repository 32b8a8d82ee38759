import crypto from 'node:crypto';
import type { Kafka, Producer } from 'kafkajs';
import { SENTINEL_PREFIX } from '../../runtime/kafka';

/**
 * Collector checkpoints live in Kafka, in a single-partition compacted topic keyed by scope, so a
 * collector holds no local state and any replacement instance can take over.
 *
 * A checkpoint is written in the SAME Kafka transaction as the rows it covers, so the two can never
 * disagree: after a crash, a read_committed reader sees either the rows and the checkpoint that
 * covers them, or neither. On start-up the collector reads the topic to its end: it commits a
 * sentinel record (its own nonce) through its transactional producer, then reads until that nonce
 * appears. Transaction markers make "the end" of a transactional topic hard to tell from offsets
 * alone; the sentinel makes it exact.
 */
export interface Checkpoint {
  scope: string;
  revision_id: string;
  state: 'in_progress' | 'completed' | 'failed';
  /** Index in the revision's file list of the object holding the last produced line. */
  file_index: number;
  /** Last line produced (or dead-lettered) in that object; 0 before the first. */
  line: number;
  rows: number;
  dead_letters: number;
  /** currency -> exact decimal text and row count, over the rows produced so far. */
  totals: Record<string, { billed_cost: string; rows: number }>;
  started_at: string;
  updated_at: string;
  error?: string;
}

export function checkpointMessage(cp: Checkpoint): { key: string; value: string } {
  return { key: cp.scope, value: JSON.stringify(cp) };
}

export async function loadCheckpoints(
  kafka: Kafka,
  producer: Producer,
  topic: string,
  instance: string,
  timeoutMs = 60_000,
): Promise<Map<string, Checkpoint>> {
  const nonce = crypto.randomUUID();
  const tx = await producer.transaction();
  try {
    await tx.send({ topic, messages: [{ key: `${SENTINEL_PREFIX}${instance}`, value: nonce }] });
    await tx.commit();
  } catch (err) {
    await tx.abort().catch(() => undefined);
    throw err;
  }

  const checkpoints = new Map<string, Checkpoint>();
  const consumer = kafka.consumer({
    groupId: `meterflow-checkpoint-reader-${crypto.randomUUID()}`,
    readUncommitted: false,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`reading checkpoints from ${topic} timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ message }) => {
            const key = message.key?.toString() ?? '';
            const value = message.value?.toString();
            if (key.startsWith(SENTINEL_PREFIX)) {
              if (value === nonce) {
                clearTimeout(timer);
                resolve();
              }
              return;
            }
            // A null value is a tombstone: the scope's checkpoint was deleted.
            if (value === undefined) checkpoints.delete(key);
            else checkpoints.set(key, JSON.parse(value) as Checkpoint);
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return checkpoints;
}
