import type { estypes } from '@elastic/elasticsearch';
import { Decimal, decimalToString, parseDecimal } from '../../schemas/decimal';
import { exactPartsSum } from '../../schemas/exact-parts';
import type { UsageDocument } from '../../sinks/elasticsearch/indices';
import { usageAsKnownAt, type UsageReadSource } from '../../sinks/elasticsearch/history';
import type { GroupBy, UsageQuery } from '../params';
import { compare, scanAll, transport, type QueryContext } from './context';

/** Published usage: a customer's exact sums per group (see context.ts for the reading rules). */

export interface AmountByCurrency {
  currency: string;
  amount: string;
  record_count: number;
}

export interface UsageGroup extends AmountByCurrency {
  /** The service / SKU / region / UTC day; null when the records carry none. */
  key: string | null;
}

export interface UsageSummary {
  customer: string;
  from: string;
  to: string;
  group_by: GroupBy;
  /** Every published record of the customer in the range, rated or not. */
  record_count: number;
  /** Records without x_RatedCost (not priced): counted, never summed. */
  unrated_record_count: number;
  groups: UsageGroup[];
  totals: AmountByCurrency[];
  /** Present when the request gave them. */
  as_known_at?: string;
  price_book_version?: string;
}

/**
 * Where a usage query reads: the published alias, or with `asKnownAt` the monthly indices filtered
 * to the revisions readers saw then (sinks/elasticsearch/history.ts); plus the price book filter.
 */
export async function usageSource(
  ctx: QueryContext,
  q: { asKnownAt?: string; priceBookVersion?: string },
): Promise<UsageReadSource> {
  const at = q.asKnownAt === undefined ? undefined : Date.parse(q.asKnownAt);
  const source = await usageAsKnownAt(ctx.es, ctx.names, at, {
    requestTimeoutMs: ctx.timeoutMs,
    signal: ctx.signal,
  });
  if (q.priceBookVersion !== undefined)
    source.filter = [...source.filter, { term: { x_PriceBookVersion: q.priceBookVersion } }];
  return source;
}

type UsageSource = Pick<
  UsageDocument,
  'x_RatedCost' | 'x_RatedCurrency' | 'ServiceName' | 'SkuId' | 'RegionId' | 'ChargePeriodStart'
>;

function groupKey(doc: UsageSource, groupBy: GroupBy): string | null {
  switch (groupBy) {
    case 'service':
      return doc.ServiceName ?? null;
    case 'sku':
      return doc.SkuId ?? null;
    case 'region':
      return doc.RegionId ?? null;
    case 'day': {
      // ChargePeriodStart is ISO-8601 and may carry an offset; the day is the UTC calendar day.
      const t = new Date(doc.ChargePeriodStart);
      if (Number.isNaN(t.getTime()))
        throw new Error(`unparseable ChargePeriodStart ${doc.ChargePeriodStart}`);
      return t.toISOString().slice(0, 10);
    }
  }
}

type Group = { key: string | null; currency: string; sum: Decimal; n: number };

const GROUP_FIELD: Record<Exclude<GroupBy, 'day'>, string> = {
  service: 'ServiceName',
  sku: 'SkuId',
  region: 'RegionId',
};

function usageQuery(
  customer: string,
  q: UsageQuery,
  source: UsageReadSource,
): estypes.QueryDslQueryContainer {
  return {
    bool: {
      filter: [
        { term: { x_CustomerId: customer } },
        { range: { ChargePeriodStart: { gte: q.from, lt: q.to, format: 'strict_date' } } },
        ...source.filter,
      ],
    },
  };
}

/**
 * Sums a customer's published usage in [from, to) of ChargePeriodStart, per group and currency,
 * exactly. Inside Elasticsearch when it can be exact (every rated document carries the integer
 * parts of its amount, and no sum leaves the range where a double is exact), so the work per
 * request is bounded by the number of groups, not of documents; otherwise from the exact text in
 * _source, document by document.
 */
