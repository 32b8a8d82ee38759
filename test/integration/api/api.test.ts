import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { createElasticsearch } from '../../../runtime/elasticsearch';
import { createLogger } from '../../../runtime/logger';
import {
  type DeadLetterDocument,
  indexNames,
  type RevisionDocument,
} from '../../../sinks/elasticsearch/indices';
import { generateApiKey, hashApiKey, parseApiOptions, startApi } from '../../../api';
import type { ApiDependencies, RunningApi } from '../../../api';
import { renderInvoiceHtml } from '../../../invoices/html';
import { signInvoiceLink } from '../../../invoices/links';
import { invoiceCounterIndex } from '../../../invoices/store';
import type { InvoiceDocument } from '../../../invoices/types';
import type { UsageRecord } from '../../../schemas';
import { createResponseValidator } from '../../unit/api/openapi-validator';
import { testConfig, uniqueName } from '../helpers';
import { usageRecord } from '../../support/usage-record';
import { openApiSpec } from '../../support/openapi';
import { seedPublishedUsage } from '../../support/published-usage-seed';

/**
 * `meterflow api` against the real local Elasticsearch. Every response any test receives goes
 * through `call`, which checks it against the OpenAPI document with ajv (status documented,
 * content type documented, JSON body valid).
 */

const config = testConfig();
const es = createElasticsearch(config);
const names = indexNames(uniqueName('apitest'));
const validator = createResponseValidator(openApiSpec);

const ADMIN_KEY = generateApiKey();
const LINK_SECRET = 'test-link-secret-'.padEnd(40, 'x');
const ACME_KEY = generateApiKey();
const GLOBEX_KEY = generateApiKey();
const METRICS_KEY = generateApiKey();
const KEYS = [
  { id: 'prometheus', key_sha256: hashApiKey(METRICS_KEY), role: 'metrics' },
  { id: 'ops', key_sha256: hashApiKey(ADMIN_KEY), role: 'admin' },
  { id: 'acme-portal', key_sha256: hashApiKey(ACME_KEY), role: 'customer', customer: 'acme' },
  { id: 'globex-portal', key_sha256: hashApiKey(GLOBEX_KEY), role: 'customer', customer: 'globex' },
];

const AWS = 'aws/acct-1';
const GCP = 'gcp/billing-1';

interface Response {
  status: number;
  body: unknown;
  text: string;
  headers: Headers;
}

type Params = Record<string, string>;

/** GET a spec'd route (by its template) and validate the answer against the spec. */
async function call(
  api: RunningApi,
  template: string,
  options: { params?: Params; query?: string; key?: string | null; authorization?: string } = {},
): Promise<Response> {
  const path = template.replace(/\{(\w+)\}/g, (_m, name: string) =>
    encodeURIComponent(options.params![name]),
  );
  const headers: Record<string, string> = {};
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  else if (options.key) headers.authorization = `Bearer ${options.key}`;
  const res = await fetch(`${api.url}${path}${options.query ? `?${options.query}` : ''}`, { headers });
  const text = await res.text();
  const contentType = res.headers.get('content-type') ?? undefined;
  const body = contentType?.startsWith('application/json') ? JSON.parse(text) : text;
  validator.check('GET', template, res.status, contentType, body);
  return { status: res.status, body, text, headers: res.headers };
}

/** GET a raw path (no spec template, e.g. an unknown route); the body must be the spec's Error. */
async function callRaw(api: RunningApi, path: string, key?: string): Promise<Response> {
  const res = await fetch(`${api.url}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  const text = await res.text();
  const body = JSON.parse(text);
  // Any keyed route documents the shared Error responses; 404 of usage is one of them.
  validator.check(
    'GET',
    '/v1/customers/{customer}/usage',
    res.status,
    res.headers.get('content-type') ?? '',
    body,
  );
  return { status: res.status, body, text, headers: res.headers };
}

function usage(over: Partial<UsageRecord> & Pick<UsageRecord, 'x_RecordId'>): UsageRecord {
  return usageRecord({
    SubAccountId: null,
    SkuId: 'SKU-A',
    ChargePeriodStart: '2025-01-05T10:00:00Z',
    ChargePeriodEnd: '2025-01-05T11:00:00Z',
    BillingPeriodStart: '2025-01-01T00:00:00Z',
    BillingPeriodEnd: '2025-02-01T00:00:00Z',
    PricingUnit: 'Hours',
    BilledCost: '0.05',
    EffectiveCost: '0.05',
    Tags: { team: 'core' },
    x_Scope: AWS,
    x_Revision: 'r2',
    x_BillingPeriod: '2025-01',
    x_SourceFormat: 'cur2-csv',
    x_SourceObject: 's3://bucket/cur/2025-01/part-0.csv',
    x_SourceLine: 1,
    x_CustomerId: 'acme',
    x_AttributionRule: 'tag:customer',
    x_RatedCost: '0.1',
    x_RatedCurrency: 'USD',
    x_PriceRuleId: 'rule-1',
    x_PriceBookVersion: 'v1',
    ...over,
  });
}

// Amounts chosen so that binary floating point gets them wrong: 0.1 + 0.2, a 1e-8 amount, and a
// 19-significant-digit amount (beyond a double's 15-17).
const USAGE: UsageRecord[] = [
  // acme, published revisions (AWS r2, GCP g1)
  usage({ x_RecordId: 'a1', x_RatedCost: '0.1' }),
  usage({ x_RecordId: 'a2', ChargePeriodStart: '2025-01-05T23:00:00Z', x_RatedCost: '0.2' }),
  usage({
    x_RecordId: 'a3',
    SkuId: 'SKU-B',
    RegionId: 'eu-west-1',
    ChargePeriodStart: '2025-01-06T00:00:00Z',
    x_RatedCost: '0.0000000123456789',
  }),
  usage({
    x_RecordId: 'a4',
    ServiceName: 'AmazonS3',
    SkuId: 'SKU-C',
    ChargePeriodStart: '2025-01-31T23:59:59Z',
    x_RatedCost: '12345678901234567.89',
  }),
  usage({
    x_RecordId: 'a5',
    ProviderName: 'Google Cloud',
    x_Scope: GCP,
    x_Revision: 'g1',
    ServiceName: 'Compute Engine',
    SkuId: 'SKU-G',
    RegionId: 'europe-west1',
    ChargePeriodStart: '2025-01-10T00:00:00Z',
    x_RatedCost: '1.005',
    x_RatedCurrency: 'EUR',
  }),
  usage({
    x_RecordId: 'a6',
    ServiceName: null,
    SkuId: null,
    RegionId: null,
    ChargePeriodStart: '2025-01-07T00:00:00Z',
    x_RatedCost: '5',
  }),
  // Not priced: counted, never summed.
  usage({
    x_RecordId: 'a7',
    ChargePeriodStart: '2025-01-08T00:00:00Z',
    x_RatedCost: null,
    x_RatedCurrency: null,
  }),
  // Outside [2025-01-01, 2025-02-01) on either side (the second in the February index).
  usage({ x_RecordId: 'a8', ChargePeriodStart: '2024-12-31T23:59:59Z', x_RatedCost: '7' }),
  usage({
    x_RecordId: 'a9',
    x_BillingPeriod: '2025-02',
    ChargePeriodStart: '2025-02-01T00:00:00Z',
    x_RatedCost: '100',
  }),
  // acme, revisions that are NOT published: superseded r1 and pending r3 of the same scope.
  usage({ x_RecordId: 'u1', x_Revision: 'r1', x_RatedCost: '555' }),
  usage({ x_RecordId: 'u2', x_Revision: 'r3', x_RatedCost: '999' }),
  // globex
  usage({ x_RecordId: 'g1', x_CustomerId: 'globex', x_RatedCost: '42.42' }),
  usage({ x_RecordId: 'g2', x_CustomerId: 'globex', x_Revision: 'r3', x_RatedCost: '1000' }),
];

function revision(scope: string, id: string, over: Partial<RevisionDocument>): RevisionDocument {
  return {
    scope,
    revision_id: id,
    provider: scope.split('/')[0],
    format: 'cur2-csv',
    billing_period: '2025-01',
    files: [`s3://bucket/${scope}/${id}/part-0.csv`],
    row_count: 10,
    collector_dead_letters: 0,
    control_totals: [{ currency: 'USD', billed_cost: '12.5', rows: 10 }],
    completed_offset: 3,
    failed: false,
    state: 'published',
    indexed_rows: 10,
    dead_lettered_rows: 0,
    indexed_totals: [{ currency: 'USD', billed_cost: '12.5', rows: 10 }],
    problems: [],
    published_at: '2025-02-01T01:00:00.000Z',
    updated_at: '2025-02-01T01:00:00.000Z',
    ...over,
  };
}

