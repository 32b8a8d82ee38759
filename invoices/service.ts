import type { MeterflowConfig } from '../runtime/config';
import { createElasticsearch, elasticsearchReady } from '../runtime/elasticsearch';
import { createKafka, ensureTopics, topicNames } from '../runtime/kafka';
import Decimal from 'decimal.js';
import { auditEvent, commandActor, recordAudit } from '../runtime/audit';
import { createLogger } from '../runtime/logger';
import { exitOnFatal, startService } from '../runtime/service';
import { NotReady } from '../runtime/http-server';
import { gauge, stageCounter } from '../runtime/metrics';
import { atCostPriceBook, loadPriceBook } from '../processors/price';
import { currentPriceBook, PriceBookHolder } from '../processors/price/distribution';
import { indexNames } from '../sinks/elasticsearch/indices';
import { ensureLayout } from '../sinks/elasticsearch/layout';
import { runInvoiceCommand, runInvoiceSchedule, type InvoiceResult } from './index';
import { ErrorCodes, InputError } from '../runtime/errors';
import { exportInvoices } from './export';
import {
  checkListQuery,
  findDocument,
  formatDocumentText,
  formatListLine,
  listPeriodDocuments,
  type InvoiceListQuery,
} from './listing';
import { ensureInvoiceIndex } from './store';
import type { Client } from '@elastic/elasticsearch';
import type { Producer } from 'kafkajs';
import { AvroTypes, type InvoiceEvent } from '../schemas';
import type { Logger } from '../runtime/logger';
import type { IndexNames } from '../sinks/elasticsearch/indices';
import { announceFinalized } from './notices';
import { createCreditNote, voidInvoice } from './corrections';
import type { InvoiceDocument } from './types';
import { formatRegeneration, regenerateInvoice, type Regeneration } from './regenerate';

/**
 * The invoice processes the CLI starts: one-shot `invoice generate|finalize` and the long-running
 * `invoice schedule`. Invoices are priced with the book the price stage rates with
 * (processors/price/distribution.ts, currentPriceBook).
 */

export async function runInvoice(
  config: MeterflowConfig,
  action: 'generate' | 'finalize',
  opts: { period: string; customer?: string; forceIncomplete?: boolean; reason?: string },
  out: (line: string) => void,
): Promise<InvoiceResult[]> {
  if (opts.reason !== undefined && !opts.forceIncomplete)
    throw new InputError(ErrorCodes.MALFORMED_INPUT, '--reason goes with --force-incomplete', {
      field: 'reason',
    });
  const forceIncomplete = opts.forceIncomplete
    ? { reason: opts.reason ?? '', by: commandActor() }
    : undefined;
  const es = createElasticsearch(config);
  const names = indexNames(config.elasticsearch.index_prefix);
  await ensureLayout(es, names, {
    replicas: config.sink.replicas,
    refreshInterval: config.sink.refresh_interval,
  });
  const book = action === 'generate' ? await currentPriceBook(config) : atCostPriceBook();
  const results = await runInvoiceCommand({
    es,
    names,
    book,
    options: config.invoice,
    action,
    period: opts.period,
    customer: opts.customer,
    forceIncomplete,
    out,
    // Before a partial failure is thrown too: the invoices that were finalized are audited and announced.
    onResults: async (results) => {
      if (action !== 'finalize') return;
      const logger = createLogger({ level: config.log.level, component: 'invoice.finalize' });
      const target = opts.customer ? `${opts.period} customer ${opts.customer}` : opts.period;
      await recordAudit(finalizeAudit(target, results), logger, config);
      // The invoices are final by now; notices cannot change that (announceFinalized never throws).
      // A one-shot command waits for them (with their retries) so they are not cut off at exit.
      await announceResults(config, es, names, logger, results);
    },
  });
  return results;
}

