import type { estypes } from '@elastic/elasticsearch';
import { Decimal, decimalToString, parseDecimal } from '../schemas/decimal';
import { exactPartsSum } from '../schemas/exact-parts';
import type { UsageDocument } from '../sinks/elasticsearch/indices';
import { canReadCustomer, type Principal } from './auth';
import { ApiError, ApiErrorCodes, badParameter, notFound } from './errors';
import type { UsageReadSource } from '../sinks/elasticsearch/history';
import { checkDayRange, identifier, onlyParams, parseHistoryParams, type Query } from './params';
import { scanAll, type QueryContext } from './queries/context';
import { EXACT_RATED_FILTER, UNRATED_FILTER, usageSource } from './queries/usage';

/**
 * GET /v1/usage/breakdown: published usage over [from, to) summed exactly per UTC day, per key
 * (service, region, customer or the value of one tag) and per currency. It is what the analyst
 * console (/console) charts, and any client may call it: the console uses no private route.
 *
 * An admin key reads every customer (or one, with `customer`) and gets the cloud cost (BilledCost
 * per BillingCurrency) and the margin of every row; a customer key reads its own customer only
 * and never gets cost or margin, as with invoices (api/queries/invoices.ts toCustomerInvoiceResponse).
 */

export const BREAKDOWN_BY = ['service', 'region', 'customer', 'tag'] as const;
export type BreakdownBy = (typeof BREAKDOWN_BY)[number];

export interface BreakdownQuery {
  from: string;
  to: string;
  by: BreakdownBy;
  /** The tag whose value is the key, when by = tag. */
  tagKey: string | null;
  /** One customer, or null for every customer (admin keys only). */
  customer: string | null;
  /** Knowledge time (ISO-8601 UTC), docs/history.md; absent: now. */
  asKnownAt?: string;
  /** Only records rated with this price book version. */
  priceBookVersion?: string;
}

export function parseBreakdownQuery(query: Query | undefined, maxRangeDays: number): BreakdownQuery {
  const q = onlyParams(query, [
    'from',
    'to',
    'by',
    'tag_key',
    'customer',
    'as_known_at',
    'price_book_version',
  ]);
  checkDayRange(q, maxRangeDays);
  const by = q.by ?? 'service';
  if (!(BREAKDOWN_BY as readonly string[]).includes(by)) {
    throw badParameter(`"by" must be one of ${BREAKDOWN_BY.join(', ')}, got "${by.slice(0, 40)}"`);
  }
  let tagKey: string | null = null;
  if (by === 'tag') {
    if (q.tag_key === undefined) {
      throw new ApiError(400, ApiErrorCodes.MISSING_PARAMETER, '"tag_key" is required when "by" is tag');
    }
    tagKey = identifier('tag_key', q.tag_key);
  } else if (q.tag_key !== undefined) {
    throw badParameter('"tag_key" is only allowed when "by" is tag');
  }
  const customer = q.customer === undefined ? null : identifier('customer', q.customer);
  return { from: q.from, to: q.to, by: by as BreakdownBy, tagKey, customer, ...parseHistoryParams(q) };
}

export interface CurrencyAmount {
  currency: string;
  amount: string;
}

/** One key and currency (of one day, in `series`): exact decimal text. */
export interface BreakdownRow {
  key: string | null;
  currency: string;
  amount: string;
  record_count: number;
  /** Admin keys only: BilledCost of the same records, per billing currency. */
  cloud_cost?: CurrencyAmount[];
  /** Admin keys only: amount - cloud cost when both are in this currency, else null. */
  margin?: string | null;
}

export interface BreakdownDay extends BreakdownRow {
  day: string;
}

export interface UsageBreakdown {
  from: string;
  to: string;
  by: BreakdownBy;
  tag_key: string | null;
  /** The customer the answer covers, or null for every customer. */
  customer: string | null;
  /** Admin keys get cloud_cost and margin on every row. */
  includes_cost: boolean;
  record_count: number;
  unrated_record_count: number;
  series: BreakdownDay[];
  groups: BreakdownRow[];
  totals: Omit<BreakdownRow, 'key'>[];
  /** Present when the request gave them. */
  as_known_at?: string;
  price_book_version?: string;
}