const REVISIONS: RevisionDocument[] = [
  revision(AWS, 'r1', { state: 'superseded', updated_at: '2025-02-01T02:00:00.000Z' }),
  revision(AWS, 'r2', { state: 'published', updated_at: '2025-02-01T03:00:00.000Z' }),
  revision(AWS, 'r3', {
    state: 'pending',
    published_at: null,
    indexed_rows: 4,
    updated_at: '2025-02-01T05:00:00.000Z',
  }),
  revision(GCP, 'g1', { provider: 'gcp', state: 'published', updated_at: '2025-02-01T04:00:00.000Z' }),
  revision('azure/sub-9', 'z1', {
    provider: 'azure',
    state: 'unreconciled',
    published_at: null,
    indexed_totals: [{ currency: 'USD', billed_cost: '12.49', rows: 10 }],
    problems: ['USD billed_cost: control 12.5, indexed 12.49'],
    updated_at: '2025-02-01T06:00:00.000Z',
  }),
];

function deadLetter(stage: string, reason: string, customer: string | null): DeadLetterDocument {
  return {
    stage,
    reason,
    message: `${reason} at ${stage}`,
    provider: 'aws',
    scope: AWS,
    revision_id: 'r2',
    object: 's3://bucket/cur/2025-01/part-0.csv',
    line: 7,
    field: null,
    record_id: null,
    payload_text: null,
    payload_format: 'json',
    occurred_at: '2025-02-01T00:00:00.000Z',
    billed_cost: '1.25',
    billed_currency: 'USD',
    customer,
  };
}

const DEAD_LETTERS: DeadLetterDocument[] = [
  deadLetter('normalize', 'malformed', null),
  deadLetter('normalize', 'malformed', null),
  deadLetter('price', 'no_price_rule', 'acme'),
  deadLetter('price', 'no_price_rule', 'acme'),
  deadLetter('price', 'no_price_rule', 'acme'),
  deadLetter('price', 'malformed', 'globex'),
  deadLetter('sink', 'mapping', 'acme'),
];

function invoice(customer: string, period: string, over: Partial<InvoiceDocument>): InvoiceDocument {
  return {
    invoice_id: `${customer}:${period}`,
    number: null,
    customer,
    period,
    currency: 'USD',
    status: 'draft',
    generated_at: '2025-02-02T00:00:00.000Z',
    finalized_at: null,
    price_book_version: 'v1',
    rounding: { mode: 'HALF_EVEN', minor_units: 2 },
    lines: [
      {
        line_id: 'usage:AmazonEC2',
        kind: 'usage',
        description: 'AmazonEC2 <usage> & "more"',
        group: 'AmazonEC2',
        plan_id: null,
        quantity: '3',
        unit: 'Hours',
        amount_exact: '0.3000000123456789',
        amount: '0.30',
        included_in_plan: null,
        cloud_cost: [{ currency: 'USD', amount: '0.15' }],
        trace: {
          revisions: [{ scope: AWS, revision_id: 'r2' }],
          source_objects: ['s3://bucket/cur/2025-01/part-0.csv'],
          source_object_count: 1,
          record_count: 3,
        },
        adjusts: null,
      },
    ],
    total: '0.30',
    cloud_cost: [{ currency: 'USD', amount: '0.15' }],
    margin: '0.15',
    revisions: [{ scope: AWS, revision_id: 'r2' }],
    basis_finalized: [],
    fingerprint: `fp-${customer}-${period}`,
    ...over,
  };
}

