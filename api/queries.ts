import type { Client } from '@elastic/elasticsearch';
import { scanAll as scanAllHits } from '../runtime/elasticsearch';
import type { estypes } from '@elastic/elasticsearch';
import { Decimal, decimalToString, parseDecimal } from '../schemas/decimal';
import { exactPartsSum } from '../schemas/exact-parts';
import type {
  DeadLetterDocument,
  IndexNames,
  RevisionDocument,
  UsageDocument,
} from '../sinks/elasticsearch/indices';
import type { DocumentRef, InvoiceDocument, InvoiceLine } from '../invoices/types';
import { usageAsKnownAt, type UsageReadSource } from '../sinks/elasticsearch/history';
import type { DeadLetterQuery, GroupBy, RevisionsQuery, UsageQuery } from './params';

/**
 * The API's reads from Elasticsearch. Two rules:
 *   1. Usage is read from the PUBLISHED alias only, so a reader never sees two revisions of a
 *      scope, nor a revision that has not reconciled. With `as_known_at` it is read from the
 *      monthly indices filtered to the revisions the alias showed at that time (usageSource): the
 *      same guarantee, at another knowledge time.
 *   2. Money is exact. The `double` mapping of the money fields exists for analysts; a sum over it
 *      is binary floating point and never reaches a client as an amount. Sums come from the exact
 *      integer parts of an amount (schemas/exact-parts.ts), checked to be exact, or from the
 *      decimal text in _source with Decimal. Counts may come from aggregations.
 * Every search passes ignore_unavailable + allow_no_indices, so a deployment with no data yet
 * answers empty results instead of 404s.
 */
export interface QueryContext {
  es: Client;
  names: IndexNames;
  pageSize: number;
  /** Per-request Elasticsearch timeout; 0 = the client's default. */
  timeoutMs: number;
  /** Aborted at the API request's deadline: every Elasticsearch request in flight stops with it. */
  signal?: AbortSignal;
}

const LENIENT = { ignore_unavailable: true, allow_no_indices: true } as const;

function transport(ctx: QueryContext) {
  return {
    ...(ctx.timeoutMs > 0 ? { requestTimeout: ctx.timeoutMs } : {}),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  };
}

/** Every document matching `query`, page by page, from one point in time (see runtime/elasticsearch.ts). */
export async function* scanAll<T>(
  ctx: QueryContext,
  index: string,
  query: estypes.QueryDslQueryContainer,
  source: string[],
): AsyncGenerator<T[]> {
  for await (const hits of scanAllHits<T>(ctx.es, index, query, source, {
    pageSize: ctx.pageSize,
    requestTimeoutMs: ctx.timeoutMs,
    signal: ctx.signal,
  }))
    yield hits.map((h) => h._source as T);
}

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

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
/** Nulls ("no service") sort last. */
const compareNullable = (a: string | null, b: string | null) =>
  a === b ? 0 : a === null ? 1 : b === null ? -1 : compare(a, b);

export type InvoiceSummary = Pick<
  InvoiceDocument,
  | 'invoice_id'
  | 'number'
  | 'customer'
  | 'period'
  | 'currency'
  | 'status'
  | 'total'
  | 'generated_at'
  | 'finalized_at'
> & { document_type: 'invoice' | 'credit_note' };

/** A summary as served: documents stored before credit notes existed are invoices. */
function invoiceSummaryOf(doc: InvoiceSummary): InvoiceSummary {
  const out = pick(doc, INVOICE_SUMMARY_FIELDS);
  out.document_type = doc.document_type ?? 'invoice';
  return out;
}

const INVOICE_SUMMARY_FIELDS = [
  'invoice_id',
  'number',
  'customer',
  'period',
  'currency',
  'status',
  'total',
  'generated_at',
  'finalized_at',
  'document_type',
];

/** The invoices of a billing period (any customer; admin only), optionally of one customer or status. */
export async function listPeriodInvoices(
  ctx: QueryContext,
  q: { period: string; customer?: string; status?: string },
): Promise<InvoiceSummary[]> {
  const out: InvoiceSummary[] = [];
  const filter: estypes.QueryDslQueryContainer[] = [{ term: { period: q.period } }];
  if (q.customer !== undefined) filter.push({ term: { customer: q.customer } });
  if (q.status !== undefined) filter.push({ term: { status: q.status } });
  const query = { bool: { filter } };
  for await (const page of scanAll<InvoiceSummary>(ctx, ctx.names.invoices, query, INVOICE_SUMMARY_FIELDS))
    for (const doc of page) out.push(invoiceSummaryOf(doc));
  return out.sort((a, b) => compare(a.customer, b.customer) || compare(a.invoice_id, b.invoice_id));
}