/** The audit event of a finalization: how many invoices became final, their numbers and totals. */
export function finalizeAudit(target: string, results: InvoiceResult[], actor?: string) {
  const finalized = results.filter((r) => r.outcome === 'written' && r.invoice !== null);
  const totals = new Map<string, Decimal>();
  for (const r of finalized)
    totals.set(
      r.invoice!.currency,
      (totals.get(r.invoice!.currency) ?? new Decimal(0)).plus(r.invoice!.total),
    );
  return auditEvent(
    'invoice.finalized',
    target,
    {
      finalized: finalized.length,
      refused: results.filter((r) => r.outcome === 'stale' || r.outcome === 'not_found').length,
      numbers: finalized.map((r) => r.invoice!.number).join(' '),
      // finalize --force-incomplete: why, and what was still pending (completeness.ts).
      ...overrideEffect(finalized),
      ...Object.fromEntries([...totals].map(([currency, total]) => [`total ${currency}`, total.toFixed()])),
    },
    actor,
  );
}

function overrideEffect(finalized: InvoiceResult[]): Record<string, string | number> {
  const o = finalized.find((r) => r.invoice?.completeness_override)?.invoice?.completeness_override;
  if (!o) return {};
  return {
    forced_incomplete: o.reason,
    pending_revisions: o.pending_revisions.join(', ') || 'none',
    open_dead_letters: o.open_dead_letters,
  };
}

/** Sends <prefix>.invoice-events messages through one idempotent producer, connected on first use. */
export function invoiceEventSender(config: MeterflowConfig, logger: Logger) {
  let producer: Producer | undefined;
  const topic = topicNames(config).invoiceEvents;
  return {
    send: async (events: InvoiceEvent[]) => {
      if (!producer) {
        const kafka = createKafka(config, 'invoice-events', logger);
        await ensureTopics(kafka, config, [{ topic }]);
        const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
        await p.connect();
        producer = p;
      }
      await producer.send({
        topic,
        acks: -1,
        // Keyed by customer: a customer's documents stay in order on one partition.
        messages: events.map((e) => ({ key: e.customer, value: AvroTypes.invoiceEvent.toBuffer(e) })),
      });
    },
    close: async () => {
      await producer?.disconnect().catch(() => undefined);
      producer = undefined;
    },
  };
}

/** `meterflow invoice credit-note <invoice> --reason R [--amount X]`. */
export async function runInvoiceCreditNote(
  config: MeterflowConfig,
  invoice: string,
  opts: { reason?: string; amount?: string },
  out: (line: string) => void,
): Promise<InvoiceDocument> {
  const { es, names } = await invoiceStore(config);
  const logger = createLogger({ level: config.log.level, component: 'invoice.credit_note' });
  try {
    const by = commandActor();
    const doc = await createCreditNote({
      es,
      names,
      invoice,
      amount: opts.amount,
      reason: opts.reason ?? '',
      by,
    });
    out(formatListLine(doc));
    await recordAudit(
      auditEvent(
        'invoice.credit_note',
        doc.corrects!.number ?? doc.corrects!.invoice_id,
        { number: doc.number!, total: `${doc.total} ${doc.currency}`, reason: doc.correction_reason ?? '' },
        by,
      ),
      logger,
      config,
    );
    await announceResults(config, es, names, logger, [resultOf(doc)]);
    return doc;
  } finally {
    await es.close();
  }
}

/** `meterflow invoice void <invoice> --reason R [--reissue]`. */
export async function runInvoiceVoid(
  config: MeterflowConfig,
  invoice: string,
  opts: { reason?: string; reissue?: boolean },
  out: (line: string) => void,
): Promise<{ voided: InvoiceDocument; reissued: InvoiceDocument | null }> {
  const { es, names } = await invoiceStore(config);
  const logger = createLogger({ level: config.log.level, component: 'invoice.void' });
  try {
    const by = commandActor();
    const reissue = opts.reissue
      ? { book: await currentPriceBook(config), options: config.invoice }
      : undefined;
    const r = await voidInvoice({ es, names, invoice, reason: opts.reason ?? '', by, reissue });
    out(formatListLine(r.voided));
    if (r.reissued) out(formatListLine(r.reissued));
    await recordAudit(
      auditEvent(
        'invoice.voided',
        r.voided.number ?? r.voided.invoice_id,
        {
          reason: r.voided.voided?.reason ?? '',
          reissued_as: r.reissued?.number ?? 'none',
          ...(r.reissued ? { total: `${r.reissued.total} ${r.reissued.currency}` } : {}),
        },
        by,
      ),
      logger,
      config,
    );
    if (r.reissued) await announceResults(config, es, names, logger, [resultOf(r.reissued)]);
    return r;
  } finally {
    await es.close();
  }
}