export async function usageSummary(
  ctx: QueryContext,
  customer: string,
  q: UsageQuery,
): Promise<UsageSummary> {
  // Resolved once: both ways of summing read the same revisions.
  const source = await usageSource(ctx, q);
  return (
    (await usageSummaryInElasticsearch(ctx, customer, q, source)) ??
    (await usageSummaryFromSource(ctx, customer, q, source))
  );
}

const RATED_PARTS = 'x_Exact.x_RatedCost';
/** Records without a rated amount or currency: counted, never summed. */
export const UNRATED_FILTER = {
  bool: {
    should: [
      { bool: { must_not: { exists: { field: 'x_RatedCost' } } } },
      { bool: { must_not: { exists: { field: 'x_RatedCurrency' } } } },
    ],
    minimum_should_match: 1,
  },
};
/** Records whose rated amount can be summed inside Elasticsearch from its exact integer parts. */
export const EXACT_RATED_FILTER = {
  bool: {
    filter: [{ exists: { field: `${RATED_PARTS}.units` } }, { exists: { field: 'x_RatedCurrency' } }],
  },
};

/** The summary from aggregations over the exact integer parts; undefined when that cannot be exact. */
export async function usageSummaryInElasticsearch(
  ctx: QueryContext,
  customer: string,
  q: UsageQuery,
  source?: UsageReadSource,
): Promise<UsageSummary | undefined> {
  const from = source ?? (await usageSource(ctx, q));
  const key: estypes.AggregationsCompositeAggregationSource =
    q.groupBy === 'day'
      ? {
          date_histogram: {
            field: 'ChargePeriodStart',
            calendar_interval: '1d',
            format: 'yyyy-MM-dd',
            time_zone: 'UTC',
            missing_bucket: true,
          },
        }
      : { terms: { field: GROUP_FIELD[q.groupBy], missing_bucket: true } };
  // One point in time for every page, as scanAll: a publish between two pages must not mix revisions.
  const pit = await ctx.es.openPointInTime(
    { index: from.index, keep_alive: '1m', ignore_unavailable: true },
    transport(ctx),
  );
  try {
    return await summedInPages(ctx, customer, q, key, pit.id, from);
  } finally {
    await ctx.es.closePointInTime({ id: pit.id }).catch(() => undefined);
  }
}

async function summedInPages(
  ctx: QueryContext,
  customer: string,
  q: UsageQuery,
  source: estypes.AggregationsCompositeAggregationSource,
  pitId: string,
  from: UsageReadSource,
): Promise<UsageSummary | undefined> {
  const groups = new Map<string, Group>();
  let after: Record<string, unknown> | undefined;
  for (;;) {
    const res = await ctx.es.search(
      {
        pit: { id: pitId, keep_alive: '1m' },
        size: 0,
        track_total_hits: true,
        query: usageQuery(customer, q, from),
        aggs: {
          unrated: { filter: UNRATED_FILTER },
          split: {
            filter: EXACT_RATED_FILTER,
            aggs: {
              groups: {
                composite: {
                  size: 1000,
                  sources: [{ key: source }, { currency: { terms: { field: 'x_RatedCurrency' } } }],
                  ...(after ? { after: after as Record<string, estypes.FieldValue> } : {}),
                },
                aggs: {
                  units: { stats: { field: `${RATED_PARTS}.units` } },
                  nano: { sum: { field: `${RATED_PARTS}.nano` } },
                  atto: { sum: { field: `${RATED_PARTS}.atto` } },
                },
              },
            },
          },
        },
      },
      transport(ctx),
    );
    const total = typeof res.hits.total === 'number' ? res.hits.total : (res.hits.total?.value ?? 0);
    // No index behind the alias yet: no shard answers, and there is nothing to sum.
    if (!res.aggregations) return summaryOf(customer, q, groups, 0, 0);
    const aggs = res.aggregations as unknown as {
      unrated: { doc_count: number };
      split: {
        doc_count: number;
        groups: {
          after_key?: Record<string, unknown>;
          buckets: Array<{
            key: { key: string | number | null; currency: string };
            doc_count: number;
            units: { count: number; min: number | null; max: number | null; sum: number };
            nano: { value: number };
            atto: { value: number };
          }>;
        };
      };
    };
    // A rated document without parts (an amount with more than 18 decimal places, or one indexed
    // before the parts existed) can only be summed from its text.
    if (aggs.split.doc_count !== total - aggs.unrated.doc_count) return undefined;
    for (const b of aggs.split.groups.buckets) {
      const sum = exactPartsSum({
        count: b.units.count,
        unitsMin: b.units.min ?? 0,
        unitsMax: b.units.max ?? 0,
        unitsSum: b.units.sum,
        nanoSum: b.nano.value,
        attoSum: b.atto.value,
      });
      if (!sum) return undefined;
      const key = b.key.key === null ? null : String(b.key.key);
      groups.set(JSON.stringify([key, b.key.currency]), {
        key,
        currency: b.key.currency,
        sum,
        n: b.doc_count,
      });
    }
    after = aggs.split.groups.after_key;
    if (!after || aggs.split.groups.buckets.length === 0)
      return summaryOf(customer, q, groups, total, aggs.unrated.doc_count);
  }
}

