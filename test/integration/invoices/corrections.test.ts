import { loadPriceBook } from '../../../processors/price/price-book';
import { createElasticsearch } from '../../../runtime/elasticsearch';
import type { UsageRecord } from '../../../schemas/types.generated';
import { indexNames, toUsageDocument } from '../../../sinks/elasticsearch/indices';
import { ensureLayout, ensureUsageIndex } from '../../../sinks/elasticsearch/layout';
import {
  createCreditNote,
  finalizeInvoices,
  generateInvoices,
  invoiceCounterIndex,
  listPeriodDocuments,
  parseInvoiceOptions,
  renderInvoiceHtml,
  renderInvoicePdf,
  runInvoiceCommand,
  voidInvoice,
  type InvoiceDocument,
} from '../../../invoices';
import { customerInvoices } from '../../../invoices/store';
import { testConfig, uniqueName } from '../helpers';
import { fixture } from '../../support/fixtures';
import { usageRecord } from '../../support/usage-record';
import { pdfText } from '../../support/pdf-text';
import { toInvoiceResponse } from '../../../api/queries/invoices';
import { createResponseValidator } from '../../unit/api/openapi-validator';
import { openApiSpec } from '../../support/openapi';

const validator = createResponseValidator(openApiSpec);

/** Credit notes and void-and-reissue against the real Elasticsearch. */

const book = loadPriceBook(fixture('invoices', 'pricebook.yaml'));
const OCT = '2026-10';
const NOV = '2026-11';
const es = createElasticsearch(testConfig());
const names = indexNames(uniqueName('mf-invcorr'));
const options = parseInvoiceOptions({
  customers: { hooli: { jurisdiction: 'DE' }, globex: { jurisdiction: 'US' } },
  tax: { rates: { DE: '19', US: '0' } },
});

let seq = 0;
function usage(customer: string, period: string, service: string, cost: string): UsageRecord {
  seq++;
  return usageRecord({
    x_CustomerId: customer,
    ServiceName: service,
    ChargePeriodStart: `${period}-10T00:00:00Z`,
    ChargePeriodEnd: `${period}-10T01:00:00Z`,
    BillingPeriodStart: `${period}-01T00:00:00Z`,
    BillingPeriodEnd: `${period}-28T00:00:00Z`,
    PricingQuantity: null,
    PricingUnit: null,
    BilledCost: cost,
    EffectiveCost: cost,
    BillingCurrency: 'EUR',
    x_RecordId: `corr-${String(seq).padStart(6, '0')}`,
    x_Scope: `aws:cur:${period}`,
    x_Revision: 'r1',
    x_BillingPeriod: period,
    x_SourceObject: 's3://b/corr.csv',
    x_SourceLine: seq,
    x_RatedCost: cost,
    x_RatedCurrency: 'EUR',
    x_PriceRuleId: 'at-cost',
    x_PriceBookVersion: book.version,
  });
}

async function index(records: UsageRecord[]): Promise<void> {
  const res = await es.bulk({
    refresh: true,
    operations: records.flatMap((r) => [
      { index: { _index: names.usageIndex(r.x_BillingPeriod), _id: r.x_RecordId } },
      toUsageDocument(r),
    ]),
  });
  expect(res.errors).toBe(false);
}

async function finalized(customer: string, period: string): Promise<InvoiceDocument> {
  await generateInvoices({ es, names, book, period, customer, options });
  const r = await finalizeInvoices({ es, names, period, customer });
  expect(r.map((x) => x.outcome)).toEqual(['written']);
  return r[0].invoice!;
}

