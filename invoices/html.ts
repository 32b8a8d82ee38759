import type { InvoiceDocument, InvoiceLine } from './types';

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

/**
 * A printable, self-contained HTML invoice (inline CSS, no scripts, no external resources). Every
 * value from the document is escaped: customer ids, descriptions and group values come from
 * billing data and tags, which anyone able to tag a cloud resource controls.
 */
export function renderInvoiceHtml(invoice: InvoiceDocument): string {
  const e = escapeHtml;
  const title = invoice.number ?? `Draft ${invoice.invoice_id}`;
  const status =
    invoice.status === 'draft'
      ? '<span class="draft">DRAFT: not final, amounts may change</span>'
      : `Finalized ${e(invoice.finalized_at ?? '')}`;
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>Invoice ${e(title)}</title>`,
    `<style>${STYLE}</style></head><body>`,
    `<h1>Invoice ${e(title)}</h1>`,
    '<div class="meta">',
    `<div>Customer: ${e(invoice.customer)}</div>`,
    `<div>Billing period: ${e(invoice.period)}</div>`,
    `<div>Currency: ${e(invoice.currency)}</div>`,
    `<div>${status}</div>`,
    invoice.price_book_version ? `<div>Price book: ${e(invoice.price_book_version)}</div>` : '',
    '</div>',
    '<table><thead><tr><th>Description</th><th>Kind</th><th class="num">Quantity</th>',
    `<th class="num">Amount (${e(invoice.currency)})</th></tr></thead><tbody>`,
    ...invoice.lines.map((l) => row(l, e)),
    `<tr class="total"><td colspan="3">Total</td><td class="num">${e(invoice.total)} ${e(invoice.currency)}</td></tr>`,
    '</tbody></table>',
    `<p class="note">Each line is rounded once to ${invoice.rounding.minor_units} decimal(s), ` +
      `${e(invoice.rounding.mode)}; the total is the sum of the rounded lines.</p>`,
    '</body></html>',
    '',
  ].join('\n');
}
