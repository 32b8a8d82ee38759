import { readFileSync } from 'node:fs';
import { periodOf } from '../../../collectors/core/discovery';
import { parseDataExportsManifest, parseLegacyCurManifest } from '../../../providers/aws/manifests';
import { parseAzureExportManifest, parseAzureLegacyManifest } from '../../../providers/azure/manifests';
import { parseGcpRunMarker } from '../../../providers/gcp/manifests';
import { ErrorCodes, InputError } from '../../../runtime/errors';
import { fixture } from '../../support/fixtures';
import { azureManifest } from './helpers';

const curManifestPath = fixture(
  'aws',
  'legacy-cur',
  's3-layout-create-new',
  'koku-local',
  '20180801-20180901',
  'koku-local-Manifest.json',
);
const curManifest = JSON.parse(readFileSync(curManifestPath, 'utf8')) as Record<string, unknown>;

function errorOf(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error('expected an InputError');
}

describe('manifests', () => {
  it('parses the real legacy CUR manifest', () => {
    const m = parseLegacyCurManifest(curManifest, curManifestPath);
    expect(m.assemblyId).toBe('16e57707-f9e3-49be-8be6-b84e684b5194');
    expect(m.billingPeriod).toEqual({ start: '20180801T000000.000Z', end: '20180901T000000.000Z' });
    expect(periodOf(m.billingPeriod.start)).toBe('2018-08');
    expect(m.reportKeys).toEqual([
      '/koku-local/20180801-20180901/16e57707-f9e3-49be-8be6-b84e684b5194/koku-local-1.csv.gz',
    ]);
    expect(m.columns).toHaveLength(57);
    expect(m.columns[0]).toEqual({ category: 'identity', name: 'LineItemId' });
    expect([m.compression, m.contentType, m.bucket, m.reportName]).toEqual([
      'GZIP',
      'text/csv',
      '',
      'koku-local',
    ]);
  });

  it('names the object and the field when a legacy CUR manifest is invalid', () => {
    const { assemblyId: _drop, ...noAssembly } = curManifest;
    const e1 = errorOf(() =>
      parseLegacyCurManifest(noAssembly, 's3://b/r/20180801-20180901/r-Manifest.json'),
    );
    expect(e1.code).toBe(ErrorCodes.MALFORMED_INPUT);
    expect(e1.where).toEqual({ object: 's3://b/r/20180801-20180901/r-Manifest.json', field: 'assemblyId' });
    expect(e1.message).toMatch(
      /^s3:\/\/b\/r\/20180801-20180901\/r-Manifest\.json, field assemblyId: invalid/,
    );
    const e2 = errorOf(() => parseLegacyCurManifest({ ...curManifest, reportKeys: ['ok', 7] }, 'm.json'));
    expect(e2.where.field).toBe('reportKeys.1');
    const e3 = errorOf(() =>
      parseLegacyCurManifest({ ...curManifest, billingPeriod: { start: 'soon', end: 'later' } }, 'm.json'),
    );
    expect(e3.where.field).toBe('billingPeriod.start');
  });

  it('parses a Data Exports manifest with tolerant billing period and row counts', () => {
    const base = {
      executionId: 'exec-2',
      exportName: 'cur2',
      dataFiles: ['s3://b/p/cur2/data/BILLING_PERIOD=2026-11/cur2-00001.csv.gz'],
      columns: [{ name: 'line_item_unblended_cost', type: 'double' }],
    };
    const a = parseDataExportsManifest(
      { ...base, billingPeriod: { start: '2026-11-01T00:00:00.000Z', end: '2026-12-01T00:00:00.000Z' } },
      'm',
    );
    expect([a.period, a.expectedRows]).toEqual(['2026-11', null]);
    const b = parseDataExportsManifest({ ...base, billingPeriod: '2026-11', totalRowCount: '1234' }, 'm');
    expect([b.period, b.expectedRows]).toEqual(['2026-11', 1234]);
    expect(errorOf(() => parseDataExportsManifest({ ...base, dataFiles: 'x' }, 'm')).where.field).toBe(
      'dataFiles',
    );
    expect(errorOf(() => parseDataExportsManifest({ dataFiles: [] }, 'm')).where.field).toBe('executionId');
  });

  it('parses an Azure exports v2 manifest and derives the expected rows', () => {
    const m = parseAzureExportManifest(azureManifest(), 'manifest.json');
    expect(m.runInfo.runId).toBe('run-1');
    expect(m.exportConfig.type).toBe('ActualCost');
    expect(m.deliveryConfig?.partitionData).toBe(true);
    expect(m.blobs.map((b) => b.dataRowCount)).toEqual([3, 4]);
    expect(m.expectedRows).toBe(7);
    // Without the top-level count, the per-blob counts are summed.
    expect(parseAzureExportManifest(azureManifest({ dataRowCount: undefined }), 'm').expectedRows).toBe(7);
    // A 0-row run: no blobs, stated 0 rows.
    const empty = parseAzureExportManifest(azureManifest({ blobs: [], blobCount: 0, dataRowCount: 0 }), 'm');
    expect([empty.blobs, empty.expectedRows]).toEqual([[], 0]);
    const bad = azureManifest();
    delete (bad.exportConfig as Record<string, unknown>).type;
    const e = errorOf(() => parseAzureExportManifest(bad, 'c/x/manifest.json'));
    expect(e.where).toEqual({ object: 'c/x/manifest.json', field: 'exportConfig.type' });
  });

  it('parses the real legacy Azure _manifest.json', () => {
    const path = fixture('azure', 'manifests', 'koku_legacy_partitioned__manifest.json');
    const m = parseAzureLegacyManifest(JSON.parse(readFileSync(path, 'utf8')), path);
    expect([m.dataRowCount, m.blobCount, m.blobs[0].headerRowCount]).toEqual([490, 1, 1]);
    expect(m.blobs[0].blobName).toMatch(
      /^cost\/partitioned\/20230101-20230131\/202301041442\/.+\/000001\.csv$/,
    );
  });

  it('reads the GCP run marker row count written as an INT64 string', () => {
    expect(
      parseGcpRunMarker({ row_count: '42', max_export_time: '2026-11-25 02:00:00 UTC' }, 'm').row_count,
    ).toBe(42);
    expect(errorOf(() => parseGcpRunMarker({ row_count: 'many' }, 'm')).where.field).toBe('row_count');
  });
});