const INVOICES: InvoiceDocument[] = [
  invoice('acme', '2025-01', {
    number: 'MF-2025-000001',
    status: 'finalized',
    finalized_at: '2025-02-03T00:00:00.000Z',
    total: '12345678901234567.89',
  }),
  invoice('acme', '2024-12', {}),
  invoice('globex', '2025-01', {
    lines: [
      {
        ...invoice('globex', '2025-01', {}).lines[0],
        description: 'AmazonEC2',
        quantity: '1',
        amount_exact: '42.42',
        amount: '42.42',
        cloud_cost: [{ currency: 'USD', amount: '0.05' }],
        trace: {
          revisions: [{ scope: AWS, revision_id: 'r2' }],
          source_objects: [],
          source_object_count: 0,
          record_count: 1,
        },
      },
    ],
    total: '42.42',
    cloud_cost: [{ currency: 'USD', amount: '0.05' }],
    margin: '42.37',
  }),
];

// Strings that only acme's data contains: none may reach a globex key.
const ACME_SECRETS = [
  'acme',
  '12345678901234567.89',
  '0.3000000123456789',
  'MF-2025-000001',
  'SKU-C',
  'AmazonS3',
];

const logLines: string[] = [];
const logger = createLogger({
  level: 'debug',
  destination: new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  }),
});
const registry = new Registry();

function deps(over: Partial<ApiDependencies> = {}): ApiDependencies {
  return {
    es,
    names,
    // page_size 2: every usage sum spans several pages of search_after. No rate limit here: these
    // tests make hundreds of requests per key; 'limits' below tests it.
    options: parseApiOptions({
      port: 0,
      keys: KEYS,
      page_size: 2,
      max_range_days: 400,
      rate_limit_per_second: 0,
    }),
    logger,
    registry,
    ...over,
  };
}

let api: RunningApi;
const started: RunningApi[] = [];

async function start(d: ApiDependencies): Promise<RunningApi> {
  const a = await startApi(d);
  started.push(a);
  return a;
}

beforeAll(async () => {
  await seedPublishedUsage(es, names, {
    usage: USAGE,
    revisions: REVISIONS,
    deadLetters: DEAD_LETTERS,
    invoices: INVOICES,
    published: [
      { scope: AWS, revisionId: 'r2' },
      { scope: GCP, revisionId: 'g1' },
    ],
  });
  api = await start(
    deps({
      // The real renderer, wrapped so the test can see the injected one is used.
      renderInvoiceHtml: (inv) => renderInvoiceHtml(inv).replace('<body>', '<body data-renderer="injected">'),
      htmlLinks: { secret: LINK_SECRET, ttlSeconds: 600 },
    }),
  );
});

afterAll(async () => {
  await Promise.all(started.map((a) => a.close()));
  await es.indices.delete({
    index: [
      names.usageIndex('2025-01'),
      names.usageIndex('2025-02'),
      names.revisions,
      names.deadLetters,
      names.invoices,
      invoiceCounterIndex(names),
    ],
    ignore_unavailable: true,
  });
  await es.indices.deleteIndexTemplate({ name: names.usageTemplate }).catch(() => undefined);
  await es.close();
});

const USAGE_PATH = '/v1/customers/{customer}/usage';
const JANUARY = 'from=2025-01-01&to=2025-02-01';

describe('usage', () => {
  it('sums published usage exactly per service and currency, from _source, across pages', async () => {
    const res = await call(api, USAGE_PATH, { params: { customer: 'acme' }, query: JANUARY, key: ADMIN_KEY });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      customer: 'acme',
      from: '2025-01-01',
      to: '2025-02-01',
      group_by: 'service',
      record_count: 7,
      unrated_record_count: 1,
      groups: [
        { key: 'AmazonEC2', currency: 'USD', amount: '0.3000000123456789', record_count: 3 },
        { key: 'AmazonS3', currency: 'USD', amount: '12345678901234567.89', record_count: 1 },
        { key: 'Compute Engine', currency: 'EUR', amount: '1.005', record_count: 1 },
        { key: null, currency: 'USD', amount: '5', record_count: 1 },
      ],
      totals: [
        { currency: 'EUR', amount: '1.005', record_count: 1 },
        { currency: 'USD', amount: '12345678901234573.1900000123456789', record_count: 5 },
      ],
    });
    // The unpublished revisions' amounts (r1: 555, r3: 999) never count.
    expect(res.text).not.toMatch(/555|999/);
  });

  it('groups by sku, region and UTC day', async () => {
    const groups = async (groupBy: string) => {
      const res = await call(api, USAGE_PATH, {
        params: { customer: 'acme' },
        query: `${JANUARY}&group_by=${groupBy}`,
        key: ACME_KEY,
      });
      expect(res.status).toBe(200);
      return (res.body as { groups: unknown[] }).groups;
    };
    expect(await groups('sku')).toEqual([
      { key: 'SKU-A', currency: 'USD', amount: '0.3', record_count: 2 },
      { key: 'SKU-B', currency: 'USD', amount: '0.0000000123456789', record_count: 1 },
      { key: 'SKU-C', currency: 'USD', amount: '12345678901234567.89', record_count: 1 },
      { key: 'SKU-G', currency: 'EUR', amount: '1.005', record_count: 1 },
      { key: null, currency: 'USD', amount: '5', record_count: 1 },
    ]);
    expect(await groups('region')).toEqual([
      { key: 'eu-west-1', currency: 'USD', amount: '0.0000000123456789', record_count: 1 },
      { key: 'europe-west1', currency: 'EUR', amount: '1.005', record_count: 1 },
      { key: 'us-east-1', currency: 'USD', amount: '12345678901234568.19', record_count: 3 },
      { key: null, currency: 'USD', amount: '5', record_count: 1 },
    ]);
    expect(await groups('day')).toEqual([
      { key: '2025-01-05', currency: 'USD', amount: '0.3', record_count: 2 },
      { key: '2025-01-06', currency: 'USD', amount: '0.0000000123456789', record_count: 1 },
      { key: '2025-01-07', currency: 'USD', amount: '5', record_count: 1 },
      { key: '2025-01-10', currency: 'EUR', amount: '1.005', record_count: 1 },
      { key: '2025-01-31', currency: 'USD', amount: '12345678901234567.89', record_count: 1 },
    ]);
  });

  it('applies [from, to) on ChargePeriodStart, across monthly indices', async () => {
    const totals = async (query: string) => {
      const res = await call(api, USAGE_PATH, { params: { customer: 'acme' }, query, key: ADMIN_KEY });
      expect(res.status).toBe(200);
      const body = res.body as { record_count: number; totals: { currency: string; amount: string }[] };
      return { records: body.record_count, totals: body.totals.map((t) => `${t.amount} ${t.currency}`) };
    };
    expect(await totals('from=2024-12-31&to=2025-01-01')).toEqual({ records: 1, totals: ['7 USD'] });
    expect(await totals('from=2025-02-01&to=2025-02-02')).toEqual({ records: 1, totals: ['100 USD'] });
    expect(await totals('from=2025-01-31&to=2025-02-02')).toEqual({
      records: 2,
      totals: ['12345678901234667.89 USD'],
    });
    expect(await totals('from=2025-03-01&to=2025-04-01')).toEqual({ records: 0, totals: [] });
  });

  it('answers an admin 200 with nothing for a customer without usage', async () => {
    const res = await call(api, USAGE_PATH, {
      params: { customer: 'initech' },
      query: JANUARY,
      key: ADMIN_KEY,
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ record_count: 0, unrated_record_count: 0, groups: [], totals: [] });
  });

  it('answers bad input with 400 and a JSON error', async () => {
    const cases: [string, string][] = [
      ['', 'missing_parameter'],
      ['from=2025-01-01', 'missing_parameter'],
      ['from=2025-13-01&to=2025-02-01', 'invalid_parameter'],
      ['from=2025-01-01T00:00:00Z&to=2025-02-01', 'invalid_parameter'],
      ['from=2025-02-01&to=2025-01-01', 'invalid_range'],
      ['from=2025-01-01&to=2025-01-01', 'invalid_range'],
      ['from=2024-01-01&to=2025-03-01', 'range_too_long'],
      [`${JANUARY}&group_by=customer`, 'invalid_parameter'],
      [`${JANUARY}&group_by=day&group_by=sku`, 'invalid_parameter'],
      [`${JANUARY}&size=10000`, 'unknown_parameter'],
    ];
    for (const [query, code] of cases) {
      const res = await call(api, USAGE_PATH, { params: { customer: 'acme' }, query, key: ACME_KEY });
      expect({
        query,
        status: res.status,
        code: (res.body as { error: { code: string } }).error.code,
      }).toEqual({
        query,
        status: 400,
        code,
      });
      expect(res.text).not.toMatch(/\bat .*\.(ts|js):\d+/);
    }
  });
});

