import { loadPriceBook } from '../../../processors/price/price-book';
import { createElasticsearch } from '../../../runtime/elasticsearch';
import type { UsageRecord } from '../../../schemas/types.generated';
import {
  type DeadLetterDocument,
  indexNames,
  type RevisionDocument,
  revisionDocId,
  toUsageDocument,
} from '../../../sinks/elasticsearch/indices';
import { ensureLayout, ensureUsageIndex } from '../../../sinks/elasticsearch/layout';
import {
  DEFAULT_INVOICE_OPTIONS,
  finalizeInvoices,
  generateInvoices,
  invoiceCounterIndex,
  invoiceScheduleTick,
} from '../../../invoices';
import { IncompletePeriodError, periodCompleteness } from '../../../invoices/completeness';
import { finalizeAudit } from '../../../invoices/service';
import { testConfig, uniqueName } from '../helpers';
import { fixture } from '../../support/fixtures';
import { usageRecord } from '../../support/usage-record';

/**
 * The completeness gate of finalize against the real Elasticsearch: revisions and dead letters are
 * seeded as the sink and the publisher write them.
 */

const book = loadPriceBook(fixture('invoices', 'pricebook.yaml'));
const PERIOD = '2026-07';
const es = createElasticsearch(testConfig());
const names = indexNames(uniqueName('mf-invgate'));

function rec(id: string, scope: string, revision: string, cost: string): UsageRecord {
  return usageRecord({
    x_CustomerId: 'hooli',
    ServiceName: 'AmazonEC2',
    ChargePeriodStart: `${PERIOD}-10T00:00:00Z`,
    ChargePeriodEnd: `${PERIOD}-10T01:00:00Z`,
    BillingPeriodStart: `${PERIOD}-01T00:00:00Z`,
    BillingPeriodEnd: `${PERIOD}-31T00:00:00Z`,
    PricingQuantity: null,
    PricingUnit: null,
    BilledCost: cost,
    EffectiveCost: cost,
    BillingCurrency: 'EUR',
    x_RecordId: id,
    x_Scope: scope,
    x_Revision: revision,
    x_BillingPeriod: PERIOD,
    x_SourceObject: `s3://b/${scope}/${revision}.csv`,
    x_SourceLine: 1,
    x_RatedCost: cost,
    x_RatedCurrency: 'EUR',
    x_PriceRuleId: 'at-cost',
    x_PriceBookVersion: book.version,
  });
}

function revision(
  scope: string,
  id: string,
  state: RevisionDocument['state'],
  offset: number | null,
): RevisionDocument {
  return {
    scope,
    revision_id: id,
    provider: 'aws',
    format: 'cur',
    billing_period: PERIOD,
    files: [],
    row_count: 2,
    collector_dead_letters: 0,
    control_totals: [],
    completed_offset: offset,
    failed: false,
    state,
    indexed_rows: 1,
    dead_lettered_rows: 1,
    indexed_totals: [],
    problems: [],
    published_at: null,
    updated_at: '2026-08-01T00:00:00.000Z',
  };
}

function letter(scope: string, rev: string, recordId: string | null, reason: string): DeadLetterDocument {
  return {
    stage: 'price',
    reason,
    message: 'no rule prices it',
    provider: 'aws',
    scope,
    revision_id: rev,
    object: `s3://b/${scope}/${rev}.csv`,
    line: 7,
    field: null,
    record_id: recordId,
    payload_text: null,
    payload_format: 'avro',
    occurred_at: '2026-08-01T00:00:00.000Z',
    billed_cost: '1',
    billed_currency: 'EUR',
    customer: 'hooli',
  };
}

