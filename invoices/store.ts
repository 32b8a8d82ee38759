import type { Client } from '@elastic/elasticsearch';
import type { IndexNames } from '../sinks/elasticsearch/indices';
import type { InvoiceDocument } from './types';

/**
 * The invoice store: the P-invoices index (strict mappings, _id = <customer>:<period>), its
 * counter index P-invoices-counters (numbering.ts), and reading stored invoices with the
 * _seq_no/_primary_term that conditional writes need.
 *
 * Lifecycle of P-invoices/<customer>:<period>:
 *   draft      recomputed by every generate (generate.ts); written only when its fingerprint changed,
 *              with if_seq_no/if_primary_term of the version read (or op_type create), so a
 *              concurrent finalize is never overwritten.
 *   finalized  immutable (finalize.ts). Generate never writes it; finalize of a finalized invoice is
 *              a no-op.
 */

// ---------------------------------------------------------------------------------------------
// Indices

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
      document_type: keyword,
      subtotal: money,
      // Printed, never searched: stored as they are, not indexed.
      taxes: { type: 'object', enabled: false },
      parties: { type: 'object', enabled: false },
      issue_date: keyword,
      due_date: keyword,
      completeness_override: { type: 'object', enabled: false },
      corrects: { type: 'object', properties: { invoice_id: keyword, number: keyword } },
      voided: { type: 'object', enabled: false },
      correction_reason: { type: 'text' },
      replaced_by: { type: 'object', properties: { invoice_id: keyword, number: keyword } },
      replaces: { type: 'object', properties: { invoice_id: keyword, number: keyword } },
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

export function isConflict(err: unknown): boolean {
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
  // An index made by an earlier version lacks the fields added since (taxes, parties, corrections):
  // adding fields to a mapping is allowed and idempotent, and the strict mapping would refuse them.
  await es.indices.putMapping({ index: names.invoices, ...(invoiceMappings() as object) });
  await createIfAbsent(es, invoiceCounterIndex(names), {
    settings,
    mappings: { dynamic: 'strict', properties: { year: keyword, last: { type: 'long' } } },
  });
}

// ---------------------------------------------------------------------------------------------
// Reading stored invoices

/** A stored invoice with what a conditional write (if_seq_no / if_primary_term) needs. */
export interface StoredInvoice {
  doc: InvoiceDocument;
  seqNo: number;
  primaryTerm: number;
}

/** Stored invoices matching `filter` (any number of them: paged in invoice_id order). */
export async function searchInvoices(
  es: Client,
  names: IndexNames,
  filter: Record<string, unknown>[],
): Promise<StoredInvoice[]> {
  const out: StoredInvoice[] = [];
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

/**
 * Every stored invoice of a customer (any period, any status), credit notes left out: they are
 * corrections outside the usage computation (corrections.ts), which must not take them for the
 * invoice of a period.
 */
export async function customerInvoices(
  es: Client,
  names: IndexNames,
  customer: string,
): Promise<InvoiceDocument[]> {
  return (await searchInvoices(es, names, [{ term: { customer } }]))
    .map((h) => h.doc)
    .filter((d) => (d.document_type ?? 'invoice') === 'invoice');
}

/** One stored invoice by id, or undefined when there is none. */
export async function getInvoice(
  es: Client,
  names: IndexNames,
  id: string,
): Promise<StoredInvoice | undefined> {
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