describe('invoices', () => {
  it("lists a customer's invoices, newest period first", async () => {
    const res = await call(api, '/v1/customers/{customer}/invoices', {
      params: { customer: 'acme' },
      key: ACME_KEY,
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      customer: 'acme',
      invoices: [
        {
          invoice_id: 'acme:2025-01',
          number: 'MF-2025-000001',
          customer: 'acme',
          period: '2025-01',
          currency: 'USD',
          status: 'finalized',
          total: '12345678901234567.89',
          generated_at: '2025-02-02T00:00:00.000Z',
          finalized_at: '2025-02-03T00:00:00.000Z',
          document_type: 'invoice',
        },
        expect.objectContaining({ invoice_id: 'acme:2024-12', status: 'draft', number: null, total: '0.30' }),
      ],
    });
  });

  it('returns one invoice with its lines (documented fields only) and as HTML', async () => {
    const res = await call(api, '/v1/invoices/{invoice_id}', {
      params: { invoice_id: 'acme:2025-01' },
      key: ACME_KEY,
    });
    expect(res.status).toBe(200);
    const { basis_finalized: _internal, ...stored } = INVOICES[0];
    // Stored before taxes existed: no tax, and the subtotal is the total.
    const documented = {
      ...stored,
      subtotal: stored.total,
      taxes: [],
      document_type: 'invoice',
      issue_date: null,
      due_date: null,
      corrects: null,
      replaces: null,
      replaced_by: null,
    };
    // The customer's own key gets the customer view: no cloud cost, margin or lineage anywhere.
    const { cloud_cost: _cost, margin: _margin, revisions: _revisions, ...customerView } = documented;
    expect(res.body).toEqual({
      ...customerView,
      lines: documented.lines.map(({ cloud_cost: _c, trace: _t, ...line }) => line),
    });
    for (const internal of ['cloud_cost', 'margin', 'trace', 'source_objects', '"revisions"'])
      expect(JSON.stringify(res.body)).not.toContain(internal);

    // The colon may also arrive unencoded.
    const raw = await fetch(`${api.url}/v1/invoices/acme:2025-01`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(raw.status).toBe(200);
    // An admin key gets the whole document, cost and margin included.
    expect(await raw.json()).toEqual(documented);

    const html = await call(api, '/v1/invoices/{invoice_id}/html', {
      params: { invoice_id: 'acme:2025-01' },
      key: ACME_KEY,
    });
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(html.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(html.text).toContain('data-renderer="injected"');
    expect(html.text).toContain('MF-2025-000001');
    expect(html.text).toContain('12345678901234567.89');
    expect(html.text).toContain('AmazonEC2 &lt;usage&gt; &amp; &quot;more&quot;');
  });

  it('answers 404 for an invoice that does not exist', async () => {
    for (const template of ['/v1/invoices/{invoice_id}', '/v1/invoices/{invoice_id}/html']) {
      const res = await call(api, template, { params: { invoice_id: 'acme:1999-01' }, key: ADMIN_KEY });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: { code: 'not_found', message: 'invoice not found' } });
    }
  });
});

