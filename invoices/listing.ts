import type { Client } from '@elastic/elasticsearch';
import { ErrorCodes, InputError } from '../runtime/errors';
import type { IndexNames } from '../sinks/elasticsearch/indices';
import { isPeriod } from './period';
import { getInvoice, searchInvoices } from './store';
import type { InvoiceDocument, InvoiceStatus } from './types';

/** Reading stored invoices for people: `meterflow invoice list | show` and the admin period listing. */

export const INVOICE_STATUSES: readonly InvoiceStatus[] = ['draft', 'finalized', 'void'];

export interface InvoiceListQuery {
  period: string;
  customer?: string;
  status?: InvoiceStatus;
}

/** Check a list query (period YYYY-MM, status one of INVOICE_STATUSES); throws InputError naming the field. */
export function checkListQuery(q: InvoiceListQuery): InvoiceListQuery {
  if (!isPeriod(q.period))
    throw new InputError(
      ErrorCodes.MALFORMED_INPUT,
      `billing period "${q.period}" is not valid: expected YYYY-MM (for example 2026-03)`,
      { field: 'period' },
    );
  if (q.customer !== undefined && q.customer.trim() === '')
    throw new InputError(ErrorCodes.MALFORMED_INPUT, 'customer must not be empty', { field: 'customer' });
  if (q.status !== undefined && !INVOICE_STATUSES.includes(q.status))
    throw new InputError(
      ErrorCodes.MALFORMED_INPUT,
      `status "${q.status}" is not one of ${INVOICE_STATUSES.join(', ')}`,
      { field: 'status' },
    );
  return q;
}

/** The documents (invoices and credit notes) of a period, in invoice_id order. */
export async function listPeriodDocuments(
  es: Client,
  names: IndexNames,
  query: InvoiceListQuery,
): Promise<InvoiceDocument[]> {
  const q = checkListQuery(query);
  const filter: Record<string, unknown>[] = [{ term: { period: q.period } }];
  if (q.customer !== undefined) filter.push({ term: { customer: q.customer } });
  if (q.status !== undefined) filter.push({ term: { status: q.status } });
  return (await searchInvoices(es, names, filter)).map((h) => h.doc);
}

/** One document by invoice id (`<customer>:<period>`) or by number (MF-2026-000001); undefined if none. */
export async function findDocument(
  es: Client,
  names: IndexNames,
  idOrNumber: string,
): Promise<InvoiceDocument | undefined> {
  if (idOrNumber.trim() === '')
    throw new InputError(ErrorCodes.MALFORMED_INPUT, 'invoice id or number must not be empty', {
      field: 'invoice',
    });
  const byId = await getInvoice(es, names, idOrNumber);
  if (byId) return byId.doc;
  const byNumber = await searchInvoices(es, names, [{ term: { number: idOrNumber } }]);
  return byNumber[0]?.doc;
}

/** One line per document: id, status, number, total and currency, customer. */
export function formatListLine(d: InvoiceDocument): string {
  const type = (d.document_type ?? 'invoice') === 'credit_note' ? 'credit-note' : 'invoice';
  return [
    d.invoice_id,
    type,
    d.status,
    d.number ?? '-',
    `${d.total} ${d.currency}`,
    `${d.lines.length} lines`,
  ].join('  ');
}

/** A document as text for a terminal: header, parties, lines, subtotal, taxes, total. */
export function formatDocumentText(d: InvoiceDocument): string {
  const out: string[] = [];
  const type = (d.document_type ?? 'invoice') === 'credit_note' ? 'Credit note' : 'Invoice';
  out.push(`${type} ${d.number ?? `(draft) ${d.invoice_id}`}`);
  out.push(`  id: ${d.invoice_id}   status: ${d.status}   customer: ${d.customer}   period: ${d.period}`);
  if (d.issue_date) out.push(`  issued: ${d.issue_date}   due: ${d.due_date ?? '-'}`);
  if (d.parties) {
    out.push(`  seller: ${[d.parties.seller.name, ...d.parties.seller.address].filter(Boolean).join(', ')}`);
    out.push(`  buyer: ${[d.parties.buyer.name, ...d.parties.buyer.address].filter(Boolean).join(', ')}`);
  }
  if (d.corrects) out.push(`  corrects: ${d.corrects.number ?? d.corrects.invoice_id}`);
  if (d.replaces) out.push(`  replaces: ${d.replaces.number ?? d.replaces.invoice_id}`);
  if (d.replaced_by) out.push(`  replaced by: ${d.replaced_by.number ?? d.replaced_by.invoice_id}`);
  if (d.voided) out.push(`  void since ${d.voided.at}: ${d.voided.reason}`);
  if (d.completeness_override)
    out.push(`  finalized incomplete (${d.completeness_override.by}): ${d.completeness_override.reason}`);
  out.push('  lines:');
  for (const l of d.lines) out.push(`    ${l.amount.padStart(14)}  ${l.kind.padEnd(18)}  ${l.description}`);
  out.push(`  subtotal ${d.subtotal ?? d.total} ${d.currency}`);
  for (const t of d.taxes ?? [])
    out.push(`  ${t.label} ${t.rate_percent}% (${t.jurisdiction}) on ${t.base}: ${t.amount} ${d.currency}`);
  out.push(`  total ${d.total} ${d.currency}`);
  return out.join('\n');
}
