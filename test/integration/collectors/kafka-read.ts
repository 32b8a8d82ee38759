import { decodeRawBatch } from '../../../schemas/raw-batch-codec';
import crypto from 'node:crypto';
import type { IHeaders, Kafka } from 'kafkajs';
import { SENTINEL_PREFIX, isSentinel } from '../../../runtime/kafka';
import { columnsOf } from '../../../collectors/formats/rows';
import { AvroTypes, type DeadLetter, type RawUsageRow, type RevisionControl } from '../../../schemas';

/**
 * Reads a topic to its end as a read_committed consumer: the end is known by a sentinel record we
 * commit last, so the read is exact even on transactional topics (markers take offsets too).
 */
export async function readTopic<T>(
  kafka: Kafka,
  topic: string,
  decode: (value: Buffer, headers: IHeaders | undefined) => T,
  timeoutMs = 60_000,
): Promise<T[]> {
  const sentinel = `${SENTINEL_PREFIX}${crypto.randomUUID()}`;
  const admin = kafka.admin();
  await admin.connect();
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  await admin.disconnect();
  const partitions = meta.topics[0].partitions.map((p) => p.partitionId);
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic,
    messages: partitions.map((partition) => ({ partition, key: sentinel, value: Buffer.from(sentinel) })),
  });
  await producer.disconnect();

  const out: T[] = [];
  const done = new Set<number>();
  const consumer = kafka.consumer({ groupId: `reader-${crypto.randomUUID()}`, readUncommitted: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${topic} timed out`)), timeoutMs);
      void consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            if (message.key?.toString() === sentinel) {
              done.add(partition);
              if (done.size === partitions.length) {
                clearTimeout(timer);
                resolve();
              }
              return;
            }
            if (isSentinel(message.key)) return;
            out.push(decode(message.value!, message.headers));
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** The rows of a raw-topic v2 message (RawRowBatch), each in the v1 name -> value form. */
export function decodeRaw(v: Buffer): RawUsageRow[] {
  const b = decodeRawBatch(v);
  const { header, rows, ...constants } = b;
  return rows.map((r) => ({ ...constants, line: r.line, columns: columnsOf(header, r.values) }));
}

/** Every row on a raw topic, in the v1 name -> value form. */
export async function readRawRows(kafka: Kafka, topic: string, timeoutMs?: number): Promise<RawUsageRow[]> {
  return (await readTopic(kafka, topic, decodeRaw, timeoutMs)).flat();
}
export const decodeControl = (v: Buffer) => AvroTypes.revisionControl.fromBuffer(v) as RevisionControl;
export const decodeDeadLetter = (v: Buffer) => AvroTypes.deadLetter.fromBuffer(v) as DeadLetter;
