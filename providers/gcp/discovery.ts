import {
  dirname,
  sortedRevisions,
  underPrefix,
  type DiscoveredRevision,
  type DiscoveryInput,
  type ListedObject,
} from '../../collectors/core/discovery';
import { ErrorCodes, InputError } from '../../runtime/errors';
import { BILLED_COST } from './columns';
import { parseGcpRunMarker } from './manifests';

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
      billed_cost_column: BILLED_COST[format][0],
      missing_files: [],
    });
  }
  return sortedRevisions(out);
}

/**
 * GCP's layout is anchored at the configured prefix (`<account>/<YYYYMM>/run=<id>/...`). A folder
 * may hold it below any prefix: every prefix under which the layout occurs is discovered.
 */
function gcpPrefixes(objects: ListedObject[]): string[] {
  const prefixes = new Set<string>();
  for (const o of objects) {
    const m = /^(?:(.*)\/)?[^/]+\/\d{4}(?:0[1-9]|1[0-2])\/run=[^/]+\/[^/]+$/.exec(o.key);
    if (m) prefixes.add(m[1] ?? '');
  }
  return [...prefixes].sort();
}

/** Discovery in a folder at rest: the GCP layout under every prefix where it occurs. */
export async function discoverGcpAtRest(input: DiscoveryInput): Promise<DiscoveredRevision[]> {
  const found: DiscoveredRevision[] = [];
  const seen = new Map<string, string>();
  for (const prefix of gcpPrefixes(input.objects)) {
    for (const rev of await discoverGcpExports({ ...input, prefix })) {
      const prior = seen.get(rev.scope);
      if (prior !== undefined) {
        throw new InputError(
          ErrorCodes.MALFORMED_INPUT,
          `scope ${rev.scope} is found under two prefixes ("${prior}" and "${prefix}"); rate them separately`,
          { object: rev.manifest_key ?? undefined },
        );
      }
      seen.set(rev.scope, prefix);
      found.push(rev);
    }
  }
  return found;
}
