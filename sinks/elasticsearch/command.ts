import type { MeterflowConfig } from '../../runtime/config';
import { createElasticsearch, elasticsearchReady } from '../../runtime/elasticsearch';
import { NotReady } from '../../runtime/http-server';
import { createKafka, ensureTopics, topicNames } from '../../runtime/kafka';
import { createStageMetrics } from '../../runtime/metrics';
import { monitorConsumerLag } from '../../runtime/consumer-lag';
import { exitOnFatal, startService, type Service } from '../../runtime/service';
import { indexNames } from './indices';
import { ensureLayout } from './layout';
import { AvroTypes } from '../../schemas';
import type { Producer } from 'kafkajs';
import { RevisionPublisher } from './publisher';
import { ElasticsearchSink } from './sink';

export interface RunningSink {
  sink: ElasticsearchSink;
  publisher: RevisionPublisher | undefined;
}

/**
 * Starts the Elasticsearch sink (and, unless `sink.publisher` is off, the revision publisher) in
 * an existing service. The consumer group is `<topic_prefix>-sink-elasticsearch`: sink instances
 * share the partitions; each message is acknowledged by exactly one of them at a time.
 */
export async function startSink(
  config: MeterflowConfig,
  service: Pick<Service, 'logger' | 'registry' | 'shutdown'>,
): Promise<RunningSink> {
  const topics = topicNames(config);
  const kafka = createKafka(config, 'sink', service.logger);
  await ensureTopics(kafka, config, [
    { topic: topics.rated },
    { topic: topics.control },
    { topic: topics.deadLetter },
    ...(config.sink.publisher ? [{ topic: topics.revisionEvents }] : []),
  ]);
  const es = createElasticsearch(config);
  const names = indexNames(config.elasticsearch.index_prefix);
  await ensureLayout(es, names, {
    replicas: config.sink.replicas,
    refreshInterval: config.sink.refresh_interval,
  });
  const logger = service.logger.child({ stage: 'sink.elasticsearch' });
  let publisher: RevisionPublisher | undefined;
  let events: Producer | undefined;
  if (config.sink.publisher) {
    events = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await events.connect();
    const producer = events;
    publisher = new RevisionPublisher({
      es,
      names,
      logger: logger.child({ part: 'publisher' }),
      registry: service.registry,
      intervalMs: config.sink.publish_interval_ms,
      historyRetentionDays: config.sink.history_retention_days,
      // Keyed by scope: a scope's events stay in order on one partition.
      announce: async (list) => {
        await producer.send({
          topic: topics.revisionEvents,
          acks: -1,
          messages: list.map((e) => ({ key: e.scope, value: AvroTypes.revisionEvent.toBuffer(e) })),
        });
      },
    });
  }
  const groupId = config.sink.group_id ?? `${config.kafka.topic_prefix}-sink-elasticsearch`;
  const sink = new ElasticsearchSink({
    kafka,
    es,
    names,
    topics,
    groupId,
    options: config.sink,
    logger,
    metrics: createStageMetrics(service.registry, 'sink.elasticsearch'),
    onFatal: exitOnFatal(service, 'sink.elasticsearch'),
  });
  await sink.start();
  service.shutdown.register('sink.elasticsearch', () => sink.stop());
  monitorConsumerLag(
    kafka,
    {
      registry: service.registry,
      component: 'sink.elasticsearch',
      groupId,
      topics: [topics.control, topics.rated, topics.deadLetter],
      logger,
    },
    service.shutdown,
  );
  if (publisher) {
    publisher.start();
    service.shutdown.register('revision publisher', async () => {
      await publisher.stop();
      await events?.disconnect();
    });
  }
  return { sink, publisher };
}

export async function runSink(config: MeterflowConfig, opts: { opsPort?: number }): Promise<void> {
  const es = createElasticsearch(config);
  const service = await startService(config, 'sink.elasticsearch', {
    ops: true,
    opsPort: opts.opsPort,
    readiness: {
      elasticsearch: () => elasticsearchReady(es),
    },
  });
  service.readiness['kafka consumer'] = () => {
    throw new NotReady('sink.elasticsearch: starting');
  };
  const { sink } = await startSink(config, service);
  service.readiness['kafka consumer'] = () => sink.checkReady();
  service.logger.info({ node: config.elasticsearch.node }, 'sinking rated usage into Elasticsearch');
  await new Promise<void>((resolve) => service.shutdown.signal.addEventListener('abort', () => resolve()));
}
