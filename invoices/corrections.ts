import type { Client } from '@elastic/elasticsearch';
import type { PriceBook } from '../processors/price/price-book';
import { ErrorCodes, InputError, PermanentError } from '../runtime/errors';
import { Decimal, decimalToString, parseDecimal } from '../schemas/decimal';
import type { IndexNames } from '../sinks/elasticsearch/indices';
import { invoiceFingerprint } from './assemble';
import { computeInvoice, InvoiceError } from './compute';
import type { InvoiceOptions } from './config';
import { line } from './lines';
import { findDocument } from './listing';
import { nextDocumentNumber } from './numbering';
import { dueDate } from './parties';
import { summarizeStoredUsage } from './published-usage';
import { formatAmount, minorUnits } from './rounding';
import { customerInvoices, ensureInvoiceIndex, getInvoice, isConflict, searchInvoices } from './store';
import { taxLine } from './tax';
import type { DocumentRef, InvoiceDocument, InvoiceLine } from './types';
import type { UsageSummary } from './usage';

/**
 * Corrections of finalized invoices, which are never edited:
 *
 * CREDIT NOTE: a negative, finalized document that `corrects` one invoice (id and number), in its
 * own number sequence CN-<YYYY>-<000001> (a separate series keeps the invoice sequence free of
 * gaps and makes a credit note recognisable by its number). Without an amount it credits what is
 * left of the invoice (first time: every line negated); with `amount` (net, > 0) one line of minus
 * that amount. Never more than what is left: net of the invoice + net of its earlier credit notes.
 * Tax is the invoice's rate on the credited net, rounded once per document like an invoice's.
 * Credit notes stay outside the usage computation (adjustments and prepaid credit read invoices
 * only), so usage restated later still adjusts against the invoice as issued.
 *
 * VOID AND REISSUE: the invoice is marked `void` (status, `voided` why and by whom) and, with
 * reissue, recomputed from the current usage, price book and config and finalized at once under
 * the next MF number, as `<customer>:<period>:<number>`; the two link both ways (`replaced_by`,
 * `replaces`). Only the customer's latest finalized invoice may be voided: later invoices were
 * computed against it (their adjustments and credit burn), so an older one is corrected with a
 * credit note. The void is written first, then the reissue, so a crash never leaves two finalized
 * invoices for one period (at worst a void whose reissue is missing: void again is refused, and
 * the error says so). Drafts of later periods computed before are stale afterwards (finalize
 * refuses them until they are generated again).
 */

function ref(d: InvoiceDocument): DocumentRef {
  return { invoice_id: d.invoice_id, number: d.number };
}

function refuse(message: string, field = 'invoice'): InputError {
  return new InputError(ErrorCodes.MALFORMED_INPUT, message, { field });
}

async function finalizedInvoice(es: Client, names: IndexNames, idOrNumber: string): Promise<InvoiceDocument> {
  const doc = await findDocument(es, names, idOrNumber);
  if (!doc) throw refuse(`no invoice with id or number "${idOrNumber}"`);
  if ((doc.document_type ?? 'invoice') !== 'invoice')
    throw refuse(`${doc.number ?? doc.invoice_id} is a credit note; only invoices are corrected`);
  if (doc.status === 'void')
    throw refuse(
      `${doc.number} is void` +
        (doc.replaced_by ? `; it was reissued as ${doc.replaced_by.number}: correct that one` : ''),
    );
  if (doc.status !== 'finalized')
    throw refuse(`${doc.invoice_id} is a draft: generate it again instead of correcting it`);
  return doc;
}

/** The credit notes of an invoice. */
export async function creditNotesOf(
  es: Client,
  names: IndexNames,
  invoiceId: string,
): Promise<InvoiceDocument[]> {
  return (await searchInvoices(es, names, [{ term: { 'corrects.invoice_id': invoiceId } }])).map(
    (h) => h.doc,
  );
}

