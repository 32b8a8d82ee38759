import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ObjectStore } from '../../collectors/core/object-store';
import type { DiscoveredRevision, DiscoveryInput } from '../../collectors/core/discovery';
import { parserFor } from '../../collectors/core/read-lines';
import type { Header } from '../../collectors/formats/rows';
import { providerNamed, type ExportFormat } from '../../providers/registry';
import { ErrorCodes, InputError } from '../../runtime/errors';
import { detectFormat, readColumnNames, rowPeriodReader, type OfflineProvider } from './detect';
import { LocalFolderStore, listFolder } from './fs-store';

/*
 * What `meterflow rate` reads (rate.ts runs it): the revisions of a folder, found by the
 * provider's own discovery from its manifests, or one file rated as a revision of its own when
 * there is no manifest (a single --input file, or a folder of files in no provider layout).
 */

/** A revision to read: discovered from manifests, or built for a single file. */
export interface OfflineRevision {
  provider: string;
  format: ExportFormat;
  scope: string;
  revision_id: string;
  billing_period: string;
  files: string[];
  expected_rows: number | null;
  manifest_key: string | null;
  /** Single file: the scope and period of each row come from the row itself. */
  rowPeriod?: (header: Header, values: readonly string[]) => string | undefined;
}

export interface Plan {
  store: ObjectStore;
  kind: 'file' | 'folder';
  revisions: OfflineRevision[];
}

/** The stored size of every file the plan reads, for the progress line's share done and ETA. */
export async function inputBytes(plan: Plan): Promise<number | undefined> {
  const store = plan.store;
  if (!(store instanceof LocalFolderStore)) return undefined;
  let total = 0;
  for (const key of plan.revisions.flatMap((r) => r.files)) total += (await stat(join(store.root, key))).size;
  return total;
}

async function discoverFolder(
  provider: OfflineProvider,
  store: LocalFolderStore,
  bucket: string,
): Promise<DiscoveredRevision[]> {
  const objects = await listFolder(store.root);
  const input: DiscoveryInput = {
    bucket,
    prefix: '',
    objects,
    readJson: (key) => store.readJson(key),
  };
  return providerNamed(provider).discoverAtRest(input);
}

export async function planFolder(provider: OfflineProvider, folder: string): Promise<Plan> {
  const bucket = basename(folder);
  const store = new LocalFolderStore(folder, `local://${bucket}`);
  const discovered = await discoverFolder(provider, store, bucket);
  if (discovered.length === 0) {
    // A folder of export files in no provider layout (a FOCUS producer's output, files copied by
    // hand): each file is rated as if it were given alone.
    const files = (await listFolder(folder))
      .map((o) => o.key)
      .filter(isExportFile)
      .sort();
    if (files.length > 0) {
      const revisions: OfflineRevision[] = [];
      for (const key of files)
        revisions.push(await singleFileRevision(provider, store, key, join(folder, key)));
      return { store, kind: 'folder', revisions };
    }
    throw new InputError(
      ErrorCodes.NOT_FOUND,
      `no ${provider} export found in folder ${folder}. Discovery looks for ${providerNamed(provider).layout} ` +
        `(at any depth); to rate one file without a manifest, pass the file itself as --input`,
      { object: folder },
    );
  }
  const missing = discovered.flatMap((r) => r.missing_files.map((f) => `${f} (listed by ${r.manifest_key})`));
  if (missing.length > 0) {
    throw new InputError(
      ErrorCodes.NOT_FOUND,
      `the manifests list files the folder does not hold: ${missing.join(', ')}`,
      { object: folder },
    );
  }
  const revisions: OfflineRevision[] = [];
  for (const r of discovered) {
    let format = r.format as ExportFormat;
    // Some providers' formats share a layout and differ in columns (GCP standard and detailed).
    const refine = providerNamed(provider).refineFormat;
    if (refine !== undefined && r.files.length > 0) {
      format = refine(format, await readColumnNames(store, r.files[0])) as ExportFormat;
    }
    revisions.push({
      provider,
      format,
      scope: r.scope,
      revision_id: r.revision_id,
      billing_period: r.billing_period,
      files: r.files,
      expected_rows: r.expected_rows,
      manifest_key: r.manifest_key,
    });
  }
  return { store, kind: 'folder', revisions };
}

async function sha256Prefix(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex').slice(0, 16);
}

export async function planFile(provider: OfflineProvider, file: string): Promise<Plan> {
  const store = new LocalFolderStore(dirname(file), 'local://local');
  return {
    store,
    kind: 'file',
    revisions: [await singleFileRevision(provider, store, basename(file), file)],
  };
}

/** One export file without a manifest as a revision of its own; its rows say their billing period. */
async function singleFileRevision(
  provider: OfflineProvider,
  store: LocalFolderStore,
  key: string,
  file: string,
): Promise<OfflineRevision> {
  const columns = await readColumnNames(store, key);
  const format = detectFormat(provider, columns, key);
  return {
    provider,
    format,
    scope: `${provider}/local/${key}`,
    // Content-addressed: the same bytes give the same revision, hence the same record ids.
    revision_id: await sha256Prefix(file),
    billing_period: '',
    files: [key],
    expected_rows: null,
    manifest_key: null,
    rowPeriod: rowPeriodReader(format, columns),
  };
}

/** A data file of an export: not a manifest, not a dead-letter file `meterflow rate` wrote. */
function isExportFile(key: string): boolean {
  const name = basename(key).toLowerCase();
  if (name.includes('manifest') || name.endsWith('.dead-letters.ndjson')) return false;
  try {
    parserFor(key);
    return true;
  } catch {
    return false;
  }
}
