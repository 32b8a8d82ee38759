import { createHash } from 'node:crypto';
import { ErrorCodes, InputError } from '../../runtime/errors';
import { ExportFormat, defaultBilledCostColumn } from './columns';
import {
  AzureExportManifest,
  DataExportsManifest,
  parseAzureExportManifest,
  parseAzureLegacyManifest,
  parseDataExportsManifest,
  parseGcpRunMarker,
  parseLegacyCurManifest,
  periodOf,
} from './manifests';

export {
  billedCostOf,
  currencyOf,
  gcpBilledCost,
  resolveBilledCostColumn,
  resolveCurrencyColumn,
} from './columns';
export type { ExportFormat } from './columns';

/*
 * Discovery turns a bucket listing into the CURRENT revision of every scope. Functions are pure:
 * the caller lists the prefix and supplies `readJson`; nothing here touches the network.
 *
 * Common rules (docs/export-formats.md, "Common rules"): the file list comes from the manifest,
 * never from globbing the folder (old assemblies / runs stay in the bucket in create-new modes); a
 * scope without a manifest has not been delivered and is absent from the result; a manifest listing
 * 0 files is returned (it means "this period is now empty"); a listed file that is not in the
 * listing is returned anyway and reported in `missing_files`, so the reader fails on it loudly
 * instead of the revision quietly losing rows.
 */

export interface ListedObject {
  key: string;
  lastModified: Date;
  size: number;
}

export type ReadJson = (key: string) => Promise<unknown>;

export type Provider = 'aws' | 'azure' | 'gcp';

export interface DiscoveredRevision {
  provider: Provider;
  format: ExportFormat;
  /** `${provider}/${bucketOrContainer}/${exportName}/${YYYY-MM}` */
  scope: string;
  revision_id: string;
  /** YYYY-MM */
  billing_period: string;
  /** Object keys, in manifest order. */
  files: string[];
  expected_rows: number | null;
  manifest_key: string | null;
  billed_cost_column: string;
  /** Files the manifest lists that the listing does not contain (also present in `files`). */
  missing_files: string[];
}

export interface DiscoveryInput {
  /** Bucket (S3, GCS) or container (Azure) name; part of the scope. */
  bucket: string;
  /** Configured prefix; keys outside it are ignored. "" for the bucket root. */
  prefix: string;
  objects: ListedObject[];
  readJson: ReadJson;
}

interface Relative {
  obj: ListedObject;
  /** Key below the prefix, without leading slashes. */
  rel: string;
}

function underPrefix(objects: ListedObject[], prefix: string): Relative[] {
  const p = prefix.replace(/^\/+|\/+$/g, '');
  const out: Relative[] = [];
  for (const obj of objects) {
    // CUR with an empty prefix writes keys with a leading "/" (see the fixture's reportKeys).
    const k = obj.key.replace(/^\/+/, '');
    if (p === '') out.push({ obj, rel: k });
    else if (k.startsWith(`${p}/`)) out.push({ obj, rel: k.slice(p.length + 1).replace(/^\/+/, '') });
  }
  return out;
}

function compactDateToPeriod(yyyymmdd: string): string {
  return `${yyyymmdd.slice(0, 4)}-${yyyymmdd.slice(4, 6)}`;
}

function dirname(key: string): string {
  const i = key.lastIndexOf('/');
  return i === -1 ? '' : key.slice(0, i);
}

/**
 * Maps a file reference from a manifest to a listed key. Manifests spell paths differently (CUR:
 * leading "/" without a prefix; Data Exports: full s3:// URLs; Azure: container-relative names,
 * possibly with the container in front [unconfirmed]). When no spelling is listed, the most
 * plausible key is returned and marked missing.
 */
function resolveFile(
  ref: string,
  listed: Set<string>,
  opts: { bucket: string; manifestDir: string },
): { key: string; found: boolean } {
  const candidates: string[] = [];
  let r = ref;
  const url = /^(?:s3|gs):\/\/([^/]+)\/(.*)$/.exec(r) ?? /^https:\/\/[^/]+\/([^/]+)\/(.*)$/.exec(r);
  if (url) r = url[2];
  candidates.push(r, r.replace(/^\/+/, ''));
  if (r.replace(/^\/+/, '').startsWith(`${opts.bucket}/`)) {
    candidates.push(r.replace(/^\/+/, '').slice(opts.bucket.length + 1));
  }
  if (!r.includes('/') && opts.manifestDir) candidates.push(`${opts.manifestDir}/${r}`);
  for (const c of candidates) if (listed.has(c)) return { key: c, found: true };
  return { key: candidates[1], found: false };
}

