import type { Processor } from '../../schemas/stages';
import crypto from 'node:crypto';
import type { Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import { fetchTopicOffsets, onConsumerStopped, transientGroupId } from '../../runtime/kafka';
import type { StageMetrics } from '../../runtime/metrics';
import type { UsageRecord } from '../../schemas';
import {
  decodeRecordKeys,
  decodeUsageRecords,
  type RecordKey,
  usageRecordBatchMessage,
  usageRecordFormatOf,
} from '../../schemas/usage-record-batch';
import { DeadLetterReasons } from '../../runtime/errors';
import { SENTINEL_PREFIX, isSentinel, undecodableMessage, decodeFailureReason } from '../core/dead-letter';
import type { StageOutput } from '../core/transactional-stage';
import { DedupeState, revisionKeyOf } from './dedupe';

/**
 * dedupe: emits each x_RecordId once per revision. A batch message (schemas/usage-record-batch.ts)
 * goes on unchanged when none of its records is a duplicate, else re-encoded without them, under
 * the same key. Its state lives in Kafka: the deduped topic
 * itself is the record of what was emitted, and an instance rebuilds its DedupeState from the tail
 * of that topic before it consumes anything (see rebuildDedupeState).
 */
export function dedupeProcessor(
  state: DedupeState,
  topics: { deduped: string; deadLetter: string },
  metrics: StageMetrics,
): Processor {
  return async (messages: KafkaMessage[]): Promise<StageOutput[]> => {
    const out: Message[] = [];
    const dead: Message[] = [];
    let sent = 0;
    for (const m of messages) {
      // Only the ids are read: a message that keeps all its records goes on as it came, and only
      // a batch that lost some is decoded whole, to be written again without them.
      let keys: RecordKey[];
      try {
        keys = decodeRecordKeys(m.value!, m.headers);
      } catch (err) {
        metrics.failed(decodeFailureReason(err, DeadLetterReasons.SCHEMA_VIOLATION));
        dead.push(undecodableMessage('processor.dedupe', usageRecordFormatOf(m.headers), m, err));
        continue;
      }
      const first = keys.map(
        (k) => state.observe(revisionKeyOf(k.x_Scope, k.x_Revision), k.x_RecordId) !== 'duplicate',
      );
      const kept = first.filter(Boolean).length;
      if (kept < keys.length) metrics.dropped('duplicate_record_id', true, keys.length - kept);
      sent += kept;
      if (kept === 0) continue;
      if (kept === keys.length) {
        // Nothing dropped: the message goes on as it came (same key, same form), not re-encoded.
        out.push({ key: m.key, value: m.value, headers: m.headers });
      } else {
        // Only a batch can lose some of its records and keep others. Reading its keys went through
        // every byte of it already, so decoding it whole does not throw.
        const records = decodeUsageRecords(m.value!, m.headers).filter((_, i) => first[i]);
        out.push(usageRecordBatchMessage(String(m.key), records));
      }
    }
    metrics.sent(sent);
    return [
      { topic: topics.deduped, messages: out },
      { topic: topics.deadLetter, messages: dead },
    ];
  };
}

/**
 * Reads the last `max_ids` records of the deduped topic into the state. To know where the
 * topic ends under transactions (markers occupy offsets), the stage commits one sentinel record to
 * every partition through its own transactional producer and reads until it has seen them all;
 * downstream readers skip sentinel keys. A record that does not decode is skipped and counted (it
 * cannot be remembered, and failing here would stop the stage from ever starting).
 */
export async function rebuildDedupeState(
  kafka: Kafka,
  producer: Producer,
  topic: string,
  state: DedupeState,
  maxIds: number,
  timeoutMs = 120_000,
): Promise<{ loaded: number; skipped: number }> {
  const offsets = await fetchTopicOffsets(kafka, topic);
  const nonce = `${SENTINEL_PREFIX}${crypto.randomUUID()}`;
  const tx = await producer.transaction();
  try {
    await tx.send({
      topic,
      messages: offsets.map((o) => ({ partition: o.partition, key: nonce, value: Buffer.alloc(0) })),
    });
    await tx.commit();
  } catch (err) {
    await tx.abort().catch(() => undefined);
    throw err;
  }
  const perPartition = Math.ceil(maxIds / Math.max(1, offsets.length));
  const consumer = kafka.consumer({
    groupId: transientGroupId(topic, 'rebuild'),
    readUncommitted: false,
  });
  let loaded = 0;
  let skipped = 0;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const done = new Set<number>();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`rebuilding dedupe state from ${topic} timed out`)),
        timeoutMs,
      );
      onConsumerStopped(consumer, reject);
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            if (isSentinel(message.key)) {
              if (message.key!.toString() === nonce) {
                done.add(partition);
                if (done.size === offsets.length) {
                  clearTimeout(timer);
                  resolve();
                }
              }
              return;
            }
            let records: UsageRecord[];
            try {
              records = decodeUsageRecords(message.value!, message.headers);
            } catch {
              // The price stage dead-letters such a message; here it only cannot be remembered.
              skipped++;
              return;
            }
            for (const record of records) {
              state.remember(revisionKeyOf(record.x_Scope, record.x_Revision), record.x_RecordId);
            }
            loaded += records.length;
          },
        })
        .catch(reject);
      // Start each partition at most `perPartition` records before its end.
      for (const o of offsets) {
        const start = BigInt(o.high) - BigInt(perPartition);
        const low = BigInt(o.low);
        consumer.seek({ topic, partition: o.partition, offset: (start > low ? start : low).toString() });
      }
    });
  } finally {
    await consumer.disconnect();
  }
  return { loaded, skipped };
}
