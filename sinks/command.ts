import type { MeterflowConfig } from '../runtime/config';
import { createElasticsearch } from '../runtime/elasticsearch';
import { createKafka, ensureTopics, topicNames } from '../runtime/kafka';
import type { Logger } from '../runtime/logger';
import { startService } from '../runtime/service';
import { atCostPriceBook, loadPriceBook, parsePriceBook, type PriceBook } from '../processors/price';
import { PriceBookHolder, readPublishedBook } from '../processors/price/distribution';
import { startApi, type RunningApi } from './api';
import { indexNames } from './elasticsearch/indices';
import { ensureLayout } from './elasticsearch/layout';
import { runInvoiceCommand, runInvoiceSchedule, type InvoiceResult } from './invoices';

/**
 * Glue between the CLI and the invoice and API components: which price book invoices use, and
 * the long-running `invoice schedule` and `api` processes.
 *
 * Invoices use the price book the price stage rates with: the one published on the price-book
 * topic; when none was ever published, `processor.price_book_file`; else at cost (no plans).
 */
export async function currentPriceBook(config: MeterflowConfig): Promise<PriceBook> {
  const kafka = createKafka(config, 'invoice-book');
  const topic = topicNames(config).priceBook;
  await ensureTopics(kafka, config, [{ topic, compacted: true, partitions: 1 }]);
  const published = await readPublishedBook(kafka, topic);
  if (published) return parsePriceBook(published.yaml, published.source_name);
  if (config.processor.price_book_file) return loadPriceBook(config.processor.price_book_file);
  return atCostPriceBook();
}

export async function runInvoice(
  config: MeterflowConfig,
  action: 'generate' | 'finalize',
  opts: { period: string; customer?: string },
  out: (line: string) => void,
): Promise<InvoiceResult[]> {
  const es = createElasticsearch(config);
  const names = indexNames(config.elasticsearch.index_prefix);
  await ensureLayout(es, names, {
    replicas: config.sink.replicas,
    refreshInterval: config.sink.refresh_interval,
  });
  const book = action === 'generate' ? await currentPriceBook(config) : atCostPriceBook();
  return runInvoiceCommand({ es, names, book, options: config.invoice, action, ...opts, out });
}

/** `meterflow invoice schedule`: keeps drafts current and finalizes closed periods. */
export async function runInvoiceScheduleService(config: MeterflowConfig): Promise<void> {
  const service = await startService(config, 'invoice.schedule', { ops: false });
  const es = createElasticsearch(config);
  const names = indexNames(config.elasticsearch.index_prefix);
  await ensureLayout(es, names, {
    replicas: config.sink.replicas,
    refreshInterval: config.sink.refresh_interval,
  });
  const kafka = createKafka(config, 'invoice-schedule', service.logger);
  const topic = topicNames(config).priceBook;
  await ensureTopics(kafka, config, [{ topic, compacted: true, partitions: 1 }]);
  const books = new PriceBookHolder(kafka, topic, service.logger);
  await books.start();
  service.shutdown.register('price book follower', () => books.stop());
  const fallback = config.processor.price_book_file
    ? loadPriceBook(config.processor.price_book_file)
    : undefined;
  await runInvoiceSchedule({
    es,
    names,
    // The follower starts at cost; a configured file stands in until a book is published.
    loadBook: () =>
      books.current.version === atCostPriceBook().version && fallback ? fallback : books.current,
    options: config.invoice,
    signal: service.shutdown.signal,
    onTick: (r) => service.logger.info(r, 'invoice schedule tick'),
    onError: (err) => service.logger.error({ err }, 'invoice schedule tick failed; next tick retries'),
  });
}

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
  return startApi({ es, names, options: { ...config.api, ...overrides }, logger });
}

/** `meterflow api`: the REST API until SIGTERM. */
export async function runApiService(config: MeterflowConfig, opts: { port?: number }): Promise<void> {
  const service = await startService(config, 'api', { ops: false });
  const api = await startApiFor(config, service.logger, opts);
  service.shutdown.register('api', () => api.close());
  process.stdout.write(`meterflow api listening on ${api.url} (OpenAPI: ${api.url}/openapi.json)\n`);
  await new Promise<void>((resolve) => service.shutdown.signal.addEventListener('abort', () => resolve()));
}