describe('period listing and signed invoice links', () => {
  it('lists the invoices of a period for every customer (admin), filtered by customer and status', async () => {
    const all = await call(api, '/v1/invoices', { query: 'period=2025-01', key: ADMIN_KEY });
    expect(all.status).toBe(200);
    const ids = (b: unknown) =>
      (b as { invoices: { invoice_id: string }[] }).invoices.map((i) => i.invoice_id);
    expect((all.body as { period: string }).period).toBe('2025-01');
    expect(ids(all.body)).toEqual(['acme:2025-01', 'globex:2025-01']);
    const finalized = await call(api, '/v1/invoices', {
      query: 'period=2025-01&status=finalized',
      key: ADMIN_KEY,
    });
    expect(ids(finalized.body)).toEqual(['acme:2025-01']);
    const globex = await call(api, '/v1/invoices', {
      query: 'period=2025-01&customer=globex',
      key: ADMIN_KEY,
    });
    expect(ids(globex.body)).toEqual(['globex:2025-01']);
    const dec = await call(api, '/v1/invoices', { query: 'period=2024-12', key: ADMIN_KEY });
    expect(ids(dec.body)).toEqual(['acme:2024-12']);
    for (const query of ['', 'period=2025-13', 'period=2025-01&status=paid', 'period=2025-01&limit=1'])
      expect((await call(api, '/v1/invoices', { query, key: ADMIN_KEY })).status).toBe(400);
  });

  it('an authenticated caller gets a signed link that opens the page without a key, for that invoice only', async () => {
    const res = await call(api, '/v1/invoices/{invoice_id}/html-link', {
      params: { invoice_id: 'acme:2025-01' },
      key: ACME_KEY,
    });
    expect(res.status).toBe(200);
    const link = res.body as { path: string; expires: number; expires_at: string };
    // The key never appears in the link.
    expect(link.path).not.toContain(ACME_KEY);
    const page = await fetch(`${api.url}${link.path}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const text = await page.text();
    expect(text).toContain('MF-2025-000001');
    expect(text).toContain('12345678901234567.89');
    // The same signature on another invoice's path, a tampered signature, an expiry moved: 401.
    const q = link.path.slice(link.path.indexOf('?'));
    const sig = new URL(link.path, api.url).searchParams.get('sig')!;
    const bad = [
      `/v1/invoices/globex%3A2025-01/html${q}`,
      link.path.replace(
        sig,
        sig.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')),
      ),
      link.path.replace(`expires=${link.expires}`, `expires=${link.expires + 60}`),
      link.path.replace(/&sig=.*/, ''),
    ];
    for (const p of bad) {
      const r = await fetch(`${api.url}${p}`);
      expect({ p, status: r.status }).toEqual({ p, status: 401 });
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    }
    // An expired link, signed with the server's secret: refused.
    const old = signInvoiceLink({
      secret: LINK_SECRET,
      invoiceId: 'acme:2025-01',
      ttlSeconds: 600,
      now: new Date(Date.now() - 3_600_000),
    });
    expect((await fetch(`${api.url}${old.path}`)).status).toBe(401);
    // A customer key cannot get a link to another customer's invoice.
    const other = await call(api, '/v1/invoices/{invoice_id}/html-link', {
      params: { invoice_id: 'acme:2025-01' },
      key: GLOBEX_KEY,
    });
    expect(other.status).toBe(404);
  });
});

describe('operator routes', () => {
  it('lists revisions with their reconciliation state, filtered', async () => {
    const list = async (query?: string) => {
      const res = await call(api, '/v1/revisions', { query, key: ADMIN_KEY });
      expect(res.status).toBe(200);
      return res.body as { total: number; revisions: RevisionDocument[] };
    };
    const all = await list();
    expect(all.total).toBe(5);
    expect(all.revisions.map((r) => `${r.scope}@${r.revision_id}:${r.state}`)).toEqual([
      'azure/sub-9@z1:unreconciled',
      `${AWS}@r3:pending`,
      `${GCP}@g1:published`,
      `${AWS}@r2:published`,
      `${AWS}@r1:superseded`,
    ]);
    expect(all.revisions[0]).toEqual(REVISIONS[4]);
    expect((await list('state=published')).revisions.map((r) => r.revision_id)).toEqual(['g1', 'r2']);
    expect((await list(`scope=${encodeURIComponent(AWS)}`)).revisions.map((r) => r.revision_id)).toEqual([
      'r3',
      'r2',
      'r1',
    ]);
    const unreconciled = await list('state=unreconciled');
    expect(unreconciled.revisions.map((r) => r.problems)).toEqual([
      ['USD billed_cost: control 12.5, indexed 12.49'],
    ]);
    const limited = await list('limit=2');
    expect({ total: limited.total, n: limited.revisions.length }).toEqual({ total: 5, n: 2 });
    expect((await list('billing_period=2024-12')).total).toBe(0);
    const bad = await call(api, '/v1/revisions', { query: 'state=done', key: ADMIN_KEY });
    expect(bad.status).toBe(400);
  });

  it('summarises dead letters by reason and stage', async () => {
    const res = await call(api, '/v1/dead-letters/summary', { key: ADMIN_KEY });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      total: 7,
      // Terms order: count desc, then key asc.
      by_reason: [
        {
          reason: 'malformed',
          count: 3,
          by_stage: [
            { stage: 'normalize', count: 2 },
            { stage: 'price', count: 1 },
          ],
        },
        { reason: 'no_price_rule', count: 3, by_stage: [{ stage: 'price', count: 3 }] },
        { reason: 'mapping', count: 1, by_stage: [{ stage: 'sink', count: 1 }] },
      ],
      by_stage: [
        { stage: 'price', count: 4 },
        { stage: 'normalize', count: 2 },
        { stage: 'sink', count: 1 },
      ],
    });
    const acme = await call(api, '/v1/dead-letters/summary', { query: 'customer=acme', key: ADMIN_KEY });
    expect(acme.body).toMatchObject({
      total: 4,
      by_stage: [
        { stage: 'price', count: 3 },
        { stage: 'sink', count: 1 },
      ],
    });
    const normalize = await call(api, '/v1/dead-letters/summary', {
      query: 'stage=normalize',
      key: ADMIN_KEY,
    });
    expect(normalize.body).toMatchObject({ total: 2, by_reason: [{ reason: 'malformed', count: 2 }] });
  });
});

describe('operations routes', () => {
  it('serves /healthz, /readyz and /openapi.json without a key, /metrics to a metrics or admin key only', async () => {
    expect((await call(api, '/healthz')).body).toEqual({ status: 'ok' });
    const ready = await call(api, '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ ready: true, checks: { elasticsearch: 'ok' } });
    const spec = await call(api, '/openapi.json');
    expect(spec.body).toEqual(openApiSpec);
    expect((await call(api, '/metrics')).status).toBe(401);
    expect((await call(api, '/metrics', { key: ACME_KEY })).status).toBe(403);
    expect((await call(api, '/metrics', { key: ADMIN_KEY })).status).toBe(200);
    const metrics = await call(api, '/metrics', { key: METRICS_KEY });
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(
      /meterflow_api_requests_total\{route="\/v1\/customers\/:customer\/usage",method="GET",status="200"\} \d+/,
    );
    expect(metrics.text).toContain('meterflow_api_request_duration_seconds_bucket');
  });

  it('a metrics key reads nothing else', async () => {
    expect((await call(api, '/v1/revisions', { key: METRICS_KEY })).status).toBe(403);
    const usage = await call(api, USAGE_PATH, {
      key: METRICS_KEY,
      params: { customer: 'acme' },
      query: JANUARY,
    });
    expect(usage.status).toBe(404);
  });

  it('answers an unknown route with a JSON 404', async () => {
    const res = await callRaw(api, '/v1/customers', ADMIN_KEY);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'not_found', message: 'no such route' } });
  });
});

/** Every keyed route, with parameters that would succeed for an admin. */
const KEYED: [string, Params, string?][] = [
  [USAGE_PATH, { customer: 'acme' }, JANUARY],
  ['/v1/customers/{customer}/invoices', { customer: 'acme' }],
  ['/v1/invoices/{invoice_id}', { invoice_id: 'acme:2025-01' }],
  ['/v1/invoices/{invoice_id}/html', { invoice_id: 'acme:2025-01' }],
  ['/v1/revisions', {}],
  ['/v1/dead-letters/summary', {}],
  ['/v1/usage/breakdown', {}, `${JANUARY}&customer=acme`],
  ['/v1/invoices/{invoice_id}/html-link', { invoice_id: 'acme:2025-01' }],
  ['/v1/invoices', {}, 'period=2025-01'],
];

describe('authentication', () => {
  it('every spec path is served (the table above covers every keyed route)', () => {
    // /metrics takes a key too, but its own role (tested above), not the admin/customer rules.
    const open = ['/healthz', '/readyz', '/metrics', '/openapi.json'];
    const gets = Object.entries(openApiSpec.paths).filter(([, item]) => 'get' in item);
    expect(KEYED.map(([t]) => t).sort()).toEqual(
      gets
        .map(([p]) => p)
        .filter((p) => !open.includes(p))
        .sort(),
    );
    // The POST routes: the price-book preview (admin only) has its 401/403/400 order tested in
    // test/unit/api/routes-schema.test.ts and its answers in test/integration/processors/pricebook-diff.test.ts;
    // event ingest (ingest keys only) in test/unit/api/events-route.test.ts and test/integration/ingest/.
    expect(Object.keys(openApiSpec.paths).filter((p) => !gets.some(([g]) => g === p))).toEqual([
      '/v1/pricebook/diff',
      '/v1/events',
    ]);
  });

  it('answers 401 with a JSON error without a key, with a wrong key, or with the stored hash', async () => {
    const attempts: (string | undefined)[] = [
      undefined,
      'Bearer wrong-key',
      `Bearer ${hashApiKey(ADMIN_KEY)}`,
      `Basic ${Buffer.from(`ops:${ADMIN_KEY}`).toString('base64')}`,
      ADMIN_KEY,
    ];
    for (const [template, params, query] of KEYED) {
      for (const authorization of attempts) {
        const res = await call(api, template, { params, query, authorization });
        expect({ template, authorization, status: res.status }).toEqual({
          template,
          authorization,
          status: 401,
        });
        expect((res.body as { error: { code: string } }).error.code).toBe('unauthorized');
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
      }
    }
  });

  it('every route, for every role: the status each key gets, and what a customer key may not see', async () => {
    const routes: [string, Params, string?][] = [...KEYED, ['/metrics', {}]];
    const adminOnly = new Set(['/v1/revisions', '/v1/dead-letters/summary', '/v1/invoices']);
    // Status by role for a route about acme: [admin, acme's key, globex's key, metrics key].
    const expected = (template: string): number[] =>
      template === '/metrics'
        ? [200, 403, 403, 200]
        : adminOnly.has(template)
          ? [200, 403, 403, 403]
          : template === '/v1/usage/breakdown'
            ? [200, 200, 404, 403] // a metrics key reads no usage at all, whichever customer
            : [200, 200, 404, 404];
    const keys = [ADMIN_KEY, ACME_KEY, GLOBEX_KEY, METRICS_KEY];
    for (const [template, params, query] of routes) {
      const statuses: number[] = [];
      for (const key of keys) statuses.push((await call(api, template, { params, query, key })).status);
      expect({ template, statuses }).toEqual({ template, statuses: expected(template) });
    }
    // The same invoice: the admin sees the cost behind it, the margin and the lineage; acme not.
    const asAdmin = await call(api, '/v1/invoices/{invoice_id}', {
      params: { invoice_id: 'acme:2025-01' },
      key: ADMIN_KEY,
    });
    const asAcme = await call(api, '/v1/invoices/{invoice_id}', {
      params: { invoice_id: 'acme:2025-01' },
      key: ACME_KEY,
    });
    expect(asAdmin.body).toHaveProperty('cloud_cost');
    expect(asAcme.body).not.toHaveProperty('cloud_cost');
    for (const internal of ['"cloud_cost"', '"margin"', '"trace"'])
      expect(asAcme.text).not.toContain(internal);
  });

  it('admin-only routes answer 403 to customer keys; the customer routes work for their own customer', async () => {
    for (const template of ['/v1/revisions', '/v1/dead-letters/summary']) {
      const res = await call(api, template, { key: ACME_KEY });
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ error: { code: 'forbidden', message: 'this route needs an admin key' } });
    }
    for (const [template, params, query] of KEYED.slice(0, 4)) {
      const res = await call(api, template, { params, query, key: ACME_KEY });
      expect({ template, status: res.status }).toEqual({ template, status: 200 });
    }
  });
});

describe('customer isolation (globex key)', () => {
  const seen: Response[] = [];
  const asGlobex = async (template: string, params: Params = {}, query?: string) => {
    const res = await call(api, template, { params, query, key: GLOBEX_KEY });
    seen.push(res);
    return res;
  };
  const NOT_FOUND = (what: string) => ({ error: { code: 'not_found', message: `${what} not found` } });

  it("answers 404 for acme's usage and invoices, exactly as for a customer that does not exist", async () => {
    for (const [template, param, what, query] of [
      [USAGE_PATH, 'customer', 'customer', JANUARY],
      [USAGE_PATH, 'customer', 'customer', `${JANUARY}&group_by=sku`],
      // Ownership is checked before the parameters: a bad query reveals nothing either.
      [USAGE_PATH, 'customer', 'customer', 'from=bad'],
      ['/v1/customers/{customer}/invoices', 'customer', 'customer', undefined],
    ] as const) {
      const acme = await asGlobex(template, { [param]: 'acme' }, query);
      const nobody = await asGlobex(template, { [param]: 'nobody-at-all' }, query);
      expect(acme.status).toBe(404);
      expect(acme.body).toEqual(NOT_FOUND(what));
      expect(acme.text).toBe(nobody.text);
    }
    for (const customer of ['ACME', 'acme ', ' acme', 'globex/../acme', 'acme\u0000', '*', 'acme*']) {
      const res = await asGlobex(USAGE_PATH, { customer }, JANUARY);
      expect({ customer, status: res.status }).toEqual({
        customer,
        status: customer === 'acme\u0000' ? 400 : 404,
      });
    }
  });

  it("answers 404 for acme's invoices by id (JSON and HTML), exactly as for a missing invoice", async () => {
    for (const template of ['/v1/invoices/{invoice_id}', '/v1/invoices/{invoice_id}/html']) {
      for (const id of ['acme:2025-01', 'acme:2024-12']) {
        const acme = await asGlobex(template, { invoice_id: id });
        const missing = await asGlobex(template, { invoice_id: 'globex:1999-01' });
        expect(acme.status).toBe(404);
        expect(acme.body).toEqual(NOT_FOUND('invoice'));
        expect(acme.text).toBe(missing.text);
      }
    }
    // Unencoded colon, and a path that normalises to acme's invoice.
    for (const path of ['/v1/invoices/acme:2025-01', '/v1/invoices/globex/../acme:2025-01/html']) {
      const res = await fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${GLOBEX_KEY}` } });
      const text = await res.text();
      validator.check(
        'GET',
        '/v1/invoices/{invoice_id}',
        res.status,
        res.headers.get('content-type') ?? '',
        JSON.parse(text),
      );
      seen.push({ status: res.status, body: JSON.parse(text), text, headers: res.headers });
      expect(res.status).toBe(404);
    }
  });

  it('rejects filters that could widen a query to another customer', async () => {
    for (const [template, params, query] of [
      [USAGE_PATH, { customer: 'globex' }, `${JANUARY}&customer=acme`],
      [USAGE_PATH, { customer: 'globex' }, `${JANUARY}&x_CustomerId=acme`],
      [USAGE_PATH, { customer: 'globex' }, `${JANUARY}&scope=${encodeURIComponent(AWS)}`],
      ['/v1/customers/{customer}/invoices', { customer: 'globex' }, 'customer=acme'],
      ['/v1/invoices/{invoice_id}', { invoice_id: 'globex:2025-01' }, 'customer=acme'],
      ['/v1/invoices/{invoice_id}/html', { invoice_id: 'globex:2025-01' }, 'invoice_id=acme:2025-01'],
    ] as const) {
      const res = await asGlobex(template, params, query);
      expect({ query, status: res.status }).toEqual({ query, status: 400 });
      expect((res.body as { error: { code: string } }).error.code).toBe('unknown_parameter');
    }
  });

  it('gives 403 on revisions and dead letters, whatever the filter', async () => {
    for (const [template, query] of [
      ['/v1/revisions', undefined],
      ['/v1/revisions', `scope=${encodeURIComponent(AWS)}`],
      ['/v1/revisions', 'state=published'],
      ['/v1/dead-letters/summary', undefined],
      ['/v1/dead-letters/summary', 'customer=acme'],
      ['/v1/dead-letters/summary', 'customer=globex'],
    ] as const) {
      const res = await asGlobex(template, {}, query);
      expect({ template, query, status: res.status }).toEqual({ template, query, status: 403 });
    }
  });

  it("shows globex its own data only, with none of acme's", async () => {
    const usageRes = await asGlobex(USAGE_PATH, { customer: 'globex' }, JANUARY);
    expect(usageRes.status).toBe(200);
    expect(usageRes.body).toEqual({
      customer: 'globex',
      from: '2025-01-01',
      to: '2025-02-01',
      group_by: 'service',
      record_count: 1,
      unrated_record_count: 0,
      groups: [{ key: 'AmazonEC2', currency: 'USD', amount: '42.42', record_count: 1 }],
      totals: [{ currency: 'USD', amount: '42.42', record_count: 1 }],
    });
    const list = await asGlobex('/v1/customers/{customer}/invoices', { customer: 'globex' });
    expect((list.body as { invoices: { invoice_id: string }[] }).invoices.map((i) => i.invoice_id)).toEqual([
      'globex:2025-01',
    ]);
    const own = await asGlobex('/v1/invoices/{invoice_id}', { invoice_id: 'globex:2025-01' });
    expect(own.status).toBe(200);
    expect((own.body as { customer: string }).customer).toBe('globex');
    const ownHtml = await asGlobex('/v1/invoices/{invoice_id}/html', { invoice_id: 'globex:2025-01' });
    expect(ownHtml.status).toBe(200);
    expect(ownHtml.text).toContain('42.42');
  });

  it("no response to the globex key contains any of acme's data, nor do the metrics", async () => {
    expect(seen.length).toBeGreaterThan(30);
    for (const res of seen) for (const secret of ACME_SECRETS) expect(res.text).not.toContain(secret);
    const metrics = await call(api, '/metrics', { key: METRICS_KEY });
    for (const secret of ACME_SECRETS) expect(metrics.text).not.toContain(secret);
    // Keys never reach the logs; their ids do, on every request (the audit trail of API use).
    const logs = logLines.join('');
    for (const key of [ADMIN_KEY, ACME_KEY, GLOBEX_KEY, METRICS_KEY]) expect(logs).not.toContain(key);
    const requests = logLines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'api request');
    expect(requests).toContainEqual(
      expect.objectContaining({
        key_id: 'globex-portal',
        route: '/v1/customers/:customer/invoices',
        status: 200,
      }),
    );
    expect(requests).toContainEqual(
      expect.objectContaining({ key_id: null, route: '/metrics', status: 401 }),
    );
  });
});

