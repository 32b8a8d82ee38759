import fs from 'node:fs';
import path from 'node:path';
import { csvCell } from '../processors/offline/formats';
import { ErrorCodes, InputError } from '../runtime/errors';
import { renderInvoiceHtml } from './html';
import { renderInvoicePdf } from './pdf';
import type { InvoiceDocument } from './types';

/**
 * `meterflow invoice export`: a period's documents as JSON (the stored documents, one array), CSV
 * (one row per invoice line, with the invoice's number, subtotal, tax and total repeated, amounts as
 * exact decimal text), or one PDF / HTML file per document named after its number (drafts: their id).
 */
export const INVOICE_EXPORT_FORMATS = ['json', 'csv', 'pdf', 'html'] as const;
export type InvoiceExportFormat = (typeof INVOICE_EXPORT_FORMATS)[number];

export const INVOICE_CSV_COLUMNS = [
  'invoice_id',
  'document_type',
  'number',
  'status',
  'customer',
  'period',
  'currency',
  'issue_date',
  'due_date',
  'line_id',
  'kind',
  'description',
  'quantity',
  'unit',
  'amount',
  'subtotal',
  'tax',
  'total',
] as const;

/** The CSV text (RFC 4180, CRLF) of documents: a header, then one row per line. */
export function invoicesCsv(docs: InvoiceDocument[]): string {
  const rows = [INVOICE_CSV_COLUMNS.join(',')];
  for (const d of docs) {
    const tax = (d.taxes ?? []).map((t) => t.amount).join(' ');
    for (const l of d.lines) {
      const row: Record<(typeof INVOICE_CSV_COLUMNS)[number], unknown> = {
        invoice_id: d.invoice_id,
        document_type: d.document_type ?? 'invoice',
        number: d.number,
        status: d.status,
        customer: d.customer,
        period: d.period,
        currency: d.currency,
        issue_date: d.issue_date ?? null,
        due_date: d.due_date ?? null,
        line_id: l.line_id,
        kind: l.kind,
        description: l.description,
        quantity: l.quantity,
        unit: l.unit,
        amount: l.amount,
        subtotal: d.subtotal ?? d.total,
        tax,
        total: d.total,
      };
      rows.push(INVOICE_CSV_COLUMNS.map((c) => csvCell(row[c])).join(','));
    }
  }
  return `${rows.join('\r\n')}\r\n`;
}

/** A file name from a document: its number, else its id, with anything but [A-Za-z0-9._-] replaced. */
export function documentFileName(d: InvoiceDocument, ext: string): string {
  return `${(d.number ?? d.invoice_id).replace(/[^A-Za-z0-9._-]/g, '_')}.${ext}`;
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Write the export. json / csv: to `out` (a file; a directory gets invoices-<period>.<ext>), or
 * returned as text when `out` is absent (the CLI prints it). pdf / html: one file per document in
 * the directory `out` (created if absent; required). Returns the files written.
 */
export async function exportInvoices(args: {
  docs: InvoiceDocument[];
  period: string;
  format: string;
  out?: string;
}): Promise<{ files: string[]; text?: string }> {
  const format = args.format as InvoiceExportFormat;
  if (!INVOICE_EXPORT_FORMATS.includes(format))
    throw new InputError(
      ErrorCodes.MALFORMED_INPUT,
      `--format ${args.format}: expected one of ${INVOICE_EXPORT_FORMATS.join(', ')}`,
      { field: 'format' },
    );
  if (format === 'json' || format === 'csv') {
    const text = format === 'json' ? `${JSON.stringify(args.docs, null, 2)}\n` : invoicesCsv(args.docs);
    if (args.out === undefined) return { files: [], text };
    const file = isDirectory(args.out) ? path.join(args.out, `invoices-${args.period}.${format}`) : args.out;
    writeAtomically(file, text);
    return { files: [file] };
  }
  if (args.out === undefined)
    throw new InputError(
      ErrorCodes.MALFORMED_INPUT,
      `--format ${format} writes one file per invoice: give --out <dir>`,
      {
        field: 'out',
      },
    );
  if (fs.existsSync(args.out) && !isDirectory(args.out))
    throw new InputError(
      ErrorCodes.MALFORMED_INPUT,
      `--out ${args.out} is a file; --format ${format} needs a directory`,
      {
        field: 'out',
      },
    );
  fs.mkdirSync(args.out, { recursive: true });
  const files: string[] = [];
  for (const d of args.docs) {
    const file = path.join(args.out, documentFileName(d, format));
    writeAtomically(file, format === 'html' ? renderInvoiceHtml(d) : await renderInvoicePdf(d));
    files.push(file);
  }
  return { files };
}

/** Write to a temporary name and rename: a reader never sees half a file. */
function writeAtomically(file: string, data: string | Buffer): void {
  const tmp = `${file}.partial-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}
