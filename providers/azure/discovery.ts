import {
  compactDateToPeriod,
  dirname,
  resolveFiles,
  sortedRevisions,
  underPrefix,
  type DiscoveredRevision,
  type DiscoveryInput,
  type ListedObject,
} from '../../collectors/core/discovery';
import { BILLED_COST, type AzureFormat } from './columns';
import { parseAzureExportManifest, parseAzureLegacyManifest, type AzureExportManifest } from './manifests';

const AZURE_DATASETS: Record<string, AzureFormat> = {
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
    format: AzureFormat;
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
      {
        bucket: input.bucket,
        manifestDir: dirname(c.obj.key),
        manifest: c.obj.key,
        checkBucket: input.checkBucket,
      },
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
        c.format !== 'azure-focus' && /^c360/i.test(dataVersion) ? 'Cost' : BILLED_COST[c.format][0],
      missing_files: missing,
    });
  }
  return sortedRevisions(out);
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
  const datasetOf = (exportName: string): AzureFormat =>
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
            {
              bucket: input.bucket,
              manifestDir: dirname(obj.key),
              manifest: obj.key,
              checkBucket: input.checkBucket,
            },
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
            billed_cost_column: BILLED_COST[format][0],
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
          billed_cost_column: BILLED_COST[format][0],
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
