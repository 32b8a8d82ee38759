import { loadPriceBook } from '../../../processors/price/price-book';
import { createElasticsearch } from '../../../runtime/elasticsearch';
import type { UsageRecord } from '../../../schemas/types.generated';
import { indexNames, publishKey, toUsageDocument } from '../../../sinks/elasticsearch/indices';
import { ensureLayout, ensureUsageIndex } from '../../../sinks/elasticsearch/layout';
import {
  DEFAULT_INVOICE_OPTIONS,
  finalizeInvoices,
  generateInvoices,
  invoiceCounterIndex,
  invoiceScheduleTick,
  renderInvoiceHtml,
  runInvoiceCommand,
  type InvoiceDocument,
  type InvoiceResult,
} from '../../../invoices';
import { testConfig, uniqueName } from '../helpers';
import { fixture } from '../../support/fixtures';
import { usageRecord } from '../../support/usage-record';

const book = loadPriceBook(fixture('invoices', 'pricebook.yaml'));
const JAN = '2026-01';
const FEB = '2026-02';
const SCOPE_JAN = 'aws:cur:2026-01';
const SCOPE_FEB = 'aws:cur:2026-02';

let seq = 0;
function usage(
  period: string,
  scope: string,
  revision: string,
  fields: Partial<UsageRecord> & { x_CustomerId: string; x_RatedCost: string },
): UsageRecord {
  seq++;
  return usageRecord({
    SubAccountId: null,
    SkuId: 'SKU1',
    RegionId: 'eu-west-1',
    ChargePeriodStart: `${period}-10T00:00:00Z`,
    ChargePeriodEnd: `${period}-10T01:00:00Z`,
    BillingPeriodStart: `${period}-01T00:00:00Z`,
    BillingPeriodEnd: `${period}-28T00:00:00Z`,
    ConsumedQuantity: null,
    ConsumedUnit: null,
    PricingQuantity: null,
    PricingUnit: null,
    BilledCost: fields.x_RatedCost,
    EffectiveCost: fields.x_RatedCost,
    BillingCurrency: 'EUR',
    x_RecordId: `${revision}-${String(seq).padStart(7, '0')}`,
    x_Scope: scope,
    x_Revision: revision,
    x_BillingPeriod: period,
    x_SourceObject: `s3://bucket/${scope}/${revision}/part-0.csv.gz`,
    x_SourceLine: seq,
    x_RatedCurrency: 'EUR',
    x_PriceRuleId: 'at-cost',
    x_PriceBookVersion: book.version,
    ...fields,
  });
}

/** One revision of January: hooli's S3 cost is what a restatement changes. */
function january(revision: string, hooliS3: string): UsageRecord[] {
  const u = (f: Partial<UsageRecord> & { x_CustomerId: string; x_RatedCost: string }) =>
    usage(JAN, SCOPE_JAN, revision, f);
  return [
    u({ x_CustomerId: 'hooli', ServiceName: 'AmazonS3', x_RatedCost: hooliS3 }),
    u({ x_CustomerId: 'hooli', x_RatedCost: '0.125' }),
    u({ x_CustomerId: 'hooli', x_RatedCost: '0.135' }),
    // 2,500 lines of 0.001 (more than one page of the reader): 2.5 exactly
    ...Array.from({ length: 2500 }, () =>
      u({ x_CustomerId: 'hooli', ServiceName: 'AWSLambda', x_RatedCost: '0.001' }),
    ),
    u({
      x_CustomerId: 'globex',
      ServiceName: 'AmazonS3',
      PricingUnit: 'GB-Mo',
      PricingQuantity: '600',
      x_RatedCost: '16',
    }),
    u({
      x_CustomerId: 'globex',
      ServiceName: 'AmazonS3',
      PricingUnit: 'GB-Mo',
      PricingQuantity: '900',
      x_RatedCost: '24',
    }),
  ];
}

function byId(results: InvoiceResult[]): Record<string, InvoiceResult> {
  return Object.fromEntries(results.map((r) => [r.invoice_id, r]));
}