/** The summary from the exact decimal text in _source, document by document. */
export async function usageSummaryFromSource(
  ctx: QueryContext,
  customer: string,
  q: UsageQuery,
  from?: UsageReadSource,
): Promise<UsageSummary> {
  const read = from ?? (await usageSource(ctx, q));
  const source = ['x_RatedCost', 'x_RatedCurrency', 'ServiceName', 'SkuId', 'RegionId', 'ChargePeriodStart'];
  const groups = new Map<string, Group>();
  let records = 0;
  let unrated = 0;
  for await (const page of scanAll<UsageSource>(ctx, read.index, usageQuery(customer, q, read), source)) {
    for (const doc of page) {
      records++;
      if (doc.x_RatedCost === null || doc.x_RatedCost === undefined || !doc.x_RatedCurrency) {
        unrated++;
        continue;
      }
      const amount = parseDecimal(doc.x_RatedCost);
      // A non-decimal amount in a published revision is a bug upstream; refuse to answer a wrong sum.
      if (!amount) throw new Error(`x_RatedCost is not decimal text: ${JSON.stringify(doc.x_RatedCost)}`);
      const key = groupKey(doc, q.groupBy);
      const id = JSON.stringify([key, doc.x_RatedCurrency]);
      const g = groups.get(id) ?? { key, currency: doc.x_RatedCurrency, sum: new Decimal(0), n: 0 };
      g.sum = g.sum.plus(amount);
      g.n++;
      groups.set(id, g);
    }
  }
  return summaryOf(customer, q, groups, records, unrated);
}

function summaryOf(
  customer: string,
  q: UsageQuery,
  groups: Map<string, Group>,
  records: number,
  unrated: number,
): UsageSummary {
  const totals = new Map<string, { sum: Decimal; n: number }>();
  for (const g of groups.values()) {
    const t = totals.get(g.currency) ?? { sum: new Decimal(0), n: 0 };
    t.sum = t.sum.plus(g.sum);
    t.n += g.n;
    totals.set(g.currency, t);
  }
  const sortedGroups = [...groups.values()].sort(
    (a, b) => compareNullable(a.key, b.key) || compare(a.currency, b.currency),
  );
  return {
    customer,
    from: q.from,
    to: q.to,
    group_by: q.groupBy,
    record_count: records,
    unrated_record_count: unrated,
    groups: sortedGroups.map((g) => ({
      key: g.key,
      currency: g.currency,
      amount: decimalToString(g.sum),
      record_count: g.n,
    })),
    totals: [...totals.entries()]
      .sort(([a], [b]) => compare(a, b))
      .map(([currency, t]) => ({ currency, amount: decimalToString(t.sum), record_count: t.n })),
    ...(q.asKnownAt !== undefined ? { as_known_at: q.asKnownAt } : {}),
    ...(q.priceBookVersion !== undefined ? { price_book_version: q.priceBookVersion } : {}),
  };
}

/** Nulls ("no service") sort last. */
const compareNullable = (a: string | null, b: string | null) =>
  a === b ? 0 : a === null ? 1 : b === null ? -1 : compare(a, b);
