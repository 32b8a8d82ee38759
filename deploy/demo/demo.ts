import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Registry } from 'prom-client';
import type { MeterflowConfig } from '../../runtime/config';
import { createKafka, topicNames } from '../../runtime/kafka';
import { createLogger } from '../../runtime/logger';
import { createS3 } from '../../providers/aws/store';
import { createAzureBlob } from '../../providers/azure/store';
import { createGcs } from '../../providers/gcp/store';
import { Shutdown } from '../../runtime/shutdown';
import { Collector } from '../../collectors/core/collector';
import { COLLECTOR_NAMES, sourcesFor } from '../../collectors/command';
import type { CollectorName } from '../../providers/registry';
import { startStages } from '../../processors/command';
import { consumeTotals } from '../../processors/rated-consumer/example';
import type { CustomerTotal, RevisionTracker } from '../../processors/rated-consumer/revision-tracker';
import { loadPriceBook } from '../../processors/price';
import { Decimal, decimalToString } from '../../schemas/decimal';
import { createElasticsearch, scanAll } from '../../runtime/elasticsearch';
import { startSink } from '../../sinks/elasticsearch/command';
import { indexNames, type RevisionDocument, type UsageDocument } from '../../sinks/elasticsearch/indices';
import { randomBytes } from 'node:crypto';
import { generateInvoices, type InvoiceResult } from '../../invoices';
import { signInvoiceLink } from '../../invoices/links';
import { generateApiKey, hashApiKey, startApi, type RunningApi } from '../../api';

/**
 * The demo behind `npm start`: sample exports of all three clouds are seeded into the local
 * buckets (the public AWS CUR and Azure EA samples under test/fixtures, and generated GCP export
 * rows), collected into Kafka, normalized, deduped and priced with deploy/demo/pricebook.yaml, and
 * the per-customer totals are read back from the rated topic the way a downstream consumer does.
 * Re-running it is safe: collectors skip revisions they already wrote, and totals are recomputed
 * from the topics.
 */
const FIXTURES = path.join(__dirname, '../../../test/fixtures');
const fixture = (...p: string[]) => {
  // Works from the sources (deploy/demo) and from the build (dist/deploy/demo).
  const candidates = [path.join(FIXTURES, ...p), path.join(__dirname, '../../test/fixtures', ...p)];
  return candidates.find((c) => fs.existsSync(c)) ?? candidates[0];
};
const pricebookFile = () =>
  [path.join(__dirname, 'pricebook.yaml'), path.join(__dirname, '../../../deploy/demo/pricebook.yaml')].find(
    (c) => fs.existsSync(c),
  )!;

export function demoConfig(base: MeterflowConfig, name = 'meterflow-demo'): MeterflowConfig {
  const config = structuredClone(base);
  config.kafka.topic_prefix = name;
  config.elasticsearch.index_prefix = name;
  config.sink.publish_interval_ms = 500;
  config.collector.transaction_rows = 2000;
  config.processor.session_timeout_ms = 6000;
  config.processor.price_book_file = pricebookFile();
  config.aws.exports = [{ name: 'cur', bucket: `${name}-aws`, prefix: '', type: 'cur-legacy' }];
  config.gcp.exports = [{ name: 'billing', bucket: `${name}-gcp`, prefix: 'exports' }];
  config.azure.exports = [{ name: 'actual', container: `${name}-azure`, prefix: 'exports' }];
  config.normalize.attribution.accounts = {
    ...config.normalize.attribution.accounts,
    '5948062437622': 'acme',
    '6130141942304': 'globex',
    '6433681849691': 'initech',
    'ed570627-0265-4620-bb42-bae06bcfa914': 'acme',
    '1caaa5a3-2b66-438e-8ab4-bce37d518c5d': 'globex',
  };
  config.normalize.attribution.tag_keys = { ...config.normalize.attribution.tag_keys, gcp: ['customer'] };
  return config;
}

