import { ConfigResourceTypes } from 'kafkajs';
import { createKafka, ensureTopics, topicNames } from '../../runtime/kafka';
import { testConfig, uniqueName } from './helpers';

/**
 * Every topic meterflow creates carries its settings stated (runtime/kafka.ts topicSettings), not
 * the broker's defaults: how long it is kept or that it is compacted, min.insync.replicas, and the
 * partitions of the state topics, as the broker reports them back.
 */
describe('topics are created with their stated settings', () => {
  jest.setTimeout(60_000);

  it('retention per topic, compaction of the state topics, min.insync.replicas', async () => {
    const config = testConfig();
    config.kafka.topic_prefix = uniqueName('it-topics');
    config.kafka.topic_retention_days = {
      ...config.kafka.topic_retention_days,
      raw: 7,
      rated: 400,
      audit: 0,
    };
    const kafka = createKafka(config, 'it-topics');
    const t = topicNames(config);
    const all = [
      t.raw('aws'),
      t.rated,
      t.audit,
      t.control,
      t.priceBook,
      t.collectorCheckpoints,
      t.rerateCheckpoints,
      t.deadLetter,
    ];
    await ensureTopics(
      kafka,
      config,
      all.map((topic) => ({ topic })),
    );
    const admin = kafka.admin();
    await admin.connect();
    try {
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: all.map((name) => ({
          type: ConfigResourceTypes.TOPIC,
          name,
          configNames: ['cleanup.policy', 'retention.ms', 'min.insync.replicas'],
        })),
      });
      const settings = Object.fromEntries(
        described.resources.map((r) => [
          r.resourceName,
          Object.fromEntries(r.configEntries.map((e) => [e.configName, e.configValue])),
        ]),
      );
      const day = 86_400_000;
      expect(settings[t.raw('aws')]).toMatchObject({
        'cleanup.policy': 'delete',
        'retention.ms': String(7 * day),
      });
      expect(settings[t.rated]).toMatchObject({
        'cleanup.policy': 'delete',
        'retention.ms': String(400 * day),
      });
      expect(settings[t.audit]).toMatchObject({ 'retention.ms': '-1' });
      expect(settings[t.priceBook]).toMatchObject({ 'cleanup.policy': 'compact' });
      expect(settings[t.collectorCheckpoints]).toMatchObject({ 'cleanup.policy': 'compact' });
      expect(settings[t.rerateCheckpoints]).toMatchObject({ 'cleanup.policy': 'compact' });
      for (const name of all)
        expect(settings[name]['min.insync.replicas']).toBe(String(config.kafka.topic_min_insync_replicas));
      const meta = await admin.fetchTopicMetadata({
        topics: [t.priceBook, t.collectorCheckpoints, t.rerateCheckpoints, t.rated],
      });
      expect(Object.fromEntries(meta.topics.map((m) => [m.name, m.partitions.length]))).toEqual({
        [t.priceBook]: 1,
        [t.collectorCheckpoints]: 1,
        [t.rerateCheckpoints]: 1,
        [t.rated]: config.kafka.topic_partitions,
      });
    } finally {
      await admin.disconnect();
    }
  });
});
