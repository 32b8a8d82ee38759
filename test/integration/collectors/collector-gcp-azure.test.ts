import zlib from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { Registry } from 'prom-client';
import { Decimal, decimalToString } from '../../../schemas/decimal';
import { createAzureBlob } from '../../../providers/azure/store';
import { createGcs } from '../../../providers/gcp/store';
import { createKafka } from '../../../runtime/kafka';
import { createLogger } from '../../../runtime/logger';
import type { MeterflowConfig } from '../../../runtime/config';
import { Collector } from '../../../collectors/core/collector';
import { sourcesFor } from '../../../collectors/command';
import type { CollectorName } from '../../../providers/registry';
import { readFixture } from '../../support/fixtures';
import { testConfig, uniqueName } from '../helpers';
import { decodeControl, readRawRows, readTopic } from './kafka-read';

/**
 * GCP (fake-gcs-server) and Azure (Azurite) collectors against their real protocol servers:
 * discovery by the documented layouts, revisions written whole with exact control totals computed
 * independently from the source files.
 */
async function collect(provider: CollectorName, config: MeterflowConfig) {
  const collector = new Collector({
    provider,
    config,
    kafka: createKafka(config, 'it-collector'),
    logger: createLogger({ level: 'silent' }),
    registry: new Registry(),
    sources: sourcesFor(provider, config),
  });
  await collector.start();
  try {
    return await collector.pollOnce();
  } finally {
    await collector.stop();
  }
}

function gcpRow(i: number, cost: string, credit: string | null) {
  // Numbers are written as JSON numbers, as BigQuery EXPORT DATA writes FLOAT64; the reader keeps their text.
  return `{"billing_account_id":"012345-ABCDEF-678901","service":{"id":"6F81-5844-456A","description":"Compute Engine"},"sku":{"id":"SKU-${i % 3}","description":"N2 core"},"usage_start_time":"2026-11-01 0${i % 10}:00:00 UTC","usage_end_time":"2026-11-01 0${i % 10}:59:59 UTC","project":{"id":"proj-${i % 2}","name":"Project ${i % 2}"},"labels":[{"key":"customer","value":"acme"}],"cost":${cost},"currency":"USD","usage":{"amount":3600,"unit":"seconds","amount_in_pricing_units":1,"pricing_unit":"hour"},"credits":${credit === null ? '[]' : `[{"name":"Sustained use","amount":${credit},"type":"SUSTAINED_USAGE_DISCOUNT"}]`},"invoice":{"month":"202611"},"cost_type":"regular"}`;
}

describe('GCP collector (fake-gcs-server)', () => {
  it('reads the newest complete run of a month and ignores runs without a completion marker', async () => {
    const config = testConfig();
    config.kafka.topic_prefix = uniqueName('it-gcp');
    const bucketName = uniqueName('gcp-billing');
    config.gcp.exports = [{ name: 'billing', bucket: bucketName, prefix: 'exports' }];
    const { client: gcs } = createGcs(config.gcp, config.local_stack);
    await gcs.createBucket(bucketName);
    const bucket = gcs.bucket(bucketName);
    const month = 'exports/012345-ABCDEF-678901/202611';

    const run1 = [gcpRow(0, '1.5', '-0.25'), gcpRow(1, '0.000123', null), gcpRow(2, '1.385e-05', '-0.00001')];
    await bucket
      .file(`${month}/run=20261125T030000Z/part-000000000000.jsonl.gz`)
      .save(zlib.gzipSync(run1.join('\n') + '\n'), { resumable: false });
    await bucket.file(`${month}/run=20261125T030000Z/_SUCCESS`).save('', { resumable: false });
    const pass1 = await collect('gcp', config);
    expect(pass1.completed.map((r) => r.revision_id)).toHaveLength(1);

    // A newer run without its marker is still being written: it must not be read.
    await bucket
      .file(`${month}/run=20261126T030000Z/part-000000000000.jsonl.gz`)
      .save(zlib.gzipSync(gcpRow(9, '99', null)), { resumable: false });
    const pass2 = await collect('gcp', config);
    expect(pass2.completed).toEqual([]);

    const kafka = createKafka(config, 'it-reader');
    const raw = await readRawRows(kafka, `${config.kafka.topic_prefix}.raw.gcp`);
    expect(raw).toHaveLength(3);
    expect(raw.map((r) => r.columns.cost).sort()).toEqual(['0.000123', '1.385e-05', '1.5']);
    expect(raw[0].columns['service.description']).toBe('Compute Engine');
    expect(raw[0]).toMatchObject({
      provider: 'gcp',
      billing_period: '2026-11',
      scope: `gcp/${bucketName}/012345-ABCDEF-678901/2026-11`,
    });

    const control = await readTopic(kafka, `${config.kafka.topic_prefix}.control`, decodeControl);
    const done = control.find((c) => c.type === 'REVISION_COMPLETED')!;
    // GCP billed cost = cost + credits: 1.5 - 0.25 + 0.000123 + 0.00001385 - 0.00001
    expect(done.control_totals).toEqual([{ currency: 'USD', billed_cost: '1.25012685', rows: 3 }]);
  });
});

