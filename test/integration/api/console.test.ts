import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { Registry } from 'prom-client';
import { generateApiKey, hashApiKey, parseApiOptions, startApi } from '../../../api';
import type { RunningApi } from '../../../api';
import type { UsageBreakdown } from '../../../api/breakdown';
import { Decimal } from '../../../schemas/decimal';
import { invoiceCounterIndex } from '../../../invoices/store';
import type { InvoiceDocument } from '../../../invoices/types';
import { createElasticsearch } from '../../../runtime/elasticsearch';
import { createLogger } from '../../../runtime/logger';
import type { UsageRecord } from '../../../schemas';
import {
  type DeadLetterDocument,
  indexNames,
  type RevisionDocument,
} from '../../../sinks/elasticsearch/indices';
import { CHROMIUM_ARGS, ensureChromium, freshUserDataDir } from '../../support/chromium';
import { usageRecord } from '../../support/usage-record';
import { createResponseValidator } from '../../unit/api/openapi-validator';
import { testConfig, uniqueName } from '../helpers';
import { openApiSpec } from '../../support/openapi';
import { seedPublishedUsage } from '../../support/published-usage-seed';

/**
 * The analyst console (/console) in a real Chromium, against the real API over the local
 * Elasticsearch. The page is signed in through its form; what it shows is compared with what the
 * public API answers to the same question (fetched here, checked against the OpenAPI document).
 *
 * CONSOLE_SCREENSHOTS=1 also writes docs/console/*.png (off by default, so tests leave the tree clean).
 */

const config = testConfig();
const es = createElasticsearch(config);
const names = indexNames(uniqueName('consoletest'));
const validator = createResponseValidator(openApiSpec);
const SCREENSHOTS = process.env.CONSOLE_SCREENSHOTS === '1';
const SHOTS_DIR = path.resolve(__dirname, '../../../docs/console');

const ADMIN_KEY = generateApiKey();
const ACME_KEY = generateApiKey();
const METRICS_KEY = generateApiKey();
const KEYS = [
  { id: 'prometheus', key_sha256: hashApiKey(METRICS_KEY), role: 'metrics' },
  { id: 'analyst', key_sha256: hashApiKey(ADMIN_KEY), role: 'admin' },
  { id: 'acme-portal', key_sha256: hashApiKey(ACME_KEY), role: 'customer', customer: 'acme' },
];
const WRONG_KEY = generateApiKey();
const ALL_KEYS = [ADMIN_KEY, ACME_KEY, WRONG_KEY, METRICS_KEY];

const AWS = 'aws/acct-1';
const GCP = 'gcp/billing-1';