describe('empty deployment and failures', () => {
  it('answers empty results on a prefix with no indices at all', async () => {
    const empty = await start(deps({ names: indexNames(uniqueName('apiempty')) }));
    const res = await call(empty, USAGE_PATH, {
      params: { customer: 'acme' },
      query: JANUARY,
      key: ADMIN_KEY,
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ record_count: 0, groups: [], totals: [] });
    const invoices = await call(empty, '/v1/customers/{customer}/invoices', {
      params: { customer: 'acme' },
      key: ADMIN_KEY,
    });
    expect(invoices.body).toEqual({ customer: 'acme', invoices: [] });
    const inv = await call(empty, '/v1/invoices/{invoice_id}', {
      params: { invoice_id: 'acme:2025-01' },
      key: ADMIN_KEY,
    });
    expect(inv.status).toBe(404);
    expect((await call(empty, '/v1/revisions', { key: ADMIN_KEY })).body).toEqual({
      total: 0,
      revisions: [],
    });
    expect((await call(empty, '/v1/dead-letters/summary', { key: ADMIN_KEY })).body).toEqual({
      total: 0,
      by_reason: [],
      by_stage: [],
    });
  });

  it('answers 503 with a generic message when Elasticsearch is unreachable, and /readyz says so', async () => {
    const down = createElasticsearch({
      ...config,
      elasticsearch: { ...config.elasticsearch, node: 'http://127.0.0.1:1', request_timeout_ms: 2_000 },
    });
    try {
      const broken = await start(deps({ es: down }));
      const res = await call(broken, USAGE_PATH, {
        params: { customer: 'acme' },
        query: JANUARY,
        key: ADMIN_KEY,
      });
      expect(res.status).toBe(503);
      expect(res.body).toEqual({
        error: { code: 'unavailable', message: 'the data store is unavailable; retry later' },
      });
      const ready = await call(broken, '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body).toEqual({ ready: false, checks: { elasticsearch: 'unreachable' } });
      expect(ready.text).not.toContain('127.0.0.1');
    } finally {
      await down.close();
    }
  });

  it('answers 500 with a generic message (no stack, no Elasticsearch text) and logs the error', async () => {
    // A "usage alias" whose ChargePeriodStart is a long: Elasticsearch refuses the date range with
    // a 400. That is our bug, not the client's, so it must come back as a 500 without ES's text.
    const brokenNames = indexNames(uniqueName('apibroken'));
    await es.indices.create({
      index: brokenNames.usageAlias,
      mappings: { properties: { x_CustomerId: { type: 'keyword' }, ChargePeriodStart: { type: 'long' } } },
    });
    try {
      await es.index({
        index: brokenNames.usageAlias,
        document: { x_CustomerId: 'acme', ChargePeriodStart: 1 },
        refresh: true,
      });
      const broken = await start(deps({ names: brokenNames }));
      const before = logLines.length;
      const res = await call(broken, USAGE_PATH, {
        params: { customer: 'acme' },
        query: JANUARY,
        key: ADMIN_KEY,
      });
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ error: { code: 'internal', message: 'internal error' } });
      const logged = logLines.slice(before).map((l) => JSON.parse(l) as { level: string; msg: string });
      expect(logged).toEqual(
        expect.arrayContaining([expect.objectContaining({ level: 'error', msg: 'api request failed' })]),
      );
    } finally {
      await es.indices.delete({ index: brokenNames.usageAlias, ignore_unavailable: true });
    }
  });
});

