import { createHash } from 'node:crypto';
import { Decimal, decimalToString } from '../schemas/decimal';
import { canonicalJson, type PriceBook } from '../processors/price/price-book';
import { addTo, cloudList } from './lines';
import { invoiceId } from './period';
import { formatAmount, minorUnits } from './rounding';
import { sortRevisions } from './trace';
import type { InvoiceDocument, InvoiceLine, InvoiceParties, InvoiceTax } from './types';

/**
 * The draft invoice document from its final lines: totals, cloud cost, margin, revisions and the
 * fingerprint. The total is the exact sum of the already rounded line amounts: it is never rounded
 * itself, so the lines always add up to it.
 */
export function assembleInvoice(args: {
  inputs: { customer: string; period: string; book: PriceBook; now: string };
  currency: string;
  lines: InvoiceLine[];
  basis: string[];
  taxes?: InvoiceTax[];
  parties?: InvoiceParties | null;
}): InvoiceDocument {
  const { inputs, currency, lines } = args;
  const taxes = args.taxes ?? [];
  const subtotal = lines.reduce((a, l) => a.plus(l.amount), new Decimal(0));
  // Tax amounts are already rounded (tax.ts): the total is an exact sum, never rounded itself.
  const total = taxes.reduce((a, t) => a.plus(t.amount), subtotal);
  const cloud = new Map<string, Decimal>();
  for (const l of lines) for (const c of l.cloud_cost) addTo(cloud, c.currency, new Decimal(c.amount));
  const cloudCost = cloudList(cloud);
  // Margin only when it is one subtraction in one currency; converting cloud cost would need a rate
  // the book may not have, and a margin in mixed currencies means nothing. Net of tax: tax is not ours.
  const margin =
    cloudCost.length === 0
      ? subtotal
      : cloudCost.length === 1 && cloudCost[0].currency === currency
        ? subtotal.minus(cloudCost[0].amount)
        : null;
  const revisions = new Map<string, { scope: string; revision_id: string }>();
  for (const l of lines)
    for (const r of l.trace.revisions) revisions.set(`${r.scope}\u0000${r.revision_id}`, r);
  const doc: InvoiceDocument = {
    invoice_id: invoiceId(inputs.customer, inputs.period),
    number: null,
    customer: inputs.customer,
    period: inputs.period,
    currency,
    status: 'draft',
    generated_at: inputs.now,
    finalized_at: null,
    price_book_version: inputs.book.version,
    rounding: { mode: 'HALF_EVEN', minor_units: minorUnits(currency) },
    lines,
    total: formatAmount(total, currency),
    cloud_cost: cloudCost,
    margin: margin === null ? null : decimalToString(margin),
    revisions: sortRevisions([...revisions.values()]),
    basis_finalized: args.basis,
    fingerprint: '',
    document_type: 'invoice',
    subtotal: formatAmount(subtotal, currency),
    taxes,
    parties: args.parties ?? null,
    issue_date: null,
    due_date: null,
  };
  doc.fingerprint = invoiceFingerprint(doc);
  return doc;
}

/**
 * sha256 of everything that is computed (not when, not the lifecycle fields): regenerating with
 * unchanged inputs gives the same value, and generate then writes nothing.
 */
export function invoiceFingerprint(doc: InvoiceDocument): string {
  return createHash('sha256')
    .update(canonicalJson(computedContent(doc)))
    .digest('hex');
}

/** What invoiceFingerprint hashes: the document without when and without its lifecycle fields. */
export function computedContent(doc: InvoiceDocument): Partial<InvoiceDocument> {
  const content: Partial<InvoiceDocument> = { ...doc };
  delete content.generated_at;
  delete content.fingerprint;
  delete content.status;
  delete content.number;
  delete content.finalized_at;
  delete content.issue_date;
  delete content.due_date;
  delete content.completeness_override;
  return content;
}
