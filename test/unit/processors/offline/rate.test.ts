import { createHash } from 'node:crypto';
import avro from 'avsc';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decimal, decimalToString } from '../../../../schemas/decimal';
import { runRate, type RateSummary } from '../../../../processors/offline/rate';
import { formatRateSummary } from '../../../../processors/offline/summary';
import { azureManifest } from '../../collectors/helpers';
import { streamingPath, type LetterKey } from './paths-agree';
import {
  AVSC_FIELDS,
  Capture,
  EXAMPLE_BOOK,
  csv,
  cur2Row,
  gcpJsonLine,
  gz,
  put,
  readNdjson,
  sum,
} from './helpers';
import { fixture, readCsvFile, readFixture, readFixtureJson } from '../../../support/fixtures';

type Rec = Record<string, unknown>;

let tmp: string;
let bucket: string;
let config: string;

const CUR_MANIFEST = readFixtureJson<Record<string, unknown>>(
  'aws',
  'legacy-cur',
  's3-layout-create-new',
  'koku-local',
  '20180801-20180901',
  'koku-local-Manifest.json',
);
const LEGACY_DIR = 'cur/koku-test/20180601-20180701';
const A_NEW = '2b2b2b2b-0000-4000-8000-000000000002';
const A_OLD = '1a1a1a1a-0000-4000-8000-000000000001';
const CUR2_KEY = 'exports/cur2-daily/data/BILLING_PERIOD=2026-03/exec-2/cur2-daily-00001.csv.gz';
const AZURE_DIR = 'azure/daily-actual/20230901-20230930';
const GCP_RUN = 'gcp-exports/01A2B3-C4D5E6-F7A8B9/202403/run=20240305T030000Z';

/**
 * CUR 2.0 lines and what the example price book makes of them (hand-computed; attribution by the
 * `customer` tag from the --config file):
 *   EC2 10 (unallocated)       aws-compute-markup  10 x 1.15                     = 11.5 USD
 *   S3 2, tag env=prod         storage-prod-markup  2 x 1.10 (EffectiveCost)     = 2.2 USD
 *   CloudTrail 1               default-markup       1 x 1.12 (EffectiveCost)     = 1.12 USD
 *   Tax 0.7                    tax-at-cost                                        = 0.7 USD
 *   EC2 100, customer acme     acme-all   100 x 1.09 x 0.99 (rule) x 0.95 (customer) = 102.5145 USD
 *   EC2 50, customer globex    aws-compute-markup 50 x 1.15 = 57.5 USD x 0.94 (rate from 2026-03-01) = 54.05 EUR
 *   EC2 0.000000012345678901234567               x 1.15 = 0.00000001419753073641975205 USD
 */
const CUR2_LINES = [
  { row: cur2Row({ id: 'l1', product: 'AmazonEC2', cost: '10.00' }), rated: '11.5', currency: 'USD' },
  {
    row: cur2Row({
      id: 'l2',
      product: 'AmazonS3',
      cost: '2',
      tags: { user_env: 'prod' },
      usageType: 'TimedStorage-ByteHrs',
      unit: 'GB-Mo',
    }),
    rated: '2.2',
    currency: 'USD',
  },
  { row: cur2Row({ id: 'l3', product: 'AWSCloudTrail', cost: '1' }), rated: '1.12', currency: 'USD' },
  {
    row: cur2Row({ id: 'l4', product: 'AmazonEC2', type: 'Tax', cost: '0.7' }),
    rated: '0.7',
    currency: 'USD',
  },
  {
    row: cur2Row({ id: 'l5', product: 'AmazonEC2', cost: '100', tags: { user_customer: 'acme' } }),
    rated: '102.5145',
    currency: 'USD',
  },
  {
    row: cur2Row({ id: 'l6', product: 'AmazonEC2', cost: '50', tags: { user_customer: 'globex' } }),
    rated: '54.05',
    currency: 'EUR',
  },
  {
    row: cur2Row({ id: 'l7', product: 'AmazonEC2', cost: '0.000000012345678901234567' }),
    rated: '0.00000001419753073641975205',
    currency: 'USD',
  },
];

