import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ListedObject } from '../../../collectors/core/discovery';
import { discoverAwsDataExports, discoverAwsLegacyCur } from '../../../providers/aws/discovery';
import { discoverAzureExports } from '../../../providers/azure/discovery';
import { discoverFocusFiles } from '../../../providers/focus/discovery';
import { discoverGcpExports } from '../../../providers/gcp/discovery';
import { ErrorCodes } from '../../../runtime/errors';
import { fixture } from '../../support/fixtures';
import { azureManifest } from './helpers';

const T0 = new Date('2026-11-25T00:00:00Z');
const at = (minutes: number): Date => new Date(T0.getTime() + minutes * 60_000);

/** An in-memory bucket: listing plus a readJson that counts its reads. */
class FakeBucket {
  readonly objects: ListedObject[] = [];
  readonly json = new Map<string, unknown>();
  readonly reads: string[] = [];
  put(key: string, body: unknown = '', lastModified = T0, size?: number): this {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    this.objects.push({ key, lastModified, size: size ?? Buffer.byteLength(text) });
    if (typeof body !== 'string') this.json.set(key, body);
    return this;
  }
  readJson = async (key: string): Promise<unknown> => {
    this.reads.push(key);
    if (!this.json.has(key)) throw new Error(`no JSON at ${key}`);
    return this.json.get(key);
  };
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const LAYOUT = fixture('aws', 'legacy-cur', 's3-layout-create-new');
const CUR_MANIFEST = JSON.parse(
  readFileSync(join(LAYOUT, 'koku-local', '20180801-20180901', 'koku-local-Manifest.json'), 'utf8'),
) as Record<string, unknown>;
const ASSEMBLY = '16e57707-f9e3-49be-8be6-b84e684b5194';

describe('discoverAwsLegacyCur', () => {
  it('finds the current assembly of the real create-new layout and ignores an older assembly', async () => {
    const bucket = new FakeBucket();
    for (const p of walk(LAYOUT)) {
      const key = relative(LAYOUT, p);
      bucket.put(key, p.endsWith('.json') ? JSON.parse(readFileSync(p, 'utf8')) : '', T0, statSync(p).size);
    }
    // An older delivery of the same month stays in the bucket in create-new mode.
    const old = 'koku-local/20180801-20180901/0a0a0a0a-0000-0000-0000-000000000000';
    bucket.put(`${old}/koku-local-1.csv.gz`, '', at(-600));
    bucket.put(
      `${old}/koku-local-Manifest.json`,
      { ...CUR_MANIFEST, assemblyId: old.split('/')[2] },
      at(-600),
    );

    const revs = await discoverAwsLegacyCur({ bucket: 'cur-bucket', prefix: '', ...bucket });
    expect(revs).toEqual([
      {
        provider: 'aws',
        format: 'aws-cur-legacy',
        scope: 'aws/cur-bucket/koku-local/2018-08',
        revision_id: ASSEMBLY,
        billing_period: '2018-08',
        files: [`koku-local/20180801-20180901/${ASSEMBLY}/koku-local-1.csv.gz`],
        expected_rows: null,
        manifest_key: 'koku-local/20180801-20180901/koku-local-Manifest.json',
        billed_cost_column: 'lineItem/UnblendedCost',
        missing_files: [],
      },
    ]);
    // Only the period-level manifest is read, never the assembly copies.
    expect(bucket.reads).toEqual(['koku-local/20180801-20180901/koku-local-Manifest.json']);

    // Reading that file (13,380 rows, exact control total) is covered in fixtures.test.ts.
  });

  it('handles a prefix and the overwrite layout, whose revision changes with the manifest', async () => {
    const manifest = {
      ...CUR_MANIFEST,
      assemblyId: 'a1',
      reportKeys: [
        'billing/cur/r1/20261101-20261201/r1-1.csv.gz',
        'billing/cur/r1/20261101-20261201/r1-2.csv.gz',
      ],
      billingPeriod: { start: '20261101T000000.000Z', end: '20261201T000000.000Z' },
    };
    const bucket = new FakeBucket()
      .put('billing/cur/r1/20261101-20261201/r1-1.csv.gz', 'x')
      .put('billing/cur/r1/20261101-20261201/r1-2.csv.gz', 'x')
      .put('billing/cur/r1/20261101-20261201/r1-Manifest.json', manifest, at(5))
      .put('billing/other/r1/20261101-20261201/r1-Manifest.json', manifest);
    const [rev, ...rest] = await discoverAwsLegacyCur({ bucket: 'b', prefix: 'billing/cur/', ...bucket });
    expect(rest).toEqual([]);
    expect(rev.files).toEqual(manifest.reportKeys);
    expect(rev.revision_id).toBe(`a1@${at(5).toISOString()}`);
    expect(rev.scope).toBe('aws/b/r1/2026-11');
    bucket.objects[2] = { ...bucket.objects[2], lastModified: at(90) };
    const [again] = await discoverAwsLegacyCur({ bucket: 'b', prefix: 'billing/cur', ...bucket });
    expect(again.revision_id).toBe(`a1@${at(90).toISOString()}`);
  });

  it('returns a file the manifest lists but the bucket lacks, and flags it', async () => {
    const bucket = new FakeBucket().put(
      'koku-local/20180801-20180901/koku-local-Manifest.json',
      CUR_MANIFEST,
    );
    const [rev] = await discoverAwsLegacyCur({ bucket: 'b', prefix: '', ...bucket });
    const key = `koku-local/20180801-20180901/${ASSEMBLY}/koku-local-1.csv.gz`;
    expect(rev.files).toEqual([key]);
    expect(rev.missing_files).toEqual([key]);
  });

  it('does nothing while only an assembly-level manifest exists, and rejects a period mismatch', async () => {
    const partial = new FakeBucket().put(
      `koku-local/20180801-20180901/${ASSEMBLY}/koku-local-Manifest.json`,
      CUR_MANIFEST,
    );
    expect(await discoverAwsLegacyCur({ bucket: 'b', prefix: '', ...partial })).toEqual([]);
    const wrong = new FakeBucket().put('koku-local/20180901-20181001/koku-local-Manifest.json', CUR_MANIFEST);
    await expect(discoverAwsLegacyCur({ bucket: 'b', prefix: '', ...wrong })).rejects.toMatchObject({
      code: ErrorCodes.MALFORMED_INPUT,
      where: { field: 'billingPeriod.start' },
    });
  });
});

describe('discoverAwsDataExports', () => {
  const cur2 = (
    executionId: string,
    files: string[],
    extra: Record<string, unknown> = {},
  ): Record<string, unknown> => ({
    executionId,
    exportName: 'cur2',
    billingPeriod: { start: '2026-11-01T00:00:00.000Z', end: '2026-12-01T00:00:00.000Z' },
    columns: [
      { name: 'identity_line_item_id', type: 'string' },
      { name: 'line_item_unblended_cost', type: 'double' },
    ],
    dataFiles: files.map((f) => `s3://exports-bucket/${f}`),
    ...extra,
  });

  it('reads CUR 2.0 and FOCUS exports from their metadata manifests and ignores older executions', async () => {
    const d = 'de/cur2/data/BILLING_PERIOD=2026-11';
    const bucket = new FakeBucket()
      .put(`${d}/exec-1/cur2-00001.csv.gz`, 'x', at(-60))
      .put(`${d}/exec-2/cur2-00001.csv.gz`, 'x')
      .put(`${d}/exec-2/cur2-00002.csv.gz`, 'x')
      .put(
        'de/cur2/metadata/BILLING_PERIOD=2026-11/cur2-Manifest.json',
        cur2('exec-2', [`${d}/exec-2/cur2-00001.csv.gz`, `${d}/exec-2/cur2-00002.csv.gz`], {
          totalRowCount: 12,
        }),
      )
      .put('de/focus12/data/BILLING_PERIOD=2026-10/focus12-00001.snappy.parquet', 'x')
      .put('de/focus12/metadata/BILLING_PERIOD=2026-10/focus12-Manifest.json', {
        executionId: 'f-9',
        billingPeriod: '2026-10',
        queryStatement: 'SELECT BilledCost, ChargePeriodStart FROM FOCUS_1_2_AWS',
        dataFiles: [
          's3://exports-bucket/de/focus12/data/BILLING_PERIOD=2026-10/focus12-00001.snappy.parquet',
        ],
      });
    const revs = await discoverAwsDataExports({ bucket: 'exports-bucket', prefix: 'de', ...bucket });
    expect(
      revs.map((r) => [r.scope, r.format, r.revision_id, r.billed_cost_column, r.expected_rows]),
    ).toEqual([
      ['aws/exports-bucket/cur2/2026-11', 'aws-cur2', 'exec-2', 'line_item_unblended_cost', 12],
      ['aws/exports-bucket/focus12/2026-10', 'aws-focus', 'f-9', 'BilledCost', null],
    ]);
    expect(revs[0].files).toEqual([`${d}/exec-2/cur2-00001.csv.gz`, `${d}/exec-2/cur2-00002.csv.gz`]);
    expect(revs[0].missing_files).toEqual([]);
  });

  it('decides FOCUS from the column list even when the export name says nothing', async () => {
    const bucket = new FakeBucket().put('x/metadata/BILLING_PERIOD=2026-11/x-Manifest.json', {
      executionId: 'e',
      columns: [{ name: 'BilledCost' }, { name: 'x_ServiceCode' }],
      dataFiles: ['s3://b/x/data/BILLING_PERIOD=2026-11/x-00001.csv.gz'],
    });
    const [rev] = await discoverAwsDataExports({ bucket: 'b', prefix: '', ...bucket });
    expect([rev.format, rev.missing_files]).toEqual([
      'aws-focus',
      ['x/data/BILLING_PERIOD=2026-11/x-00001.csv.gz'],
    ]);
  });

  it("refuses, in a collector, a manifest that lists another bucket's objects", async () => {
    const d = 'de/cur2/data/BILLING_PERIOD=2026-11';
    const bucket = new FakeBucket()
      .put(`${d}/exec-1/cur2-00001.csv.gz`, 'x')
      .put(
        'de/cur2/metadata/BILLING_PERIOD=2026-11/cur2-Manifest.json',
        cur2('exec-1', [`${d}/exec-1/cur2-00001.csv.gz`]),
      );
    // The manifest says s3://exports-bucket/...; this collector reads "mine".
    const input = { bucket: 'mine', prefix: 'de', ...bucket };
    await expect(discoverAwsDataExports({ ...input, checkBucket: true })).rejects.toThrow(
      /cur2-Manifest\.json.*lists s3:\/\/exports-bucket\/.*not of mine/,
    );
    // A local copy (meterflow rate) keeps the original bucket names: the key is looked up as before.
    const [rev] = await discoverAwsDataExports(input);
    expect(rev.files).toEqual([`${d}/exec-1/cur2-00001.csv.gz`]);
  });
});

describe('discoverAzureExports', () => {
  const month = 'exports/daily-actual/20261101-20261130';
  function run(
    runId: string,
    submitted: string,
    rows: number,
    extra: Record<string, unknown> = {},
  ): Record<string, unknown> {
    const base = azureManifest();
    return {
      ...base,
      dataRowCount: rows,
      runInfo: { ...(base.runInfo as object), runId, submittedTime: submitted },
      blobs: [{ blobName: `${month}/${runId}/part_0_0001.csv.gz`, byteCount: 10, dataRowCount: rows }],
      ...extra,
    };
  }

  it('picks the newest run by submittedTime, not by blob LastModified', async () => {
    const bucket = new FakeBucket()
      .put(`${month}/r-a/part_0_0001.csv.gz`, 'x')
      .put(`${month}/r-a/manifest.json`, run('r-a', '2026-11-03T04:00:00Z', 5), at(300))
      .put(`${month}/r-b/part_0_0001.csv.gz`, 'x')
      .put(`${month}/r-b/manifest.json`, run('r-b', '2026-11-05T04:00:00Z', 9), at(100))
      .put(`${month}/r-c/part_0_0001.csv.gz`, 'x')
      .put(`${month}/r-c/manifest.json`, run('r-c', '2026-11-04T04:00:00Z', 7), at(200));
    const revs = await discoverAzureExports({ bucket: 'costs', prefix: 'exports', ...bucket });
    expect(revs).toEqual([
      {
        provider: 'azure',
        format: 'azure-actual',
        scope: 'azure/costs/daily-actual/2026-11',
        revision_id: 'r-b',
        billing_period: '2026-11',
        files: [`${month}/r-b/part_0_0001.csv.gz`],
        expected_rows: 9,
        manifest_key: `${month}/r-b/manifest.json`,
        billed_cost_column: 'CostInBillingCurrency',
        missing_files: [],
      },
    ]);
  });

  it('maps datasets to formats, keeps a 0-row run, and skips non-cost datasets', async () => {
    const focusMonth = 'exports/focus/20261001-20261031';
    const amort = 'exports/amort/20261101-20261130/202611050400';
    const bucket = new FakeBucket()
      .put(
        `${focusMonth}/f1/manifest.json`,
        run('f1', '2026-11-02T00:00:00Z', 0, {
          exportConfig: { type: 'FocusCost', dataVersion: '1.2' },
          blobs: [],
          blobCount: 0,
        }),
      )
      .put(
        `${amort}/g1/manifest.json`,
        run('g1', '2026-11-05T04:00:00Z', 2, {
          exportConfig: { type: 'AmortizedCost', dataVersion: 'c360-2025-04' },
          blobs: [{ blobName: 'part_0_0001.parquet', dataRowCount: 2 }],
        }),
      )
      .put(`${amort}/g1/part_0_0001.parquet`, 'x')
      .put(
        'exports/prices/20261101-20261130/p1/manifest.json',
        run('p1', '2026-11-05T04:00:00Z', 3, {
          exportConfig: { type: 'PriceSheet' },
        }),
      );
    const revs = await discoverAzureExports({ bucket: 'costs', prefix: '', ...bucket });
    expect(revs.map((r) => [r.scope, r.format, r.files, r.expected_rows, r.billed_cost_column])).toEqual([
      ['azure/costs/amort/2026-11', 'azure-amortized', [`${amort}/g1/part_0_0001.parquet`], 2, 'Cost'],
      ['azure/costs/focus/2026-10', 'azure-focus', [], 0, 'BilledCost'],
    ]);
  });
});

describe('discoverGcpExports', () => {
  const acct = '01A2B3-C4D5E6-F7A8B9';
  const dir = (month: string, run: string): string => `gcp-billing/${acct}/${month}/run=${run}`;

  it('takes the newest complete run, ignoring an unfinished newer run and older runs', async () => {
    const bucket = new FakeBucket()
      .put(`${dir('202611', '20261124T030000Z')}/part-000000000000.jsonl.gz`, 'x')
      .put(`${dir('202611', '20261124T030000Z')}/_SUCCESS`, '')
      .put(`${dir('202611', '20261125T030000Z')}/part-000000000001.jsonl.gz`, 'x')
      .put(`${dir('202611', '20261125T030000Z')}/part-000000000000.jsonl.gz`, 'x')
      .put(`${dir('202611', '20261125T030000Z')}/notes.txt`, 'x')
      .put(`${dir('202611', '20261125T030000Z')}/_SUCCESS-000000000000.json`, { row_count: '4711' })
      // Started later, no marker yet: still being written.
      .put(`${dir('202611', '20261125T090000Z')}/part-000000000000.jsonl.gz`, 'x')
      // A month whose only run is unfinished is not delivered.
      .put(`${dir('202610', '20261125T090000Z')}/part-000000000000.jsonl.gz`, 'x');
    const revs = await discoverGcpExports({ bucket: 'gcs-b', prefix: 'gcp-billing', ...bucket });
    expect(revs).toEqual([
      {
        provider: 'gcp',
        format: 'gcp-standard',
        scope: `gcp/gcs-b/${acct}/2026-11`,
        revision_id: '20261125T030000Z',
        billing_period: '2026-11',
        files: [
          `${dir('202611', '20261125T030000Z')}/part-000000000000.jsonl.gz`,
          `${dir('202611', '20261125T030000Z')}/part-000000000001.jsonl.gz`,
        ],
        expected_rows: 4711,
        manifest_key: `${dir('202611', '20261125T030000Z')}/_SUCCESS-000000000000.json`,
        billed_cost_column: 'cost',
        missing_files: [],
      },
    ]);
  });

  it('accepts an empty _SUCCESS marker without reading it', async () => {
    const bucket = new FakeBucket()
      .put(`${dir('202612', '20261201T000000Z')}/part-000000000000.parquet`, 'x')
      .put(`${dir('202612', '20261201T000000Z')}/_SUCCESS`, '');
    const [rev] = await discoverGcpExports({
      bucket: 'b',
      prefix: 'gcp-billing/',
      format: 'gcp-detailed',
      ...bucket,
    });
    expect([rev.format, rev.expected_rows, rev.billing_period]).toEqual(['gcp-detailed', null, '2026-12']);
    expect(bucket.reads).toEqual([]);
  });
});

describe('discoverFocusFiles', () => {
  it('groups files per period, waits for a quiet period and changes revision when a file changes', async () => {
    const objects: ListedObject[] = [
      { key: 'drops/acme/2026-10/focus-1.csv.gz', lastModified: at(-120), size: 10 },
      { key: 'drops/acme/2026-10/focus-2.csv.gz', lastModified: at(-100), size: 20 },
      { key: 'drops/acme/2026-10/readme.txt', lastModified: at(-100), size: 20 },
      { key: 'drops/acme/BILLING_PERIOD=2026-11/focus-1.csv', lastModified: at(-5), size: 10 },
    ];
    const revs = discoverFocusFiles({ bucket: 'b', prefix: 'drops', provider: 'aws', objects, now: T0 });
    expect(revs.map((r) => [r.scope, r.format, r.files, r.billed_cost_column])).toEqual([
      [
        'aws/b/acme/2026-10',
        'focus',
        ['drops/acme/2026-10/focus-1.csv.gz', 'drops/acme/2026-10/focus-2.csv.gz'],
        'BilledCost',
      ],
    ]);
    const changed = objects.map((o, i) => (i === 1 ? { ...o, size: 21 } : o));
    const [again] = discoverFocusFiles({
      bucket: 'b',
      prefix: 'drops',
      provider: 'aws',
      objects: changed,
      now: T0,
    });
    expect(again.revision_id).not.toBe(revs[0].revision_id);
    const later = discoverFocusFiles({ bucket: 'b', prefix: 'drops', provider: 'aws', objects, now: at(30) });
    expect(later.map((r) => r.billing_period)).toEqual(['2026-10', '2026-11']);
  });
});