describe('invoices against the real Elasticsearch', () => {
  const es = createElasticsearch(testConfig());
  const prefix = uniqueName('mf-inv');
  const names = indexNames(prefix);
  const options = DEFAULT_INVOICE_OPTIONS;

  async function index(records: UsageRecord[]): Promise<void> {
    const operations = records.flatMap((r) => [
      { index: { _index: names.usageIndex(r.x_BillingPeriod), _id: r.x_RecordId } },
      toUsageDocument(r),
    ]);
    for (let i = 0; i < operations.length; i += 2000) {
      const res = await es.bulk({ operations: operations.slice(i, i + 2000), refresh: false });
      expect(res.errors).toBe(false);
    }
    await es.indices.refresh({ index: names.usageAllAlias });
  }

  /** Publish `keys` on a monthly index: the publisher's atomic alias swap. */
  async function publish(period: string, keys: string[]): Promise<void> {
    await es.indices.updateAliases({
      actions: [
        {
          add: {
            index: names.usageIndex(period),
            alias: names.usageAlias,
            filter: { terms: { x_PublishKey: keys } },
          },
        },
      ],
    });
  }

  async function stored(id: string): Promise<InvoiceDocument> {
    return (await es.get<InvoiceDocument>({ index: names.invoices, id }))._source!;
  }

  beforeAll(async () => {
    await ensureLayout(es, names);
    await ensureUsageIndex(es, names, JAN);
    await ensureUsageIndex(es, names, FEB);
  });

  afterAll(async () => {
    const indices = [
      names.usageIndex(JAN),
      names.usageIndex(FEB),
      names.revisions,
      names.deadLetters,
      names.invoices,
      invoiceCounterIndex(names),
    ];
    await es.indices.delete({ index: indices, ignore_unavailable: true });
    await es.indices.deleteIndexTemplate({ name: names.usageTemplate }).catch(() => undefined);
    await es.close();
  });

  it('generates, finalizes, and adjusts the next invoice after a restatement', async () => {
    // Unpublished usage is invisible: nothing to invoice yet except acme's commitment.
    await index(january('r1', '10.005'));
    const before = byId(await generateInvoices({ es, names, book, options, period: JAN }));
    expect(before['hooli:2026-01']).toBeUndefined();

    await publish(JAN, [publishKey(SCOPE_JAN, 'r1')]);
    const now = new Date('2026-02-06T09:00:00Z');
    const first = byId(await generateInvoices({ es, names, book, options, period: JAN, now }));
    expect(Object.keys(first).sort()).toEqual([
      'acme:2026-01',
      'globex:2026-01',
      'hooli:2026-01',
      'initech:2026-01',
    ]);
    // hooli: S3 10.005 -> 10.00 (tie, even); EC2 0.125 + 0.135 = 0.26; Lambda 2500 * 0.001 = 2.50
    // total 10.00 + 0.26 + 2.50 = 12.76
    const hooli = await stored('hooli:2026-01');
    expect(hooli.status).toBe('draft');
    // Lines in code-unit order of the group ("AWS..." before "Amazon..."): stable across runs.
    expect(hooli.lines.map((l) => [l.line_id, l.amount])).toEqual([
      ['usage:AWSLambda', '2.50'],
      ['usage:AmazonEC2', '0.26'],
      ['usage:AmazonS3', '10.00'],
    ]);
    expect(hooli.total).toBe('12.76');
    expect(hooli.lines[0].trace.record_count).toBe(2500);
    // cloud cost 10.005 + 0.26 + 2.5 = 12.765; margin 12.76 - 12.765 = -0.005
    expect(hooli.cloud_cost).toEqual([{ currency: 'EUR', amount: '12.765' }]);
    expect(hooli.margin).toBe('-0.005');
    // globex: 1500 GB-Mo graduated = 1000 * 0.023 + 500 * 0.021 = 33.50; usage shown as included (40.00)
    const globex = await stored('globex:2026-01');
    expect(globex.total).toBe('33.50');
    expect(globex.lines.find((l) => l.kind === 'usage')?.included_in_plan).toBe('40.00');
    // acme has no usage but a 5000 EUR minimum commitment in effect
    expect((await stored('acme:2026-01')).total).toBe('5000.00');
    // initech's prepaid credit has nothing to burn: no invoice
    expect(first['initech:2026-01'].outcome).toBe('empty');

    // Idempotent: nothing changed, nothing written.
    const second = await generateInvoices({ es, names, book, options, period: JAN, now: new Date() });
    expect(second.filter((r) => r.outcome !== 'empty').map((r) => r.outcome)).toEqual([
      'unchanged',
      'unchanged',
      'unchanged',
    ]);

    // Finalize: sequential numbers from the counter, in invoice id order.
    const lines: string[] = [];
    await runInvoiceCommand({
      es,
      names,
      book,
      options,
      action: 'finalize',
      period: JAN,
      now,
      out: (l) => lines.push(l),
    });
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(
      /^hooli:2026-01 {2}finalized {2}MF-2026-000003 {2}12\.76 EUR {2}3 lines {2}written$/,
    );
    expect((await stored('acme:2026-01')).number).toBe('MF-2026-000001');
    expect((await stored('globex:2026-01')).number).toBe('MF-2026-000002');
    const finalHooli = await stored('hooli:2026-01');
    expect(finalHooli).toMatchObject({ status: 'finalized', number: 'MF-2026-000003', total: '12.76' });
    expect(finalHooli.finalized_at).toBe(now.toISOString());
    expect(renderInvoiceHtml(finalHooli)).toContain('MF-2026-000003');

    // Finalizing twice is a no-op; generate never rewrites a finalized invoice.
    const again = await finalizeInvoices({ es, names, period: JAN, now: new Date() });
    expect(again.map((r) => r.outcome)).toEqual([
      'already_finalized',
      'already_finalized',
      'already_finalized',
    ]);
    const regen = byId(await generateInvoices({ es, names, book, options, period: JAN }));
    expect(regen['hooli:2026-01'].outcome).toBe('finalized');
    expect(await stored('hooli:2026-01')).toEqual(finalHooli);

    // Restatement: revision r2 of January (hooli S3 now 12.345) is indexed and published.
    await index(january('r2', '12.345'));
    await publish(JAN, [publishKey(SCOPE_JAN, 'r2')]);
    await index([
      usage(FEB, SCOPE_FEB, 'r1', { x_CustomerId: 'hooli', ServiceName: 'AmazonS3', x_RatedCost: '5' }),
    ]);
    await publish(FEB, [publishKey(SCOPE_FEB, 'r1')]);

    const feb = byId(await generateInvoices({ es, names, book, options, period: FEB, now }));
    expect(feb['globex:2026-02'].outcome).toBe('empty'); // January unchanged for globex
    const hooliFeb = await stored('hooli:2026-02');
    // S3 of January: now 12.345 -> 12.34, billed 10.00: +2.34. February: 5.00 + 2.34 = 7.34
    expect(hooliFeb.lines.map((l) => [l.line_id, l.amount])).toEqual([
      ['usage:AmazonS3', '5.00'],
      ['adjustment:2026-01:usage:AmazonS3', '2.34'],
    ]);
    expect(hooliFeb.total).toBe('7.34');
    expect(hooliFeb.lines[1].adjusts).toMatchObject({
      invoice_id: 'hooli:2026-01',
      invoice_number: 'MF-2026-000003',
      period: JAN,
      line_id: 'usage:AmazonS3',
      billed_amount: '10.00',
      current_amount: '12.34',
    });
    expect(hooliFeb.lines[1].adjusts!.cause).toContain(`${SCOPE_JAN}@r1`);
    expect(hooliFeb.lines[1].adjusts!.cause).toContain(`${SCOPE_JAN}@r2`);
    const febAgain = byId(await generateInvoices({ es, names, book, options, period: FEB }));
    expect(febAgain['hooli:2026-02'].outcome).toBe('unchanged');

    // The schedule on 10 March: February ended 10 days ago (> 5): regenerate and finalize it, then
    // March's drafts: the adjustment is now on a finalized invoice, so hooli owes nothing in March.
    // finalize_after_days 0 never finalizes; 5 days after 1 March is 6 March 00:00.
    const tenth = new Date('2026-03-10T00:00:00Z');
    const zero = { ...options, finalize_after_days: 0 };
    expect((await invoiceScheduleTick({ es, names, book, options: zero, now: tenth })).finalized).toEqual([]);
    const early = new Date('2026-03-05T23:59:59Z');
    expect((await invoiceScheduleTick({ es, names, book, options, now: early })).finalized).toEqual([]);
    expect((await stored('hooli:2026-02')).status).toBe('draft');
    const tick = await invoiceScheduleTick({ es, names, book, options, now: tenth });
    expect(tick.previous).toBe(FEB);
    expect(Object.fromEntries(tick.finalized.map((r) => [r.invoice_id, r.invoice?.number]))).toEqual({
      'acme:2026-02': 'MF-2026-000004',
      'hooli:2026-02': 'MF-2026-000005',
    });
    expect((await stored('hooli:2026-02')).status).toBe('finalized');
    expect(byId(tick.generated)['hooli:2026-03'].outcome).toBe('empty');
  });
});