async function seed(config: MeterflowConfig, say: (s: string) => void): Promise<void> {
  const name = config.kafka.topic_prefix;
  const { client: s3 } = createS3(config.aws);
  await s3.send(new CreateBucketCommand({ Bucket: `${name}-aws` })).catch(() => undefined);
  const layout = fixture('aws', 'legacy-cur', 's3-layout-create-new');
  const walk = (dir: string): string[] =>
    fs
      .readdirSync(dir, { withFileTypes: true })
      .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  // Data first, the period-level manifest (report/period/report-Manifest.json) last, as AWS writes them.
  const isPeriodManifest = (f: string) =>
    path.relative(layout, f).split('/').length === 3 && f.endsWith('-Manifest.json');
  const files = [
    ...walk(layout).filter((f) => !isPeriodManifest(f)),
    ...walk(layout).filter(isPeriodManifest),
  ];
  for (const f of files)
    await s3.send(
      new PutObjectCommand({
        Bucket: `${name}-aws`,
        Key: path.relative(layout, f),
        Body: fs.readFileSync(f),
      }),
    );
  say(`seeded AWS CUR sample (13,380 rows) into s3://${name}-aws`);

  const { client: blob } = createAzureBlob(config.azure);
  const container = blob.getContainerClient(`${name}-azure`);
  await container.createIfNotExists();
  const csv = fs.readFileSync(fixture('azure', 'ea', 'finops-toolkit_EA_ActualCost_Small.csv'));
  const part = 'exports/actual/20231001-20231031/run-demo/part_0_0001.csv.gz';
  const body = zlib.gzipSync(csv);
  await container.getBlockBlobClient(part).upload(body, body.length);
  const manifest = JSON.stringify({
    manifestVersion: '2024-04-01',
    exportConfig: { exportName: 'actual', type: 'ActualCost', dataVersion: '2021-10-01' },
    runInfo: {
      runId: 'run-demo',
      submittedTime: '2023-11-01T04:00:00Z',
      startDate: '2023-10-01T00:00:00',
      endDate: '2023-10-31T00:00:00',
    },
    blobs: [{ blobName: part, byteCount: body.length }],
  });
  await container
    .getBlockBlobClient('exports/actual/20231001-20231031/run-demo/manifest.json')
    .upload(manifest, manifest.length);
  say(`seeded Azure EA ActualCost sample (v2 export layout) into azure://devstoreaccount1/${name}-azure`);

  await putGcpRun(config, '20261125T030000Z', gcpDemoRows(500));
  say(`seeded 500 generated GCP billing export rows into gs://${name}-gcp`);
}

/** One discovery pass of one cloud's collector (what `meterflow collect <cloud> --once` does). */
export async function collectOnce(
  config: MeterflowConfig,
  provider: CollectorName,
  say: (s: string) => void,
  service: { logger: ReturnType<typeof createLogger>; registry: Registry },
): Promise<number> {
  const collector = new Collector({
    provider,
    config,
    kafka: createKafka(config, `demo-${provider}`, service.logger),
    logger: service.logger,
    registry: service.registry,
    sources: sourcesFor(provider, config),
  });
  await collector.start();
  const pass = await collector.pollOnce();
  await collector.stop();
  for (const f of pass.failed) say(`  ${provider}: revision ${f.revision.revision_id} FAILED: ${f.error}`);
  say(
    `collector.${provider}: ${pass.completed.length} new revision(s) written, ${pass.skipped} already collected`,
  );
  return pass.completed.length;
}

/**
 * Generated GCP billing export rows (JSONL lines, cost and amounts as JSON numbers as BigQuery
 * writes them). `restated` changes every cost, as a GCP restatement of the month would.
 */
export function gcpDemoRows(count: number, restated = false): string[] {
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      billing_account_id: '012345-ABCDEF-678901',
      service: {
        id: i % 2 ? '6F81-5844-456A' : '95FF-2EF5-5EA1',
        description: i % 2 ? 'Compute Engine' : 'Cloud Storage',
      },
      sku: { id: `SKU-${i % 7}`, description: i % 2 ? 'N2 Instance Core' : 'Standard Storage' },
      usage_start_time: `2026-11-${String(1 + (i % 28)).padStart(2, '0')} 00:00:00 UTC`,
      usage_end_time: `2026-11-${String(1 + (i % 28)).padStart(2, '0')} 01:00:00 UTC`,
      project: { id: `demo-project-${i % 3}` },
      labels: [{ key: 'customer', value: ['acme', 'globex', 'initech'][i % 3] }],
      cost: `${(i % 17) + (restated ? 2 : 1)}.${String(i).padStart(3, '0')}`,
      currency: 'USD',
      usage: { amount: 3600, unit: 'seconds', amount_in_pricing_units: 1, pricing_unit: 'hour' },
      credits:
        i % 5 === 0 ? [{ name: 'Sustained use', amount: '-0.125', type: 'SUSTAINED_USAGE_DISCOUNT' }] : [],
      invoice: { month: '202611' },
      cost_type: 'regular',
    }).replace(/"(cost|amount)":"(-?[\d.]+)"/g, '"$1":$2'),
  );
}