/** A customer's invoices, newest period first. */
export async function listInvoices(ctx: QueryContext, customer: string): Promise<InvoiceSummary[]> {
  const out: InvoiceSummary[] = [];
  const query = { term: { customer } };
  for await (const page of scanAll<InvoiceSummary>(ctx, ctx.names.invoices, query, INVOICE_SUMMARY_FIELDS)) {
    // Belt and braces for isolation: should `customer` ever be mapped as text, a term query could
    // match another customer's analysed tokens; the exact comparison cannot.
    for (const doc of page) if (doc.customer === customer) out.push(invoiceSummaryOf(doc));
  }
  return out.sort((a, b) => compare(b.period, a.period) || compare(a.invoice_id, b.invoice_id));
}

function pick<T>(doc: T, fields: string[]): T {
  const src = doc as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of fields) out[f] = src[f] ?? null;
  return out as T;
}

/**
 * The documented invoice fields (openapi.ts `Invoice`), nothing else: the stored document also
 * carries bookkeeping (basis_finalized) and may gain fields, and neither should silently become
 * part of the public contract.
 */
type DocumentFields = {
  subtotal: string;
  taxes: NonNullable<InvoiceDocument['taxes']>;
  document_type: NonNullable<InvoiceDocument['document_type']>;
  issue_date: string | null;
  due_date: string | null;
  corrects: DocumentRef | null;
  replaces: DocumentRef | null;
  replaced_by: DocumentRef | null;
};
export type InvoiceResponse = Pick<
  InvoiceDocument,
  | 'invoice_id'
  | 'number'
  | 'customer'
  | 'period'
  | 'currency'
  | 'status'
  | 'generated_at'
  | 'finalized_at'
  | 'price_book_version'
  | 'rounding'
  | 'lines'
  | 'total'
  | 'cloud_cost'
  | 'margin'
  | 'revisions'
  | 'fingerprint'
> &
  DocumentFields;

const INVOICE_FIELDS: (keyof InvoiceResponse)[] = [
  'invoice_id',
  'number',
  'customer',
  'period',
  'currency',
  'status',
  'generated_at',
  'finalized_at',
  'price_book_version',
  'rounding',
  'lines',
  'subtotal',
  'taxes',
  'total',
  'cloud_cost',
  'margin',
  'revisions',
  'fingerprint',
  'document_type',
  'issue_date',
  'due_date',
  'corrects',
  'replaces',
  'replaced_by',
];
const LINE_FIELDS: (keyof InvoiceLine)[] = [
  'line_id',
  'kind',
  'description',
  'group',
  'plan_id',
  'quantity',
  'unit',
  'amount_exact',
  'amount',
  'included_in_plan',
  'cloud_cost',
  'trace',
  'adjusts',
];

/**
 * Fields documents stored by earlier versions lack: no taxes (subtotal = total), an invoice, no
 * dates, no links.
 */
function withTaxFields<T extends DocumentFields>(out: T, doc: InvoiceDocument): T {
  out.subtotal = doc.subtotal ?? doc.total;
  out.taxes = doc.taxes ?? [];
  out.document_type = doc.document_type ?? 'invoice';
  out.issue_date = doc.issue_date ?? null;
  out.due_date = doc.due_date ?? null;
  out.corrects = doc.corrects ?? null;
  out.replaces = doc.replaces ?? null;
  out.replaced_by = doc.replaced_by ?? null;
  return out;
}

export function toInvoiceResponse(doc: InvoiceDocument): InvoiceResponse {
  const out = pick(doc as unknown as InvoiceResponse, INVOICE_FIELDS as string[]);
  out.lines = (doc.lines ?? []).map((l) => pick(l, LINE_FIELDS as string[]));
  return withTaxFields(out, doc);
}

/**
 * What a customer's own key sees of an invoice (openapi.ts `CustomerInvoice`): what it is charged
 * and why, without the provider's cost behind it, the margin, or the lineage (revision scopes and
 * source objects name the operator's buckets and accounts). Admin keys get toInvoiceResponse.
 */
const CUSTOMER_HIDDEN_INVOICE_FIELDS = new Set<string>(['cloud_cost', 'margin', 'revisions']);
const CUSTOMER_HIDDEN_LINE_FIELDS = new Set<string>(['cloud_cost', 'trace']);
export const CUSTOMER_INVOICE_FIELDS = INVOICE_FIELDS.filter((f) => !CUSTOMER_HIDDEN_INVOICE_FIELDS.has(f));
export const CUSTOMER_LINE_FIELDS = LINE_FIELDS.filter((f) => !CUSTOMER_HIDDEN_LINE_FIELDS.has(f));
export type CustomerInvoiceResponse = Omit<
  InvoiceResponse,
  'cloud_cost' | 'margin' | 'revisions' | 'lines'
> & {
  lines: Omit<InvoiceLine, 'cloud_cost' | 'trace'>[];
};