function resolveFiles(
  refs: string[],
  objects: ListedObject[],
  opts: { bucket: string; manifestDir: string },
): { files: string[]; missing: string[] } {
  const listed = new Set(objects.map((o) => o.key));
  const files: string[] = [];
  const missing: string[] = [];
  for (const ref of refs) {
    const { key, found } = resolveFile(ref, listed, opts);
    files.push(key);
    if (!found) missing.push(key);
  }
  return { files, missing };
}

function addUnique(out: Map<string, DiscoveredRevision>, rev: DiscoveredRevision, manifestKey: string): void {
  const prior = out.get(rev.scope);
  if (prior) {
    // Two exports that differ only above the report folder would silently replace each other.
    throw new InputError(
      ErrorCodes.MALFORMED_INPUT,
      `scope ${rev.scope} is claimed by two manifests (${prior.manifest_key} and ${manifestKey}); configure separate prefixes`,
      { object: manifestKey },
    );
  }
  out.set(rev.scope, rev);
}

function sortedRevisions(out: Map<string, DiscoveredRevision>): DiscoveredRevision[] {
  return [...out.values()].sort((a, b) => (a.scope < b.scope ? -1 : a.scope > b.scope ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------

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
        billed_cost_column: parquet ? 'line_item_unblended_cost' : defaultBilledCostColumn('aws-cur-legacy'),
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
        billed_cost_column: defaultBilledCostColumn(format),
        missing_files: missing,
      },
      obj.key,
    );
  }
  return sortedRevisions(out);
}

const AZURE_DATASETS: Record<string, ExportFormat> = {
  actualcost: 'azure-actual',
  amortizedcost: 'azure-amortized',
  focuscost: 'azure-focus',
};