const GCP_PART0 = [
  gcpJsonLine({
    cost: '1.123456789012345678901',
    credits: ['-0.1'],
    service: 'Compute Engine',
    project: 'p1',
    hour: 1,
  }),
  gcpJsonLine({ cost: '0.5', service: 'Cloud Storage', project: 'p1', hour: 2 }),
  gcpJsonLine({
    cost: '2.25',
    credits: ['-0.25', '-1e-7'],
    service: 'Compute Engine',
    project: 'p2',
    hour: 3,
  }),
];
const GCP_PART1 = [
  gcpJsonLine({ cost: '3', service: 'BigQuery', project: 'p2', hour: 4 }),
  '{"cost": 1.5, "currency": \n',
  gcpJsonLine({ cost: '0.000001', service: 'Cloud Storage', project: 'p3', hour: 5 }),
];

/**
 * One folder laid out as a bucket holding several exports under different prefixes:
 *   cur/...            legacy CUR, create-new: period-level manifest naming assembly A_NEW; the older
 *                      assembly A_OLD (data + its manifest copy) stays in the folder and must be ignored
 *   exports/...        AWS Data Exports (CUR 2.0): manifest naming exec-2; exec-1's data is stale
 *   azure/...          Azure exports v2: run-2 (newest) lists its one blob TWICE (the duplicate case);
 *                      run-1 is older and ignored
 *   gcp-exports/...    GCP runs: the newest complete run is read; an older complete run and a newer
 *                      run without _SUCCESS are ignored
 */
function buildBucket(root: string): void {
  const legacyManifest = (assembly: string) => ({
    ...CUR_MANIFEST,
    assemblyId: assembly,
    reportName: 'koku-test',
    billingPeriod: { start: '20180601T000000.000Z', end: '20180701T000000.000Z' },
    reportKeys: [`${LEGACY_DIR}/${assembly}/koku-test-1.csv.gz`],
  });
  put(root, `${LEGACY_DIR}/koku-test-Manifest.json`, JSON.stringify(legacyManifest(A_NEW)));
  put(root, `${LEGACY_DIR}/${A_NEW}/koku-test-Manifest.json`, JSON.stringify(legacyManifest(A_NEW)));
  put(
    root,
    `${LEGACY_DIR}/${A_NEW}/koku-test-1.csv.gz`,
    readFixture('aws', 'legacy-cur', 'koku_test_cur.csv.gz'),
  );
  put(root, `${LEGACY_DIR}/${A_OLD}/koku-test-Manifest.json`, JSON.stringify(legacyManifest(A_OLD)));
  put(
    root,
    `${LEGACY_DIR}/${A_OLD}/koku-test-1.csv.gz`,
    gz(readFixture('aws', 'legacy-cur', 'koku_2023-06-01-not-final.csv')),
  );

  const cur2 = csv(CUR2_LINES.map((l) => l.row));
  put(root, CUR2_KEY, gz(cur2));
  put(
    root,
    CUR2_KEY.replace('exec-2', 'exec-1'),
    gz(csv([cur2Row({ id: 'stale', product: 'AmazonEC2', cost: '999' })])),
  );
  put(
    root,
    'exports/cur2-daily/metadata/BILLING_PERIOD=2026-03/cur2-daily-Manifest.json',
    JSON.stringify({
      executionId: 'exec-2',
      exportName: 'cur2-daily',
      billingPeriod: { start: '2026-03-01T00:00:00.000Z', end: '2026-04-01T00:00:00.000Z' },
      dataFiles: [`s3://acme-billing/${CUR2_KEY}`],
      columns: Object.keys(CUR2_LINES[0].row).map((name) => ({ name, type: 'string' })),
      totalRowCount: CUR2_LINES.length,
    }),
  );

  const azureData = gz(readFixture('azure', 'ea', 'finops-toolkit_EA_ActualCost_Small.csv'));
  const blob = (run: string) => `${AZURE_DIR}/${run}/part_0_0001.csv.gz`;
  put(root, blob('run-2'), azureData);
  put(root, blob('run-1'), gz(readFixture('azure', 'ea', 'finops-toolkit_EA_AmortizedCost_Small.csv')));
  put(
    root,
    `${AZURE_DIR}/run-2/manifest.json`,
    JSON.stringify(
      azureManifest({
        dataRowCount: 11,
        runInfo: { runId: 'run-2', submittedTime: '2023-09-22T04:00:00Z' },
        blobs: [{ blobName: blob('run-2') }, { blobName: blob('run-2') }],
      }),
    ),
  );
  put(
    root,
    `${AZURE_DIR}/run-1/manifest.json`,
    JSON.stringify(
      azureManifest({
        dataRowCount: 28,
        runInfo: { runId: 'run-1', submittedTime: '2023-09-21T04:00:00Z' },
        blobs: [{ blobName: blob('run-1') }],
      }),
    ),
  );

  put(root, `${GCP_RUN}/part-000000000000.jsonl.gz`, gz(GCP_PART0.join('')));
  put(root, `${GCP_RUN}/part-000000000001.jsonl.gz`, gz(GCP_PART1.join('')));
  put(
    root,
    `${GCP_RUN}/_SUCCESS-000000000000.json`,
    '{"row_count":"6","max_export_time":"2024-03-05 02:00:00 UTC"}\n',
  );
  const older = GCP_RUN.replace('20240305', '20240301');
  put(
    root,
    `${older}/part-000000000000.jsonl.gz`,
    gz(gcpJsonLine({ cost: '77', service: 'X', project: 'old', hour: 1 })),
  );
  put(root, `${older}/_SUCCESS`, '');
  const unfinished = GCP_RUN.replace('20240305', '20240306');
  put(
    root,
    `${unfinished}/part-000000000000.jsonl.gz`,
    gz(gcpJsonLine({ cost: '88', service: 'X', project: 'new', hour: 1 })),
  );
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'meterflow-rate-'));
  bucket = join(tmp, 'acme-billing');
  buildBucket(bucket);
  config = join(tmp, 'meterflow.yaml');
  writeFileSync(
    config,
    [
      '# a service config: only normalize: matters offline',
      'kafka: { brokers: [localhost:9092] }',
      'normalize:',
      '  attribution:',
      '    tag_keys: { aws: [customer] }',
      '',
    ].join('\n'),
  );
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function rate(o: Partial<Parameters<typeof runRate>[0]> & { out: string }): Promise<RateSummary> {
  const stderr = new Capture();
  const summary = await runRate({ provider: 'aws', input: bucket, stderr, ...o });
  expect(stderr.text).toBe(formatRateSummary(summary));
  return summary;
}

