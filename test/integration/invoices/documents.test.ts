import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadPriceBook } from '../../../processors/price/price-book';
import type { MeterflowConfig } from '../../../runtime/config';
import { createElasticsearch } from '../../../runtime/elasticsearch';
import type { UsageRecord } from '../../../schemas/types.generated';
import { indexNames, toUsageDocument } from '../../../sinks/elasticsearch/indices';
import { ensureLayout, ensureUsageIndex } from '../../../sinks/elasticsearch/layout';
import {
  finalizeInvoices,
  generateInvoices,
  invoiceCounterIndex,
  parseInvoiceOptions,
  type InvoiceDocument,
} from '../../../invoices';
import { runInvoiceExport, runInvoiceList, runInvoiceShow } from '../../../invoices/service';
import { testConfig, uniqueName } from '../helpers';
import { fixture } from '../../support/fixtures';
import { pdfText } from '../../support/pdf-text';
import { usageRecord } from '../../support/usage-record';

/**
 * `meterflow invoice list | show | export` (through the functions the CLI calls) against the real
 * Elasticsearch: documents generated and finalized from seeded usage, with seller, buyer and tax
 * from the config.
 */

const book = loadPriceBook(fixture('invoices', 'pricebook.yaml'));
const PERIOD = '2026-05';
const prefix = uniqueName('mf-invdoc');
const base = testConfig();
const config: MeterflowConfig = {
  ...base,
  elasticsearch: { ...base.elasticsearch, index_prefix: prefix },
  invoice: parseInvoiceOptions({
    seller: { name: 'Meterflow GmbH', address: ['Hauptstr. 1', '10115 Berlin'], tax_id: 'DE123456789' },
    customers: {
      hooli: { name: 'Hooli Ltd', address: ['1 Dock Rd'], jurisdiction: 'DE' },
      globex: { jurisdiction: 'US-CA' },
    },
    tax: { rates: { DE: '19', US: '0' }, label: 'VAT' },
    payment_terms_days: 10,
  }),
};
const es = createElasticsearch(config);
const names = indexNames(prefix);

let seq = 0;
function usage(customer: string, service: string, cost: string): UsageRecord {
  seq++;
  return usageRecord({
    x_CustomerId: customer,
    ServiceName: service,
    SkuId: 'SKU1',
    ChargePeriodStart: `${PERIOD}-10T00:00:00Z`,
    ChargePeriodEnd: `${PERIOD}-10T01:00:00Z`,
    BillingPeriodStart: `${PERIOD}-01T00:00:00Z`,
    BillingPeriodEnd: `${PERIOD}-31T00:00:00Z`,
    PricingQuantity: null,
    PricingUnit: null,
    BilledCost: cost,
    EffectiveCost: cost,
    BillingCurrency: 'EUR',
    x_RecordId: `doc-${String(seq).padStart(6, '0')}`,
    x_Scope: 'aws:cur:docs',
    x_Revision: 'r1',
    x_BillingPeriod: PERIOD,
    x_SourceObject: 's3://bucket/docs/part-0.csv',
    x_SourceLine: seq,
    x_RatedCost: cost,
    x_RatedCurrency: 'EUR',
    x_PriceRuleId: 'at-cost',
    x_PriceBookVersion: book.version,
  });
}