/** The customer filter a principal may use: a customer key is pinned to its own customer. */
export function breakdownScope(principal: Principal, requested: string | null): string | null {
  if (principal.role === 'customer') {
    if (requested !== null && !canReadCustomer(principal, requested)) throw notFound('customer');
    return principal.customer;
  }
  if (principal.role !== 'admin') {
    throw new ApiError(403, ApiErrorCodes.FORBIDDEN, 'this route needs an admin or customer key');
  }
  return requested;
}

interface Acc {
  day: string;
  key: string | null;
  currency: string;
  rated: Decimal;
  n: number;
  cloud: Map<string, Decimal>;
  /** Some billed cost had no billing currency: the margin cannot be stated. */
  cloudUnknown: boolean;
}

const KEY_FIELD: Record<Exclude<BreakdownBy, 'tag'>, string> = {
  service: 'ServiceName',
  region: 'RegionId',
  customer: 'x_CustomerId',
};

function keyField(q: BreakdownQuery): string {
  // Tags is a flattened field: Tags.<key> is the keyword value of that tag (null when absent).
  return q.by === 'tag' ? `Tags.${q.tagKey}` : KEY_FIELD[q.by];
}

function filterOf(q: BreakdownQuery, source: UsageReadSource): estypes.QueryDslQueryContainer {
  const filter: estypes.QueryDslQueryContainer[] = [
    { range: { ChargePeriodStart: { gte: q.from, lt: q.to, format: 'strict_date' } } },
    ...source.filter,
  ];
  if (q.customer !== null) filter.push({ term: { x_CustomerId: q.customer } });
  return { bool: { filter } };
}

export async function usageBreakdown(
  ctx: QueryContext,
  q: BreakdownQuery,
  includeCost: boolean,
): Promise<UsageBreakdown> {
  // Resolved once: both ways of summing read the same revisions.
  const source = await usageSource(ctx, q);
  const summed =
    (await breakdownInElasticsearch(ctx, q, source)) ?? (await breakdownFromSource(ctx, q, source));
  return shape(q, summed, includeCost);
}

interface Summed {
  accs: Map<string, Acc>;
  records: number;
  unrated: number;
}

function accFor(accs: Map<string, Acc>, day: string, key: string | null, currency: string): Acc {
  const id = JSON.stringify([day, key, currency]);
  let acc = accs.get(id);
  if (!acc) {
    acc = { day, key, currency, rated: new Decimal(0), n: 0, cloud: new Map(), cloudUnknown: false };
    accs.set(id, acc);
  }
  return acc;
}

type Stats = { count: number; min: number | null; max: number | null; sum: number };
const partsOf = (units: Stats, nano: { value: number }, atto: { value: number }) =>
  exactPartsSum({
    count: units.count,
    unitsMin: units.min ?? 0,
    unitsMax: units.max ?? 0,
    unitsSum: units.sum,
    nanoSum: nano.value,
    attoSum: atto.value,
  });

/**
 * Sums inside Elasticsearch over the exact integer parts (as api/queries/usage.ts usageSummary does), so
 * the work is bounded by the number of (day, key, currency, billing currency) buckets; undefined
 * when a sum could not be exact, and the caller sums the decimal text instead.
 */
