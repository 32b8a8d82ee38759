import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkInvoiceLink, signInvoiceLink } from '../../../invoices/links';
import {
  dueDate,
  exportInvoices,
  formatDocumentText,
  invoicesCsv,
  invoiceParties,
  parseInvoiceOptions,
  renderInvoiceHtml,
  renderInvoicePdf,
  type InvoiceDocument,
} from '../../../invoices';
import { pdfText } from '../../support/pdf-text';
import { draft, finalize, rec } from './fixtures';

const options = parseInvoiceOptions({
  seller: { name: 'Meterflow GmbH', address: ['Hauptstr. 1', '10115 Berlin'], tax_id: 'DE123456789' },
  customers: {
    hooli: {
      name: 'Hooli <Europe> & "Co"',
      address: ['1 Dock Rd', 'Dublin'],
      tax_id: 'IE9876543X',
      jurisdiction: 'DE',
    },
  },
  payment_terms_days: 14,
  tax: { rates: { DE: '19' }, label: 'VAT' },
});

/** A finalized invoice of hooli: 10.00 + 2.35 = 12.35 net; VAT 19% = 2.3465 -> 2.35; total 14.70. */
function invoice(): InvoiceDocument {
  const d = draft({
    customer: 'hooli',
    period: '2026-01',
    usage: [
      rec({ x_CustomerId: 'hooli', ServiceName: 'AmazonEC2', x_RatedCost: '10' }),
      rec({ x_CustomerId: 'hooli', ServiceName: 'AmazonS3, "cold"', x_RatedCost: '2.35' }),
    ],
  });
  const parties = invoiceParties(options, 'hooli');
  // The computation with taxes is tested in taxes.test.ts; here the document is assembled by hand.
  return {
    ...finalize(d, 'MF-2026-000042'),
    parties,
    subtotal: '12.35',
    taxes: [
      {
        label: 'VAT',
        jurisdiction: 'DE',
        rate_percent: '19',
        base: '12.35',
        amount_exact: '2.3465',
        amount: '2.35',
      },
    ],
    total: '14.70',
    issue_date: '2026-02-03',
    due_date: dueDate('2026-02-03', parties.payment_terms_days),
  };
}