describe('corrections of finalized invoices', () => {
  beforeAll(async () => {
    await ensureLayout(es, names);
    for (const p of [OCT, NOV]) {
      await ensureUsageIndex(es, names, p);
      await es.indices.updateAliases({
        actions: [{ add: { index: names.usageIndex(p), alias: names.usageAlias } }],
      });
    }
    await index([
      usage('hooli', OCT, 'AmazonEC2', '100'),
      usage('hooli', OCT, 'AmazonS3', '20'),
      usage('globex', OCT, 'AmazonEC2', '7.5'),
    ]);
  });

  afterAll(async () => {
    await es.indices.delete({
      index: [names.usageIndex(OCT), names.usageIndex(NOV), names.invoices, invoiceCounterIndex(names)],
      ignore_unavailable: true,
    });
    await es.indices.deleteIndexTemplate({ name: names.usageTemplate }).catch(() => undefined);
    await es.close();
  });

  it('credit notes: own sequence, linked, never more than what is left, tax at the invoice rate', async () => {
    const inv = await finalized('hooli', OCT);
    // 100.00 + 20.00 = 120.00; 19% = 22.80; total 142.80
    expect([inv.subtotal, inv.total]).toEqual(['120.00', '142.80']);
    const base = { es, names, by: 'alice@ops' };
    // 20.00 net: tax -20.00 * 19% = -3.80; total -23.80
    const part = await createCreditNote({ ...base, invoice: inv.number!, amount: '20', reason: 'S3 outage' });
    expect(part.number).toMatch(/^CN-\d{4}-000001$/);
    expect(part).toMatchObject({
      document_type: 'credit_note',
      status: 'finalized',
      corrects: { invoice_id: inv.invoice_id, number: inv.number },
      subtotal: '-20.00',
      total: '-23.80',
      correction_reason: 'S3 outage',
    });
    expect(part.taxes!.map((t) => t.amount)).toEqual(['-3.80']);
    // The document says what it is, what it corrects and why; nothing is due on it.
    const html = renderInvoiceHtml(part);
    for (const text of [
      `Credit note ${part.number}`,
      `Corrects: ${inv.number}`,
      'Reason: S3 outage',
      'Total</td><td class="num">-23.80 EUR',
    ])
      expect(html).toContain(text);
    expect(html).not.toContain('Due date');
    const pdf = await pdfText(await renderInvoicePdf(part));
    expect(pdf).toContain(`Corrects: ${inv.number}`);
    expect(pdf).toMatch(/Total\s*-23\.80 EUR/);
    // As the API serves it: valid against the OpenAPI document, and says what it is.
    const served = toInvoiceResponse(part);
    expect(() =>
      validator.check('GET', '/v1/invoices/{invoice_id}', 200, 'application/json', served),
    ).not.toThrow();
    expect(served).toMatchObject({
      document_type: 'credit_note',
      corrects: { number: inv.number },
      due_date: null,
    });
    await expect(
      createCreditNote({ ...base, invoice: inv.invoice_id, amount: '100.01', reason: 'x' }),
    ).rejects.toThrow(/more than what is left to credit on MF-\d{4}-\d{6}: 100.00 EUR/);
    await expect(
      createCreditNote({ ...base, invoice: inv.invoice_id, amount: '1.005', reason: 'x' }),
    ).rejects.toThrow(/EUR has 2 decimal/);
    // The rest: 120.00 - 20.00 = 100.00; tax -19.00; total -119.00
    const rest = await createCreditNote({ ...base, invoice: inv.invoice_id, reason: 'goodwill' });
    expect(rest.number).toMatch(/^CN-\d{4}-000002$/);
    expect([rest.subtotal, rest.taxes![0].amount, rest.total]).toEqual(['-100.00', '-19.00', '-119.00']);
    await expect(createCreditNote({ ...base, invoice: inv.invoice_id, reason: 'again' })).rejects.toThrow(
      /credited in full already/,
    );
    await expect(createCreditNote({ ...base, invoice: part.number!, reason: 'x' })).rejects.toThrow(
      /is a credit note/,
    );
    await expect(createCreditNote({ ...base, invoice: inv.invoice_id, reason: ' ' })).rejects.toThrow(
      /--reason/,
    );

    // Listed with the period; outside the usage computation; the invoice itself is unchanged.
    const listed = await listPeriodDocuments(es, names, { period: OCT, customer: 'hooli' });
    expect(listed.map((d) => [d.document_type, d.number])).toEqual([
      ['invoice', inv.number],
      ['credit_note', part.number],
      ['credit_note', rest.number],
    ]);
    expect((await customerInvoices(es, names, 'hooli')).map((d) => d.invoice_id)).toEqual([inv.invoice_id]);
    const regenerated = await generateInvoices({ es, names, book, period: OCT, customer: 'hooli', options });
    expect(regenerated[0].outcome).toBe('finalized');
    expect(regenerated[0].invoice!.total).toBe('142.80');
  });

  it('void and reissue: the original is void, the reissue has the next MF number, linked both ways', async () => {
    const inv = await finalized('globex', OCT);
    expect(inv.total).toBe('7.50');
    // A draft of the next period, computed against the invoice about to be voided.
    await index([usage('globex', NOV, 'AmazonEC2', '1')]);
    await generateInvoices({ es, names, book, period: NOV, customer: 'globex', options });
    // Usage that arrived late: the reissue is recomputed from the current usage.
    await index([usage('globex', OCT, 'AmazonS3', '2.5')]);
    const { voided, reissued } = await voidInvoice({
      es,
      names,
      invoice: inv.number!,
      reason: 'late S3 usage',
      by: 'alice@ops',
      reissue: { book, options },
    });
    expect(voided).toMatchObject({
      invoice_id: inv.invoice_id,
      status: 'void',
      number: inv.number,
      voided: { reason: 'late S3 usage', by: 'alice@ops' },
      replaced_by: { invoice_id: reissued!.invoice_id, number: reissued!.number },
    });
    const n = (x: string) => Number(x.slice(-6));
    expect(reissued!.number!.slice(0, 8)).toBe(inv.number!.slice(0, 8));
    expect(n(reissued!.number!)).toBeGreaterThan(n(inv.number!));
    expect(reissued).toMatchObject({
      invoice_id: `globex:${OCT}:${reissued!.number}`,
      status: 'finalized',
      total: '10.00', // 7.50 + 2.50, US rate 0
      replaces: { invoice_id: inv.invoice_id, number: inv.number },
    });
    for (const d of [voided, reissued!])
      expect(() =>
        validator.check('GET', '/v1/invoices/{invoice_id}', 200, 'application/json', toInvoiceResponse(d)),
      ).not.toThrow();
    // The period's invoice for the computation is now the reissue; the void one is kept, unchanged but for its status.
    const docs = await customerInvoices(es, names, 'globex');
    expect(docs.map((d) => [d.invoice_id, d.status])).toEqual([
      [inv.invoice_id, 'void'],
      [reissued!.invoice_id, 'finalized'],
      [`globex:${NOV}`, 'draft'],
    ]);
    expect(docs[0].lines).toEqual(inv.lines);
    await expect(voidInvoice({ es, names, invoice: inv.number!, reason: 'x', by: 'a' })).rejects.toThrow(
      new RegExp(`is void; it was reissued as ${reissued!.number}`),
    );
    // The November draft predates the reissue: finalize refuses it as stale (and reports what it
    // did before failing), until it is generated again.
    const seen: string[] = [];
    await expect(
      runInvoiceCommand({
        es,
        names,
        book,
        options,
        action: 'finalize',
        period: NOV,
        customer: 'globex',
        out: () => undefined,
        onResults: async (results) => {
          seen.push(...results.map((r) => r.outcome));
        },
      }),
    ).rejects.toThrow(/1 invoice\(s\) of 2026-11 failed: globex:2026-11/);
    expect(seen).toEqual(['stale']);
    // A later finalized invoice was computed against the reissue: voiding it is refused.
    const nov = await finalized('globex', NOV);
    expect(nov.basis_finalized).toEqual([`${reissued!.invoice_id}#${reissued!.number}`]);
    await expect(
      voidInvoice({ es, names, invoice: reissued!.number!, reason: 'x', by: 'a' }),
    ).rejects.toThrow(/later invoices of globex were finalized against it .*issue a credit note instead/);
  });
});
