import type { Client } from '@elastic/elasticsearch';
import type { IndexNames } from '../sinks/elasticsearch/indices';
import type { UsageReadSource } from '../sinks/elasticsearch/history';
import type { PriceBook } from '../processors/price/price-book';
import { scanAll } from '../runtime/elasticsearch';
import type { InvoiceOptions } from './config';
import { UsageAccumulator, USAGE_SOURCE_FIELDS, type UsageInput, type UsageSummary } from './usage';

/**
 * Reading the usage to invoice from the PUBLISHED alias P-usage only (one complete revision per
 * scope), reading only the _source fields the invoice needs.
 *
 * Usage is read from one point in time (runtime/elasticsearch.ts scanAll): a publish that swaps the
 * alias in the middle of a read cannot mix two revisions of a scope in one invoice, which a
 * finalize would otherwise freeze.
 */

const PAGE = 2000;

/**
 * Every published usage record of a customer in a period, read from one point in time. `source`
 * reads other revisions instead of the published alias: `invoice regenerate` (regenerate.ts) reads
 * the revisions a finalized invoice was computed from, kept as history (docs/history.md).
 */
export async function* readUsage(
  es: Client,
  names: IndexNames,
  customer: string,
  period: string,
  source: UsageReadSource = { index: names.usageAlias, filter: [] },
): AsyncGenerator<UsageInput> {
  const query = {
    bool: {
      filter: [{ term: { x_CustomerId: customer } }, { term: { x_BillingPeriod: period } }, ...source.filter],
    },
  };
  for await (const hits of scanAll<UsageInput>(es, source.index, query, [...USAGE_SOURCE_FIELDS], {
    pageSize: PAGE,
  }))
    for (const h of hits) if (h._source) yield h._source;
}

export async function summarizeStoredUsage(
  es: Client,
  names: IndexNames,
  ctx: { book: PriceBook; customer: string; period: string; options: Pick<InvoiceOptions, 'group_by'> },
  source?: UsageReadSource,
): Promise<UsageSummary> {
  const acc = new UsageAccumulator({ ...ctx, groupBy: ctx.options.group_by });
  for await (const r of readUsage(es, names, ctx.customer, ctx.period, source)) acc.add(r);
  return acc.result();
}

/**
 * Customers with published usage in the period (a composite terms aggregation on the keyword
 * x_CustomerId: it only discovers who to invoice, it never sums money).
 */
export async function customersWithUsage(es: Client, names: IndexNames, period: string): Promise<string[]> {
  const out: string[] = [];
  let after: Record<string, unknown> | undefined;
  for (;;) {
    const res = await es.search<
      unknown,
      { c: { buckets: { key: { c: string } }[]; after_key?: Record<string, unknown> } }
    >({
      index: names.usageAlias,
      ignore_unavailable: true,
      allow_no_indices: true,
      size: 0,
      query: { term: { x_BillingPeriod: period } },
      aggs: {
        c: {
          composite: {
            size: 1000,
            sources: [{ c: { terms: { field: 'x_CustomerId' } } }],
            ...(after ? { after: after as never } : {}),
          },
        },
      },
    });
    const agg = res.aggregations?.c;
    if (!agg) return out;
    for (const b of agg.buckets) out.push(b.key.c);
    if (agg.buckets.length === 0 || !agg.after_key) return out;
    after = agg.after_key;
  }
}
