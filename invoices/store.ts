import type { Client } from '@elastic/elasticsearch';
import type { IndexNames } from '../sinks/elasticsearch/indices';
import type { PriceBook } from '../processors/price/price-book';
import { ErrorCodes, PermanentError } from '../runtime/errors';
import { scanAll } from '../runtime/elasticsearch';
import type { InvoiceOptions } from './config';
import {
  computeInvoice,
  invoiceId,
  InvoiceError,
  plansInEffect,
  UsageAccumulator,
  USAGE_SOURCE_FIELDS,
  type UsageInput,
  type UsageSummary,
} from './compute';
import type { InvoiceDocument } from './types';

/**
 * Invoices in Elasticsearch: reading usage from the published alias, storing drafts, finalizing.
 *
 * Lifecycle of P-invoices/<customer>:<period>:
 *   draft      recomputed by every generate; written only when its fingerprint changed, with
 *              if_seq_no/if_primary_term of the version read (or op_type create), so a concurrent
 *              finalize is never overwritten: on 409 generate re-reads and, if the invoice is now
 *              finalized, leaves it alone.
 *   finalized  immutable. Generate never writes it; finalize of a finalized invoice is a no-op.
 *
 * Finalize, per draft, in this order:
 *   1. check the draft's basis (the customer's finalized invoices it was computed against) is
 *      current, else refuse: adjustments might be on another finalized invoice by now;
 *   2. take the next number of the year from the counter document (optimistic concurrency,
 *      retried on 409), so two finalizers never share a number;
 *   3. write the invoice as finalized with if_seq_no of the draft read. On 409 it re-reads: still a
 *      draft (regenerated meanwhile) -> finalize that content with the same number; finalized by
 *      someone else -> its number stands and ours is unused (the only way a gap in the sequence
 *      can appear: two finalizers racing on the same invoice).
 *
 * Usage is read from one point in time (runtime/elasticsearch.ts scanAll): a publish that swaps the
 * alias in the middle of a read cannot mix two revisions of a scope in one invoice, which a
 * finalize would otherwise freeze.
 */

const PAGE = 2000;

const keyword = { type: 'keyword' } as const;
const date = { type: 'date', format: 'strict_date_optional_time||epoch_millis' } as const;
const money = keyword; // exact decimal text; never a double on invoices

export function invoiceMappings() {
  const amounts = { type: 'object', properties: { currency: keyword, amount: money } } as const;
  const revisions = { type: 'object', properties: { scope: keyword, revision_id: keyword } } as const;
  return {
    dynamic: 'strict' as const,
    properties: {
      invoice_id: keyword,
      number: keyword,
      customer: keyword,
      period: keyword,
      currency: keyword,
      status: keyword,
      generated_at: date,
      finalized_at: date,
      price_book_version: keyword,
      rounding: { type: 'object', properties: { mode: keyword, minor_units: { type: 'integer' } } },
      lines: {
        type: 'object',
        properties: {
          line_id: keyword,
          kind: keyword,
          description: { type: 'text' },
          group: keyword,
          plan_id: keyword,
          quantity: money,
          unit: keyword,
          amount_exact: money,
          amount: money,
          included_in_plan: money,
          cloud_cost: amounts,
          trace: {
            type: 'object',
            properties: {
              revisions,
              source_objects: keyword,
              source_object_count: { type: 'long' },
              record_count: { type: 'long' },
            },
          },
          adjusts: {
            type: 'object',
            properties: {
              invoice_id: keyword,
              invoice_number: keyword,
              period: keyword,
              line_id: keyword,
              billed_amount: money,
              current_amount: money,
              cause: { type: 'text' },
            },
          },
        },
      },
      total: money,
      cloud_cost: amounts,
      margin: money,
      revisions,
      basis_finalized: keyword,
      fingerprint: keyword,
    },
  };
}

/** Index of the invoice number counters (one document per year). */
export function invoiceCounterIndex(names: IndexNames): string {
  return `${names.invoices}-counters`;
}

function errorType(err: unknown): string | undefined {
  return (err as { meta?: { body?: { error?: { type?: string } } } }).meta?.body?.error?.type;
}

