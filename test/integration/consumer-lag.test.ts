import { Registry } from 'prom-client';
import { ConsumerLagMonitor, kafkaOffsetsSource } from '../../runtime/consumer-lag';
import { createKafka, ensureTopics } from '../../runtime/kafka';
import { createLogger } from '../../runtime/logger';
import { testConfig, uniqueName } from './helpers';

/**
 * The lag monitor against the real broker: what kafkajs's admin API answers for a group that never
 * committed, and after commits, turned into the gauge.
 */
describe('consumer lag from the real broker', () => {
  jest.setTimeout(60_000);

  it('reads end offsets and committed offsets per partition', async () => {
    const config = testConfig();
    const kafka = createKafka(config, 'it-lag');
    const topic = uniqueName('it-lag');
    const groupId = uniqueName('it-lag-group');
    await ensureTopics(kafka, config, [{ topic, partitions: 2 }]);
    const producer = kafka.producer();
    await producer.connect();
    try {
      await producer.send({
        topic,
        messages: [
          ...Array.from({ length: 7 }, (_, i) => ({ partition: 0, value: `a${i}` })),
          ...Array.from({ length: 3 }, (_, i) => ({ partition: 1, value: `b${i}` })),
        ],
      });
    } finally {
      await producer.disconnect();
    }

    const registry = new Registry();
    const source = kafkaOffsetsSource(kafka);
    const monitor = new ConsumerLagMonitor({
      registry,
      component: 'processor.test',
      groupId,
      topics: [topic],
      source,
      logger: createLogger({ level: 'silent' }),
    });
    const lag = async () =>
      Object.fromEntries(
        (await registry.getSingleMetric('meterflow_consumer_lag_messages')!.get()).values.map((v) => [
          v.labels.partition,
          v.value,
        ]),
      );
    try {
      // Never committed: everything retained is unread.
      await monitor.poll();
      expect(await lag()).toEqual({ '0': 7, '1': 3 });

      const admin = kafka.admin();
      await admin.connect();
      try {
        await admin.setOffsets({
          groupId,
          topic,
          partitions: [
            { partition: 0, offset: '5' },
            { partition: 1, offset: '3' },
          ],
        });
      } finally {
        await admin.disconnect();
      }
      await monitor.poll();
      expect(await lag()).toEqual({ '0': 2, '1': 0 });
    } finally {
      await source.close();
    }
  });
});