/** Writes one GCP export run (data, then the _SUCCESS marker) into the demo's GCS bucket. */
export async function putGcpRun(config: MeterflowConfig, runId: string, lines: string[]): Promise<void> {
  const { client: gcs } = createGcs(config.gcp, config.local_stack);
  const bucketName = `${config.kafka.topic_prefix}-gcp`;
  await gcs.createBucket(bucketName).catch(() => undefined);
  const bucket = gcs.bucket(bucketName);
  const run = `exports/012345-ABCDEF-678901/202611/run=${runId}`;
  await bucket
    .file(`${run}/part-000000000000.jsonl.gz`)
    .save(zlib.gzipSync(lines.join('\n') + '\n'), { resumable: false });
  await bucket.file(`${run}/_SUCCESS`).save('', { resumable: false });
}

export interface DemoSummary {
  collected: Record<string, number>;
  /** Per-customer rated totals as a Kafka consumer of the rated topic computes them. */
  totals: CustomerTotal[];
  tracker: RevisionTracker;
  /** The same, summed exactly from the published Elasticsearch alias. */
  indexedTotals: CustomerTotal[];
  indexedRows: number;
  revisions: RevisionDocument[];
  deadLetters: Array<{ stage: string; reason: string; count: number }>;
  invoices: InvoiceResult[];
  /** htmlLink: a signed link (path) to acme's first invoice page, which a browser opens without a key. */
  api?: { url: string; adminKey: string; server: RunningApi; htmlLink?: string };
  /** Stops what the demo left running (processors, sink, API). */
  stop: () => Promise<string[]>;
}