function isConflict(err: unknown): boolean {
  return (err as { meta?: { statusCode?: number } }).meta?.statusCode === 409;
}

async function createIfAbsent(es: Client, index: string, body: Record<string, unknown>): Promise<void> {
  if (await es.indices.exists({ index })) return;
  try {
    await es.indices.create({ index, ...body });
  } catch (err) {
    if (errorType(err) !== 'resource_already_exists_exception') throw err;
  }
}

/** Create P-invoices (strict mappings) and the counter index if absent. Idempotent. */
export async function ensureInvoiceIndex(es: Client, names: IndexNames, replicas = 0): Promise<void> {
  const settings = { number_of_shards: 1, number_of_replicas: replicas };
  await createIfAbsent(es, names.invoices, { settings, mappings: invoiceMappings() });
  await createIfAbsent(es, invoiceCounterIndex(names), {
    settings,
    mappings: { dynamic: 'strict', properties: { year: keyword, last: { type: 'long' } } },
  });
}

// ---------------------------------------------------------------------------------------------
// Reading

/** Every published usage record of a customer in a period, read from one point in time. */
export async function* readUsage(
  es: Client,
  names: IndexNames,
  customer: string,
  period: string,
): AsyncGenerator<UsageInput> {
  const query = {
    bool: { filter: [{ term: { x_CustomerId: customer } }, { term: { x_BillingPeriod: period } }] },
  };
  for await (const hits of scanAll<UsageInput>(es, names.usageAlias, query, [...USAGE_SOURCE_FIELDS], {
    pageSize: PAGE,
  }))
    for (const h of hits) if (h._source) yield h._source;
}

