import { deadLetterMessage } from '../../../processors/core/dead-letter';
import { runReplay } from '../../../processors/replay';
import { DeadLetterReasons } from '../../../runtime/errors';
import { createKafka, ensureTopics, topicNames } from '../../../runtime/kafka';
import { SCHEMA_HEADER } from '../../../schemas';
import { decodeUsageRecords, usageRecordBatchMessage } from '../../../schemas/usage-record-batch';
import { usageRecord } from '../../support/usage-record';
import { testConfig, uniqueName } from '../helpers';
import { readTopic } from '../collectors/kafka-read';

/**
 * A batch the dedupe stage dead-lettered as `unknown_schema` (written by a newer release) goes
 * back to the normalized topic on `meterflow replay --reason unknown_schema` once the stage is
 * upgraded, with the schema header that marks it a batch, so the stage reads it as one.
 */
describe('replaying unknown_schema letters (real Kafka)', () => {
  jest.setTimeout(120_000);

  it('re-drives a dedupe letter to the normalized topic as the batch it was', async () => {
    const config = testConfig();
    config.kafka.topic_prefix = uniqueName('it-replay-schema');
    const topics = topicNames(config);
    const kafka = createKafka(config, 'it-replay-schema');
    await ensureTopics(kafka, config, [{ topic: topics.deadLetter }, { topic: topics.normalized }]);
    const records = [
      usageRecord({ x_RecordId: 'a', x_SourceLine: 2 }),
      usageRecord({ x_RecordId: 'b', x_SourceLine: 3 }),
    ];
    const batch = usageRecordBatchMessage('k', records);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: topics.deadLetter,
      messages: [
        deadLetterMessage({
          stage: 'processor.dedupe',
          reason: DeadLetterReasons.UNKNOWN_SCHEMA,
          message: 'offset 7: not a UsageRecordBatch: unknown fingerprint',
          payload: batch.value as Buffer,
          payload_format: 'avro:UsageRecordBatch',
        }),
      ],
    });
    await producer.disconnect();

    const summary = await runReplay(config, 'unknown_schema');
    expect(summary).toMatchObject({ replayed: 1, byStage: { 'processor.dedupe': 1 } });
    const replayed = await readTopic(kafka, topics.normalized, (value, headers) => ({
      schema: headers?.[SCHEMA_HEADER]?.toString(),
      ids: decodeUsageRecords(value, headers).map((r) => r.x_RecordId),
    }));
    expect(replayed).toEqual([{ schema: 'UsageRecordBatch', ids: ['a', 'b'] }]);
  });
});