function timeOf(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const t = Date.parse(text);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * Azure Cost Management exports v2 (docs/export-formats.md, "Azure exports v2 layout and manifest"):
 * `<root>/<export>/<yyyyMMdd-yyyyMMdd>/<runId>/manifest.json` (also the FinOps hubs flavour with an
 * extra `<yyyyMMddHHmm>/` level). With create-new (the API default) every daily run leaves a folder,
 * so every manifest of a month folder is read and the newest by `runInfo.submittedTime` wins
 * (blob LastModified when the time is absent; a copied blob's LastModified says nothing about the
 * run). Datasets other than ActualCost / AmortizedCost / FocusCost are skipped.
 *
 * The month folder's end date is inclusive (`20240501-20240531`), unlike AWS.
 */
export async function discoverAzureExports(input: DiscoveryInput): Promise<DiscoveredRevision[]> {
  type Candidate = {
    obj: ListedObject;
    exportName: string;
    period: string;
    runFolder: string;
    manifest: AzureExportManifest;
    format: ExportFormat;
    time: number;
  };
  const groups = new Map<string, Candidate[]>();
  for (const { obj, rel } of underPrefix(input.objects, input.prefix)) {
    const m = /^(?:.*\/)?([^/]+)\/(\d{8})-(\d{8})\/(?:\d{12}\/)?([^/]+)\/manifest\.json$/.exec(rel);
    if (!m) continue;
    const [, exportName, start, , runFolder] = m;
    const manifest = parseAzureExportManifest(await input.readJson(obj.key), obj.key);
    const format = AZURE_DATASETS[manifest.exportConfig.type.toLowerCase()];
    if (!format) continue;
    const period = compactDateToPeriod(start);
    const scope = `azure/${input.bucket}/${exportName}/${period}`;
    const time = timeOf(manifest.runInfo.submittedTime) ?? obj.lastModified.getTime();
    const list = groups.get(scope) ?? [];
    list.push({ obj, exportName, period, runFolder, manifest, format, time });
    groups.set(scope, list);
  }
  const out = new Map<string, DiscoveredRevision>();
  for (const [scope, list] of groups) {
    list.sort(
      (a, b) =>
        b.time - a.time ||
        b.obj.lastModified.getTime() - a.obj.lastModified.getTime() ||
        (a.obj.key < b.obj.key ? 1 : -1),
    );
    const c = list[0];
    const { files, missing } = resolveFiles(
      c.manifest.blobs.map((b) => b.blobName),
      input.objects,
      { bucket: input.bucket, manifestDir: dirname(c.obj.key) },
    );
    const dataVersion = c.manifest.exportConfig.dataVersion ?? '';
    out.set(scope, {
      provider: 'azure',
      format: c.format,
      scope,
      revision_id: c.manifest.runInfo.runId ?? c.runFolder,
      billing_period: c.period,
      files,
      expected_rows: c.manifest.expectedRows,
      manifest_key: c.obj.key,
      // The c360-2025-04 Actual/Amortized version names the column `Cost`; 2019-10-01 / 2021-10-01
      // write CostInBillingCurrency (EA) or costInBillingCurrency (MCA). resolveBilledCostColumn
      // maps this to the exact header once the file is open.
      billed_cost_column:
        c.format !== 'azure-focus' && /^c360/i.test(dataVersion) ? 'Cost' : defaultBilledCostColumn(c.format),
      missing_files: missing,
    });
  }
  return sortedRevisions(out);
}

const GCP_DATA_FILE = /^part-.*\.(jsonl|json|csv|parquet|avro)(\.gz)?$/i;

function isGcpMarker(name: string): boolean {
  return name === '_SUCCESS' || name.startsWith('_SUCCESS-') || name.startsWith('_SUCCESS.');
}

/**
 * Google Cloud. Google writes billing data only to BigQuery and there is no provider manifest, so
 * the layout is OURS (docs/export-formats.md, "GCP export layout"):
 *
 *   <prefix>/<billing_account_id>/<YYYYMM invoice month>/run=<RUN_ID>/part-*.jsonl.gz
 *                                                                    (or .jsonl .csv .csv.gz .parquet .avro)
 *   <prefix>/<billing_account_id>/<YYYYMM invoice month>/run=<RUN_ID>/_SUCCESS
 *
 * RUN_ID is the UTC start time of the run, `20261125T030000Z`, so lexicographic order is time
 * order. A run is complete only when its `_SUCCESS` marker exists; the newest complete run of a
 * (billing account, invoice month) is current, and incomplete or older runs are ignored. A run
 * folder is never reused, so a crashed run cannot mix with a later one.
 *
 * The team's scheduled query (a BigQuery multi-statement script) runs, per invoice month (current
 * and previous month on every run, because GCP keeps adding rows to closed months):
 *
 *   DECLARE run STRING DEFAULT FORMAT_TIMESTAMP('%Y%m%dT%H%M%SZ', CURRENT_TIMESTAMP(), 'UTC');
 *   EXPORT DATA OPTIONS(
 *     uri='gs://bucket/prefix/ACCOUNT/YYYYMM/run=RUN/part-*.jsonl.gz',
 *     format='JSON', compression='GZIP', overwrite=false)
 *   AS SELECT * FROM `project.dataset.gcp_billing_export_v1_ACCOUNT`
 *      WHERE invoice.month = 'YYYYMM';
 *   EXPORT DATA OPTIONS(
 *     uri='gs://bucket/prefix/ACCOUNT/YYYYMM/run=RUN/_SUCCESS-*.json',
 *     format='JSON', overwrite=false)
 *   AS SELECT COUNT(*) AS row_count, FORMAT_TIMESTAMP('%F %T UTC', MAX(export_time)) AS max_export_time
 *      FROM `project.dataset.gcp_billing_export_v1_ACCOUNT` WHERE invoice.month = 'YYYYMM';
 *
 * (RUN is spliced into the URIs with EXECUTE IMMEDIATE FORMAT(...), since OPTIONS takes literals.)
 * EXPORT DATA insists on exactly one `*` in the URI, so a marker written by BigQuery itself is
 * named `_SUCCESS-000000000000.json`; a plain `_SUCCESS` written by another tool (gsutil, a
 * workflow step) is accepted too. A marker with content is one JSON row whose `row_count` becomes
 * `expected_rows`; an empty marker gives `expected_rows: null`. The statements run in order, so the
 * marker only exists once every data shard has been written.
 */
export async function discoverGcpExports(
  input: DiscoveryInput & { format?: 'gcp-standard' | 'gcp-detailed' },
): Promise<DiscoveredRevision[]> {
  type Run = {
    account: string;
    month: string;
    runId: string;
    dir: string;
    data: string[];
    markers: ListedObject[];
  };
  const runs = new Map<string, Run>();
  for (const { obj, rel } of underPrefix(input.objects, input.prefix)) {
    const m = /^([^/]+)\/(\d{4})(0[1-9]|1[0-2])\/run=([^/]+)\/([^/]+)$/.exec(rel);
    if (!m) continue;
    const [, account, year, month, runId, name] = m;
    const id = `${account}/${year}${month}/${runId}`;
    const run = runs.get(id) ?? {
      account,
      month: `${year}-${month}`,
      runId,
      dir: dirname(obj.key),
      data: [],
      markers: [],
    };
    if (isGcpMarker(name)) run.markers.push(obj);
    else if (GCP_DATA_FILE.test(name)) run.data.push(obj.key);
    runs.set(id, run);
  }
  const current = new Map<string, Run>();
  for (const run of runs.values()) {
    if (run.markers.length === 0) continue;
    const scope = `gcp/${input.bucket}/${run.account}/${run.month}`;
    const prior = current.get(scope);
    if (!prior || run.runId > prior.runId) current.set(scope, run);
  }
  const format = input.format ?? 'gcp-standard';
  const out = new Map<string, DiscoveredRevision>();
  for (const [scope, run] of current) {
    const marker = run.markers.find((o) => o.size > 0) ?? run.markers[0];
    let expected: number | null = null;
    if (marker.size > 0) {
      expected = parseGcpRunMarker(await input.readJson(marker.key), marker.key).row_count ?? null;
    }
    out.set(scope, {
      provider: 'gcp',
      format,
      scope,
      revision_id: run.runId,
      billing_period: run.month,
      // Shard numbers are zero-padded, so key order is shard order.
      files: [...run.data].sort(),
      expected_rows: expected,
      manifest_key: marker.key,
      billed_cost_column: defaultBilledCostColumn(format),
      missing_files: [],
    });
  }
  return sortedRevisions(out);
}

const FOCUS_DATA_FILE = /\.(csv|csv\.gz|parquet)$/i;

/**
 * Plain FOCUS drops without a manifest (a provider or tool that writes FOCUS CSV / Parquet files):
 * `<prefix>/<export>/<period>/<file>` where `<period>` is `YYYY-MM`, `BILLING_PERIOD=YYYY-MM`,
 * `billing_period=YYYY-MM` or `yyyymmdd-yyyymmdd`. Every file of the period folder belongs to the
 * revision, and the revision id is a digest of (key, size, LastModified) of those files, so any
 * rewrite yields a new revision. Without a manifest nothing says a drop is finished: a period whose
 * newest file is younger than `quietPeriodMs` is skipped until the writer has gone quiet.
 */
export function discoverFocusFiles(
  input: Omit<DiscoveryInput, 'readJson'> & { provider: Provider; now: Date; quietPeriodMs?: number },
): DiscoveredRevision[] {
  const quiet = input.quietPeriodMs ?? 15 * 60 * 1000;
  const groups = new Map<string, { exportName: string; period: string; objs: ListedObject[] }>();
  for (const { obj, rel } of underPrefix(input.objects, input.prefix)) {
    const m =
      /^(?:.*\/)?([^/]+)\/(?:(?:BILLING_PERIOD=|billing_period=)?(\d{4})-(\d{2})|(\d{4})(\d{2})\d{2}-\d{8})\/([^/]+)$/.exec(
        rel,
      );
    if (!m || !FOCUS_DATA_FILE.test(m[6])) continue;
    const period = m[2] ? `${m[2]}-${m[3]}` : `${m[4]}-${m[5]}`;
    const scope = `${input.provider}/${input.bucket}/${m[1]}/${period}`;
    const g = groups.get(scope) ?? { exportName: m[1], period, objs: [] };
    g.objs.push(obj);
    groups.set(scope, g);
  }
  const out: DiscoveredRevision[] = [];
  for (const [scope, g] of groups) {
    const newest = Math.max(...g.objs.map((o) => o.lastModified.getTime()));
    if (input.now.getTime() - newest < quiet) continue;
    const objs = [...g.objs].sort((a, b) => (a.key < b.key ? -1 : 1));
    const digest = createHash('sha256');
    for (const o of objs) digest.update(`${o.key}\t${o.size}\t${o.lastModified.toISOString()}\n`);
    out.push({
      provider: input.provider,
      format: 'focus',
      scope,
      revision_id: `sha256:${digest.digest('hex').slice(0, 32)}`,
      billing_period: g.period,
      files: objs.map((o) => o.key),
      expected_rows: null,
      manifest_key: null,
      billed_cost_column: defaultBilledCostColumn('focus'),
      missing_files: [],
    });
  }
  return out.sort((a, b) => (a.scope < b.scope ? -1 : 1));
}

/**
 * Azure legacy exports (before exports v2), two layouts (docs/export-formats.md, "Azure legacy export
 * layouts"):
 *
 * - partitioned: `<export>/<yyyyMMdd-yyyyMMdd>/<yyyyMMddHHmm>/<guid>/000001.csv` with a
 *   `_manifest.json` in the run folder; the newest run (by its yyyyMMddHHmm folder, then the
 *   manifest's LastModified) is current, and its `blobs[]` are the files;
 * - non-partitioned: one CSV per run directly in the month folder, `<export>_<guid>.csv`; every run
 *   adds a file, the newest (LastModified) is current. A blob only becomes visible once committed
 *   whole, so no marker is needed.
 *
 * Legacy manifests do not name their dataset, so it comes from the export name: one containing
 * "amortized" is AmortizedCost, "focus" is FocusCost, anything else ActualCost.
 */
export async function discoverAzureLegacyExports(input: DiscoveryInput): Promise<DiscoveredRevision[]> {
  const datasetOf = (exportName: string): ExportFormat =>
    /amortized/i.test(exportName)
      ? 'azure-amortized'
      : /focus/i.test(exportName)
        ? 'azure-focus'
        : 'azure-actual';
  type Candidate = {
    exportName: string;
    period: string;
    order: string;
    time: number;
    build: () => Promise<DiscoveredRevision>;
  };
  const groups = new Map<string, Candidate[]>();
  const add = (scope: string, c: Candidate) => groups.set(scope, [...(groups.get(scope) ?? []), c]);
  for (const { obj, rel } of underPrefix(input.objects, input.prefix)) {
    const partitioned = /^(?:.*\/)?([^/]+)\/(\d{8})-(\d{8})\/(\d{12})\/([^/]+)\/_manifest\.json$/.exec(rel);
    if (partitioned) {
      const [, exportName, start, , stamp] = partitioned;
      const period = compactDateToPeriod(start);
      const scope = `azure/${input.bucket}/${exportName}/${period}`;
      add(scope, {
        exportName,
        period,
        order: stamp,
        time: obj.lastModified.getTime(),
        build: async () => {
          const manifest = parseAzureLegacyManifest(await input.readJson(obj.key), obj.key);
          const { files, missing } = resolveFiles(
            manifest.blobs.map((b) => b.blobName),
            input.objects,
            { bucket: input.bucket, manifestDir: dirname(obj.key) },
          );
          const format = datasetOf(exportName);
          return {
            provider: 'azure',
            format,
            scope,
            revision_id: `${stamp}/${partitioned[5]}`,
            billing_period: period,
            files,
            expected_rows: manifest.dataRowCount ?? null,
            manifest_key: obj.key,
            billed_cost_column: defaultBilledCostColumn(format),
            missing_files: missing,
          };
        },
      });
      continue;
    }
    const single = /^(?:.*\/)?([^/]+)\/(\d{8})-(\d{8})\/([^/]+\.csv(?:\.gz)?)$/.exec(rel);
    if (single) {
      const [, exportName, start, , file] = single;
      const period = compactDateToPeriod(start);
      const scope = `azure/${input.bucket}/${exportName}/${period}`;
      const format = datasetOf(exportName);
      add(scope, {
        exportName,
        period,
        order: obj.lastModified.toISOString(),
        time: obj.lastModified.getTime(),
        build: async () => ({
          provider: 'azure',
          format,
          scope,
          revision_id: `${file}@${obj.lastModified.toISOString()}`,
          billing_period: period,
          files: [obj.key],
          expected_rows: null,
          manifest_key: null,
          billed_cost_column: defaultBilledCostColumn(format),
          missing_files: [],
        }),
      });
    }
  }
  const out = new Map<string, DiscoveredRevision>();
  for (const [scope, list] of groups) {
    list.sort((a, b) => (a.order < b.order ? 1 : a.order > b.order ? -1 : b.time - a.time));
    out.set(scope, await list[0].build());
  }
  return sortedRevisions(out);
}

/** Every Azure export under the prefix: exports v2 win over legacy layouts for the same scope. */
export async function discoverAzureAllExports(input: DiscoveryInput): Promise<DiscoveredRevision[]> {
  const v2 = await discoverAzureExports(input);
  const taken = new Set(v2.map((r) => r.scope));
  return [...v2, ...(await discoverAzureLegacyExports(input)).filter((r) => !taken.has(r.scope))];
}