const outPath = (name: string) => join(tmp, name);
const rowsIn = (s: RateSummary) => s.rows_out + s.duplicates + s.dead_letters_total;

function exactSum(records: Rec[], field: string, where: (r: Rec) => boolean = () => true): string {
  return sum(records.filter(where).map((r) => r[field] as string));
}

describe('meterflow rate: a folder laid out as a bucket', () => {
  it('aws: reads the current legacy CUR assembly and the current Data Exports execution, ignores stale data', async () => {
    const out = outPath('aws.ndjson');
    const s = await rate({ out, pricebook: EXAMPLE_BOOK, config });
    const legacySource = readCsvFile(fixture('aws', 'legacy-cur', 'koku_test_cur.csv.gz'));

    expect(s.input_kind).toBe('folder');
    expect(s.revisions.map((r) => [r.scope, r.revision_id, r.format, r.rows_in])).toEqual([
      ['aws/acme-billing/koku-test/2018-06', A_NEW, 'aws-cur-legacy', legacySource.length],
      ['aws/acme-billing/cur2-daily/2026-03', 'exec-2', 'aws-cur2', CUR2_LINES.length],
    ]);
    expect(s.rows_in).toBe(legacySource.length + CUR2_LINES.length);
    expect(s.rows_out).toBe(s.rows_in);
    expect(s.duplicates).toBe(0);
    expect(s.dead_letters_total).toBe(0);
    expect(s.warnings).toEqual([]);

    const records = readNdjson(out);
    expect(records).toHaveLength(s.rows_out);
    const objects = new Set(records.map((r) => r.x_SourceObject));
    expect(objects).toEqual(
      new Set([
        `local://acme-billing/${LEGACY_DIR}/${A_NEW}/koku-test-1.csv.gz`,
        `local://acme-billing/${CUR2_KEY}`,
      ]),
    );

    // Control totals: the exact sum of each export's billed-cost column, and BilledCost reconciles.
    const sourceTotal = sum([
      ...legacySource.map((r) => r['lineItem/UnblendedCost']),
      ...CUR2_LINES.map((l) => l.row.line_item_unblended_cost),
    ]);
    expect(s.source_billed_cost).toEqual({ USD: sourceTotal });
    expect(s.billed_cost).toEqual({ USD: sourceTotal });
    expect(exactSum(records, 'BilledCost')).toBe(sourceTotal);
    expect(s.price_book).toEqual({ version: '2026-03.1', source: EXAMPLE_BOOK, at_cost: false });
    expect(s.notes).toEqual([]);
  });

  it('rates with the example price book: hand-computed amounts per line, exact totals per currency', async () => {
    const out = outPath('aws-book.ndjson');
    const s = await rate({ out, pricebook: EXAMPLE_BOOK, config });
    const records = readNdjson(out);
    const cur2 = records.filter((r) => r.x_Scope === 'aws/acme-billing/cur2-daily/2026-03');
    expect(cur2.map((r) => [r.x_RatedCost, r.x_RatedCurrency])).toEqual(
      CUR2_LINES.map((l) => [l.rated, l.currency]),
    );
    expect(cur2.map((r) => r.x_PriceRuleId)).toEqual([
      'aws-compute-markup',
      'storage-prod-markup',
      'default-markup',
      'tax-at-cost',
      'acme-all',
      'aws-compute-markup',
      'aws-compute-markup',
    ]);
    expect(cur2[5]).toMatchObject({
      x_CustomerId: 'globex',
      x_ExchangeRate: '0.94',
      x_PriceBookVersion: '2026-03.1',
    });
    // The only EUR line in the whole folder is the globex one.
    expect(s.rated_cost.EUR).toBe('54.05');
    const usdCur2 = sum(CUR2_LINES.filter((l) => l.currency === 'USD').map((l) => l.rated));
    expect(usdCur2).toBe('118.03450001419753073641975205');
    expect(exactSum(cur2, 'x_RatedCost', (r) => r.x_RatedCurrency === 'USD')).toBe(usdCur2);
    expect(s.rated_cost.USD).toBe(exactSum(records, 'x_RatedCost', (r) => r.x_RatedCurrency === 'USD'));
    // Every digit survives: source text in, exact decimal strings out.
    expect(cur2[6]).toMatchObject({
      BilledCost: '0.000000012345678901234567',
      EffectiveCost: '0.000000012345678901234567',
    });
  });

  it('writes exactly the UsageRecord fields in schema order, money as decimal strings', async () => {
    const out = outPath('shape.ndjson');
    await rate({ out, pricebook: EXAMPLE_BOOK, config });
    const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      const r = JSON.parse(line) as Rec;
      expect(Object.keys(r)).toEqual(AVSC_FIELDS);
      for (const f of ['BilledCost', 'EffectiveCost', 'x_RatedCost']) {
        expect(typeof r[f]).toBe('string');
        expect(r[f]).toMatch(/^-?\d+(\.\d+)?$/);
      }
      for (const f of [
        'ListCost',
        'ContractedCost',
        'ListUnitPrice',
        'ContractedUnitPrice',
        'ConsumedQuantity',
        'PricingQuantity',
        'x_ExchangeRate',
      ]) {
        if (r[f] !== null) expect(typeof r[f]).toBe('string');
      }
      expect(typeof r.x_SourceLine).toBe('number');
      expect(r.x_RatedCurrency).toMatch(/^[A-Z]{3}$/);
    }
  });

  it('record ids and the whole output are stable across runs', async () => {
    const a = outPath('stable-1.ndjson');
    const b = outPath('stable-2.ndjson');
    await rate({ out: a, pricebook: EXAMPLE_BOOK, config });
    await rate({ out: b, pricebook: EXAMPLE_BOOK, config });
    const ids = readNdjson(a).map((r) => r.x_RecordId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(readNdjson(b).map((r) => r.x_RecordId)).toEqual(ids);
    expect(readFileSync(b)).toEqual(readFileSync(a));
  });

  it('unpriced lines are dead letters, absent from the output, and counted by reason', async () => {
    const book = join(tmp, 'compute-only.yaml');
    writeFileSync(
      book,
      [
        "version: 'compute-only.1'",
        'rules:',
        '  - id: compute',
        '    match: { ServiceCategory: Compute }',
        '    model: cost_plus',
        '    basis: BilledCost',
        "    markup_percent: '10'",
        '',
      ].join('\n'),
    );
    const all = readNdjson(outPath('aws.ndjson'));
    const nonCompute = all.filter((r) => r.ServiceCategory !== 'Compute');
    expect(nonCompute.length).toBeGreaterThan(0);

    const out = outPath('compute-only.ndjson');
    const s = await rate({ out, pricebook: book, config });
    expect(s.dead_letters).toEqual({ unpriced: nonCompute.length });
    expect(s.rows_out).toBe(all.length - nonCompute.length);
    expect(rowsIn(s)).toBe(s.rows_in);

    const records = readNdjson(out);
    expect(records.every((r) => r.ServiceCategory === 'Compute' && r.x_PriceRuleId === 'compute')).toBe(true);
    const dead = readNdjson(`${out}.dead-letters.ndjson`);
    expect(dead.map((d) => d.record_id).sort()).toEqual(nonCompute.map((r) => r.x_RecordId).sort());
    const written = new Set(records.map((r) => r.x_RecordId));
    expect(dead.some((d) => written.has(d.record_id))).toBe(false);
    expect(dead[0]).toMatchObject({ stage: 'processor.price', reason: 'unpriced', field: null });
    expect(Object.keys(dead[0]).sort()).toEqual(
      [
        'stage',
        'reason',
        'message',
        'provider',
        'scope',
        'revision_id',
        'object',
        'line',
        'field',
        'record_id',
      ].sort(),
    );
    // The source control total still covers every row read; BilledCost out only the rated ones.
    expect(s.billed_cost.USD).toBe(exactSum(records, 'BilledCost'));
    expect(s.source_billed_cost.USD).toBe(exactSum(all, 'BilledCost'));
    expect(formatRateSummary(s)).toContain(
      'dead letters:       ' + nonCompute.length + ' (unpriced ' + nonCompute.length + ')',
    );
  });

  it('azure: the newest run wins; a blob the manifest lists twice is read once', async () => {
    const out = outPath('azure.ndjson');
    const s = await rate({ provider: 'azure', out });
    const source = readCsvFile(fixture('azure', 'ea', 'finops-toolkit_EA_ActualCost_Small.csv'));
    expect(s.revisions).toEqual([
      expect.objectContaining({
        scope: 'azure/acme-billing/daily-actual/2023-09',
        revision_id: 'run-2',
        format: 'azure-actual',
        files: 1,
        rows_in: source.length,
        rows_out: source.length,
      }),
    ]);
    // Read twice, its rows would count twice in the control totals (the manifest says 11 rows).
    expect(s.rows_in).toBe(source.length);
    expect(s.duplicates).toBe(0);
    expect(s.rows_out).toBe(source.length);
    expect(s.dead_letters_total).toBe(0);
    expect(s.warnings).toEqual([]);
    const records = readNdjson(out);
    expect(new Set(records.map((r) => r.x_RecordId)).size).toBe(source.length);
    const total = sum(source.map((r) => r.Cost));
    expect(s.source_billed_cost).toEqual({ USD: total });
    expect(s.billed_cost).toEqual({ USD: total });
    // No price book: at cost, and the summary says so.
    expect(s.rated_cost).toEqual({ USD: total });
    expect(s.notes).toContain('no price book: rated at cost (markup 0)');
    expect(formatRateSummary(s)).toContain('note: no price book: rated at cost (markup 0)');
    expect(formatRateSummary(s)).toContain('duplicates:         0');
  });

  it('gcp: newest complete run under any prefix; malformed JSON lines are dead letters; cost + credits exact', async () => {
    const out = outPath('gcp.ndjson');
    const s = await rate({ provider: 'gcp', out });
    expect(s.revisions.map((r) => [r.scope, r.revision_id, r.format, r.expected_rows, r.rows_in])).toEqual([
      ['gcp/acme-billing/01A2B3-C4D5E6-F7A8B9/2024-03', '20240305T030000Z', 'gcp-standard', 6, 6],
    ]);
    expect(s.rows_out).toBe(5);
    expect(s.dead_letters).toEqual({ malformed: 1 });
    expect(s.warnings).toEqual([]);
    // cost + credits of the five good lines, from their source text.
    const expected = decimalToString(
      [['1.123456789012345678901', '-0.1'], ['0.5'], ['2.25', '-0.25', '-1e-7'], ['3'], ['0.000001']]
        .flat()
        .reduce((acc, v) => acc.plus(new Decimal(v)), new Decimal(0)),
    );
    expect(expected).toBe('6.523457689012345678901');
    expect(s.source_billed_cost).toEqual({ USD: expected });
    expect(s.billed_cost).toEqual({ USD: expected });
    const records = readNdjson(out);
    expect(records.map((r) => r.SubAccountId)).toEqual(['p1', 'p1', 'p2', 'p2', 'p3']);
    const [dead] = readNdjson(`${out}.dead-letters.ndjson`);
    expect(dead).toMatchObject({
      stage: 'collector.gcp',
      reason: 'malformed',
      object: `local://acme-billing/${GCP_RUN}/part-000000000001.jsonl.gz`,
      line: 2,
    });
  });

  it('the real CUR create-new layout (13,380 rows): older assembly ignored, exact control total', async () => {
    const copy = join(tmp, 'cur-bucket');
    cpSync(fixture('aws', 'legacy-cur', 's3-layout-create-new'), copy, { recursive: true });
    const period = join(copy, 'koku-local', '20180801-20180901');
    const old = '0a0a0a0a-0000-0000-0000-000000000000';
    put(
      copy,
      `koku-local/20180801-20180901/${old}/koku-local-1.csv.gz`,
      readFixture('aws', 'legacy-cur', 'koku_test_cur.csv.gz'),
    );
    put(
      copy,
      `koku-local/20180801-20180901/${old}/koku-local-Manifest.json`,
      JSON.stringify({ ...CUR_MANIFEST, assemblyId: old }),
    );
    expect(readdirSync(period).sort()).toEqual([
      '0a0a0a0a-0000-0000-0000-000000000000',
      '16e57707-f9e3-49be-8be6-b84e684b5194',
      'koku-local-Manifest.json',
    ]);

    const out = outPath('koku-local.ndjson');
    const s = await rate({ input: copy, out });
    // Exact control total of lineItem/UnblendedCost, as test/unit/collectors/fixtures.test.ts states it.
    const total = '143227.76367818761501799105';
    expect(s.rows_in).toBe(13380);
    expect(s.rows_out).toBe(13380);
    expect(s.revisions.map((r) => r.revision_id)).toEqual(['16e57707-f9e3-49be-8be6-b84e684b5194']);
    expect(s.source_billed_cost).toEqual({ USD: total });
    expect(s.billed_cost).toEqual({ USD: total });
    expect(s.rated_cost).toEqual({ USD: total });
  }, 30_000);

  it('says clearly when discovery finds nothing, and refuses a manifest naming absent files', async () => {
    const empty = join(tmp, 'no-exports');
    put(empty, 'notes/readme.txt', 'no export here');
    await expect(rate({ provider: 'focus', input: empty, out: outPath('none.ndjson') })).rejects.toThrow(
      /no focus export found in folder .*no-exports.*pass the file itself as --input/,
    );
    expect(existsSync(outPath('none.ndjson'))).toBe(false);
    // Export files in no layout are rated one by one, so another provider's files are named as such.
    await expect(rate({ provider: 'focus', out: outPath('other.ndjson') })).rejects.toThrow(
      /looks like an? \w+ export .*not --provider focus/,
    );

    const broken = join(tmp, 'broken');
    put(
      broken,
      'exports/x/metadata/BILLING_PERIOD=2026-03/x-Manifest.json',
      JSON.stringify({ executionId: 'e', dataFiles: ['exports/x/data/gone.csv.gz'] }),
    );
    await expect(rate({ input: broken, out: outPath('broken.ndjson') })).rejects.toThrow(
      /manifests list files the folder does not hold: exports\/x\/data\/gone\.csv\.gz/,
    );
  });
});

