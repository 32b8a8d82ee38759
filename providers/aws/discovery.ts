import {
  addUnique,
  compactDateToPeriod,
  dirname,
  resolveFiles,
  sortedRevisions,
  underPrefix,
  type DiscoveredRevision,
  type DiscoveryInput,
} from '../../collectors/core/discovery';
import { ErrorCodes, InputError } from '../../runtime/errors';
import { BILLED_COST } from './columns';
import {
  parseDataExportsManifest,
  parseLegacyCurManifest,
  periodOf,
  type DataExportsManifest,
} from './manifests';

/**
 * AWS legacy CUR (docs/export-formats.md, "AWS legacy CUR layout" and "AWS legacy CUR manifest").
 * Only the period-level `<report>/<yyyymmdd-yyyymmdd>/<report>-Manifest.json` is read: it is
 * rewritten on every update and names the current assembly, while copies inside assembly folders
 * never change.
 *
 * Create-new layout (data under `<period>/<assemblyId>/`): revision = assemblyId. Overwrite layout
 * (data directly in the period folder): the files are replaced in place, so the revision also
 * carries the manifest's LastModified, which changes on every delivery.
 * Athena / Parquet integration folders (`year=/month=`, no manifest) are not handled.
 */
export async function discoverAwsLegacyCur(input: DiscoveryInput): Promise<DiscoveredRevision[]> {
  const out = new Map<string, DiscoveredRevision>();
  for (const { obj, rel } of underPrefix(input.objects, input.prefix)) {
    const m = /^(?:.*\/)?([^/]+)\/(\d{8})-(\d{8})\/([^/]+)-Manifest\.json$/.exec(rel);
    if (!m || m[1] !== m[4]) continue;
    const [, report, start] = m;
    const manifest = parseLegacyCurManifest(await input.readJson(obj.key), obj.key);
    const period = compactDateToPeriod(start);
    const stated = periodOf(manifest.billingPeriod.start);
    if (stated !== period) {
      throw new InputError(
        ErrorCodes.MALFORMED_INPUT,
        `manifest billing period ${manifest.billingPeriod.start} does not match folder ${m[2]}-${m[3]}`,
        { object: obj.key, field: 'billingPeriod.start' },
      );
    }
    const periodDir = dirname(obj.key);
    const { files, missing } = resolveFiles(manifest.reportKeys, input.objects, {
      bucket: input.bucket,
      manifestDir: periodDir,
      manifest: obj.key,
      checkBucket: input.checkBucket,
    });
    const assemblyDir = `${periodDir}/${manifest.assemblyId}/`.replace(/^\/+/, '');
    const createNew = files.length > 0 && files.every((f) => f.replace(/^\/+/, '').startsWith(assemblyDir));
    const parquet = (manifest.compression ?? '').toLowerCase() === 'parquet';
    addUnique(
      out,
      {
        provider: 'aws',
        format: 'aws-cur-legacy',
        scope: `aws/${input.bucket}/${report}/${period}`,
        revision_id: createNew
          ? manifest.assemblyId
          : `${manifest.assemblyId}@${obj.lastModified.toISOString()}`,
        billing_period: period,
        files,
        expected_rows: null,
        manifest_key: obj.key,
        billed_cost_column: parquet ? 'line_item_unblended_cost' : BILLED_COST['aws-cur-legacy'][0],
        missing_files: missing,
      },
      obj.key,
    );
  }
  return sortedRevisions(out);
}

/** CUR 2.0 or FOCUS: column names first, then the query's table, then the export name. */
export function dataExportsFormat(
  manifest: DataExportsManifest,
  exportName: string,
): 'aws-cur2' | 'aws-focus' {
  const cols = new Set((manifest.columns ?? []).map((c) => c.name));
  if (cols.has('BilledCost')) return 'aws-focus';
  if (cols.has('line_item_unblended_cost') || cols.has('identity_line_item_id')) return 'aws-cur2';
  const q = manifest.queryStatement ?? '';
  if (/\bFROM\s+FOCUS_/i.test(q)) return 'aws-focus';
  if (/\bFROM\s+COST_AND_USAGE_REPORT\b/i.test(q)) return 'aws-cur2';
  return /focus/i.test(manifest.exportName ?? exportName) ? 'aws-focus' : 'aws-cur2';
}

/**
 * AWS Data Exports, CUR 2.0 and FOCUS tables (docs/export-formats.md, "AWS Data Exports layout and
 * manifest"):
 * `<export>/metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json`, rewritten after the data files
 * of every refresh and naming the execution and its `dataFiles`. Works for both overwrite and
 * create-new, since the data folder is never listed.
 */
export async function discoverAwsDataExports(input: DiscoveryInput): Promise<DiscoveredRevision[]> {
  const out = new Map<string, DiscoveredRevision>();
  for (const { obj, rel } of underPrefix(input.objects, input.prefix)) {
    const m = /^(?:.*\/)?([^/]+)\/metadata\/BILLING_PERIOD=(\d{4}-\d{2})\/([^/]+)-Manifest\.json$/.exec(rel);
    if (!m || m[1] !== m[3]) continue;
    const [, exportName, period] = m;
    const manifest = parseDataExportsManifest(await input.readJson(obj.key), obj.key);
    if (manifest.period !== undefined && manifest.period !== period) {
      throw new InputError(
        ErrorCodes.MALFORMED_INPUT,
        `manifest billing period ${manifest.period} does not match folder BILLING_PERIOD=${period}`,
        { object: obj.key, field: 'billingPeriod' },
      );
    }
    const format = dataExportsFormat(manifest, exportName);
    const { files, missing } = resolveFiles(manifest.dataFiles, input.objects, {
      bucket: input.bucket,
      manifestDir: dirname(obj.key),
      manifest: obj.key,
      checkBucket: input.checkBucket,
    });
    addUnique(
      out,
      {
        provider: 'aws',
        format,
        scope: `aws/${input.bucket}/${exportName}/${period}`,
        revision_id: manifest.executionId,
        billing_period: period,
        files,
        expected_rows: manifest.expectedRows,
        manifest_key: obj.key,
        billed_cost_column: BILLED_COST[format][0],
        missing_files: missing,
      },
      obj.key,
    );
  }
  return sortedRevisions(out);
}
