import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { generateApiKey, hashApiKey, parseApiOptions, startApi, type RunningApi } from '../../../api';
import {
  DEFAULT_INVOICE_OPTIONS,
  finalizeInvoices,
  generateInvoices,
  invoiceCounterIndex,
  summarizeStoredUsage,
  type InvoiceDocument,
} from '../../../invoices';
import { computedContent } from '../../../invoices/assemble';
import { regenerateInvoice } from '../../../invoices/regenerate';
import { runInvoiceRegenerate } from '../../../invoices/service';
import { loadPriceBook } from '../../../processors/price/price-book';
import { createElasticsearch } from '../../../runtime/elasticsearch';
import { createLogger } from '../../../runtime/logger';
import { Decimal, decimalToString } from '../../../schemas/decimal';
import type { UsageRecord } from '../../../schemas/types.generated';
import {
  indexNames,
  publishKey,
  type RevisionDocument,
  revisionDocId,
  toUsageDocument,
} from '../../../sinks/elasticsearch/indices';
import { ensureLayout, ensureUsageIndex } from '../../../sinks/elasticsearch/layout';
import { RevisionPublisher } from '../../../sinks/elasticsearch/publisher';
import { createResponseValidator } from '../../unit/api/openapi-validator';
import { fixture } from '../../support/fixtures';
import { openApiSpec } from '../../support/openapi';
import { usageRecord } from '../../support/usage-record';
import { exitOf, meterflowProcess, testConfig, uniqueName } from '../helpers';

/**
 * History instead of deletion (docs/history.md), on the real Elasticsearch with the real
 * publisher: revision A of January is published and invoiced, the invoice is finalized, then a
 * restated revision B supersedes A. A's documents stay (invisible in the alias), usage "as known
 * at" either side of B's publication is A's or B's to the last digit, and `invoice regenerate`
 * reproduces the finalized invoice bit for bit from A although the alias shows B. Once A's
 * retention has passed, its documents go and the regeneration says it can no longer reproduce.
 */
const BOOK_FILE = fixture('invoices', 'pricebook.yaml');
const book = loadPriceBook(BOOK_FILE);
const JAN = '2026-01';
const FEB = '2026-02';
const SCOPE = 'aws:cur:2026-01';
const FEB_SCOPE = 'aws:cur:2026-02';
const DAY_MS = 86_400_000;

let seq = 0;
function usage(revision: string, service: string, cost: string, period = JAN): UsageRecord {
  seq++;
  const scope = `aws:cur:${period}`;
  return usageRecord({
    SubAccountId: null,
    ServiceName: service,
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
    BilledCost: cost,
    EffectiveCost: cost,
    BillingCurrency: 'EUR',
    x_CustomerId: 'hooli',
    x_RecordId: `${revision}-${String(seq).padStart(5, '0')}`,
    x_Scope: scope,
    x_Revision: revision,
    x_BillingPeriod: period,
    x_SourceObject: `s3://bucket/${scope}/${revision}/part-0.csv.gz`,
    x_SourceLine: seq,
    x_RatedCost: cost,
    x_RatedCurrency: 'EUR',
    x_PriceRuleId: 'at-cost',
    x_PriceBookVersion: book.version,
  });
}

const A = [
  usage('rA', 'AmazonS3', '10.005'),
  usage('rA', 'AmazonEC2', '0.125'),
  usage('rA', 'AmazonEC2', '0.135'),
];
// The restatement: S3 cost corrected, a late Lambda line.
const B = [
  usage('rB', 'AmazonS3', '12.345'),
  usage('rB', 'AmazonEC2', '0.125'),
  usage('rB', 'AmazonEC2', '0.135'),
  usage('rB', 'AWSLambda', '1.0000001'),
];

const exactSum = (records: UsageRecord[]) =>
  decimalToString(records.reduce((a, r) => a.plus(r.x_RatedCost!), new Decimal(0)));

/** The revision document as the sink writes it from the collector's COMPLETED record. */
function revisionDoc(revision: string, records: UsageRecord[], offset: number): RevisionDocument {
  return {
    scope: records[0].x_Scope,
    revision_id: revision,
    provider: 'aws',
    format: 'cur2-csv',
    billing_period: records[0].x_BillingPeriod,
    files: [],
    row_count: records.length,
    collector_dead_letters: 0,
    control_totals: [{ currency: 'EUR', billed_cost: exactSum(records), rows: records.length }],
    completed_offset: offset,
    failed: false,
    state: 'collecting',
    indexed_rows: 0,
    dead_lettered_rows: 0,
    indexed_totals: [],
    problems: [],
    published_at: null,
    updated_at: new Date().toISOString(),
  };
}