describe('meterflow rate and the streaming stages agree', () => {
  // The same bucket through both paths: byte-identical rated records, the same dead letters (stage,
  // reason, object, line, field). Duplicate reads are dropped by both (rate by object, the
  // streaming dedupe stage by record id), so they appear in neither.
  it.each(['aws', 'azure', 'gcp'] as const)('%s', async (provider) => {
    const out = outPath(`agree-${provider}.ndjson`);
    await rate({ provider, out, pricebook: EXAMPLE_BOOK, config });
    const offline = readFileSync(out, 'utf8').split('\n').filter(Boolean);
    const offlineLetters: LetterKey[] = readNdjson(`${out}.dead-letters.ndjson`).map((d) => ({
      stage: d.stage as string,
      reason: d.reason as string,
      object: d.object as string,
      line: d.line as number,
      field: d.field as string | null,
    }));
    const streaming = await streamingPath(provider, bucket, 'acme-billing', {
      config,
      pricebook: EXAMPLE_BOOK,
    });
    expect(offline.length).toBeGreaterThan(0);
    expect([...streaming.lines].sort()).toEqual([...offline].sort());
    const order = (a: LetterKey, b: LetterKey) =>
      `${a.object}:${a.line}:${a.stage}`.localeCompare(`${b.object}:${b.line}:${b.stage}`);
    expect([...streaming.letters].sort(order)).toEqual([...offlineLetters].sort(order));
  });
});