export async function summarizeStoredUsage(
  es: Client,
  names: IndexNames,
  ctx: { book: PriceBook; customer: string; period: string; options: Pick<InvoiceOptions, 'group_by'> },
): Promise<UsageSummary> {
  const acc = new UsageAccumulator({ ...ctx, groupBy: ctx.options.group_by });
  for await (const r of readUsage(es, names, ctx.customer, ctx.period)) acc.add(r);
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

async function searchInvoices(
  es: Client,
  names: IndexNames,
  filter: Record<string, unknown>[],
): Promise<{ doc: InvoiceDocument; seqNo: number; primaryTerm: number }[]> {
  const out: { doc: InvoiceDocument; seqNo: number; primaryTerm: number }[] = [];
  let after: unknown[] | undefined;
  for (;;) {
    const res = await es.search<InvoiceDocument>({
      index: names.invoices,
      ignore_unavailable: true,
      allow_no_indices: true,
      size: 1000,
      seq_no_primary_term: true,
      query: { bool: { filter } },
      sort: [{ invoice_id: 'asc' }],
      ...(after ? { search_after: after as never } : {}),
    });
    for (const h of res.hits.hits)
      if (h._source) out.push({ doc: h._source, seqNo: h._seq_no!, primaryTerm: h._primary_term! });
    if (res.hits.hits.length < 1000) return out;
    after = res.hits.hits[res.hits.hits.length - 1].sort as unknown[];
  }
}

/** Every stored invoice of a customer (any period, any status). */
export async function customerInvoices(
  es: Client,
  names: IndexNames,
  customer: string,
): Promise<InvoiceDocument[]> {
  return (await searchInvoices(es, names, [{ term: { customer } }])).map((h) => h.doc);
}

async function getInvoice(
  es: Client,
  names: IndexNames,
  id: string,
): Promise<{ doc: InvoiceDocument; seqNo: number; primaryTerm: number } | undefined> {
  try {
    // GET is realtime: it sees the latest write even before a refresh.
    const res = await es.get<InvoiceDocument>({ index: names.invoices, id });
    if (!res.found || !res._source) return undefined;
    return { doc: res._source, seqNo: res._seq_no!, primaryTerm: res._primary_term! };
  } catch (err) {
    if ((err as { meta?: { statusCode?: number } }).meta?.statusCode === 404) return undefined;
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Generate

export type GenerateOutcome = 'written' | 'unchanged' | 'finalized' | 'empty' | 'error';

export interface InvoiceResult {
  invoice_id: string;
  customer: string;
  period: string;
  outcome: GenerateOutcome | 'already_finalized' | 'stale' | 'not_found';
  invoice: InvoiceDocument | null;
  error: string | null;
}

async function generateOne(args: {
  es: Client;
  names: IndexNames;
  book: PriceBook;
  period: string;
  customer: string;
  options: InvoiceOptions;
  now: Date;
}): Promise<InvoiceResult> {
  const { es, names, book, period, customer, options } = args;
  const id = invoiceId(customer, period);
  const base = { invoice_id: id, customer, period };
  for (let attempt = 0; ; attempt++) {
    const existing = await getInvoice(es, names, id);
    if (existing?.doc.status === 'finalized')
      return { ...base, outcome: 'finalized', invoice: existing.doc, error: null };
    const ctx = { book, customer, options };
    const usage = await summarizeStoredUsage(es, names, { ...ctx, period });
    const invoices = await customerInvoices(es, names, customer);
    const restated: Record<string, UsageSummary> = {};
    for (const inv of invoices)
      if (inv.status === 'finalized' && inv.period < period)
        restated[inv.period] = await summarizeStoredUsage(es, names, { ...ctx, period: inv.period });
    // Nothing of its own, no plan and no finalized earlier period to adjust: no invoice to make
    // (a customer with an invoice of an earlier period is a candidate, but owes nothing here).
    if (
      !existing &&
      usage.lines.size === 0 &&
      Object.keys(restated).length === 0 &&
      plansInEffect(book, customer, period).length === 0
    )
      return { ...base, outcome: 'empty', invoice: null, error: null };
    let doc: InvoiceDocument;
    try {
      doc = computeInvoice({
        customer,
        period,
        book,
        options,
        usage,
        invoices,
        restated,
        now: args.now.toISOString(),
      });
    } catch (err) {
      if (err instanceof InvoiceError)
        return { ...base, outcome: 'error', invoice: null, error: err.message };
      throw err;
    }
    if (!existing && doc.lines.length === 0) return { ...base, outcome: 'empty', invoice: null, error: null };
    if (existing && existing.doc.fingerprint === doc.fingerprint)
      return { ...base, outcome: 'unchanged', invoice: existing.doc, error: null };
    try {
      if (existing)
        await es.index({
          index: names.invoices,
          id,
          document: doc,
          if_seq_no: existing.seqNo,
          if_primary_term: existing.primaryTerm,
          refresh: 'wait_for',
        });
      else
        await es.index({ index: names.invoices, id, document: doc, op_type: 'create', refresh: 'wait_for' });
      return { ...base, outcome: 'written', invoice: doc, error: null };
    } catch (err) {
      // Someone else wrote it between our read and our write (a finalize, another generator).
      if (!isConflict(err) || attempt >= 3) throw err;
    }
  }
}

/**
 * Regenerate the drafts of a period: one per customer with published usage in the period, with a
 * stored invoice for it, or with a plan in effect (a commitment is owed without usage). Also every
 * customer with finalized invoices of earlier periods, since late usage yields adjustments on
 * this period's invoice; customers whose invoice would be empty get none.
 */
export async function generateInvoices(args: {
  es: Client;
  names: IndexNames;
  book: PriceBook;
  period: string;
  customer?: string;
  options: InvoiceOptions;
  now?: Date;
}): Promise<InvoiceResult[]> {
  const { es, names, book, period } = args;
  const now = args.now ?? new Date();
  await ensureInvoiceIndex(es, names);
  let customers: string[];
  if (args.customer !== undefined) customers = [args.customer];
  else {
    const set = new Set(await customersWithUsage(es, names, period));
    for (const h of await searchInvoices(es, names, [{ range: { period: { lte: period } } }]))
      set.add(h.doc.customer);
    for (const c of Object.keys(book.customers)) if (plansInEffect(book, c, period).length) set.add(c);
    customers = [...set].sort();
  }
  const results: InvoiceResult[] = [];
  for (const customer of customers)
    results.push(await generateOne({ es, names, book, period, customer, options: args.options, now }));
  return results;
}

// ---------------------------------------------------------------------------------------------
// Finalize

/** Next invoice number of `year`: MF-<YYYY>-<6 digits>, from a counter document. */
export async function nextInvoiceNumber(es: Client, names: IndexNames, year: string): Promise<string> {
  const index = invoiceCounterIndex(names);
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      const got = await es.get<{ year: string; last: number }>({ index, id: year }).catch((err) => {
        if ((err as { meta?: { statusCode?: number } }).meta?.statusCode === 404) return undefined;
        throw err;
      });
      let next: number;
      if (!got?.found || !got._source) {
        next = 1;
        await es.index({
          index,
          id: year,
          document: { year, last: next },
          op_type: 'create',
          refresh: false,
        });
      } else {
        next = got._source.last + 1;
        await es.index({
          index,
          id: year,
          document: { year, last: next },
          if_seq_no: got._seq_no!,
          if_primary_term: got._primary_term!,
        });
      }
      return `MF-${year}-${String(next).padStart(6, '0')}`;
    } catch (err) {
      // Another finalizer took this number: read the counter again.
      if (!isConflict(err)) throw err;
    }
  }
  throw new PermanentError(ErrorCodes.UNKNOWN, `invoice counter ${year}: too much contention`);
}

/**
 * Finalize the drafts of a period (optionally one customer's): number, finalized_at, immutable
 * from then on. Finalizing a finalized invoice is a no-op ('already_finalized').
 */
export async function finalizeInvoices(args: {
  es: Client;
  names: IndexNames;
  period: string;
  customer?: string;
  now?: Date;
}): Promise<InvoiceResult[]> {
  const { es, names, period } = args;
  const now = args.now ?? new Date();
  await ensureInvoiceIndex(es, names);
  const filter: Record<string, unknown>[] = [{ term: { period } }];
  if (args.customer !== undefined) filter.push({ term: { customer: args.customer } });
  const found = await searchInvoices(es, names, filter);
  if (args.customer !== undefined && found.length === 0) {
    const id = invoiceId(args.customer, period);
    return [
      { invoice_id: id, customer: args.customer, period, outcome: 'not_found', invoice: null, error: null },
    ];
  }
  const results: InvoiceResult[] = [];
  for (const { doc } of found) {
    const base = { invoice_id: doc.invoice_id, customer: doc.customer, period };
    let number: string | null = null;
    for (let attempt = 0; ; attempt++) {
      const current = await getInvoice(es, names, doc.invoice_id);
      if (!current) break;
      if (current.doc.status === 'finalized') {
        results.push({ ...base, outcome: 'already_finalized', invoice: current.doc, error: null });
        break;
      }
      const finalizedNow = (await customerInvoices(es, names, doc.customer))
        .filter((i) => i.status === 'finalized' && i.invoice_id !== doc.invoice_id)
        .map((i) => `${i.invoice_id}#${i.number}`)
        .sort();
      if (finalizedNow.join('\n') !== [...(current.doc.basis_finalized ?? [])].sort().join('\n')) {
        results.push({
          ...base,
          outcome: 'stale',
          invoice: current.doc,
          error:
            `draft ${doc.invoice_id} was computed before other invoices of ${doc.customer} were finalized; ` +
            'generate it again, then finalize',
        });
        break;
      }
      number ??= await nextInvoiceNumber(es, names, String(now.getUTCFullYear()));
      const final: InvoiceDocument = {
        ...current.doc,
        status: 'finalized',
        number,
        finalized_at: now.toISOString(),
      };
      try {
        await es.index({
          index: names.invoices,
          id: doc.invoice_id,
          document: final,
          if_seq_no: current.seqNo,
          if_primary_term: current.primaryTerm,
          refresh: 'wait_for',
        });
        results.push({ ...base, outcome: 'written', invoice: final, error: null });
        break;
      } catch (err) {
        if (!isConflict(err) || attempt >= 5) throw err;
      }
    }
  }
  return results;
}