function usage(over: Partial<UsageRecord> & Pick<UsageRecord, 'x_RecordId'>): UsageRecord {
  return usageRecord({
    ChargePeriodStart: '2025-01-05T10:00:00Z',
    ChargePeriodEnd: '2025-01-05T11:00:00Z',
    BillingPeriodStart: '2025-01-01T00:00:00Z',
    BillingPeriodEnd: '2025-02-01T00:00:00Z',
    BilledCost: '0.05',
    EffectiveCost: '0.05',
    BillingCurrency: 'USD',
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

// Amounts binary floating point gets wrong (0.1 + 0.2, 1e-8, 19 significant digits), several
// days, services, regions, customers and tag values, a second currency, and markup in values.
const USAGE: UsageRecord[] = [
  usage({ x_RecordId: 'a1', x_RatedCost: '0.1' }),
  usage({ x_RecordId: 'a2', ChargePeriodStart: '2025-01-05T23:00:00Z', x_RatedCost: '0.2' }),
  usage({
    x_RecordId: 'a3',
    RegionId: 'eu-west-1',
    ChargePeriodStart: '2025-01-06T00:00:00Z',
    BilledCost: '0.0000000100000001',
    x_RatedCost: '0.0000000123456789',
    Tags: { team: 'data' },
  }),
  usage({
    x_RecordId: 'a4',
    ServiceName: 'AmazonS3',
    ChargePeriodStart: '2025-01-20T12:00:00Z',
    BilledCost: '9876543210987654.3',
    x_RatedCost: '12345678901234567.89',
    Tags: { team: '<b>storage</b>' },
  }),
  usage({
    x_RecordId: 'a5',
    ProviderName: 'Google Cloud',
    x_Scope: GCP,
    x_Revision: 'g1',
    ServiceName: 'Compute Engine',
    RegionId: 'europe-west1',
    ChargePeriodStart: '2025-01-10T00:00:00Z',
    BilledCost: '0.9',
    BillingCurrency: 'EUR',
    x_RatedCost: '1.005',
    x_RatedCurrency: 'EUR',
    Tags: {},
  }),
  usage({
    x_RecordId: 'a6',
    ChargePeriodStart: '2025-01-08T00:00:00Z',
    x_RatedCost: null,
    x_RatedCurrency: null,
  }),
  usage({ x_RecordId: 'g1', x_CustomerId: 'globex', x_RatedCost: '42.42', Tags: { team: 'web' } }),
  usage({
    x_RecordId: 'g2',
    x_CustomerId: 'globex',
    ServiceName: 'AmazonS3',
    RegionId: 'us-west-2',
    ChargePeriodStart: '2025-01-31T23:59:59Z',
    BilledCost: '3.3',
    x_RatedCost: '3.3000000000000003',
  }),
  // More decimal places than the exact integer parts hold: initech's sums come from _source text.
  usage({
    x_RecordId: 'i1',
    x_CustomerId: 'initech',
    ChargePeriodStart: '2025-01-15T00:00:00Z',
    BilledCost: '0.1',
    x_RatedCost: '0.12345678901234567891',
  }),
  usage({ x_RecordId: 'i2', x_CustomerId: 'initech', RegionId: 'eu-west-1', x_RatedCost: '0.2' }),
  // Not published (a pending revision of the same scope): must never be counted.
  usage({ x_RecordId: 'u1', x_Revision: 'r3', x_RatedCost: '999' }),
  usage({ x_RecordId: 'u2', x_CustomerId: 'globex', x_Revision: 'r3', x_RatedCost: '1000' }),
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
  revision(AWS, 'r3', { state: 'pending', published_at: null, updated_at: '2025-02-01T05:00:00.000Z' }),
  revision(GCP, 'g1', { provider: 'gcp', state: 'published', updated_at: '2025-02-01T04:00:00.000Z' }),
  revision('azure/sub-9', 'z1', {
    provider: 'azure',
    state: 'unreconciled',
    published_at: null,
    problems: ['USD billed_cost: control 12.5, indexed 12.49'],
    updated_at: '2025-02-01T06:00:00.000Z',
  }),
];

function deadLetter(stage: string, reason: string): DeadLetterDocument {
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
    customer: null,
  };
}

const DEAD_LETTERS: DeadLetterDocument[] = [
  deadLetter('normalize', 'malformed'),
  deadLetter('normalize', 'malformed'),
  deadLetter('price', 'no_price_rule'),
  deadLetter('price', 'no_price_rule'),
  deadLetter('price', 'no_price_rule'),
  deadLetter('sink', 'mapping'),
];

function invoice(customer: string, period: string, total: string, margin: string): InvoiceDocument {
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
    lines: [],
    total,
    cloud_cost: [{ currency: 'USD', amount: '0.15' }],
    margin,
    revisions: [{ scope: AWS, revision_id: 'r2' }],
    basis_finalized: [],
    fingerprint: `fp-${customer}-${period}`,
  };
}

const INVOICES: InvoiceDocument[] = [
  invoice('acme', '2025-01', '12345678901234568.19', '12345678901234568.04'),
  invoice('acme', '2024-12', '0.30', '0.15'),
  invoice('globex', '2025-01', '45.72', '45.57'),
];

const FROM = '2025-01-01';
const TO = '2025-02-01';

let api: RunningApi;
let context: BrowserContext;
/** Every URL the browser requested, in every test. */
const requested: string[] = [];

/** GET a public route as any client would, checked against the OpenAPI document. */
async function apiGet<T>(template: string, pathAndQuery: string, key: string): Promise<T> {
  const res = await fetch(`${api.url}${pathAndQuery}`, { headers: { authorization: `Bearer ${key}` } });
  const body = (await res.json()) as T;
  validator.check('GET', template, res.status, res.headers.get('content-type') ?? undefined, body);
  expect(res.status).toBe(200);
  return body;
}

const breakdown = (key: string, query: string) =>
  apiGet<UsageBreakdown>('/v1/usage/breakdown', `/v1/usage/breakdown?${query}`, key);

async function openConsole(): Promise<Page> {
  const page = await context.newPage();
  page.on('request', (r) => requested.push(r.url()));
  await page.goto(`${api.url}/console`);
  return page;
}

async function loads(page: Page, n: number): Promise<void> {
  await page.waitForSelector(`body[data-loads="${n}"]`);
}

/** Signs in through the form, then asks for January 2025 (the first load shows the default range). */
async function signInForJanuary(page: Page, key: string): Promise<void> {
  await page.fill('#api-key', key);
  await page.click('#sign-in button[type=submit]');
  await loads(page, 1);
  expect(await page.locator('#sign-in').isHidden()).toBe(true);
  await page.fill('#from', FROM);
  await page.fill('#to', TO);
  await page.click('#filters button[type=submit]');
  await loads(page, 2);
}

/** The rows of a table body, each as its cells' text. */
async function tableText(page: Page, selector: string): Promise<string[][]> {
  // Runs in the page (this project's TypeScript has no DOM types): rows of cells' textContent.
  return page.$$eval(`${selector} tbody tr`, (rows) =>
    rows.map((r) =>
      Array.from(
        (
          r as unknown as { querySelectorAll(s: string): ArrayLike<{ textContent: string | null }> }
        ).querySelectorAll('td'),
      ).map((td) => td.textContent ?? ''),
    ),
  );
}

async function screenshot(page: Page, name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  fs.mkdirSync(SHOTS_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS_DIR, name), fullPage: true });
}