describe('meterflow rate: a single Avro file', () => {
  it('reads its columns from the first record, as the collectors do (a FOCUS export written as Avro)', async () => {
    // The AWS sample's rated records as a FOCUS export in an Avro container file, every field a
    // nullable string (Tags as its JSON text), the way a warehouse export writes one.
    const ndjson = outPath('to-avro.ndjson');
    const fromCsv = await rate({ input: fixture('aws', 'legacy-cur', 'koku_test_cur.csv'), out: ndjson });
    const records = readFileSync(ndjson, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const fields = Object.keys(records[0]).filter((f) => !f.startsWith('x_'));
    const type = avro.Type.forSchema(
      { type: 'record', name: 'Focus', fields: fields.map((name) => ({ name, type: ['null', 'string'] })) },
      { wrapUnions: false },
    );
    const file = outPath('focus-export.avro');
    const encoder = new avro.streams.BlockEncoder(type);
    const chunks: Buffer[] = [];
    const done = new Promise<void>((resolve) => encoder.on('end', resolve));
    encoder.on('data', (c: Buffer) => chunks.push(c));
    for (const r of records)
      encoder.write(
        Object.fromEntries(
          fields.map((f) => [
            f,
            r[f] === null ? null : typeof r[f] === 'object' ? JSON.stringify(r[f]) : String(r[f]),
          ]),
        ),
      );
    encoder.end();
    await done;
    writeFileSync(file, Buffer.concat(chunks));
    const s = await rate({ provider: 'focus', input: file, out: outPath('from-avro.ndjson') });
    expect(s.revisions.map((r) => [r.format, r.rows_out])).toEqual([['focus', records.length]]);
    expect(s.billed_cost).toEqual(fromCsv.billed_cost);
  });
});

describe('meterflow rate: a folder of export files in no layout', () => {
  it('rates each file as if it were given alone (a FOCUS producer writing CSV and Parquet parts)', async () => {
    const csv = outPath('focus-part.csv');
    await rate({ input: fixture('aws', 'legacy-cur', 'koku_test_cur.csv'), out: csv, format: 'csv' });
    const folder = join(tmp, 'focus-parts');
    put(folder, 'part-0.csv', readFileSync(csv));
    await rate({
      input: fixture('aws', 'legacy-cur', 'koku_test_cur.csv'),
      out: join(folder, 'part-1.parquet'),
      format: 'parquet',
    });
    const s = await rate({ provider: 'focus', input: folder, out: outPath('focus-parts.ndjson') });
    expect(s.input_kind).toBe('folder');
    expect(s.revisions.map((r) => [r.scope, r.format, r.rows_out])).toEqual([
      ['focus/local/part-0.csv', 'focus', 19],
      ['focus/local/part-1.parquet', 'focus', 19],
    ]);
    // The same exact billed cost through CSV text and Parquet decimals: twice the sample's.
    const single = await rate({
      input: fixture('aws', 'legacy-cur', 'koku_test_cur.csv'),
      out: outPath('once.ndjson'),
    });
    expect(s.billed_cost).toEqual({ USD: decimalToString(new Decimal(single.billed_cost.USD).times(2)) });
  });
});

describe('meterflow rate: a single export file', () => {
  const focusFile = fixture(
    'focus',
    'spec-v1.2-examples',
    'commitment_discount_scenarios',
    'commitment_discount_usage_scenario_1.csv',
  );

  it('detects the format from the header; revision = sha256 of the bytes; scope per billing period', async () => {
    const file = fixture('aws', 'legacy-cur', 'koku_test_cur.csv.gz');
    const out = outPath('single.ndjson');
    const s = await rate({ input: file, out });
    const digest = createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16);
    expect(s.input_kind).toBe('file');
    expect(s.revisions).toEqual([
      expect.objectContaining({
        scope: 'aws/local/koku_test_cur.csv.gz',
        revision_id: digest,
        format: 'aws-cur-legacy',
        billing_periods: ['2018-06'],
        rows_in: 19,
        rows_out: 19,
      }),
    ]);
    const records = readNdjson(out);
    expect(new Set(records.map((r) => r.x_Scope))).toEqual(
      new Set(['aws/local/koku_test_cur.csv.gz/2018-06']),
    );
    expect(records.every((r) => r.x_Revision === digest)).toBe(true);
    const source = readCsvFile(file);
    expect(s.billed_cost).toEqual({ USD: sum(source.map((r) => r['lineItem/UnblendedCost'])) });

    // Same bytes under the folder form would be another scope; the same file again gives the same ids.
    const again = outPath('single-2.ndjson');
    await rate({ input: file, out: again });
    expect(readNdjson(again).map((r) => r.x_RecordId)).toEqual(records.map((r) => r.x_RecordId));
  });

  it('writes to stdout with --out - and keeps no dead-letter file', async () => {
    const stdout = new Capture();
    const s = await rate({
      provider: 'gcp',
      input: join(bucket, GCP_RUN, 'part-000000000001.jsonl.gz'),
      out: '-',
      stdout,
    });
    expect(s.dead_letters_file).toBeNull();
    expect(s.revisions[0].format).toBe('gcp-standard');
    const lines = stdout.text.split('\n').filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(s.dead_letters).toEqual({ malformed: 1 });
    expect(s.dead_letter_examples[0].message).toContain('part-000000000001.jsonl.gz line 2');
    expect(Object.keys(JSON.parse(lines[0]) as Rec)).toEqual(AVSC_FIELDS);
  });

  it('FOCUS without a currency column: every row is malformed, unless --config sets normalize.default_currency', async () => {
    const source = readCsvFile(focusFile);
    const without = await rate({ provider: 'focus', input: focusFile, out: outPath('focus-1.ndjson') });
    expect(without.rows_out).toBe(0);
    expect(without.dead_letters).toEqual({ malformed: source.length });

    const cfg = join(tmp, 'focus.yaml');
    writeFileSync(cfg, 'normalize:\n  default_currency: USD\n');
    const out = outPath('focus-2.ndjson');
    const s = await rate({ provider: 'focus', input: focusFile, out, config: cfg });
    expect(s.revisions[0]).toMatchObject({ format: 'focus', billing_periods: ['2023-01'] });
    expect(s.rows_out).toBe(source.length);
    const total = sum(source.map((r) => r.BilledCost));
    expect(s.billed_cost).toEqual({ USD: total });
    expect(s.source_billed_cost).toEqual({ USD: total });
    const records = readNdjson(out);
    expect(records.every((r) => r.BillingCurrency === 'USD' && r.x_SourceFormat === 'focus')).toBe(true);
  });

  it('refuses a file of another provider, or one that is no billing export', async () => {
    await expect(
      rate({
        provider: 'gcp',
        input: fixture('azure', 'ea', 'koku_azure_version_2_EA.csv'),
        out: outPath('x.ndjson'),
      }),
    ).rejects.toThrow(/looks like an Azure export \(azure-actual\), not --provider gcp/);
    const other = join(tmp, 'not-billing.csv');
    writeFileSync(other, 'a,b\n1,2\n');
    await expect(rate({ input: other, out: outPath('y.ndjson') })).rejects.toThrow(
      /not a recognised billing export/,
    );
  });

  it('reports an invalid --config with the key at fault', async () => {
    const cfg = join(tmp, 'bad.yaml');
    writeFileSync(cfg, 'normalize:\n  default_currency: dollars\n');
    await expect(
      rate({ provider: 'focus', input: focusFile, out: outPath('z.ndjson'), config: cfg }),
    ).rejects.toThrow(/normalize\.default_currency/);
  });
});