function resultOf(doc: InvoiceDocument): InvoiceResult {
  return {
    invoice_id: doc.invoice_id,
    customer: doc.customer,
    period: doc.period,
    outcome: 'written',
    invoice: doc,
    error: null,
  };
}

/** Announce the documents a finalize wrote (outcome written), then close the producer. */
export async function announceResults(
  config: MeterflowConfig,
  es: Client,
  names: IndexNames,
  logger: Logger,
  results: InvoiceResult[],
): Promise<void> {
  const docs = results.filter((r) => r.outcome === 'written' && r.invoice).map((r) => r.invoice!);
  if (docs.length === 0) return;
  const sender = invoiceEventSender(config, logger);
  try {
    await announceFinalized(
      { es, names, options: config.invoice.notices, logger, sendEvents: sender.send },
      docs,
    );
  } finally {
    await sender.close();
  }
}

/** `meterflow invoice schedule`: keeps drafts current and finalizes closed periods. */
export async function runInvoiceScheduleService(
  config: MeterflowConfig,
  opts: { opsPort?: number } = {},
): Promise<void> {
  const es = createElasticsearch(config);
  // An ops endpoint like every long-running stage: the chart probes it, and a failing schedule is
  // seen on /metrics (a finalization that stops happening is revenue that stops being billed).
  const service = await startService(config, 'invoice.schedule', {
    ops: true,
    opsPort: opts.opsPort,
    readiness: {
      elasticsearch: () => elasticsearchReady(es),
    },
  });
  service.readiness['price book'] = () => {
    throw new NotReady('invoice.schedule: reading the price book topic');
  };
  const ticks = stageCounter(
    service.registry,
    'meterflow_invoice_schedule_ticks_total',
    'Invoice schedule ticks (drafts refreshed, due periods finalized) by outcome: ok or failed',
    ['outcome'],
  );
  const lastTick = gauge(
    service.registry,
    'meterflow_invoice_schedule_last_success_timestamp_seconds',
    'When the invoice schedule last completed a tick (Unix seconds; 0 before the first)',
  );
  lastTick.set(0);
  const names = indexNames(config.elasticsearch.index_prefix);
  await ensureLayout(es, names, {
    replicas: config.sink.replicas,
    refreshInterval: config.sink.refresh_interval,
  });
  const kafka = createKafka(config, 'invoice-schedule', service.logger);
  const topic = topicNames(config).priceBook;
  await ensureTopics(kafka, config, [{ topic }]);
  const books = new PriceBookHolder(
    kafka,
    topic,
    service.logger,
    exitOnFatal(service, 'invoice schedule: price book follower'),
  );
  await books.start();
  service.shutdown.register('price book follower', () => books.stop());
  service.readiness['price book'] = () => undefined;
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
    onTick: async (r) => {
      ticks.inc({ outcome: 'ok' });
      lastTick.set(Date.now() / 1000);
      service.logger.info(r, 'invoice schedule tick');
      if (r.finalizeRefused) service.logger.warn({ period: r.previous }, r.finalizeRefused);
      if (r.finalized.length > 0) {
        await recordAudit(finalizeAudit(r.previous, r.finalized, 'invoice schedule'), service.logger, config);
        // Not awaited: webhook retries must not hold the schedule up (announceFinalized never throws).
        void announceResults(config, es, names, service.logger, r.finalized);
      }
    },
    onError: (err) => {
      ticks.inc({ outcome: 'failed' });
      service.logger.error({ err }, 'invoice schedule tick failed; next tick retries');
    },
  });
}