describe('limits', () => {
  const limited = (over: Record<string, unknown>) =>
    start(
      deps({ options: parseApiOptions({ port: 0, keys: KEYS, page_size: 2, max_range_days: 400, ...over }) }),
    );
  const usage = (a: RunningApi, key: string) =>
    call(a, USAGE_PATH, { key, params: { customer: 'acme' }, query: JANUARY });

  it('answers 429 with Retry-After once a key has used its burst, and other keys go on', async () => {
    const a = await limited({ rate_limit_per_second: 1, rate_limit_burst: 2 });
    expect((await usage(a, ACME_KEY)).status).toBe(200);
    expect((await usage(a, ACME_KEY)).status).toBe(200);
    const refused = await usage(a, ACME_KEY);
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({
      error: { code: 'throttled', message: expect.stringContaining('too many requests') },
    });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await usage(a, ADMIN_KEY)).status).toBe(200);
  });

  it('answers 503 with Retry-After beyond max_concurrent_requests', async () => {
    const a = await limited({ max_concurrent_requests: 1, rate_limit_per_second: 0 });
    // Sent together: the first holds the only slot while it pages through Elasticsearch.
    const answers = await Promise.all(Array.from({ length: 6 }, () => usage(a, ADMIN_KEY)));
    const statuses = answers.map((r) => r.status);
    expect(statuses).toContain(200);
    const busy = answers.filter((r) => r.status === 503);
    expect(busy.length).toBeGreaterThan(0);
    for (const r of busy) {
      expect(r.headers.get('retry-after')).toBe('1');
      expect((r.body as { error: { code: string } }).error.code).toBe('unavailable');
    }
    // The slot is given back: one at a time, every request is served.
    expect((await usage(a, ADMIN_KEY)).status).toBe(200);
  });

  it('abandons a request past request_deadline_ms with 503 timeout', async () => {
    const a = await limited({ request_deadline_ms: 1, rate_limit_per_second: 0 });
    const res = await usage(a, ADMIN_KEY);
    expect(res.status).toBe(503);
    expect(res.body).toEqual({
      error: { code: 'timeout', message: expect.stringContaining('longer than 1 ms') },
    });
  });
});
