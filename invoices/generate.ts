import type { Client } from '@elastic/elasticsearch';
import type { IndexNames } from '../sinks/elasticsearch/indices';
import type { PriceBook } from '../processors/price/price-book';
import { computeInvoice, InvoiceError } from './compute';
import type { InvoiceOptions } from './config';
import { invoiceId } from './period';
import { plansInEffect } from './plans';
import { customersWithUsage, summarizeStoredUsage } from './published-usage';
import type { InvoiceResult } from './result';
import { customerInvoices, ensureInvoiceIndex, getInvoice, isConflict, searchInvoices } from './store';
import type { InvoiceDocument } from './types';
import type { UsageSummary } from './usage';

/**
 * Generate: (re)compute the drafts of a period and store those that changed.
 *
 * A draft is recomputed by every generate and written only when its fingerprint changed, with
 * if_seq_no/if_primary_term of the version read (or op_type create), so a concurrent finalize is
 * never overwritten: on 409 generate re-reads and, if the invoice is now finalized, leaves it alone.
 * A finalized invoice is immutable: generate never writes it.
 */

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
    // Finalized and void documents are never rewritten.
    if (existing && existing.doc.status !== 'draft')
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