export function toCustomerInvoiceResponse(doc: InvoiceDocument): CustomerInvoiceResponse {
  const out = pick(doc as unknown as CustomerInvoiceResponse, CUSTOMER_INVOICE_FIELDS as string[]);
  out.lines = (doc.lines ?? []).map((l) => pick(l, CUSTOMER_LINE_FIELDS as string[]));
  return withTaxFields(out, doc);
}

function isNotFound(err: unknown): boolean {
  return (err as { meta?: { statusCode?: number } }).meta?.statusCode === 404;
}

export async function getInvoice(ctx: QueryContext, invoiceId: string): Promise<InvoiceDocument | undefined> {
  try {
    const doc = await ctx.es.get<InvoiceDocument>(
      { index: ctx.names.invoices, id: invoiceId },
      transport(ctx),
    );
    return doc.found ? doc._source : undefined;
  } catch (err) {
    // Missing document and missing index alike: the invoice does not exist (yet).
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export interface RevisionList {
  total: number;
  revisions: RevisionDocument[];
}

const REVISION_FIELDS: (keyof RevisionDocument)[] = [
  'scope',
  'revision_id',
  'provider',
  'format',
  'billing_period',
  'files',
  'row_count',
  'collector_dead_letters',
  'control_totals',
  'completed_offset',
  'failed',
  'state',
  'indexed_rows',
  'dead_lettered_rows',
  'indexed_totals',
  'problems',
  'published_at',
  'updated_at',
];

/** The documented revision fields (openapi.ts `Revision`), whatever else the document gains. */
export function toRevisionResponse(doc: RevisionDocument): RevisionDocument {
  const out = pick(doc, REVISION_FIELDS as string[]);
  // Documents written before the collector's failure flag existed carry none: not failed.
  out.failed = doc.failed === true;
  // When readers stopped seeing it (docs/history.md); only revisions superseded since history exists.
  if (doc.superseded_at) out.superseded_at = doc.superseded_at;
  return out;
}

/** Revisions, most recently updated first. */
export async function listRevisions(ctx: QueryContext, q: RevisionsQuery): Promise<RevisionList> {
  const filter: estypes.QueryDslQueryContainer[] = [];
  if (q.state) filter.push({ term: { state: q.state } });
  if (q.scope) filter.push({ term: { scope: q.scope } });
  if (q.billingPeriod) filter.push({ term: { billing_period: q.billingPeriod } });
  const result = await ctx.es.search<RevisionDocument>(
    {
      index: ctx.names.revisions,
      ...LENIENT,
      size: q.limit,
      query: { bool: { filter } },
      sort: [
        { updated_at: { order: 'desc', unmapped_type: 'date' } },
        { revision_id: { order: 'asc', unmapped_type: 'keyword' } },
      ],
      track_total_hits: true,
    },
    transport(ctx),
  );
  const total = result.hits.total;
  return {
    total: typeof total === 'number' ? total : (total?.value ?? 0),
    revisions: result.hits.hits.map((h) => toRevisionResponse(h._source as RevisionDocument)),
  };
}

export interface DeadLetterSummary {
  total: number;
  by_reason: { reason: string; count: number; by_stage: { stage: string; count: number }[] }[];
  by_stage: { stage: string; count: number }[];
}

type Buckets<T = unknown> = { buckets: ({ key: string; doc_count: number } & T)[] };

/** Dead-letter counts by reason (and stage within it) and by stage. Counts, not money: aggregations are fine. */
export async function deadLetterSummary(ctx: QueryContext, q: DeadLetterQuery): Promise<DeadLetterSummary> {
  const filter: estypes.QueryDslQueryContainer[] = [];
  if (q.stage) filter.push({ term: { stage: q.stage } });
  if (q.scope) filter.push({ term: { scope: q.scope } });
  if (q.customer) filter.push({ term: { customer: q.customer } });
  const result = await ctx.es.search<
    DeadLetterDocument,
    { by_reason: Buckets<{ by_stage: Buckets }>; by_stage: Buckets }
  >(
    {
      index: ctx.names.deadLetters,
      ...LENIENT,
      size: 0,
      query: { bool: { filter } },
      track_total_hits: true,
      aggs: {
        // Reasons and stages are bounded code lists, far below these sizes.
        by_reason: {
          terms: { field: 'reason', size: 1000 },
          aggs: { by_stage: { terms: { field: 'stage', size: 100 } } },
        },
        by_stage: { terms: { field: 'stage', size: 100 } },
      },
    },
    transport(ctx),
  );
  const total = result.hits.total;
  const aggs = result.aggregations;
  return {
    total: typeof total === 'number' ? total : (total?.value ?? 0),
    by_reason: (aggs?.by_reason.buckets ?? []).map((b) => ({
      reason: b.key,
      count: b.doc_count,
      by_stage: b.by_stage.buckets.map((s) => ({ stage: s.key, count: s.doc_count })),
    })),
    by_stage: (aggs?.by_stage.buckets ?? []).map((b) => ({ stage: b.key, count: b.doc_count })),
  };
}