export async function runDemo(
  base: MeterflowConfig,
  say: (s: string) => void,
  keepRunning: boolean,
  name = 'meterflow-demo',
): Promise<DemoSummary> {
  const config = demoConfig(base, name);
  const logger = createLogger({ level: 'warn', component: 'demo' });
  const registry = new Registry();
  await seed(config, say);

  const collected: Record<string, number> = {};
  for (const provider of COLLECTOR_NAMES)
    collected[provider] = await collectOnce(config, provider, say, { logger, registry });

  const shutdown = new Shutdown(logger, {
    timeoutMs: config.ops.shutdown_timeout_ms,
    report: (line) => say(`  ${line}`),
  });
  await startStages(config, ['normalize', 'dedupe', 'price'], { logger, registry, shutdown }, 'demo');
  say('processors running (normalize, dedupe, price); waiting until every revision is rated...');
  const names = topicNames(config);
  let result: { totals: CustomerTotal[]; tracker: RevisionTracker } | undefined;
  const deadline = Date.now() + 5 * 60_000;
  await consumeTotals(
    createKafka(config, 'demo-totals'),
    names,
    `${config.kafka.topic_prefix}.totals-${Date.now()}`,
    (totals, tracker) => {
      const scopes = tracker.scopeNames();
      const whole = scopes.length >= 3 && scopes.every((s) => tracker.currentRevision(s) !== undefined);
      if (whole || Date.now() > deadline) {
        result = { totals, tracker };
        return true;
      }
      return false;
    },
  );

  // The sink indexes the same topics into Elasticsearch; wait until the current revision of every
  // scope is published there (complete and reconciled with the export's control totals).
  await startSink(config, { logger, registry, shutdown });
  say('sink running; waiting until every current revision is published in Elasticsearch...');
  const es = createElasticsearch(config);
  const esNames = indexNames(config.elasticsearch.index_prefix);
  const wanted = result!.tracker.scopeNames().map((scope) => [scope, result!.tracker.currentRevision(scope)]);
  let revisions: RevisionDocument[] = [];
  const esDeadline = Date.now() + 5 * 60_000;
  for (;;) {
    await es.indices.refresh({ index: esNames.revisions, ignore_unavailable: true });
    const res = await es.search<RevisionDocument>({
      index: esNames.revisions,
      size: 1000,
      ignore_unavailable: true,
    });
    revisions = res.hits.hits.map((h) => h._source!);
    const published = new Set(
      revisions.filter((r) => r.state === 'published').map((r) => `${r.scope}@${r.revision_id}`),
    );
    if (wanted.every(([scope, rev]) => published.has(`${scope}@${rev}`))) break;
    if (Date.now() > esDeadline) {
      say('  (not every revision was published within 5 minutes; see `meterflow api` /v1/revisions)');
      break;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  const indexed = await exactTotalsFromAlias(es, esNames.usageAlias);
  const deadLetters = await deadLetterSummary(es, esNames.deadLetters);

  const book = loadPriceBook(config.processor.price_book_file!);
  const periods = [
    ...new Set(revisions.filter((r) => r.state === 'published').map((r) => r.billing_period)),
  ].sort();
  const invoices: InvoiceResult[] = [];
  for (const period of periods)
    invoices.push(...(await generateInvoices({ es, names: esNames, book, period, options: config.invoice })));

  let api: DemoSummary['api'];
  if (keepRunning) {
    const adminKey = generateApiKey();
    const options = {
      ...config.api,
      keys: [{ id: 'demo-admin', role: 'admin' as const, key_sha256: hashApiKey(adminKey) }],
    };
    // A browser cannot send the key: the demo prints a signed link, made with this run's link secret.
    const htmlLinks = {
      secret: config.invoice.html_links.secret || randomBytes(32).toString('hex'),
      ttlSeconds: config.invoice.html_links.ttl_seconds,
    };
    // The demo should not fail at its last step because api.port is taken: fall back to a free port.
    const server = await startApi({ es, names: esNames, logger, options, htmlLinks }).catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EADDRINUSE') throw err;
        say(`port ${options.port} is in use; the API takes a free port instead`);
        return startApi({ es, names: esNames, logger, options: { ...options, port: 0 }, htmlLinks });
      },
    );
    shutdown.register('api', () => server.close());
    const acme = invoices.find((r) => r.customer === 'acme' && r.invoice !== null);
    const htmlLink = acme
      ? signInvoiceLink({
          secret: htmlLinks.secret,
          invoiceId: acme.invoice_id,
          ttlSeconds: htmlLinks.ttlSeconds,
        }).path
      : undefined;
    api = { url: server.url, adminKey, server, htmlLink };
  } else await shutdown.run();
  return {
    collected,
    totals: result!.totals,
    tracker: result!.tracker,
    indexedTotals: indexed.totals,
    indexedRows: indexed.rows,
    revisions,
    deadLetters,
    invoices,
    api,
    stop: () => shutdown.run(),
  };
}

/** Exact per-customer rated totals over the published alias (decimal sums of _source text). */
async function exactTotalsFromAlias(
  es: ReturnType<typeof createElasticsearch>,
  alias: string,
): Promise<{ totals: CustomerTotal[]; rows: number }> {
  const sums = new Map<string, Decimal>();
  let rows = 0;
  const fields = ['x_CustomerId', 'x_RatedCost', 'x_RatedCurrency'];
  for await (const hits of scanAll<UsageDocument>(es, alias, { match_all: {} }, fields))
    for (const h of hits) {
      const d = h._source!;
      rows++;
      if (d.x_RatedCost === null) continue;
      const key = `${d.x_CustomerId}\u0000${d.x_RatedCurrency}`;
      sums.set(key, (sums.get(key) ?? new Decimal(0)).plus(d.x_RatedCost));
    }
  const totals = [...sums]
    .map(([key, v]) => {
      const [customer, currency] = key.split('\u0000');
      return { customer, currency, rated: decimalToString(v) };
    })
    .sort((a, b) => a.customer.localeCompare(b.customer) || a.currency.localeCompare(b.currency));
  return { totals, rows };
}

