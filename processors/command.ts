import { RAW_TOPIC_PROVIDERS } from '../providers/registry';
import os from 'node:os';
import type { MeterflowConfig } from '../runtime/config';
import { auditEvent, recordAudit } from '../runtime/audit';
import { ErrorCodes, PermanentError } from '../runtime/errors';
import { createLogger } from '../runtime/logger';
import { createKafka, ensureTopics, topicNames } from '../runtime/kafka';
import { assertKafkaReachable } from '../runtime/kafka-reachable';
import { createStageMetrics } from '../runtime/metrics';
import { monitorConsumerLag } from '../runtime/consumer-lag';
import { NotReady } from '../runtime/http-server';
import { exitOnFatal, startService, type Service } from '../runtime/service';
import { TransactionalStage } from './core/transactional-stage';
import { DedupeState } from './dedupe/dedupe';
import { dedupeProcessor, rebuildDedupeState } from './dedupe/stage';
import { normalizeProcessor } from './normalize/stage';
import { PriceBookHolder, publishPriceBook, readPublishedBook } from './price/distribution';
import { priceProcessor } from './price/stage';

export type StageName = 'normalize' | 'dedupe' | 'price';
export const STAGES: StageName[] = ['normalize', 'dedupe', 'price'];

/**
 * `meterflow process normalize|dedupe|price|all`: stateless consumers, scaled out by consumer group
 * (every instance of a stage shares the group `<client_id>-<stage>`). `all` runs the chain in one
 * process, each stage with its own consumer group and transactional producer.
 */
export async function startStages(
  config: MeterflowConfig,
  stages: StageName[],
  service: Pick<Service, 'logger' | 'registry' | 'shutdown'>,
  instanceOverride?: string,
): Promise<TransactionalStage[]> {
  const topics = topicNames(config);
  // One raw topic per provider with a collector or an ingest endpoint: normalize reads them all.
  const rawTopics = RAW_TOPIC_PROVIDERS.map((p) => topics.raw(p));
  const kafka = createKafka(config, 'processor', service.logger);
  // Only the topics of the stages started here: a stage deployed under its own Kafka principal
  // sees no other topic (docs/least-privilege.md), and would take an unseen one for missing.
  const topicsOf: Record<StageName, string[]> = {
    normalize: [...rawTopics, topics.normalized],
    dedupe: [topics.normalized, topics.deduped],
    price: [topics.deduped, topics.rated, topics.priceBook],
  };
  const wanted = new Set([topics.deadLetter, ...stages.flatMap((s) => topicsOf[s])]);
  await ensureTopics(
    kafka,
    config,
    [...wanted].map((topic) => ({ topic })),
  );
  const instance = instanceOverride ?? config.processor.instance_id ?? os.hostname();
  // Group and transactional ids carry the topic prefix: two pipelines on one cluster never share
  // a consumer group or fence each other's producers.
  const base = config.kafka.topic_prefix;
  const started: TransactionalStage[] = [];
  // What each stage's consumer group reads, for its lag.
  const inputTopics: Record<StageName, string[]> = {
    normalize: rawTopics,
    dedupe: [topics.normalized],
    price: [topics.deduped],
  };
  for (const name of stages) {
    const logger = service.logger.child({ stage: name });
    const metrics = createStageMetrics(service.registry, `processor.${name}`);
    const common = {
      kafka,
      name,
      groupId: `${base}-${name}`,
      transactionalId: `${base}-${name}-${instance}`,
      logger,
      metrics,
      sessionTimeoutMs: config.processor.session_timeout_ms,
      onFatal: exitOnFatal(service, `processor.${name}`),
    };
    let stage: TransactionalStage;
    if (name === 'normalize') {
      stage = new TransactionalStage({
        ...common,
        inputTopics: rawTopics,
        process: normalizeProcessor(config, topics, metrics),
      });
    } else if (name === 'dedupe') {
      const state = new DedupeState({ max_ids: config.processor.dedupe_max_ids });
      stage = new TransactionalStage({
        ...common,
        inputTopics: [topics.normalized],
        process: dedupeProcessor(state, topics, metrics),
        onCommitted: () => state.commit(),
        onAborted: () => state.rollback(),
        beforeConsume: async (producer) => {
          const { loaded, skipped } = await rebuildDedupeState(
            kafka,
            producer,
            topics.deduped,
            state,
            config.processor.dedupe_max_ids,
          );
          logger.info(
            { loaded, skipped, tracked: state.trackedIds },
            'dedupe state rebuilt from the deduped topic',
          );
          if (skipped > 0)
            logger.warn({ skipped }, 'records of the deduped topic that do not decode were skipped');
        },
      });
    } else {
      const books = new PriceBookHolder(
        kafka,
        topics.priceBook,
        logger,
        exitOnFatal(service, `processor.${name}: price book follower`),
      );
      if (config.processor.price_book_file && !(await readPublishedBook(kafka, topics.priceBook))) {
        const published = await publishPriceBook(kafka, topics.priceBook, config.processor.price_book_file);
        logger.info(
          { version: published.version },
          'published the configured price book (the topic held none)',
        );
      }
      await books.start();
      service.shutdown.register('price book follower', () => books.stop());
      stage = new TransactionalStage({
        ...common,
        inputTopics: [topics.deduped],
        process: priceProcessor(books, topics, metrics),
      });
    }
    await stage.start();
    service.shutdown.register(`processor.${name}`, () => stage.stop());
    monitorConsumerLag(
      kafka,
      {
        registry: service.registry,
        component: `processor.${name}`,
        groupId: common.groupId,
        topics: inputTopics[name],
        logger,
      },
      service.shutdown,
    );
    started.push(stage);
  }
  return started;
}

export async function runProcess(
  config: MeterflowConfig,
  which: string,
  opts: { instance?: string; opsPort?: number },
): Promise<void> {
  const stages = which === 'all' ? STAGES : [which as StageName];
  if (!stages.every((s) => STAGES.includes(s))) {
    throw new PermanentError(
      ErrorCodes.CONFIG_INVALID,
      `unknown stage "${which}"; expected normalize, dedupe, price or all`,
    );
  }
  const service = await startService(config, `processor.${which}`, { ops: true, opsPort: opts.opsPort });
  // Not ready until each stage exists and has joined its group (an empty /readyz would say 200).
  for (const name of stages)
    service.readiness[`processor.${name}`] = () => {
      throw new NotReady(`processor.${name}: starting`);
    };
  for (const stage of await startStages(config, stages, service, opts.instance))
    service.readiness[`processor.${stage.name}`] = () => stage.checkReady();
  service.logger.info({ stages }, 'processing');
  await new Promise<void>((resolve) => service.shutdown.signal.addEventListener('abort', () => resolve()));
}

export async function runPublishPriceBook(
  config: MeterflowConfig,
  file: string,
): Promise<{ message: string; version: string }> {
  const kafka = createKafka(config, 'pricebook');
  await assertKafkaReachable(config, 'pricebook');
  const topics = topicNames(config);
  await ensureTopics(kafka, config, [{ topic: topics.priceBook }]);
  const published = await publishPriceBook(kafka, topics.priceBook, file);
  await recordAudit(
    auditEvent('pricebook.published', `version ${published.version}`, {
      fingerprint: published.fingerprint,
      file: published.source_name,
    }),
    createLogger({ level: config.log.level, component: 'pricebook' }),
    config,
  );
  return {
    version: published.version,
    message: `published price book version ${published.version} (fingerprint ${published.fingerprint.slice(0, 12)}) to ${topics.priceBook}`,
  };
}
