import type { Consumer, Kafka } from 'kafkajs';
import { createKafka, ensureTopics } from '../../runtime/kafka';
import { eventually, testConfig, uniqueName } from './helpers';

const config = testConfig();

async function readAll(
  kafka: Kafka,
  topic: string,
  expected: number,
  readUncommitted: boolean,
): Promise<Array<{ partition: number; value: string }>> {
  const consumer: Consumer = kafka.consumer({ groupId: uniqueName('smoke-reader'), readUncommitted });
  const seen: Array<{ partition: number; value: string }> = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) =>
        void seen.push({ partition, value: String(message.value) }),
    });
    await eventually(async () => (seen.length >= expected ? true : undefined), 60_000);
    // Give anything unexpected (an aborted record leaking through) a moment to arrive too.
    await new Promise((r) => setTimeout(r, 1500));
    return seen;
  } finally {
    await consumer.disconnect();
  }
}

describe('Kafka (real broker, local stack)', () => {
  const kafka = createKafka(config, 'smoke-test');

  it('produces and consumes on a 3-partition topic', async () => {
    const topic = uniqueName('smoke-plain');
    await ensureTopics(kafka, config, [{ topic, partitions: 3 }]);
    const admin = kafka.admin();
    await admin.connect();
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    await admin.disconnect();
    expect(meta.topics[0].partitions).toHaveLength(3);

    const producer = kafka.producer();
    await producer.connect();
    const messages = Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: `v${i}` }));
    await producer.send({ topic, messages });
    await producer.disconnect();

    const seen = await readAll(kafka, topic, 30, true);
    expect(seen.map((m) => m.value).sort()).toEqual(messages.map((m) => m.value).sort());
    expect(new Set(seen.map((m) => m.partition)).size).toBe(3);
  });

  it('commits a transaction: read_committed sees committed records and not aborted ones', async () => {
    const topic = uniqueName('smoke-tx');
    await ensureTopics(kafka, config, [{ topic, partitions: 3 }]);
    const producer = kafka.producer({
      transactionalId: uniqueName('smoke-tx-producer'),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    const committed = await producer.transaction();
    await committed.send({
      topic,
      messages: [
        { key: 'a', value: 'committed-1' },
        { key: 'b', value: 'committed-2' },
      ],
    });
    await committed.commit();
    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: [{ key: 'c', value: 'aborted-1' }] });
    await aborted.abort();
    const last = await producer.transaction();
    await last.send({ topic, messages: [{ key: 'd', value: 'committed-3' }] });
    await last.commit();
    await producer.disconnect();

    const readCommitted = await readAll(kafka, topic, 3, false);
    expect(readCommitted.map((m) => m.value).sort()).toEqual(['committed-1', 'committed-2', 'committed-3']);

    // A read_uncommitted consumer does see the aborted record: proof the broker really aborted
    // a transaction rather than never writing it.
    const readUncommitted = await readAll(kafka, topic, 4, true);
    expect(readUncommitted.map((m) => m.value)).toContain('aborted-1');
  });
});