describe('invoice list, show and export against the real Elasticsearch', () => {
  const lines: string[] = [];
  const out = (l: string) => lines.push(l);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mf-invdoc-'));
  let hooli: InvoiceDocument;

  beforeAll(async () => {
    await ensureLayout(es, names);
    await ensureUsageIndex(es, names, PERIOD);
    const records = [
      usage('hooli', 'AmazonEC2', '100.005'),
      usage('hooli', 'AmazonS3', '20'),
      usage('globex', 'AmazonEC2', '7.5'),
    ];
    await es.bulk({
      operations: records.flatMap((r) => [
        { index: { _index: names.usageIndex(PERIOD), _id: r.x_RecordId } },
        toUsageDocument(r),
      ]),
      refresh: true,
    });
    await es.indices.updateAliases({
      actions: [{ add: { index: names.usageIndex(PERIOD), alias: names.usageAlias } }],
    });
    await generateInvoices({ es, names, book, period: PERIOD, options: config.invoice });
    const fin = await finalizeInvoices({
      es,
      names,
      period: PERIOD,
      customer: 'hooli',
      now: new Date('2026-06-05T10:00:00Z'),
    });
    hooli = fin[0].invoice!;
  });

  afterAll(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    await es.indices.delete({
      index: [
        names.usageIndex(PERIOD),
        names.invoices,
        invoiceCounterIndex(names),
        names.revisions,
        names.deadLetters,
      ],
      ignore_unavailable: true,
    });
    await es.indices.deleteIndexTemplate({ name: names.usageTemplate }).catch(() => undefined);
    await es.close();
  });

  it('finalize stamps issue and due dates; the draft carries seller, buyer and tax from the config', () => {
    expect(hooli.number).toMatch(/^MF-2026-\d{6}$/);
    expect(hooli.issue_date).toBe('2026-06-05');
    expect(hooli.due_date).toBe('2026-06-15');
    expect(hooli.parties?.seller.name).toBe('Meterflow GmbH');
    expect(hooli.parties?.buyer.name).toBe('Hooli Ltd');
    // 100.005 -> 100.00 (HALF_EVEN), + 20.00 = 120.00 net; 19% = 22.80; total 142.80
    expect(hooli.subtotal).toBe('120.00');
    expect(hooli.taxes?.map((t) => [t.jurisdiction, t.rate_percent, t.amount])).toEqual([
      ['DE', '19', '22.80'],
    ]);
    expect(hooli.total).toBe('142.80');
  });

  it('list: a period, one customer, one status', async () => {
    lines.length = 0;
    await runInvoiceList(config, { period: PERIOD }, out);
    expect(lines.map((l) => l.split('  ').slice(0, 3))).toEqual([
      ['globex:2026-05', 'invoice', 'draft'],
      ['hooli:2026-05', 'invoice', 'finalized'],
    ]);
    lines.length = 0;
    const drafts = await runInvoiceList(config, { period: PERIOD, status: 'draft' }, out);
    expect(drafts.map((d) => d.invoice_id)).toEqual(['globex:2026-05']);
    // US-CA has no rate of its own: the US rate "0" applies.
    expect(drafts[0].taxes?.map((t) => [t.jurisdiction, t.amount])).toEqual([['US', '0.00']]);
    lines.length = 0;
    await runInvoiceList(config, { period: '2026-04' }, out);
    expect(lines).toEqual(['no invoices for 2026-04']);
    await expect(runInvoiceList(config, { period: '2026-5' }, out)).rejects.toThrow(/expected YYYY-MM/);
    await expect(runInvoiceList(config, { period: PERIOD, status: 'paid' as never }, out)).rejects.toThrow(
      /status "paid" is not one of draft, finalized, void/,
    );
  });

  it('show: by id or by number; an unknown one is a clear error', async () => {
    lines.length = 0;
    await runInvoiceShow(config, hooli.number!, {}, out);
    expect(lines[0]).toContain(`Invoice ${hooli.number}`);
    expect(lines[0]).toContain('VAT 19% (DE) on 120.00: 22.80 EUR');
    expect(lines[0]).toContain('total 142.80 EUR');
    lines.length = 0;
    await runInvoiceShow(config, 'hooli:2026-05', { json: true }, out);
    expect(JSON.parse(lines[0])).toEqual(hooli);
    await expect(runInvoiceShow(config, 'nobody:2026-05', {}, out)).rejects.toThrow(
      /no invoice with id or number "nobody:2026-05"/,
    );
  });

  it('a rate change reaches drafts on the next generate; the finalized invoice keeps its tax', async () => {
    const options = { ...config.invoice, tax: { rates: { DE: '7', US: '5' }, label: 'VAT' } };
    const again = await generateInvoices({ es, names, book, period: PERIOD, options });
    const byId = Object.fromEntries(again.map((r) => [r.invoice_id, r]));
    expect(byId['hooli:2026-05'].outcome).toBe('finalized');
    expect(byId['hooli:2026-05'].invoice!.taxes!.map((t) => t.amount)).toEqual(['22.80']);
    expect(byId['hooli:2026-05'].invoice!.total).toBe('142.80');
    // globex: 7.50 at 5% = 0.375 -> 0.38 (tie, 7 is odd -> up); total 7.88
    expect(byId['globex:2026-05'].outcome).toBe('written');
    expect(byId['globex:2026-05'].invoice!.taxes!.map((t) => [t.jurisdiction, t.amount])).toEqual([
      ['US', '0.38'],
    ]);
    expect(byId['globex:2026-05'].invoice!.total).toBe('7.88');
    // Back to the configured rates for the tests below.
    await generateInvoices({ es, names, book, period: PERIOD, options: config.invoice });
  });

  it('export: PDF per invoice (parsed back), CSV of every line', async () => {
    lines.length = 0;
    const pdfs = await runInvoiceExport(
      config,
      { period: PERIOD, format: 'pdf', out: dir, status: 'finalized' },
      out,
    );
    expect(pdfs).toEqual([path.join(dir, `${hooli.number}.pdf`)]);
    const text = await pdfText(fs.readFileSync(pdfs[0]));
    expect(text).toContain(`Invoice ${hooli.number}`);
    expect(text).toMatch(/VAT 19% \(DE\) on 120\.00\s*22\.80 EUR/);
    expect(text).toMatch(/Total\s*142\.80 EUR/);
    expect(text).toContain('Due date: 2026-06-15');
    const csvFile = path.join(dir, 'all.csv');
    await runInvoiceExport(config, { period: PERIOD, format: 'csv', out: csvFile }, out);
    const rows = fs.readFileSync(csvFile, 'utf8').trim().split('\r\n');
    expect(rows).toHaveLength(1 + 3);
    expect(rows.filter((r) => r.startsWith('hooli:2026-05')).map((r) => r.split(',').slice(-4))).toEqual([
      ['100.00', '120.00', '22.80', '142.80'],
      ['20.00', '120.00', '22.80', '142.80'],
    ]);
  });
});