async function breakdownInElasticsearch(
  ctx: QueryContext,
  q: BreakdownQuery,
  source: UsageReadSource,
): Promise<Summed | undefined> {
  const requestOptions = {
    ...(ctx.timeoutMs > 0 ? { requestTimeout: ctx.timeoutMs } : {}),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  };
  const pit = await ctx.es.openPointInTime(
    { index: source.index, keep_alive: '1m', ignore_unavailable: true },
    requestOptions,
  );
  try {
    const accs = new Map<string, Acc>();
    let after: Record<string, estypes.FieldValue> | undefined;
    let bucketed = 0;
    for (;;) {
      const res = await ctx.es.search(
        {
          pit: { id: pit.id, keep_alive: '1m' },
          size: 0,
          track_total_hits: true,
          query: filterOf(q, source),
          aggs: {
            unrated: { filter: UNRATED_FILTER },
            split: {
              filter: EXACT_RATED_FILTER,
              aggs: {
                rows: {
                  composite: {
                    size: 1000,
                    sources: [
                      {
                        day: {
                          date_histogram: {
                            field: 'ChargePeriodStart',
                            calendar_interval: '1d',
                            format: 'yyyy-MM-dd',
                            time_zone: 'UTC',
                          },
                        },
                      },
                      { key: { terms: { field: keyField(q), missing_bucket: true } } },
                      { currency: { terms: { field: 'x_RatedCurrency' } } },
                      { billing: { terms: { field: 'BillingCurrency', missing_bucket: true } } },
                    ],
                    ...(after ? { after } : {}),
                  },
                  aggs: {
                    units: { stats: { field: 'x_Exact.x_RatedCost.units' } },
                    nano: { sum: { field: 'x_Exact.x_RatedCost.nano' } },
                    atto: { sum: { field: 'x_Exact.x_RatedCost.atto' } },
                    billed_text: { value_count: { field: 'BilledCost' } },
                    billed_units: { stats: { field: 'x_Exact.BilledCost.units' } },
                    billed_nano: { sum: { field: 'x_Exact.BilledCost.nano' } },
                    billed_atto: { sum: { field: 'x_Exact.BilledCost.atto' } },
                  },
                },
              },
            },
          },
        },
        requestOptions,
      );
      const total = typeof res.hits.total === 'number' ? res.hits.total : (res.hits.total?.value ?? 0);
      if (!res.aggregations) return { accs, records: 0, unrated: 0 };
      const aggs = res.aggregations as unknown as {
        unrated: { doc_count: number };
        split: {
          doc_count: number;
          rows: {
            after_key?: Record<string, estypes.FieldValue>;
            buckets: Array<{
              key: { day: string; key: string | number | null; currency: string; billing: string | null };
              doc_count: number;
              units: Stats;
              nano: { value: number };
              atto: { value: number };
              billed_text: { value: number };
              billed_units: Stats;
              billed_nano: { value: number };
              billed_atto: { value: number };
            }>;
          };
        };
      };
      // A rated document without parts can only be summed from its text.
      if (aggs.split.doc_count !== total - aggs.unrated.doc_count) return undefined;
      for (const b of aggs.split.rows.buckets) {
        const rated = partsOf(b.units, b.nano, b.atto);
        // Every billed cost of the bucket must have parts, or its sum is not exact.
        if (!rated || b.billed_units.count !== b.billed_text.value) return undefined;
        const billed =
          b.billed_units.count > 0 ? partsOf(b.billed_units, b.billed_nano, b.billed_atto) : undefined;
        if (b.billed_units.count > 0 && !billed) return undefined;
        const acc = accFor(accs, b.key.day, b.key.key === null ? null : String(b.key.key), b.key.currency);
        acc.rated = acc.rated.plus(rated);
        acc.n += b.doc_count;
        bucketed += b.doc_count;
        if (billed) addCloud(acc, b.key.billing, billed);
      }
      after = aggs.split.rows.after_key;
      if (!after || aggs.split.rows.buckets.length === 0) {
        // A rated document without a ChargePeriodStart falls in no day bucket: the text path refuses it.
        if (bucketed !== aggs.split.doc_count) return undefined;
        return { accs, records: total, unrated: aggs.unrated.doc_count };
      }
    }
  } finally {
    await ctx.es.closePointInTime({ id: pit.id }).catch(() => undefined);
  }
}

function addCloud(acc: Acc, currency: string | null | undefined, amount: Decimal): void {
  if (!currency) {
    if (!amount.isZero()) acc.cloudUnknown = true;
    return;
  }
  acc.cloud.set(currency, (acc.cloud.get(currency) ?? new Decimal(0)).plus(amount));
}

type BreakdownSource = Pick<
  UsageDocument,
  | 'x_RatedCost'
  | 'x_RatedCurrency'
  | 'BilledCost'
  | 'BillingCurrency'
  | 'ServiceName'
  | 'RegionId'
  | 'x_CustomerId'
  | 'Tags'
  | 'ChargePeriodStart'
>;

function keyOf(doc: BreakdownSource, q: BreakdownQuery): string | null {
  switch (q.by) {
    case 'service':
      return doc.ServiceName ?? null;
    case 'region':
      return doc.RegionId ?? null;
    case 'customer':
      return doc.x_CustomerId ?? null;
    case 'tag':
      return doc.Tags?.[q.tagKey as string] ?? null;
  }
}

function decimalOf(field: string, text: string): Decimal {
  const value = parseDecimal(text);
  // A non-decimal amount in a published revision is a bug upstream; refuse to answer a wrong sum.
  if (!value) throw new Error(`${field} is not decimal text: ${JSON.stringify(text)}`);
  return value;
}

