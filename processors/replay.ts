import crypto from 'node:crypto';
import type { Message } from 'kafkajs';
import type { MeterflowConfig } from '../runtime/config';
import { DeadLetterReasons, ErrorCodes, isDeadLetterReason, PermanentError } from '../runtime/errors';
import {
  createKafka,
  ensureTopics,
  fetchTopicOffsets,
  isSentinel,
  SENTINEL_PREFIX,
  sendChunked,
  sendOffsetsRetrying,
  topicNames,
} from '../runtime/kafka';
import { AvroTypes, SCHEMA_HEADER, type DeadLetter } from '../schemas';
import { USAGE_RECORD_BATCH } from '../schemas/usage-record-batch';
import type { Logger } from '../runtime/logger';
import { assertKafkaReachable } from '../runtime/kafka-reachable';
import { isReplayableStage, REPLAYABLE_STAGES } from './replay-stages';

/**
 * `meterflow replay --reason R [--stage S]`: re-drives dead letters once their cause is fixed (a
 * new price rule, a customer mapping), by writing each letter's original payload back to the input
 * topic of the stage that rejected it:
 *
 *   processor.price      -> <prefix>.deduped   (the record is priced again)
 *   processor.dedupe     -> <prefix>.normalized
 *   processor.normalize  -> <prefix>.raw.<provider>
 *
 * A letter whose payload is a batch (payload_format avro:RawRowBatch or avro:UsageRecordBatch: a
 * whole message that did not decode, such as one written with a schema a reader did not know yet)
 * goes back with the schema header that says so.
 *
 * Each (stage, reason) has its own consumer group on the dead-letter topic, and letters are
 * re-driven in Kafka transactions together with that group's offsets, so a letter is replayed
 * exactly once however often the command runs; a letter that fails again comes back as a new
 * dead letter and is replayed by the next run. Collector letters (lines that did not parse) cannot
 * be re-driven: the fix is a corrected export, which arrives as a new revision.
 */

/** Payload formats that travel with a schema header naming them on their topic. */
const BATCH_FORMATS = new Map([
  ['avro:RawRowBatch', 'RawRowBatch'],
  [`avro:${USAGE_RECORD_BATCH}`, USAGE_RECORD_BATCH],
]);

export interface ReplaySummary {
  replayed: number;
  skipped: number;
  byStage: Record<string, number>;
}

export async function runReplay(
  config: MeterflowConfig,
  reason: string,
  stage?: string,
  timeoutMs = 120_000,
  logger?: Logger,
): Promise<ReplaySummary> {
  // A misspelt reason would match no letter and leave a consumer group behind: refuse it.
  if (!isDeadLetterReason(reason)) {
    throw new PermanentError(
      ErrorCodes.CONFIG_INVALID,
      `unknown dead-letter reason "${reason}" (one of ${Object.values(DeadLetterReasons).join(', ')})`,
    );
  }
  if (stage && !isReplayableStage(stage)) {
    throw new PermanentError(
      ErrorCodes.CONFIG_INVALID,
      `cannot replay stage "${stage}": only ${REPLAYABLE_STAGES.join(', ')} letters can be re-driven`,
    );
  }
  const topics = topicNames(config);
  const kafka = createKafka(config, 'replay', logger);
  await assertKafkaReachable(config, 'replay');
  await ensureTopics(kafka, config, [{ topic: topics.deadLetter }]);
  const groupId = `${config.kafka.topic_prefix}.replay.${stage ?? 'all'}.${reason}`;
  const producer = kafka.producer({
    transactionalId: `${groupId}.producer`,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();

  // Mark the current end of the dead-letter topic with a committed sentinel per partition.
  const partitions = (await fetchTopicOffsets(kafka, topics.deadLetter)).map((o) => o.partition);
  const nonce = `${SENTINEL_PREFIX}replay-${crypto.randomUUID()}`;
  const tx0 = await producer.transaction();
  const marked = await tx0.send({
    topic: topics.deadLetter,
    messages: partitions.map((partition) => ({ partition, key: nonce, value: Buffer.alloc(0) })),
  });
  await tx0.commit();
  const sentinelOffsets = new Map(marked.map((m) => [m.partition, BigInt(m.baseOffset ?? m.offset ?? '0')]));

  const summary: ReplaySummary = { replayed: 0, skipped: 0, byStage: {} };
  const consumer = kafka.consumer({ groupId, readUncommitted: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: topics.deadLetter, fromBeginning: true });
    const done = new Set<number>();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`replay did not reach the end of ${topics.deadLetter} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      consumer
        .run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          eachBatch: async ({ batch, resolveOffset }) => {
            if (done.has(batch.partition)) return;
            const outputs = new Map<string, Message[]>();
            let lastOffset: string | undefined;
            for (const m of batch.messages) {
              lastOffset = m.offset;
              if (isSentinel(m.key)) {
                if (m.key!.toString() === nonce) {
                  done.add(batch.partition);
                  break;
                }
                continue;
              }
              const letter = AvroTypes.deadLetter.fromBuffer(m.value!) as DeadLetter;
              if (letter.reason !== reason || (stage && letter.stage !== stage)) continue;
              const target =
                letter.stage === 'processor.price'
                  ? topics.deduped
                  : letter.stage === 'processor.dedupe'
                    ? topics.normalized
                    : letter.stage === 'processor.normalize' && letter.provider
                      ? topics.raw(letter.provider)
                      : undefined;
              if (!target) {
                summary.skipped++;
                continue;
              }
              const list = outputs.get(target) ?? [];
              const batchSchema = BATCH_FORMATS.get(letter.payload_format);
              list.push({
                key: letter.record_id ?? undefined,
                value: letter.payload,
                ...(batchSchema ? { headers: { [SCHEMA_HEADER]: batchSchema } } : {}),
              });
              outputs.set(target, list);
              summary.byStage[letter.stage] = (summary.byStage[letter.stage] ?? 0) + 1;
              summary.replayed++;
            }
            if (lastOffset !== undefined) {
              const tx = await producer.transaction();
              try {
                await sendChunked(
                  tx,
                  [...outputs].map(([topic, messages]) => ({ topic, messages })),
                );
                await sendOffsetsRetrying(tx, {
                  consumerGroupId: groupId,
                  topics: [
                    {
                      topic: batch.topic,
                      partitions: [
                        { partition: batch.partition, offset: (BigInt(lastOffset) + 1n).toString() },
                      ],
                    },
                  ],
                });
                await tx.commit();
              } catch (err) {
                await tx.abort().catch(() => undefined);
                throw err;
              }
              resolveOffset(lastOffset);
            }
            if (done.size === partitions.length) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
  }
  // Leave the group positioned after this run's sentinel AND its commit marker (sentinel + 2): the
  // next run then starts on data, never on a transaction marker, which kafkajs consumers can stall
  // on. Nothing is skipped: the sentinel was alone in its transaction.
  const admin2 = kafka.admin();
  await admin2.connect();
  try {
    await admin2.setOffsets({
      groupId,
      topic: topics.deadLetter,
      partitions: [...sentinelOffsets].map(([partition, offset]) => ({
        partition,
        offset: (offset + 2n).toString(),
      })),
    });
  } finally {
    await admin2.disconnect();
  }
  return summary;
}
