import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Registry } from 'prom-client';
import type { MeterflowConfig } from '../../runtime/config';
import { createKafka, topicNames } from '../../runtime/kafka';
import { createLogger } from '../../runtime/logger';
import { createAzureBlob, createGcs, createS3 } from '../../runtime/object-storage';
import { Shutdown } from '../../runtime/shutdown';
import { Collector } from '../../collectors/core/collector';
import { sourcesFor, type Provider } from '../../collectors/command';
import { startStages } from '../../processors/command';
import { consumeTotals } from '../../processors/rated-consumer/example';
import type { CustomerTotal, RevisionTracker } from '../../processors/rated-consumer/revision-tracker';

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

export function demoConfig(base: MeterflowConfig): MeterflowConfig {
  const config = structuredClone(base);
  config.kafka.topic_prefix = 'meterflow-demo';
  config.collector.transaction_rows = 2000;
  config.processor.session_timeout_ms = 6000;
  config.processor.price_book_file = pricebookFile();
  config.aws.exports = [{ name: 'cur', bucket: 'meterflow-demo-aws', prefix: '', type: 'cur-legacy' }];
  config.gcp.exports = [{ name: 'billing', bucket: 'meterflow-demo-gcp', prefix: 'exports' }];
  config.azure.exports = [{ name: 'actual', container: 'meterflow-demo-azure', prefix: 'exports' }];
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
  const { client: s3 } = createS3(config);
  await s3.send(new CreateBucketCommand({ Bucket: 'meterflow-demo-aws' })).catch(() => undefined);
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
        Bucket: 'meterflow-demo-aws',
        Key: path.relative(layout, f),
        Body: fs.readFileSync(f),
      }),
    );
  say(`seeded AWS CUR sample (13,380 rows) into s3://meterflow-demo-aws`);

  const { client: blob } = createAzureBlob(config);
  const container = blob.getContainerClient('meterflow-demo-azure');
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
  say(
    'seeded Azure EA ActualCost sample (v2 export layout) into azure://devstoreaccount1/meterflow-demo-azure',
  );

  const { client: gcs } = createGcs(config);
  await gcs.createBucket('meterflow-demo-gcp').catch(() => undefined);
  const rows = Array.from({ length: 500 }, (_, i) =>
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
      cost: `${(i % 17) + 1}.${String(i).padStart(3, '0')}`,
      currency: 'USD',
      usage: { amount: 3600, unit: 'seconds', amount_in_pricing_units: 1, pricing_unit: 'hour' },
      credits:
        i % 5 === 0 ? [{ name: 'Sustained use', amount: '-0.125', type: 'SUSTAINED_USAGE_DISCOUNT' }] : [],
      invoice: { month: '202611' },
      cost_type: 'regular',
    }).replace(/"(cost|amount)":"(-?[\d.]+)"/g, '"$1":$2'),
  );
  const bucket = gcs.bucket('meterflow-demo-gcp');
  const run = 'exports/012345-ABCDEF-678901/202611/run=20261125T030000Z';
  await bucket
    .file(`${run}/part-000000000000.jsonl.gz`)
    .save(zlib.gzipSync(rows.join('\n') + '\n'), { resumable: false });
  await bucket.file(`${run}/_SUCCESS`).save('', { resumable: false });
  say('seeded 500 generated GCP billing export rows into gs://meterflow-demo-gcp');
}

export interface DemoSummary {
  collected: Record<string, number>;
  totals: CustomerTotal[];
  tracker: RevisionTracker;
}

export async function runDemo(
  base: MeterflowConfig,
  say: (s: string) => void,
  keepRunning: boolean,
): Promise<DemoSummary> {
  const config = demoConfig(base);
  const logger = createLogger({ level: 'warn', component: 'demo' });
  const registry = new Registry();
  await seed(config, say);

  const collected: Record<string, number> = {};
  for (const provider of ['aws', 'azure', 'gcp'] as Provider[]) {
    const collector = new Collector({
      provider,
      config,
      kafka: createKafka(config, `demo-${provider}`, logger),
      logger,
      registry,
      sources: sourcesFor(provider, config),
    });
    await collector.start();
    const pass = await collector.pollOnce();
    await collector.stop();
    for (const f of pass.failed) say(`  ${provider}: revision ${f.revision.revision_id} FAILED: ${f.error}`);
    collected[provider] = pass.completed.length;
    say(
      `collector.${provider}: ${pass.completed.length} new revision(s) written, ${pass.skipped} already collected`,
    );
  }

  const shutdown = new Shutdown(logger);
  await startStages(config, ['normalize', 'dedupe', 'price'], { logger, registry, shutdown }, 'demo');
  say('processors running (normalize, dedupe, price); waiting until every revision is rated...');
  const names = topicNames(config);
  let result: { totals: CustomerTotal[]; tracker: RevisionTracker } | undefined;
  const deadline = Date.now() + 5 * 60_000;
  await consumeTotals(
    createKafka(config, 'demo-totals'),
    names,
    `meterflow-demo.totals-${Date.now()}`,
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
  if (!keepRunning) await shutdown.run();
  return { collected, totals: result!.totals, tracker: result!.tracker };
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
  lines.push('', 'rated usage per customer (exact decimals, current revisions only):');
  const width = Math.max(8, ...s.totals.map((t) => t.customer.length));
  for (const t of s.totals) lines.push(`  ${t.customer.padEnd(width)}  ${t.currency}  ${t.rated}`);
  return lines.join('\n');
}
