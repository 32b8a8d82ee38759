import type { Client } from '@elastic/elasticsearch';
import type { PriceBook } from '../processors/price/price-book';
import { canonicalJson } from '../processors/price/price-book';
import { ErrorCodes, InputError } from '../runtime/errors';
import { publishedRevisionsAt } from '../sinks/elasticsearch/history';
import { type IndexNames, publishKey } from '../sinks/elasticsearch/indices';
import { computedContent } from './assemble';
import { computeInvoice, InvoiceError } from './compute';
import type { InvoiceOptions } from './config';
import { findDocument } from './listing';
import { summarizeStoredUsage } from './published-usage';
import { customerInvoices } from './store';
import type { InvoiceDocument, InvoiceLine } from './types';
import type { UsageSummary } from './usage';

/**
 * `invoice regenerate`: recompute a FINALIZED invoice from history and compare it with the stored
 * document, field by field and line by line (docs/history.md).
 *
 * The computation is computeInvoice itself; only its inputs are read as they were when the invoice
 * was computed (its `generated_at`, the knowledge time T; finalize freezes the draft as computed):
 *
 *   usage        from the monthly indices, not the alias, filtered to the revisions readers saw at
 *                T (sinks/elasticsearch/history.ts), where the revisions the invoice RECORDS win
 *                per scope: they are what its reads returned, also when a publication fell between
 *                T and the read. Superseded revisions are there while history keeps them
 *                (sink.history_retention_days); a deleted one makes the regeneration differ.
 *   invoices     the customer's other invoices as computeInvoice saw them: the ones in
 *                `basis_finalized` as finalized (also if voided since); every other one of an
 *                earlier period as a draft (it was finalized after T, so at T it was a draft: the
 *                usual order is generate then finalize). One of them created only after T would
 *                be taken for a draft it was not; see the limits in docs/history.md.
 *   price book   the one given, which must be the version the invoice records.
 *   options      the current `invoice:` config (grouping, seller, customers, tax): a change since
 *                shows as a difference, named.
 *   now          the stored generated_at.
 *
 * Identical means bit for bit: the recomputed computed content (everything invoiceFingerprint
 * hashes) equals the stored one and so does the fingerprint.
 */

export interface Regeneration {
  stored: InvoiceDocument;
  recomputed: InvoiceDocument | null;
  /** The knowledge time used: the stored generated_at. */
  knowledge_time: string;
  /** Publish keys whose usage was read (own period and the earlier finalized periods). */
  revisions: string[];
  identical: boolean;
  /** One entry per differing field or line; empty when identical. */
  differences: string[];
}

function refuse(message: string): InputError {
  return new InputError(ErrorCodes.MALFORMED_INPUT, message, { field: 'invoice' });
}

/**
 * The keys to read: per scope the recorded revisions, for every other scope the one visible at T.
 * Pure.
 */
export function regenerationKeys(
  recorded: { scope: string; revision_id: string }[],
  visible: { scope: string; revision_id: string }[],
): string[] {
  const scopes = new Set(recorded.map((r) => r.scope));
  return [
    ...new Set([
      ...recorded.map((r) => publishKey(r.scope, r.revision_id)),
      ...visible.filter((r) => !scopes.has(r.scope)).map((r) => publishKey(r.scope, r.revision_id)),
    ]),
  ].sort();
}

/**
 * The customer's other invoices as they were when `stored` was computed. Pure.
 */
export function invoicesAsOf(stored: InvoiceDocument, invoices: InvoiceDocument[]): InvoiceDocument[] {
  const basis = new Set(stored.basis_finalized);
  const out: InvoiceDocument[] = [];
  for (const inv of invoices) {
    if (inv.period === stored.period) continue;
    if (inv.number !== null && basis.has(`${inv.invoice_id}#${inv.number}`)) {
      out.push({ ...inv, status: 'finalized' });
      continue;
    }
    // Finalized after T (or never): at T an invoice of an earlier period was a draft, and one of a
    // later period does not enter the computation of this one.
    if (inv.period < stored.period) out.push({ ...inv, status: 'draft', number: null, finalized_at: null });
  }
  return out;
}

/** Lifecycle fields set after the computation; a reissue also gets its own id and `replaces`. */
function comparable(doc: InvoiceDocument, stored: InvoiceDocument): Record<string, unknown> {
  const content: Record<string, unknown> = { ...computedContent(doc) };
  for (const field of ['voided', 'replaced_by', 'replaces', 'invoice_id']) delete content[field];
  // The id is computed (<customer>:<period>) except on a reissue, which is renamed after computing.
  if (!stored.replaces) content.invoice_id = doc.invoice_id;
  return content;
}