describe('usage history: as known at, and finalized invoices regenerated bit for bit', () => {
  jest.setTimeout(120_000);
  const config = testConfig();
  config.elasticsearch.index_prefix = uniqueName('it-history');
  const es = createElasticsearch(config);
  const names = indexNames(config.elasticsearch.index_prefix);
  const logger = createLogger({
    level: 'warn',
    destination: new Writable({ write: (_c, _e, done) => done() }),
  });
  const registry = new Registry();
  const publisher = new RevisionPublisher({
    es,
    names,
    logger,
    registry,
    intervalMs: 60_000,
    historyRetentionDays: 400,
  });
  const ADMIN_KEY = generateApiKey();
  const validator = createResponseValidator(openApiSpec);
  let api: RunningApi;

  async function write(revision: string, records: UsageRecord[], offset: number): Promise<void> {
    const operations = records.flatMap((r) => [
      { index: { _index: names.usageIndex(r.x_BillingPeriod), _id: r.x_RecordId } },
      toUsageDocument(r),
    ]);
    expect((await es.bulk({ operations, refresh: true })).errors).toBe(false);
    await es.index({
      index: names.revisions,
      id: revisionDocId(records[0].x_Scope, revision),
      document: revisionDoc(revision, records, offset),
      refresh: true,
    });
  }

  const revision = async (id: string) =>
    (await es.get<RevisionDocument>({ index: names.revisions, id: revisionDocId(SCOPE, id) }))._source!;
  const count = async (index: string, revisionId: string) => {
    await es.indices.refresh({ index: names.usagePattern });
    return (await es.count({ index, query: { term: { x_PublishKey: publishKey(SCOPE, revisionId) } } }))
      .count;
  };

  /** GET a usage route, validated against the OpenAPI document like every API test. */
  async function get(template: string, query: Record<string, string>, params: Record<string, string> = {}) {
    const path = template.replace(/\{(\w+)\}/g, (_m, name: string) => params[name]);
    const res = await fetch(`${api.url}${path}?${new URLSearchParams(query)}`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    const body = (await res.json()) as Record<string, unknown>;
    validator.check('GET', template, res.status, res.headers.get('content-type') ?? undefined, body);
    return { status: res.status, body };
  }
  const customerUsage = (query: Record<string, string>) =>
    get(
      '/v1/customers/{customer}/usage',
      { from: '2026-01-01', to: '2026-02-01', ...query },
      { customer: 'hooli' },
    );
  const totals = (body: Record<string, unknown>) => body.totals as { currency: string; amount: string }[];

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-history-'));
  const configFile = path.join(dir, 'meterflow.yaml');
  fs.writeFileSync(configFile, `elasticsearch:\n  index_prefix: ${config.elasticsearch.index_prefix}\n`);
  /** The real CLI: `meterflow invoice regenerate <invoice> --price-book <file> --json`. */
  async function cli(invoice: string): Promise<{ code: number | null; stdout: string }> {
    const child = meterflowProcess(
      ['invoice', 'regenerate', invoice, '--price-book', BOOK_FILE, '--json'],
      configFile,
    );
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = await exitOf(child);
    return { code, stdout };
  }

  const regenerate = async (invoice: string) => {
    const lines: string[] = [];
    const result = await runInvoiceRegenerate(config, invoice, { priceBook: BOOK_FILE }, (l) =>
      lines.push(l),
    );
    return { result, lines };
  };

  beforeAll(async () => {
    await ensureLayout(es, names);
    await ensureUsageIndex(es, names, JAN);
    await ensureUsageIndex(es, names, FEB);
    api = await startApi({
      es,
      names,
      logger,
      registry: new Registry(),
      options: parseApiOptions({
        port: 0,
        keys: [{ id: 'ops', key_sha256: hashApiKey(ADMIN_KEY), role: 'admin' }],
        rate_limit_per_second: 0,
      }),
    });
  });

  afterAll(async () => {
    await api?.close();
    await es.indices.delete({ index: `${config.elasticsearch.index_prefix}-*` }).catch(() => undefined);
    await es.indices
      .delete({ index: invoiceCounterIndex(names), ignore_unavailable: true })
      .catch(() => undefined);
    await es.indices.deleteIndexTemplate({ name: names.usageTemplate }).catch(() => undefined);
    await es.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  let finalized: InvoiceDocument;
  let publishedA: string;
  let publishedB: string;

  it('publishes A, invoices and finalizes it; the restated B supersedes A and A is kept, invisible', async () => {
    await write('rA', A, 1);
    expect((await publisher.pass()).get(SCOPE)).toBe('rA');
    publishedA = (await revision('rA')).published_at!;
    expect(publishedA).not.toBeNull();

    await generateInvoices({ es, names, book, options: DEFAULT_INVOICE_OPTIONS, period: JAN });
    const [result] = await finalizeInvoices({ es, names, period: JAN, customer: 'hooli' });
    expect(result.error).toBeNull();
    finalized = result.invoice!;
    expect(finalized.status).toBe('finalized');
    // S3 10.005 -> 10.00 (HALF_EVEN), EC2 0.125 + 0.135 = 0.26
    expect(finalized.total).toBe('10.26');
    expect(finalized.revisions).toEqual([{ scope: SCOPE, revision_id: 'rA' }]);

    // A later knowledge time than A's publication, so the two are told apart.
    await new Promise((r) => setTimeout(r, 20));
    await write('rB', B, 2);
    expect((await publisher.pass()).get(SCOPE)).toBe('rB');
    const a = await revision('rA');
    publishedB = (await revision('rB')).published_at!;
    expect(a.state).toBe('superseded');
    // Readers stopped seeing A exactly when they started seeing B.
    expect(a.superseded_at).toBe(publishedB);
    expect(Date.parse(publishedB)).toBeGreaterThan(Date.parse(publishedA));

    // Kept (history), invisible in the published alias; a second pass does not delete it either.
    await publisher.pass();
    expect(await count(names.usagePattern, 'rA')).toBe(A.length);
    expect(await count(names.usageAlias, 'rA')).toBe(0);
    expect(await count(names.usageAlias, 'rB')).toBe(B.length);
  });

  it('answers usage as known at a time: A before B was published, B from then on', async () => {
    const justBefore = new Date(Date.parse(publishedB) - 1).toISOString();
    const beforeB = await customerUsage({ as_known_at: justBefore });
    expect(beforeB.status).toBe(200);
    expect(totals(beforeB.body)).toEqual([{ currency: 'EUR', amount: exactSum(A), record_count: A.length }]);
    expect(beforeB.body.as_known_at).toBe(justBefore);

    const atB = await customerUsage({ as_known_at: publishedB });
    expect(totals(atB.body)).toEqual([{ currency: 'EUR', amount: exactSum(B), record_count: B.length }]);
    // Without a knowledge time: the alias, which shows B.
    expect(totals((await customerUsage({})).body)).toEqual(totals(atB.body));
    // Before anything was published: nothing.
    const beforeA = await customerUsage({ as_known_at: new Date(Date.parse(publishedA) - 1).toISOString() });
    expect(beforeA.body.record_count).toBe(0);

    // With the price book version and usage time together.
    const byBook = await customerUsage({ as_known_at: justBefore, price_book_version: book.version });
    expect(totals(byBook.body)).toEqual(totals(beforeB.body));
    expect(
      (await customerUsage({ as_known_at: justBefore, price_book_version: 'no-such-book' })).body
        .record_count,
    ).toBe(0);
    const february = await get(
      '/v1/customers/{customer}/usage',
      { from: '2026-02-01', to: '2026-03-01', as_known_at: justBefore },
      { customer: 'hooli' },
    );
    expect(february.body.record_count).toBe(0);

    // The breakdown reads the same history.
    const breakdown = await get('/v1/usage/breakdown', {
      from: '2026-01-01',
      to: '2026-02-01',
      as_known_at: justBefore,
    });
    expect(breakdown.status).toBe(200);
    expect((breakdown.body.totals as { amount: string }[]).map((t) => t.amount)).toEqual([exactSum(A)]);

    // The revisions route says when each revision was shown and when it stopped being shown.
    const revisions = await get('/v1/revisions', { scope: SCOPE });
    expect(
      (revisions.body.revisions as RevisionDocument[])
        .map((r) => [r.revision_id, r.published_at, r.superseded_at])
        .sort(),
    ).toEqual([
      ['rA', publishedA, publishedB],
      ['rB', publishedB, undefined],
    ]);

    const bad = await customerUsage({ as_known_at: '2026-01-01T00:00:00' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('as_known_at');
  });

  it('regenerates the finalized invoice bit for bit from A, although the alias shows B', async () => {
    // What the invoice would say from the alias now: B's usage, another total.
    const now = await summarizeStoredUsage(es, names, {
      book,
      customer: 'hooli',
      period: JAN,
      options: DEFAULT_INVOICE_OPTIONS,
    });
    expect([...now.lines.keys()].map((k) => (JSON.parse(k) as string[])[0])).toContain('AWSLambda');

    for (const id of [finalized.invoice_id, finalized.number!]) {
      const { result, lines } = await regenerate(id);
      expect(result.differences).toEqual([]);
      expect(result.identical).toBe(true);
      expect(result.recomputed!.fingerprint).toBe(finalized.fingerprint);
      expect(computedContent(result.recomputed!)).toEqual(computedContent(finalized));
      expect(result.revisions).toEqual([publishKey(SCOPE, 'rA')]);
      expect(lines[0]).toContain('identical');
    }
    const run = await cli(finalized.number!);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      number: finalized.number,
      identical: true,
      fingerprint: finalized.fingerprint,
      regenerated_fingerprint: finalized.fingerprint,
      knowledge_time: finalized.generated_at,
      differences: [],
    });

    // Another price book version than the invoice's: refused, naming both.
    await expect(
      regenerateInvoice({
        es,
        names,
        invoice: finalized.number!,
        book: { ...book, version: 'not-the-invoice-book' },
        options: DEFAULT_INVOICE_OPTIONS,
      }),
    ).rejects.toThrow(`computed with price book ${book.version}, the book given is not-the-invoice-book`);
  });

  it('deletes A only once its retention has passed; then the regeneration reports it differs', async () => {
    const backdate = async (days: number) =>
      es.update({
        index: names.revisions,
        id: revisionDocId(SCOPE, 'rA'),
        doc: { superseded_at: new Date(Date.now() - days * DAY_MS).toISOString() },
        refresh: true,
      });
    await backdate(399);
    await publisher.pass();
    expect(await count(names.usagePattern, 'rA')).toBe(A.length);

    await backdate(401);
    await publisher.pass();
    expect(await count(names.usagePattern, 'rA')).toBe(0);
    expect(await count(names.usageAlias, 'rB')).toBe(B.length);
    const deleted = await registry.getSingleMetric('meterflow_superseded_documents_deleted_total')!.get();
    expect(deleted.values.reduce((a, v) => a + v.value, 0)).toBe(A.length);

    const { result, lines } = await regenerate(finalized.number!);
    expect(result.identical).toBe(false);
    expect(result.differences.length).toBeGreaterThan(0);
    expect(lines[0]).toContain('DIFFERS');
    const run = await cli(finalized.invoice_id);
    expect(run.code).toBe(1);
    const answer = JSON.parse(run.stdout) as { identical: boolean; differences: string[] };
    expect(answer.identical).toBe(false);
    // A's usage is gone: its lines cannot be recomputed, and each is named.
    expect(answer.differences).toContain('line usage:AmazonS3: stored with amount 10.00, not regenerated');
    expect(answer.differences).toContain('total: stored "10.26", regenerated "0.00"');
  });
  it('regenerates an invoice carrying adjustments of a restated period after a further restatement', async () => {
    // February is invoiced while January shows B: its invoice adjusts January (billed from A).
    await write('f1', [usage('f1', 'AmazonS3', '3', FEB)], 1);
    expect((await publisher.pass()).get(FEB_SCOPE)).toBe('f1');
    await generateInvoices({
      es,
      names,
      book,
      options: DEFAULT_INVOICE_OPTIONS,
      period: FEB,
      customer: 'hooli',
    });
    const [result] = await finalizeInvoices({ es, names, period: FEB, customer: 'hooli' });
    const february = result.invoice!;
    expect(february.status).toBe('finalized');
    // S3 now 12.34 (12.345, HALF_EVEN) billed 10.00: +2.34; Lambda 1.0000001 -> 1.00, new: +1.00
    expect(february.lines.filter((l) => l.kind === 'adjustment').map((l) => [l.line_id, l.amount])).toEqual([
      ['adjustment:2026-01:usage:AWSLambda', '1.00'],
      ['adjustment:2026-01:usage:AmazonS3', '2.34'],
    ]);
    expect(february.basis_finalized).toEqual([`${finalized.invoice_id}#${finalized.number}`]);

    // January is restated again (C): B is superseded and kept.
    await new Promise((r) => setTimeout(r, 20));
    await write('rC', [usage('rC', 'AmazonS3', '20')], 3);
    expect((await publisher.pass()).get(SCOPE)).toBe('rC');
    expect(await count(names.usagePattern, 'rB')).toBe(B.length);

    const { result: again } = await regenerate(february.number!);
    expect(again.differences).toEqual([]);
    expect(again.recomputed!.fingerprint).toBe(february.fingerprint);
    expect(computedContent(again.recomputed!)).toEqual(computedContent(february));
    expect(again.revisions).toEqual([publishKey(SCOPE, 'rB'), publishKey(FEB_SCOPE, 'f1')]);
  });
});
