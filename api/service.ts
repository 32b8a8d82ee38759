import type { MeterflowConfig } from '../runtime/config';
import { createElasticsearch } from '../runtime/elasticsearch';
import type { Logger } from '../runtime/logger';
import { startService } from '../runtime/service';
import { indexNames } from '../sinks/elasticsearch/indices';
import { ensureLayout } from '../sinks/elasticsearch/layout';
import { startApi, type RunningApi } from './index';
import { createKafka } from '../runtime/kafka';
import { startIngestor } from '../ingest/ingestor';
import { createProcessRegistry } from '../runtime/metrics';

export async function startApiFor(
  config: MeterflowConfig,
  logger: Logger,
  overrides: { port?: number } = {},
): Promise<RunningApi> {
  const es = createElasticsearch(config);
  const names = indexNames(config.elasticsearch.index_prefix);
  await ensureLayout(es, names, {
    replicas: config.sink.replicas,
    refreshInterval: config.sink.refresh_interval,
  });
  // POST /v1/events writes to Kafka; the API connects to it only when event ingest is on.
  const registry = createProcessRegistry();
  const ingest = config.events.enabled
    ? await startIngestor(config, createKafka(config, 'ingest', logger), registry)
    : undefined;
  const api = await startApi({
    events: ingest?.ingestor,
    registry,
    es,
    names,
    // An override left undefined (no --port) must not replace api.port.
    options: { ...config.api, port: overrides.port ?? config.api.port },
    logger,
    htmlLinks: {
      secret: config.invoice.html_links.secret,
      ttlSeconds: config.invoice.html_links.ttl_seconds,
    },
  });
  return {
    url: api.url,
    close: async () => {
      await api.close();
      await ingest?.close();
    },
  };
}

/** `meterflow api`: the REST API until SIGTERM. */
export async function runApiService(config: MeterflowConfig, opts: { port?: number }): Promise<void> {
  const service = await startService(config, 'api', { ops: false });
  const api = await startApiFor(config, service.logger, opts);
  service.shutdown.register('api', () => api.close());
  process.stdout.write(
    `meterflow api listening on ${api.url} (OpenAPI: ${api.url}/openapi.json, Swagger UI: ${api.url}/docs)\n`,
  );
  await new Promise<void>((resolve) => service.shutdown.signal.addEventListener('abort', () => resolve()));
}
