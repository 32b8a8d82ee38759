import type { MeterflowConfig } from '../runtime/config';
import { createElasticsearch } from '../runtime/elasticsearch';
import { createKafka, ensureTopics, topicNames } from '../runtime/kafka';
import { startService } from '../runtime/service';
import { atCostPriceBook, loadPriceBook } from '../processors/price';
import { currentPriceBook, PriceBookHolder } from '../processors/price/distribution';
import { indexNames } from '../sinks/elasticsearch/indices';
import { ensureLayout } from '../sinks/elasticsearch/layout';
import { runInvoiceCommand, runInvoiceSchedule, type InvoiceResult } from './index';

/**
 * The invoice processes the CLI starts: one-shot `invoice generate|finalize` and the long-running
 * `invoice schedule`. Invoices are priced with the book the price stage rates with
 * (processors/price/distribution.ts, currentPriceBook).
 */

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