describe('Azure collector (Azurite)', () => {
  it('reads the newest v2 run of a month, BOM and MM/dd/yyyy file included, with exact totals', async () => {
    const config = testConfig();
    config.kafka.topic_prefix = uniqueName('it-azure');
    const containerName = uniqueName('costs');
    config.azure.exports = [{ name: 'actual', container: containerName, prefix: 'exports' }];
    const { client: blob } = createAzureBlob(config.azure);
    const container = blob.getContainerClient(containerName);
    await container.create();

    const fixture = readFixture('azure', 'ea', 'finops-toolkit_EA_ActualCost_Small.csv');
    const rows = parse(fixture, { columns: true, bom: true }) as Array<Record<string, string>>;
    const expectedTotal = rows.reduce(
      (s, r) => s.plus(r.CostInBillingCurrency || r.Cost || '0'),
      new Decimal(0),
    );

    const put = async (name: string, body: Buffer | string) => {
      const data = typeof body === 'string' ? Buffer.from(body) : body;
      await container.getBlockBlobClient(name).upload(data, data.length);
    };
    const manifest = (runId: string, submitted: string, blobs: string[]) =>
      JSON.stringify({
        manifestVersion: '2024-04-01',
        byteCount: 1,
        blobCount: blobs.length,
        dataRowCount: rows.length,
        exportConfig: {
          exportName: 'actual',
          type: 'ActualCost',
          dataVersion: '2021-10-01',
          timeFrame: 'MonthToDate',
        },
        deliveryConfig: {
          partitionData: true,
          fileFormat: 'Csv',
          compressionMode: 'gzip',
          containerName,
          rootFolderPath: 'exports',
        },
        runInfo: {
          runId,
          submittedTime: submitted,
          startDate: '2026-11-01T00:00:00',
          endDate: '2026-11-30T00:00:00',
        },
        blobs: blobs.map((b) => ({ blobName: b, byteCount: 1, dataRowCount: rows.length })),
      });
    // An older run whose data differs; the newer run (by submittedTime) is the revision to read.
    await put(
      'exports/actual/20261101-20261130/run-old/part_0_0001.csv.gz',
      zlib.gzipSync('Cost,BillingCurrency\n1,USD\n'),
    );
    await put(
      'exports/actual/20261101-20261130/run-old/manifest.json',
      manifest('run-old', '2026-11-04T04:00:00Z', [
        'exports/actual/20261101-20261130/run-old/part_0_0001.csv.gz',
      ]),
    );
    await put('exports/actual/20261101-20261130/run-new/part_0_0001.csv.gz', zlib.gzipSync(fixture));
    await put(
      'exports/actual/20261101-20261130/run-new/manifest.json',
      manifest('run-new', '2026-11-05T04:00:00Z', [
        'exports/actual/20261101-20261130/run-new/part_0_0001.csv.gz',
      ]),
    );

    const pass = await collect('azure', config);
    expect(pass.completed.map((r) => r.revision_id)).toEqual(['run-new']);

    const kafka = createKafka(config, 'it-reader');
    const raw = await readRawRows(kafka, `${config.kafka.topic_prefix}.raw.azure`);
    expect(raw).toHaveLength(rows.length);
    // The BOM is gone from the first header name.
    expect(Object.keys(raw[0].columns)).toContain(Object.keys(rows[0])[0]);
    const control = await readTopic(kafka, `${config.kafka.topic_prefix}.control`, decodeControl);
    const done = control.find((c) => c.type === 'REVISION_COMPLETED')!;
    expect(done.row_count).toBe(rows.length);
    expect(done.expected_rows).toBe(rows.length);
    const total = done.control_totals.reduce((s, t) => s.plus(t.billed_cost), new Decimal(0));
    expect(decimalToString(total)).toBe(decimalToString(expectedTotal));
  });
});