describe('invoice documents', () => {
  it('the due date is the issue date plus the payment terms, across month and year ends', () => {
    expect(dueDate('2026-02-03', 14)).toBe('2026-02-17');
    expect(dueDate('2026-01-31', 30)).toBe('2026-03-02');
    expect(dueDate('2026-12-20', 30)).toBe('2027-01-19');
    expect(dueDate('2028-02-28', 1)).toBe('2028-02-29');
  });

  it('takes seller, buyer and payment terms from the config, the buyer name falling back to the id', () => {
    const p = invoiceParties(options, 'hooli');
    expect(p.seller).toEqual({
      name: 'Meterflow GmbH',
      address: ['Hauptstr. 1', '10115 Berlin'],
      tax_id: 'DE123456789',
    });
    expect(p.buyer.jurisdiction).toBe('DE');
    expect(p.payment_terms).toBe('Payment due within 14 days of issue.');
    expect(invoiceParties(options, 'globex').buyer).toEqual({
      name: 'globex',
      address: [],
      tax_id: null,
      jurisdiction: null,
    });
  });

  it('the HTML page carries seller, buyer, number, dates, terms, tax and total, every value escaped', () => {
    const html = renderInvoiceHtml(invoice());
    for (const text of [
      'Meterflow GmbH',
      'Hauptstr. 1',
      'Tax id: DE123456789',
      'Hooli &lt;Europe&gt; &amp; &quot;Co&quot;',
      'Tax id: IE9876543X',
      'Invoice MF-2026-000042',
      'Issue date: 2026-02-03',
      'Due date: 2026-02-17',
      'Payment due within 14 days of issue.',
      'Subtotal</td><td class="num">12.35 EUR',
      'VAT 19% (DE) on 12.35</td><td class="num">2.35 EUR',
      'Total</td><td class="num">14.70 EUR',
      'AmazonS3, &quot;cold&quot;',
      'tax is computed on the subtotal and rounded once per invoice, HALF_EVEN',
    ])
      expect(html).toContain(text);
    expect(html).not.toContain('<Europe>');
    expect(html).not.toMatch(/<script|<link|src=|href=/);
  });

  it('the PDF, parsed back, says the number, dates, parties, lines, tax and total', async () => {
    const pdf = await renderInvoicePdf(invoice());
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    const text = await pdfText(pdf);
    for (const expected of [
      'Invoice MF-2026-000042',
      'Meterflow GmbH',
      'DE123456789',
      'Hooli <Europe> & "Co"',
      'Issue date: 2026-02-03',
      'Due date: 2026-02-17',
      'Payment due within 14 days of issue.',
      'Subtotal',
      '12.35 EUR',
      'VAT 19% (DE) on 12.35',
      '2.35 EUR',
      '14.70 EUR',
    ])
      expect(text).toContain(expected);
    // The exact amount lines, not just the numbers somewhere: label and amount are on one line.
    expect(text).toMatch(/Total\s*14\.70 EUR/);
    expect(text).toMatch(/VAT 19% \(DE\) on 12\.35\s*2\.35 EUR/);
    expect(text).not.toContain('DRAFT');
  });

  it('a draft says so on every format', async () => {
    const d = { ...invoice(), status: 'draft' as const, number: null, issue_date: null, due_date: null };
    expect(await pdfText(await renderInvoicePdf(d))).toContain('DRAFT');
    expect(renderInvoiceHtml(d)).toContain('DRAFT');
    expect(formatDocumentText(d)).toContain('(draft) hooli:2026-01');
  });

  it('CSV: one row per line, RFC 4180 quoting, exact amounts, totals repeated', () => {
    const inv = invoice();
    const rows = invoicesCsv([inv]).split('\r\n');
    expect(rows[0]).toBe(
      'invoice_id,document_type,number,status,customer,period,currency,issue_date,due_date,line_id,kind,description,quantity,unit,amount,subtotal,tax,total',
    );
    expect(rows).toHaveLength(inv.lines.length + 2); // header, lines, trailing empty
    const s3 = rows.find((r) => r.includes('AmazonS3'))!;
    expect(s3).toContain('"AmazonS3, ""cold"""');
    expect(s3.endsWith(',2.35,12.35,2.35,14.70')).toBe(true);
    expect(
      s3.startsWith(
        'hooli:2026-01,invoice,MF-2026-000042,finalized,hooli,2026-01,EUR,2026-02-03,2026-02-17,',
      ),
    ).toBe(true);
  });

  it('export: json/csv to a file or stdout; pdf/html one file per document in a directory', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mf-inv-export-'));
    try {
      const docs = [
        invoice(),
        { ...invoice(), invoice_id: 'hooli:2026-02', number: null, status: 'draft' as const },
      ];
      const stdout = await exportInvoices({ docs, period: '2026-01', format: 'json' });
      expect(JSON.parse(stdout.text!)).toEqual(docs);
      const json = await exportInvoices({ docs, period: '2026-01', format: 'json', out: dir });
      expect(json.files).toEqual([path.join(dir, 'invoices-2026-01.json')]);
      const pdfs = await exportInvoices({
        docs,
        period: '2026-01',
        format: 'pdf',
        out: path.join(dir, 'pdf'),
      });
      expect(pdfs.files.map((f) => path.basename(f))).toEqual(['MF-2026-000042.pdf', 'hooli_2026-02.pdf']);
      expect(await pdfText(fs.readFileSync(pdfs.files[0]))).toContain('14.70 EUR');
      const html = await exportInvoices({
        docs,
        period: '2026-01',
        format: 'html',
        out: path.join(dir, 'html'),
      });
      expect(fs.readFileSync(html.files[0], 'utf8')).toContain('Invoice MF-2026-000042');
      await expect(exportInvoices({ docs, period: '2026-01', format: 'pdf' })).rejects.toThrow(/--out <dir>/);
      await expect(
        exportInvoices({ docs, period: '2026-01', format: 'html', out: json.files[0] }),
      ).rejects.toThrow(/is a file/);
      await expect(exportInvoices({ docs, period: '2026-01', format: 'xml', out: dir })).rejects.toThrow(
        /--format xml: expected one of json, csv, pdf, html/,
      );
      expect(fs.readdirSync(dir).filter((f) => f.includes('.partial-'))).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('signed invoice links', () => {
  const secret = 'x'.repeat(40);
  const now = new Date('2026-03-01T12:00:00Z');
  const parse = (p: string) => {
    const u = new URL(p, 'http://h');
    return {
      expires: u.searchParams.get('expires') ?? undefined,
      sig: u.searchParams.get('sig') ?? undefined,
    };
  };

  it('a link opens its own invoice until it expires, and nothing else', () => {
    const link = signInvoiceLink({ secret, invoiceId: 'acme:2026-02', ttlSeconds: 600, now });
    expect(link.path.startsWith('/v1/invoices/acme%3A2026-02/html?expires=')).toBe(true);
    expect(link.expires_at).toBe('2026-03-01T12:10:00.000Z');
    const q = parse(link.path);
    const check = (over: Partial<Parameters<typeof checkInvoiceLink>[0]>) =>
      checkInvoiceLink({ secret, invoiceId: 'acme:2026-02', ...q, maxTtlSeconds: 600, now, ...over });
    expect(check({})).toBe('valid');
    expect(check({ now: new Date('2026-03-01T12:09:59Z') })).toBe('valid');
    expect(check({ now: new Date('2026-03-01T12:10:00Z') })).toBe('expired');
    expect(check({ invoiceId: 'globex:2026-02' })).toBe('bad_signature');
    expect(check({ secret: 'y'.repeat(40) })).toBe('bad_signature');
    // Moving the expiry changes what was signed.
    expect(check({ expires: String(Number(q.expires) + 3600) })).toBe('bad_signature');
    const flipped = q.sig!.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    expect(check({ sig: flipped })).toBe('bad_signature');
    expect(check({ sig: undefined })).toBe('malformed');
    expect(check({ sig: 'zz' })).toBe('malformed');
    expect(check({ expires: '-1' })).toBe('malformed');
    // A link made for longer than the server allows now is refused.
    expect(check({ maxTtlSeconds: 60 })).toBe('expired');
  });
});