const cloudText = (list: { currency: string; amount: string }[] | undefined) =>
  list && list.length ? list.map((c) => `${c.amount} ${c.currency}`).join(', ') : '0';

beforeAll(async () => {
  ensureChromium();
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
  api = await startApi({
    es,
    names,
    options: parseApiOptions({ port: 0, keys: KEYS, rate_limit_per_second: 0 }),
    logger: createLogger({ level: 'warn', destination: new Writable({ write: (_c, _e, done) => done() }) }),
    registry: new Registry(),
  });
  context = await chromium.launchPersistentContext(freshUserDataDir(), {
    executablePath: ensureChromium(),
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
  });
}, 600_000);

afterAll(async () => {
  await context?.close();
  await api?.close();
  await es.indices.delete({
    index: [
      names.usageIndex('2025-01'),
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

describe('analyst console', () => {
  it('shows an admin the exact totals, groups, margin, revisions, dead letters and invoices the API answers', async () => {
    const page = await openConsole();
    await signInForJanuary(page, ADMIN_KEY);
    const expected = await breakdown(ADMIN_KEY, `from=${FROM}&to=${TO}&by=service`);
    // The seeded data spans both currencies and the unpublished rows are not in the API's answer.
    expect(expected.totals.map((t) => t.currency)).toEqual(['EUR', 'USD']);
    expect(expected.record_count).toBe(10);

    expect(await tableText(page, '#totals')).toEqual(
      expected.totals.map((t) => [
        t.currency,
        t.amount,
        String(t.record_count),
        cloudText(t.cloud_cost),
        t.margin ?? 'n/a (mixed currencies)',
      ]),
    );
    expect(await tableText(page, '#groups')).toEqual(
      expected.groups.map((g) => [
        g.key ?? '(none)',
        g.currency,
        g.amount,
        String(g.record_count),
        cloudText(g.cloud_cost),
        g.margin ?? 'n/a (mixed currencies)',
      ]),
    );
    expect(await page.locator('#totals th', { hasText: 'margin' }).count()).toBe(1);
    // The chart drew (a canvas inside the uPlot root).
    expect(await page.locator('#chart .uplot canvas').count()).toBe(1);

    // Revisions by state and dead letters by reason: the API's counts.
    const states = await tableText(page, '#revision-states');
    for (const [state, shown] of states) {
      const list = await apiGet<{ total: number }>(
        '/v1/revisions',
        `/v1/revisions?state=${state}&limit=1`,
        ADMIN_KEY,
      );
      expect(shown).toBe(String(list.total));
    }
    expect(states.find(([s]) => s === 'published')?.[1]).toBe('2');
    const dead = await apiGet<{ by_reason: { reason: string; count: number }[] }>(
      '/v1/dead-letters/summary',
      '/v1/dead-letters/summary',
      ADMIN_KEY,
    );
    expect((await tableText(page, '#dead-letters')).map(([reason, count]) => [reason, count])).toEqual(
      dead.by_reason.map((r) => [r.reason, String(r.count)]),
    );
    await screenshot(page, 'admin-by-service.png');

    // By tag: the value of `team`, markup shown as text, not interpreted.
    await page.selectOption('#by', 'tag');
    await page.fill('#tag-key', 'team');
    await page.selectOption('#customer', 'acme');
    await page.click('#filters button[type=submit]');
    await loads(page, 3);
    const byTag = await breakdown(ADMIN_KEY, `from=${FROM}&to=${TO}&by=tag&tag_key=team&customer=acme`);
    expect(await tableText(page, '#groups')).toEqual(
      byTag.groups.map((g) => [
        g.key ?? '(none)',
        g.currency,
        g.amount,
        String(g.record_count),
        cloudText(g.cloud_cost),
        g.margin ?? 'n/a (mixed currencies)',
      ]),
    );
    expect(byTag.groups.map((g) => g.key)).toContain('<b>storage</b>');
    expect(await page.locator('#groups b').count()).toBe(0);
    expect(await tableText(page, '#totals')).toEqual(
      byTag.totals.map((t) => [
        t.currency,
        t.amount,
        String(t.record_count),
        cloudText(t.cloud_cost),
        t.margin ?? 'n/a (mixed currencies)',
      ]),
    );
    // acme's invoices, totals as the API's exact text.
    const invoices = await apiGet<{ invoices: { invoice_id: string; total: string }[] }>(
      '/v1/customers/{customer}/invoices',
      '/v1/customers/acme/invoices',
      ADMIN_KEY,
    );
    expect((await tableText(page, '#invoices')).map((r) => [r[0], r[5]])).toEqual(
      invoices.invoices.map((i) => [i.invoice_id, i.total]),
    );
    await screenshot(page, 'admin-by-tag.png');
    await page.close();
  });

  it('shows a customer key its own exact totals and no cost or margin', async () => {
    const page = await openConsole();
    await signInForJanuary(page, ACME_KEY);
    const expected = await breakdown(ACME_KEY, `from=${FROM}&to=${TO}&by=service`);
    expect(expected.customer).toBe('acme');
    expect(expected.includes_cost).toBe(false);
    expect(expected.totals.every((t) => !('margin' in t) && !('cloud_cost' in t))).toBe(true);
    // The customer usage route, independently, answers the same totals.
    const own = await apiGet<{ totals: { currency: string; amount: string }[] }>(
      '/v1/customers/{customer}/usage',
      `/v1/customers/acme/usage?from=${FROM}&to=${TO}`,
      ACME_KEY,
    );
    expect(expected.totals.map((t) => [t.currency, t.amount])).toEqual(
      own.totals.map((t) => [t.currency, t.amount]),
    );
    expect(await tableText(page, '#totals')).toEqual(
      expected.totals.map((t) => [t.currency, t.amount, String(t.record_count)]),
    );
    expect(await page.locator('.margin, .cloud-cost').count()).toBe(0);
    expect(await page.locator('th', { hasText: 'margin' }).count()).toBe(0);
    expect(await page.locator('#ops').isHidden()).toBe(true);
    expect(await page.locator('#who').textContent()).toBe('customer key: acme');
    // globex's usage is nowhere on acme's page.
    expect(await page.locator('body').textContent()).not.toContain('42.42');
    await screenshot(page, 'customer.png');
    await page.close();
  });

  it('shows the API error for a wrong key and stays signed out', async () => {
    const page = await openConsole();
    await page.fill('#api-key', WRONG_KEY);
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('#error:not([hidden])');
    expect(await page.locator('#error').textContent()).toBe('Sign-in failed: invalid API key');
    expect(await page.locator('#app').isHidden()).toBe(true);
    expect(await page.locator('#sign-in').isVisible()).toBe(true);
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await screenshot(page, 'wrong-key.png');
    await page.close();
  });

  it('signs a metrics key out with the API error: it reads no usage', async () => {
    const page = await openConsole();
    await page.fill('#api-key', METRICS_KEY);
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('#error:not([hidden])');
    expect(await page.locator('#error').textContent()).toBe(
      'Sign-in failed: this route needs an admin or customer key',
    );
    expect(await page.locator('#app').isHidden()).toBe(true);
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await page.close();
  });

  it('never put a key in a URL it requested', () => {
    // The tests above made the page call several routes; none may carry a key in its URL.
    expect(requested.filter((u) => u.includes('/v1/usage/breakdown')).length).toBeGreaterThan(3);
    for (const url of requested) {
      for (const key of ALL_KEYS) {
        expect(url).not.toContain(key);
        expect(url).not.toContain(encodeURIComponent(key));
      }
    }
  });
});

/** What the breakdown must answer, computed here from the seeded records with Decimal. */
function expectedGroups(key: (r: UsageRecord) => string | null, customer?: string) {
  const published = new Set(['r2', 'g1']);
  const groups = new Map<
    string,
    { key: string | null; currency: string; amount: Decimal; cloud: Decimal; n: number }
  >();
  for (const r of USAGE) {
    if (!published.has(r.x_Revision) || (customer && r.x_CustomerId !== customer)) continue;
    if (r.x_RatedCost === null || r.x_RatedCurrency === null) continue;
    const id = JSON.stringify([key(r), r.x_RatedCurrency]);
    const g = groups.get(id) ?? {
      key: key(r),
      currency: r.x_RatedCurrency,
      amount: new Decimal(0),
      cloud: new Decimal(0),
      n: 0,
    };
    g.amount = g.amount.plus(r.x_RatedCost);
    // Every seeded record bills in its rated currency: margin = amount - cloud cost.
    g.cloud = g.cloud.plus(r.BilledCost as string);
    g.n++;
    groups.set(id, g);
  }
  return [...groups.values()];
}

const sortRows = <T extends { key: string | null; currency: string }>(rows: T[]) =>
  [...rows].sort((a, b) => `${a.key}\u0000${a.currency}`.localeCompare(`${b.key}\u0000${b.currency}`));

describe('GET /v1/usage/breakdown', () => {
  const q = `from=${FROM}&to=${TO}`;

  it.each([
    ['service', (r: UsageRecord) => r.ServiceName],
    ['region', (r: UsageRecord) => r.RegionId],
    ['customer', (r: UsageRecord) => r.x_CustomerId],
    ['tag&tag_key=team', (r: UsageRecord) => r.Tags.team ?? null],
  ])('sums every customer by %s exactly, with cloud cost and margin, for an admin', async (by, key) => {
    const body = await breakdown(ADMIN_KEY, `${q}&by=${by}`);
    const want = expectedGroups(key);
    expect(sortRows(body.groups)).toEqual(
      sortRows(
        want.map((g) => ({
          key: g.key,
          currency: g.currency,
          amount: g.amount.toFixed(),
          record_count: g.n,
          cloud_cost: [{ currency: g.currency, amount: g.cloud.toFixed() }],
          margin: g.amount.minus(g.cloud).toFixed(),
        })),
      ),
    );
    // The days add up to the groups.
    const perGroup = new Map<string, Decimal>();
    for (const s of body.series) {
      const id = JSON.stringify([s.key, s.currency]);
      perGroup.set(id, (perGroup.get(id) ?? new Decimal(0)).plus(s.amount));
    }
    for (const g of body.groups)
      expect(perGroup.get(JSON.stringify([g.key, g.currency]))?.toFixed()).toBe(g.amount);
  });

  it('sums from the decimal text when an amount has more places than the exact parts hold', async () => {
    const body = await breakdown(ADMIN_KEY, `${q}&by=region&customer=initech`);
    expect(body.groups.map((g) => [g.key, g.amount, g.margin])).toEqual([
      ['eu-west-1', '0.2', '0.15'],
      ['us-east-1', '0.12345678901234567891', '0.02345678901234567891'],
    ]);
    expect(body.totals.map((t) => t.amount)).toEqual(['0.32345678901234567891']);
  });

  it('pins a customer key to its customer, without cost or margin', async () => {
    const body = await breakdown(ACME_KEY, `${q}&by=customer`);
    expect(body.customer).toBe('acme');
    expect(body.groups.map((g) => g.key)).toEqual(['acme', 'acme']);
    expect(JSON.stringify(body)).not.toMatch(/margin|cloud_cost|globex|initech/);
  });

  it.each([
    ['no key', undefined, q, 401],
    ['a metrics key', METRICS_KEY, q, 403],
    ["another customer's usage (as if it did not exist)", ACME_KEY, `${q}&customer=globex`, 404],
    ['by=tag without tag_key', ADMIN_KEY, `${q}&by=tag`, 400],
    ['tag_key without by=tag', ADMIN_KEY, `${q}&tag_key=team`, 400],
    ['an unknown parameter', ADMIN_KEY, `${q}&group_by=service`, 400],
    ['a reversed range', ADMIN_KEY, `from=${TO}&to=${FROM}`, 400],
  ])('refuses %s', async (_what, key, query, status) => {
    const res = await fetch(`${api.url}/v1/usage/breakdown?${query}`, {
      headers: key ? { authorization: `Bearer ${key}` } : {},
    });
    const body = await res.json();
    validator.check(
      'GET',
      '/v1/usage/breakdown',
      res.status,
      res.headers.get('content-type') ?? undefined,
      body,
    );
    expect(res.status).toBe(status);
  });
});