export async function createCreditNote(args: {
  es: Client;
  names: IndexNames;
  invoice: string;
  /** Net amount to credit (positive decimal text); absent: all that is left. */
  amount?: string;
  reason: string;
  by: string;
  now?: Date;
}): Promise<InvoiceDocument> {
  const { es, names } = args;
  const now = args.now ?? new Date();
  if (args.reason.trim() === '') throw refuse('a credit note needs a --reason', 'reason');
  await ensureInvoiceIndex(es, names);
  const orig = await finalizedInvoice(es, names, args.invoice);
  const currency = orig.currency;
  const earlier = await creditNotesOf(es, names, orig.invoice_id);
  const net = new Decimal(orig.subtotal ?? orig.total);
  const left = earlier.reduce((a, c) => a.plus(c.subtotal ?? c.total), net);
  let lines: InvoiceLine[];
  if (args.amount === undefined) {
    if (left.lte(0)) throw refuse(`${orig.number} is credited in full already`);
    lines =
      earlier.length === 0
        ? orig.lines.map((l) => ({
            ...l,
            line_id: `credit:${l.line_id}`,
            description: `Credit of ${orig.number}: ${l.description}`,
            amount_exact: decimalToString(new Decimal(l.amount_exact).negated()),
            amount: formatAmount(new Decimal(l.amount).negated(), currency),
            cloud_cost: [],
          }))
        : [creditLine(orig, left, args.reason)];
  } else {
    const amount = parseDecimal(args.amount);
    if (amount === undefined || amount.lte(0))
      throw refuse(
        `--amount ${args.amount}: expected a positive decimal (the net amount to credit)`,
        'amount',
      );
    if (!amount.equals(amount.toDecimalPlaces(minorUnits(currency))))
      throw refuse(`--amount ${args.amount}: ${currency} has ${minorUnits(currency)} decimal(s)`, 'amount');
    if (amount.gt(left))
      throw refuse(
        `--amount ${args.amount} is more than what is left to credit on ${orig.number}: ${formatAmount(left, currency)} ${currency}`,
        'amount',
      );
    lines = [creditLine(orig, amount, args.reason)];
  }
  const subtotal = lines.reduce((a, l) => a.plus(l.amount), new Decimal(0));
  const taxes = (orig.taxes ?? []).map((t) =>
    taxLine({
      label: t.label,
      jurisdiction: t.jurisdiction,
      ratePercent: t.rate_percent,
      subtotal,
      currency,
    }),
  );
  const total = taxes.reduce((a, t) => a.plus(t.amount), subtotal);
  const year = String(now.getUTCFullYear());
  const number = await nextDocumentNumber(es, names, 'CN', year);
  const doc: InvoiceDocument = {
    invoice_id: `${orig.invoice_id}:${number}`,
    number,
    customer: orig.customer,
    period: orig.period,
    currency,
    status: 'finalized',
    generated_at: now.toISOString(),
    finalized_at: now.toISOString(),
    price_book_version: orig.price_book_version,
    rounding: orig.rounding,
    lines,
    total: formatAmount(total, currency),
    cloud_cost: [],
    margin: null,
    revisions: [],
    basis_finalized: [],
    fingerprint: '',
    document_type: 'credit_note',
    subtotal: formatAmount(subtotal, currency),
    taxes,
    parties: orig.parties ?? null,
    issue_date: now.toISOString().slice(0, 10),
    due_date: null,
    completeness_override: null,
    corrects: ref(orig),
    correction_reason: args.reason,
  };
  doc.fingerprint = invoiceFingerprint(doc);
  await es.index({
    index: names.invoices,
    id: doc.invoice_id,
    document: doc,
    op_type: 'create',
    refresh: 'wait_for',
  });
  return doc;
}

function creditLine(orig: InvoiceDocument, amount: Decimal, reason: string): InvoiceLine {
  return line(
    {
      line_id: 'credit',
      kind: 'credit',
      description: `Credit on ${orig.number} (${orig.period}): ${reason}`,
      group: null,
      plan_id: null,
      quantity: null,
      unit: null,
    },
    amount.negated(),
    orig.currency,
  );
}

