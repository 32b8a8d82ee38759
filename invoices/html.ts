import { roundingRuleText } from './tax';
import type { InvoiceDocument, InvoiceLine, InvoiceParty } from './types';

/** Escape text for HTML element content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 2rem; color: #111; }
h1 { font-size: 1.4rem; margin-bottom: 0.2rem; }
.meta { color: #444; margin-bottom: 1.5rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.35rem 0.5rem; border-bottom: 1px solid #ddd; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: bold; border-top: 2px solid #111; border-bottom: none; }
.note { color: #555; font-size: 0.85em; }
.draft { color: #a00; font-weight: bold; }
.parties { display: flex; gap: 4rem; margin-bottom: 1rem; }
.party h2 { font-size: 1rem; margin: 0 0 0.2rem 0; }
tr.sub td { border-bottom: none; }
@media print { body { margin: 0; } .noprint { display: none; } }
`;

function row(l: InvoiceLine, e: (s: string) => string): string {
  const notes: string[] = [];
  if (l.included_in_plan !== null) notes.push(`included in plan: ${l.included_in_plan}`);
  if (l.adjusts)
    notes.push(
      `adjusts ${l.adjusts.invoice_number ?? l.adjusts.invoice_id} (${l.adjusts.period}), line ${l.adjusts.line_id}: ` +
        `billed ${l.adjusts.billed_amount}, now ${l.adjusts.current_amount}. ${l.adjusts.cause}`,
    );
  const qty = l.quantity === null ? '' : `${l.quantity}${l.unit ? ` ${l.unit}` : ''}`;
  return (
    `<tr><td>${e(l.description)}${notes.map((n) => `<div class="note">${e(n)}</div>`).join('')}</td>` +
    `<td>${e(l.kind)}</td><td class="num">${e(qty)}</td><td class="num">${e(l.amount)}</td></tr>`
  );
}

function party(title: string, p: InvoiceParty | undefined, e: (s: string) => string): string {
  if (!p) return '';
  const lines = [p.name, ...p.address].filter((x) => x !== '');
  if (p.tax_id) lines.push(`Tax id: ${p.tax_id}`);
  return `<div class="party"><h2>${e(title)}</h2>${lines.map((l) => `<div>${e(l)}</div>`).join('')}</div>`;
}

/** The title of a document: "Invoice MF-2026-000001", "Credit note CN-2026-000001", "Invoice (draft) acme:2026-03". */
export function documentTitle(invoice: InvoiceDocument): string {
  const type = (invoice.document_type ?? 'invoice') === 'credit_note' ? 'Credit note' : 'Invoice';
  return `${type} ${invoice.number ?? `(draft) ${invoice.invoice_id}`}`;
}

/** Number, issue and due date lines; a credit note has no due date (nothing is owed on it). */
export function documentDates(invoice: InvoiceDocument): string[] {
  const creditNote = (invoice.document_type ?? 'invoice') === 'credit_note';
  return [
    `${creditNote ? 'Credit note' : 'Invoice'} number: ${invoice.number ?? 'assigned on finalization'}`,
    `Issue date: ${invoice.issue_date ?? 'on finalization'}`,
    ...(creditNote ? [] : [`Due date: ${invoice.due_date ?? 'on finalization'}`]),
  ];
}

/**
 * A printable, self-contained HTML invoice (inline CSS, no scripts, no external resources). Every
 * value from the document is escaped: customer ids, descriptions and group values come from
 * billing data and tags, which anyone able to tag a cloud resource controls; names and addresses
 * come from the config.
 */
export function renderInvoiceHtml(invoice: InvoiceDocument): string {
  const e = escapeHtml;
  const title = documentTitle(invoice);
  const status =
    invoice.status === 'draft'
      ? '<span class="draft">DRAFT: not final, amounts may change</span>'
      : invoice.status === 'void'
        ? `<span class="draft">VOID since ${e(invoice.voided?.at ?? '')}: ${e(invoice.voided?.reason ?? '')}</span>`
        : `Finalized ${e(invoice.finalized_at ?? '')}`;
  const p = invoice.parties ?? undefined;
  const ref = (label: string, r: { invoice_id: string; number: string | null } | null | undefined) =>
    r ? `<div>${e(label)}: ${e(r.number ?? r.invoice_id)}</div>` : '';
  const subtotal = invoice.subtotal ?? invoice.total;
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${e(title)}</title>`,
    `<style>${STYLE}</style></head><body>`,
    `<h1>${e(title)}</h1>`,
    p ? `<div class="parties">${party('Seller', p.seller, e)}${party('Buyer', p.buyer, e)}</div>` : '',
    '<div class="meta">',
    ...documentDates(invoice).map((d) => `<div>${e(d)}</div>`),
    p ? `<div>Payment terms: ${e(p.payment_terms)}</div>` : '',
    `<div>Customer: ${e(invoice.customer)}</div>`,
    `<div>Billing period: ${e(invoice.period)}</div>`,
    `<div>Currency: ${e(invoice.currency)}</div>`,
    `<div>${status}</div>`,
    ref('Corrects', invoice.corrects),
    invoice.correction_reason ? `<div>Reason: ${e(invoice.correction_reason)}</div>` : '',
    ref('Replaces', invoice.replaces),
    ref('Replaced by', invoice.replaced_by),
    invoice.completeness_override
      ? `<div class="note">Finalized with incomplete usage data (${e(invoice.completeness_override.by)}): ${e(invoice.completeness_override.reason)}</div>`
      : '',
    invoice.price_book_version ? `<div>Price book: ${e(invoice.price_book_version)}</div>` : '',
    '</div>',
    '<table><thead><tr><th>Description</th><th>Kind</th><th class="num">Quantity</th>',
    `<th class="num">Amount (${e(invoice.currency)})</th></tr></thead><tbody>`,
    ...invoice.lines.map((l) => row(l, e)),
    `<tr class="sub"><td colspan="3">Subtotal</td><td class="num">${e(subtotal)} ${e(invoice.currency)}</td></tr>`,
    ...(invoice.taxes ?? []).map(
      (t) =>
        `<tr class="sub"><td colspan="3">${e(t.label)} ${e(t.rate_percent)}% (${e(t.jurisdiction)}) on ${e(t.base)}</td>` +
        `<td class="num">${e(t.amount)} ${e(invoice.currency)}</td></tr>`,
    ),
    `<tr class="total"><td colspan="3">Total</td><td class="num">${e(invoice.total)} ${e(invoice.currency)}</td></tr>`,
    '</tbody></table>',
    `<p class="note">${e(roundingRuleText(invoice.rounding.minor_units))}</p>`,
    '</body></html>',
    '',
  ].join('\n');
}