describe('finalize refuses an incomplete period', () => {
  beforeAll(async () => {
    await ensureLayout(es, names);
    await ensureUsageIndex(es, names, PERIOD);
    const usage = [rec('a1-1', 'aws:a', 'a1', '10'), rec('a1-replayed', 'aws:a', 'a1', '2')];
    const revisions = [
      revision('aws:a', 'a0', 'unreconciled', 0), // replaced by the newer published a1: not pending
      revision('aws:a', 'a1', 'published', 1),
      revision('aws:b', 'b1', 'pending', 5),
      revision('aws:c', 'c0', 'superseded', 2),
    ];
    const letters = [
      letter('aws:a', 'a1', 'a1-open', 'unpriced'),
      letter('aws:a', 'a1', 'a1-replayed', 'unpriced'), // replayed since: its record is indexed
      letter('aws:c', 'c0', 'c0-x', 'unpriced'), // of a superseded revision: irrelevant
    ];
    const res = await es.bulk({
      refresh: true,
      operations: [
        ...usage.flatMap((r) => [
          { index: { _index: names.usageIndex(PERIOD), _id: r.x_RecordId } },
          toUsageDocument(r),
        ]),
        ...revisions.flatMap((r) => [
          { index: { _index: names.revisions, _id: revisionDocId(r.scope, r.revision_id) } },
          r,
        ]),
        ...letters.flatMap((d) => [{ index: { _index: names.deadLetters } }, d]),
      ],
    });
    expect(res.errors).toBe(false);
    await es.indices.updateAliases({
      actions: [{ add: { index: names.usageIndex(PERIOD), alias: names.usageAlias } }],
    });
    await generateInvoices({ es, names, book, period: PERIOD, options: DEFAULT_INVOICE_OPTIONS });
  });

  afterAll(async () => {
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

  it('lists the pending revisions and the open dead letters, and finalizes nothing', async () => {
    const c = await periodCompleteness(es, names, PERIOD);
    expect(c.pending).toEqual([{ scope: 'aws:b', revision_id: 'b1', state: 'pending' }]);
    expect(c.deadLetters).toEqual([
      { scope: 'aws:a', revision_id: 'a1', count: 1, reasons: ['price/unpriced'] },
    ]);
    const run = finalizeInvoices({ es, names, period: PERIOD });
    await expect(run).rejects.toBeInstanceOf(IncompletePeriodError);
    await expect(run).rejects.toThrow(
      /period 2026-07 is not complete.*Pending revisions \(1\): aws:b@b1 \(pending\).*Open dead letters \(1\): 1 of aws:a@a1 \[price\/unpriced\].*--force-incomplete --reason/,
    );
    const stored = (await es.get<{ status: string }>({ index: names.invoices, id: `hooli:${PERIOD}` }))
      ._source!;
    expect(stored.status).toBe('draft');
  });

  it('the schedule does not force: it reports the refusal and carries on', async () => {
    const tick = await invoiceScheduleTick({
      es,
      names,
      book,
      options: { ...DEFAULT_INVOICE_OPTIONS, finalize_after_days: 1 },
      now: new Date('2026-08-10T00:00:00Z'),
    });
    expect(tick.previous).toBe(PERIOD);
    expect(tick.finalized).toEqual([]);
    expect(tick.finalizeRefused).toMatch(/aws:b@b1 \(pending\)/);
  });

  it('once the revision is published only the open letter blocks; --force-incomplete finalizes and records why', async () => {
    await es.update({
      index: names.revisions,
      id: revisionDocId('aws:b', 'b1'),
      doc: { state: 'published' },
      refresh: true,
    });
    await expect(finalizeInvoices({ es, names, period: PERIOD })).rejects.toThrow(
      /^period 2026-07 is not complete; not finalizing\. Open dead letters/,
    );
    const results = await finalizeInvoices({
      es,
      names,
      period: PERIOD,
      customer: 'hooli',
      forceIncomplete: { reason: 'month-end close; letter is a test SKU', by: 'alice@ops' },
      now: new Date('2026-08-11T00:00:00Z'),
    });
    expect(results.map((r) => r.outcome)).toEqual(['written']);
    const doc = results[0].invoice!;
    expect(doc.completeness_override).toEqual({
      reason: 'month-end close; letter is a test SKU',
      by: 'alice@ops',
      at: '2026-08-11T00:00:00.000Z',
      pending_revisions: [],
      open_dead_letters: 1,
    });
    const audit = finalizeAudit(PERIOD, results, 'alice@ops');
    expect(audit.effect).toMatchObject({
      finalized: '1',
      forced_incomplete: 'month-end close; letter is a test SKU',
      open_dead_letters: '1',
    });
    // Finalizing a finalized period again is a no-op: no gate, no error.
    const again = await finalizeInvoices({ es, names, period: PERIOD, customer: 'hooli' });
    expect(again.map((r) => r.outcome)).toEqual(['already_finalized']);
  });
});