export async function voidInvoice(args: {
  es: Client;
  names: IndexNames;
  invoice: string;
  reason: string;
  by: string;
  /** Reissue: recompute with this book and options and finalize under a new number. */
  reissue?: { book: PriceBook; options: InvoiceOptions };
  now?: Date;
}): Promise<{ voided: InvoiceDocument; reissued: InvoiceDocument | null }> {
  const { es, names } = args;
  const now = args.now ?? new Date();
  if (args.reason.trim() === '') throw refuse('void needs a --reason', 'reason');
  await ensureInvoiceIndex(es, names);
  const orig = await finalizedInvoice(es, names, args.invoice);
  const invoices = await customerInvoices(es, names, orig.customer);
  const later = invoices.filter((i) => i.status === 'finalized' && i.period > orig.period);
  if (later.length)
    throw refuse(
      `${orig.number} cannot be voided: later invoices of ${orig.customer} were finalized against it ` +
        `(${later.map((i) => i.number).join(', ')}); issue a credit note instead`,
    );

  // Compute the reissue before anything is written: a reissue that cannot be computed voids nothing.
  let reissued: InvoiceDocument | null = null;
  if (args.reissue) {
    const { book, options } = args.reissue;
    const ctx = { book, customer: orig.customer, options };
    const usage = await summarizeStoredUsage(es, names, { ...ctx, period: orig.period });
    const restated: Record<string, UsageSummary> = {};
    for (const inv of invoices)
      if (inv.status === 'finalized' && inv.period < orig.period)
        restated[inv.period] = await summarizeStoredUsage(es, names, { ...ctx, period: inv.period });
    let computed: InvoiceDocument;
    try {
      computed = computeInvoice({
        customer: orig.customer,
        period: orig.period,
        book,
        options,
        usage,
        invoices: invoices.filter((i) => i.invoice_id !== orig.invoice_id),
        restated,
        now: now.toISOString(),
      });
    } catch (err) {
      if (err instanceof InvoiceError) throw refuse(`cannot reissue ${orig.number}: ${err.message}`);
      throw err;
    }
    const number = await nextDocumentNumber(es, names, 'MF', String(now.getUTCFullYear()));
    const issueDate = now.toISOString().slice(0, 10);
    reissued = {
      ...computed,
      invoice_id: `${orig.customer}:${orig.period}:${number}`,
      status: 'finalized',
      number,
      finalized_at: now.toISOString(),
      issue_date: issueDate,
      due_date: dueDate(issueDate, computed.parties?.payment_terms_days ?? 30),
      completeness_override: null,
      replaces: ref(orig),
    };
  }

  const current = await getInvoice(es, names, orig.invoice_id);
  if (!current || current.doc.status !== 'finalized')
    throw refuse(`${orig.number} changed while it was being voided; look at it again`);
  const voided: InvoiceDocument = {
    ...current.doc,
    status: 'void',
    voided: { at: now.toISOString(), reason: args.reason, by: args.by },
    replaced_by: reissued ? ref(reissued) : null,
  };
  try {
    await es.index({
      index: names.invoices,
      id: orig.invoice_id,
      document: voided,
      if_seq_no: current.seqNo,
      if_primary_term: current.primaryTerm,
      refresh: 'wait_for',
    });
  } catch (err) {
    if (isConflict(err)) throw refuse(`${orig.number} changed while it was being voided; look at it again`);
    throw err;
  }
  if (reissued) {
    try {
      await es.index({
        index: names.invoices,
        id: reissued.invoice_id,
        document: reissued,
        op_type: 'create',
        refresh: 'wait_for',
      });
    } catch (err) {
      throw new PermanentError(
        ErrorCodes.UNKNOWN,
        `${orig.number} is void but its reissue ${reissued.number} could not be written: ${(err as Error).message}`,
      );
    }
  }
  return { voided, reissued };
}