/** The differing fields and lines of two documents (computed content only). Pure. */
export function invoiceDifferences(stored: InvoiceDocument, recomputed: InvoiceDocument): string[] {
  const a = comparable(stored, stored);
  const b = comparable(recomputed, stored);
  const out: string[] = [];
  for (const field of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    if (field === 'lines' || field === 'fingerprint') continue;
    const x = canonicalJson(a[field]);
    const y = canonicalJson(b[field]);
    if (x !== y) out.push(`${field}: stored ${x}, regenerated ${y}`);
  }
  const storedLines = new Map(stored.lines.map((l) => [l.line_id, l]));
  const newLines = new Map(recomputed.lines.map((l) => [l.line_id, l]));
  for (const id of [...new Set([...storedLines.keys(), ...newLines.keys()])].sort()) {
    const s = storedLines.get(id);
    const n = newLines.get(id);
    if (!s) out.push(`line ${id}: not stored, regenerated with amount ${n!.amount}`);
    else if (!n) out.push(`line ${id}: stored with amount ${s.amount}, not regenerated`);
    else
      for (const f of [...new Set([...Object.keys(s), ...Object.keys(n)])].sort() as (keyof InvoiceLine)[]) {
        const x = canonicalJson(s[f]);
        const y = canonicalJson(n[f]);
        if (x !== y) out.push(`line ${id} ${f}: stored ${x}, regenerated ${y}`);
      }
  }
  const order = (doc: InvoiceDocument) => doc.lines.map((l) => l.line_id).join('\u0000');
  if (!out.some((d) => d.startsWith('line ')) && order(stored) !== order(recomputed))
    out.push('lines: same lines in another order');
  if (stored.fingerprint !== recomputed.fingerprint)
    out.push(`fingerprint: stored ${stored.fingerprint}, regenerated ${recomputed.fingerprint}`);
  return out;
}

export async function regenerateInvoice(args: {
  es: Client;
  names: IndexNames;
  /** The invoice id (<customer>:<period>) or number (MF-2026-000001). */
  invoice: string;
  book: PriceBook;
  options: InvoiceOptions;
}): Promise<Regeneration> {
  const { es, names, book, options } = args;
  const stored = await findDocument(es, names, args.invoice);
  if (!stored) throw refuse(`no invoice with id or number "${args.invoice}"`);
  if ((stored.document_type ?? 'invoice') !== 'invoice')
    throw refuse(`${stored.number ?? stored.invoice_id} is a credit note: it is not computed from usage`);
  if (stored.status !== 'finalized')
    throw refuse(
      `${stored.number ?? stored.invoice_id} is ${stored.status}, not finalized: ` +
        (stored.status === 'draft'
          ? '`invoice generate` recomputes drafts'
          : 'regenerate the invoice it was replaced by, or the finalized original'),
    );
  if (book.version !== stored.price_book_version)
    throw refuse(
      `${stored.number} was computed with price book ${stored.price_book_version}, the book given is ` +
        `${book.version}: pass --price-book <the file of version ${stored.price_book_version}>`,
    );

  const knowledgeTime = Date.parse(stored.generated_at);
  const visible = await publishedRevisionsAt(es, names, knowledgeTime);
  const keys = regenerationKeys(stored.revisions, visible);
  // No key at all: terms [] matches nothing, which is what an invoice without usage read.
  const source = { index: names.usagePattern, filter: [{ terms: { x_PublishKey: keys } }] };
  const ctx = { book, customer: stored.customer, options };
  const invoices = invoicesAsOf(stored, await customerInvoices(es, names, stored.customer));
  const usage = await summarizeStoredUsage(es, names, { ...ctx, period: stored.period }, source);
  const restated: Record<string, UsageSummary> = {};
  for (const inv of invoices)
    if (inv.status === 'finalized' && inv.period < stored.period)
      restated[inv.period] = await summarizeStoredUsage(es, names, { ...ctx, period: inv.period }, source);

  const base = { stored, knowledge_time: stored.generated_at, revisions: keys };
  let recomputed: InvoiceDocument;
  try {
    recomputed = computeInvoice({
      customer: stored.customer,
      period: stored.period,
      book,
      options,
      usage,
      invoices,
      restated,
      now: stored.generated_at,
    });
  } catch (err) {
    if (!(err instanceof InvoiceError)) throw err;
    return {
      ...base,
      recomputed: null,
      identical: false,
      differences: [`cannot be recomputed: ${err.message}`],
    };
  }
  const differences = invoiceDifferences(stored, recomputed);
  return { ...base, recomputed, identical: differences.length === 0, differences };
}

/** What `invoice regenerate` prints. */
export function formatRegeneration(r: Regeneration): string[] {
  const name = `${r.stored.number ?? '-'} (${r.stored.invoice_id})`;
  const head = r.identical
    ? `${name}: identical, fingerprint ${r.stored.fingerprint}`
    : `${name}: DIFFERS from its regeneration (${r.differences.length} difference(s))`;
  return [
    head,
    `  knowledge time ${r.knowledge_time}; usage of ${r.revisions.length ? r.revisions.join(', ') : 'no revision'}`,
    ...r.differences.map((d) => `  ${d}`),
  ];
}