async function deadLetterSummary(
  es: ReturnType<typeof createElasticsearch>,
  index: string,
): Promise<Array<{ stage: string; reason: string; count: number }>> {
  await es.indices.refresh({ index, ignore_unavailable: true });
  const res = await es.search({
    index,
    size: 0,
    ignore_unavailable: true,
    aggs: {
      stages: {
        terms: { field: 'stage', size: 50 },
        aggs: { reasons: { terms: { field: 'reason', size: 50 } } },
      },
    },
  });
  const out: Array<{ stage: string; reason: string; count: number }> = [];
  const stages = (
    res.aggregations?.stages as {
      buckets: Array<{ key: string; reasons: { buckets: Array<{ key: string; doc_count: number }> } }>;
    }
  )?.buckets;
  for (const s of stages ?? [])
    for (const r of s.reasons.buckets) out.push({ stage: s.key, reason: r.key, count: r.doc_count });
  return out;
}

export function formatDemoSummary(s: DemoSummary): string {
  const lines = ['revisions (current = newest whole revision of each scope):'];
  for (const scope of s.tracker.scopeNames()) {
    const current = s.tracker.currentRevision(scope);
    if (!current) {
      lines.push(`  ${scope}: no whole revision yet`);
      continue;
    }
    const c = s.tracker.counts(scope, current);
    lines.push(
      `  ${scope}  revision ${current}: ${c.rows} rows, ${c.rated} rated, ${c.deadLettered} dead-lettered`,
    );
  }
  const collectedRows = s.revisions
    .filter((r) => r.state === 'published')
    .reduce((n, r) => n + (r.row_count ?? 0), 0);
  lines.push(
    '',
    'rows per stage:',
    `  collected (current revisions)   ${collectedRows}`,
    `  rated and indexed (published)   ${s.indexedRows}`,
    `  dead-lettered                   ${s.deadLetters.reduce((n, d) => n + d.count, 0)}`,
  );
  for (const d of s.deadLetters) lines.push(`    ${d.stage} ${d.reason}: ${d.count}`);
  const states = new Map<string, number>();
  for (const r of s.revisions) states.set(r.state, (states.get(r.state) ?? 0) + 1);
  lines.push(`  revisions in Elasticsearch: ${[...states].map(([k, v]) => `${v} ${k}`).join(', ')}`);
  lines.push('', 'rated usage per customer (exact decimals, published revisions only, from Elasticsearch):');
  const width = Math.max(8, ...s.indexedTotals.map((t) => t.customer.length));
  for (const t of s.indexedTotals) lines.push(`  ${t.customer.padEnd(width)}  ${t.currency}  ${t.rated}`);
  const agrees = JSON.stringify(s.indexedTotals) === JSON.stringify(s.totals);
  lines.push(`  (a Kafka consumer of the rated topic computes the same totals: ${agrees ? 'yes' : 'NO'})`);
  lines.push('', 'invoices (drafts; rounded once per line to the currency minor unit):');
  // A customer with nothing to bill in a period gets no invoice ("empty"): not worth a line here.
  for (const r of s.invoices.filter((x) => x.outcome !== 'empty')) {
    const inv = r.invoice;
    if (!inv) {
      lines.push(`  ${r.invoice_id}  ${r.outcome}${r.error ? `: ${r.error}` : ''}`);
      continue;
    }
    lines.push(
      `  ${inv.invoice_id.padEnd(width + 9)}  ${inv.status.padEnd(9)}  ${inv.currency} ${inv.total.padStart(12)}  ${inv.lines.length} lines`,
    );
  }
  if (s.api) {
    lines.push(
      '',
      `API: ${s.api.url}  (OpenAPI: ${s.api.url}/openapi.json)`,
      `admin key for this run: ${s.api.adminKey}`,
      `  curl -H 'Authorization: Bearer ${s.api.adminKey}' ${s.api.url}/v1/customers/acme/invoices`,
      s.api.htmlLink
        ? `  open ${s.api.url}${s.api.htmlLink}  (a signed link: no key needed, valid for invoice.html_links.ttl_seconds)`
        : `  curl -H 'Authorization: Bearer ${s.api.adminKey}' ${s.api.url}/v1/invoices/<invoice id>/html-link  (a signed link to open in a browser)`,
    );
  }
  return lines.join('\n');
}
