import type { estypes } from '@elastic/elasticsearch';
import type { DocumentRef, InvoiceDocument, InvoiceLine } from '../../invoices/types';
import { compare, pick, scanAll, transport, type QueryContext } from './context';

/** Invoices as the API serves them: lists, one invoice, and the customer view without cost and margin. */

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
