import type { Client } from '@elastic/elasticsearch';
import type { MeterflowConfig } from '../../runtime/config';
import { createElasticsearch, scanAll } from '../../runtime/elasticsearch';
import type { UsageRecord } from '../../schemas/types.generated';
import { indexNames, type IndexNames } from '../../sinks/elasticsearch/indices';
import { USAGE_RECORD_FIELDS } from '../offline/output';
import { loadPriceBook, parsePriceBook, priceBookFingerprint, type PriceBook } from '../price/price-book';
import { ShadowDiff, type PriceBookDiff } from './shadow';

/**
 * `meterflow pricebook diff` and POST /v1/pricebook/diff: the period's PUBLISHED usage (the
 * `P-usage` alias, one complete revision per scope, as invoices read it) rated again with a
 * candidate price book (shadow.ts). Read only: nothing is written to Kafka or Elasticsearch.
 *
 * The candidate is validated by parsePriceBook, the same code `pricebook publish` runs, so a book
 * the preview accepts is one publish accepts, and a bad one is refused with the same messages
 * (file or source name, line, rule and field).
 */

const PAGE = 2000;

export interface DiffOptions {
  period: string;
  customer?: string;
  /** Page size, Elasticsearch request timeout and an abort signal (the API's request deadline). */
  pageSize?: number;
  requestTimeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * The published usage of a period (optionally one customer's), complete records (rating may read
 * any field), from one point in time: a publish that swaps the alias during the read cannot mix
 * two revisions of a scope into the diff. Same query as invoices/published-usage.ts readUsage.
 */
export async function* readPublishedRecords(
  es: Client,
  names: IndexNames,
  o: DiffOptions,
): AsyncGenerator<UsageRecord> {
  const query = {
    bool: {
      filter: [
        { term: { x_BillingPeriod: o.period } },
        ...(o.customer === undefined ? [] : [{ term: { x_CustomerId: o.customer } }]),
      ],
    },
  };
  for await (const hits of scanAll<UsageRecord>(es, names.usageAlias, query, [...USAGE_RECORD_FIELDS], {
    pageSize: o.pageSize ?? PAGE,
    ...(o.requestTimeoutMs ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  }))
    for (const h of hits) if (h._source) yield h._source;
}

/** The diff of the published usage under `book`. */
export async function priceBookDiff(
  es: Client,
  names: IndexNames,
  book: PriceBook,
  o: DiffOptions,
): Promise<PriceBookDiff> {
  const diff = new ShadowDiff(book, {
    period: o.period,
    customer: o.customer ?? null,
    fingerprint: priceBookFingerprint(book),
  });
  for await (const record of readPublishedRecords(es, names, o)) diff.add(record);
  return diff.result();
}

/**
 * The candidate book: a file (the CLI) or text (the API's request body, named `sourceName` in the
 * errors). Throws PriceBookError listing every problem, as `pricebook publish` does.
 */
export function loadCandidateBook(
  source: { file: string } | { text: string; sourceName: string },
): PriceBook {
  return 'file' in source ? loadPriceBook(source.file) : parsePriceBook(source.text, source.sourceName);
}

/** The diff with the configured Elasticsearch (the CLI); load the book first (loadCandidateBook). */
export async function runPriceBookDiff(
  config: MeterflowConfig,
  book: PriceBook,
  o: { period: string; customer?: string },
): Promise<PriceBookDiff> {
  const es = createElasticsearch(config);
  try {
    return await priceBookDiff(es, indexNames(config.elasticsearch.index_prefix), book, o);
  } finally {
    await es.close();
  }
}