/** An Elasticsearch client and the index names of the config, for the read-only invoice commands. */
async function invoiceStore(config: MeterflowConfig) {
  const es = createElasticsearch(config);
  const names = indexNames(config.elasticsearch.index_prefix);
  await ensureInvoiceIndex(es, names);
  return { es, names };
}

/** `meterflow invoice list --period P [--customer C] [--status S]`: one line per document. */
export async function runInvoiceList(
  config: MeterflowConfig,
  query: InvoiceListQuery,
  out: (line: string) => void,
): Promise<InvoiceDocument[]> {
  checkListQuery(query);
  const { es, names } = await invoiceStore(config);
  try {
    const docs = await listPeriodDocuments(es, names, query);
    if (docs.length === 0) out(`no invoices for ${query.period}`);
    for (const d of docs) out(formatListLine(d));
    return docs;
  } finally {
    await es.close();
  }
}

/** `meterflow invoice show <id|number> [--json]`. */
export async function runInvoiceShow(
  config: MeterflowConfig,
  idOrNumber: string,
  opts: { json?: boolean },
  out: (line: string) => void,
): Promise<InvoiceDocument> {
  const { es, names } = await invoiceStore(config);
  try {
    const doc = await findDocument(es, names, idOrNumber);
    if (!doc)
      throw new InputError(ErrorCodes.MALFORMED_INPUT, `no invoice with id or number "${idOrNumber}"`, {
        field: 'invoice',
      });
    out(opts.json ? JSON.stringify(doc, null, 2) : formatDocumentText(doc));
    return doc;
  } finally {
    await es.close();
  }
}

/** `meterflow invoice export --period P --format json|csv|pdf|html [--out dir|file] [--customer C] [--status S]`. */
export async function runInvoiceExport(
  config: MeterflowConfig,
  opts: InvoiceListQuery & { format: string; out?: string },
  out: (line: string) => void,
): Promise<string[]> {
  checkListQuery(opts);
  const { es, names } = await invoiceStore(config);
  try {
    const docs = await listPeriodDocuments(es, names, opts);
    const result = await exportInvoices({ docs, period: opts.period, format: opts.format, out: opts.out });
    if (result.text !== undefined) out(result.text.replace(/\r?\n$/, ''));
    else out(`${docs.length} document(s) of ${opts.period} written: ${result.files.join(', ') || 'none'}`);
    return result.files;
  } finally {
    await es.close();
  }
}

/**
 * `meterflow invoice regenerate <id|number> [--price-book file] [--json]`: recompute a finalized
 * invoice from history and compare (regenerate.ts). The book is the current one unless a file is
 * given (a finalized invoice of an older book version needs that version's file).
 */
export async function runInvoiceRegenerate(
  config: MeterflowConfig,
  idOrNumber: string,
  opts: { priceBook?: string; json?: boolean },
  out: (line: string) => void,
): Promise<Regeneration> {
  const book = opts.priceBook ? loadPriceBook(opts.priceBook) : await currentPriceBook(config);
  const { es, names } = await invoiceStore(config);
  try {
    const result = await regenerateInvoice({ es, names, invoice: idOrNumber, book, options: config.invoice });
    if (opts.json)
      out(
        JSON.stringify(
          {
            invoice_id: result.stored.invoice_id,
            number: result.stored.number,
            identical: result.identical,
            fingerprint: result.stored.fingerprint,
            regenerated_fingerprint: result.recomputed?.fingerprint ?? null,
            knowledge_time: result.knowledge_time,
            revisions: result.revisions,
            differences: result.differences,
          },
          null,
          2,
        ),
      );
    else for (const line of formatRegeneration(result)) out(line);
    return result;
  } finally {
    await es.close();
  }
}