/** The same sums from the exact decimal text in _source, document by document. */
async function breakdownFromSource(
  ctx: QueryContext,
  q: BreakdownQuery,
  source: UsageReadSource,
): Promise<Summed> {
  const fields = [
    'x_RatedCost',
    'x_RatedCurrency',
    'BilledCost',
    'BillingCurrency',
    'ServiceName',
    'RegionId',
    'x_CustomerId',
    'Tags',
    'ChargePeriodStart',
  ];
  const accs = new Map<string, Acc>();
  let records = 0;
  let unrated = 0;
  for await (const page of scanAll<BreakdownSource>(ctx, source.index, filterOf(q, source), fields)) {
    for (const doc of page) {
      records++;
      if (doc.x_RatedCost === null || doc.x_RatedCost === undefined || !doc.x_RatedCurrency) {
        unrated++;
        continue;
      }
      const t = new Date(doc.ChargePeriodStart);
      if (Number.isNaN(t.getTime()))
        throw new Error(`unparseable ChargePeriodStart ${doc.ChargePeriodStart}`);
      const acc = accFor(accs, t.toISOString().slice(0, 10), keyOf(doc, q), doc.x_RatedCurrency);
      acc.rated = acc.rated.plus(decimalOf('x_RatedCost', doc.x_RatedCost));
      acc.n++;
      if (doc.BilledCost !== null && doc.BilledCost !== undefined)
        addCloud(acc, doc.BillingCurrency, decimalOf('BilledCost', doc.BilledCost));
    }
  }
  return { accs, records, unrated };
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const compareNullable = (a: string | null, b: string | null) =>
  a === b ? 0 : a === null ? 1 : b === null ? -1 : compare(a, b);

function merge(into: Acc, from: Acc): void {
  into.rated = into.rated.plus(from.rated);
  into.n += from.n;
  for (const [c, v] of from.cloud) into.cloud.set(c, (into.cloud.get(c) ?? new Decimal(0)).plus(v));
  into.cloudUnknown ||= from.cloudUnknown;
}

function rowOf(acc: Acc, includeCost: boolean): BreakdownRow {
  const row: BreakdownRow = {
    key: acc.key,
    currency: acc.currency,
    amount: decimalToString(acc.rated),
    record_count: acc.n,
  };
  if (!includeCost) return row;
  const cloud = [...acc.cloud.entries()]
    .sort(([a], [b]) => compare(a, b))
    .map(([currency, v]) => ({ currency, amount: decimalToString(v) }));
  row.cloud_cost = cloud;
  // As on invoices (invoices/assemble.ts): a margin only when it is one subtraction in one currency.
  row.margin = acc.cloudUnknown
    ? null
    : cloud.length === 0
      ? row.amount
      : cloud.length === 1 && cloud[0].currency === acc.currency
        ? decimalToString(acc.rated.minus(acc.cloud.get(acc.currency) as Decimal))
        : null;
  return row;
}

function shape(q: BreakdownQuery, summed: Summed, includeCost: boolean): UsageBreakdown {
  const days = [...summed.accs.values()].sort(
    (a, b) => compare(a.day, b.day) || compareNullable(a.key, b.key) || compare(a.currency, b.currency),
  );
  const groups = new Map<string, Acc>();
  const totals = new Map<string, Acc>();
  for (const acc of days) {
    merge(accFor(groups, '', acc.key, acc.currency), acc);
    merge(accFor(totals, '', null, acc.currency), acc);
  }
  return {
    from: q.from,
    to: q.to,
    by: q.by,
    tag_key: q.tagKey,
    customer: q.customer,
    includes_cost: includeCost,
    record_count: summed.records,
    unrated_record_count: summed.unrated,
    series: days.map((acc) => ({ day: acc.day, ...rowOf(acc, includeCost) })),
    groups: [...groups.values()]
      .sort((a, b) => compareNullable(a.key, b.key) || compare(a.currency, b.currency))
      .map((acc) => rowOf(acc, includeCost)),
    totals: [...totals.values()]
      .sort((a, b) => compare(a.currency, b.currency))
      .map((acc) => {
        const { key: _key, ...rest } = rowOf(acc, includeCost);
        return rest;
      }),
    ...(q.asKnownAt !== undefined ? { as_known_at: q.asKnownAt } : {}),
    ...(q.priceBookVersion !== undefined ? { price_book_version: q.priceBookVersion } : {}),
  };
}
