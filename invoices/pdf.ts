import PDFDocument from 'pdfkit';
import { documentDates, documentTitle } from './html';
import { roundingRuleText } from './tax';
import type { InvoiceDocument, InvoiceParty } from './types';

/**
 * The invoice as a PDF (A4, pdfkit's built-in Helvetica: nothing to download or embed): the same
 * content as the HTML page (html.ts). Text is laid out by pdfkit, so nothing from the document can
 * inject PDF syntax.
 */
export function renderInvoicePdf(invoice: InvoiceDocument): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const doc = new PDFDocument({
      size: 'A4',
      margin: 50,
      // Uncompressed content streams: a few kB more per invoice, and the text stays greppable and
      // readable by every PDF tool (pdf.js 1.x, which pdf-parse bundles, misreads some deflated ones).
      compress: false,
      info: { Title: documentTitle(invoice), Creator: 'meterflow' },
    });
    const chunks: Buffer[] = [];
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
    try {
      write(doc, invoice);
      doc.end();
    } catch (err) {
      reject(err);
    }
  });
}

function partyLines(p: InvoiceParty): string[] {
  const lines = [p.name, ...p.address].filter((x) => x !== '');
  if (p.tax_id) lines.push(`Tax id: ${p.tax_id}`);
  return lines;
}

function write(doc: PDFKit.PDFDocument, inv: InvoiceDocument): void {
  const cur = inv.currency;
  doc.font('Helvetica-Bold').fontSize(18).text(documentTitle(inv));
  doc.moveDown(0.5);
  doc.font('Helvetica').fontSize(10);
  if (inv.status === 'draft')
    doc.fillColor('#aa0000').text('DRAFT: not final, amounts may change').fillColor('black');
  if (inv.status === 'void')
    doc
      .fillColor('#aa0000')
      .text(`VOID since ${inv.voided?.at ?? ''}: ${inv.voided?.reason ?? ''}`)
      .fillColor('black');
  const p = inv.parties;
  if (p) {
    const top = doc.y;
    doc.font('Helvetica-Bold').text('Seller', 50, top);
    doc.font('Helvetica');
    for (const l of partyLines(p.seller)) doc.text(l);
    const leftBottom = doc.y;
    doc.font('Helvetica-Bold').text('Buyer', 300, top);
    doc.font('Helvetica');
    for (const l of partyLines(p.buyer)) doc.text(l, 300);
    doc.x = 50;
    doc.y = Math.max(leftBottom, doc.y);
    doc.moveDown();
  }
  const meta = [
    ...documentDates(inv),
    ...(p ? [`Payment terms: ${p.payment_terms}`] : []),
    `Customer: ${inv.customer}`,
    `Billing period: ${inv.period}`,
    `Currency: ${cur}`,
    ...(inv.corrects ? [`Corrects: ${inv.corrects.number ?? inv.corrects.invoice_id}`] : []),
    ...(inv.correction_reason ? [`Reason: ${inv.correction_reason}`] : []),
    ...(inv.replaces ? [`Replaces: ${inv.replaces.number ?? inv.replaces.invoice_id}`] : []),
    ...(inv.replaced_by ? [`Replaced by: ${inv.replaced_by.number ?? inv.replaced_by.invoice_id}`] : []),
    ...(inv.completeness_override
      ? [
          `Finalized with incomplete usage data (${inv.completeness_override.by}): ${inv.completeness_override.reason}`,
        ]
      : []),
  ];
  for (const m of meta) doc.text(m, 50);
  doc.moveDown();
  const amountX = 420;
  const amountWidth = 125;
  const rowText = (left: string, right: string, bold = false) => {
    doc.font(bold ? 'Helvetica-Bold' : 'Helvetica');
    const y = doc.y;
    doc.text(left, 50, y, { width: 360 });
    const after = doc.y;
    doc.text(right, amountX, y, { width: amountWidth, align: 'right' });
    doc.x = 50;
    doc.y = Math.max(after, doc.y);
  };
  rowText('Description', `Amount (${cur})`, true);
  for (const l of inv.lines) {
    const qty = l.quantity === null ? '' : ` (${l.quantity}${l.unit ? ` ${l.unit}` : ''})`;
    rowText(`${l.description}${qty}`, l.amount);
  }
  doc.moveDown(0.5);
  rowText('Subtotal', `${inv.subtotal ?? inv.total} ${cur}`);
  for (const t of inv.taxes ?? [])
    rowText(`${t.label} ${t.rate_percent}% (${t.jurisdiction}) on ${t.base}`, `${t.amount} ${cur}`);
  rowText('Total', `${inv.total} ${cur}`, true);
  doc.moveDown();
  doc.font('Helvetica').fontSize(8).text(roundingRuleText(inv.rounding.minor_units), 50);
}
