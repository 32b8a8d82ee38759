import { z } from 'zod';
import { ErrorCodes, InputError } from '../../runtime/errors';
import type { ListedObject } from './object-store';

export type { ListedObject } from './object-store';

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

export type ReadJson = (key: string) => Promise<unknown>;

export interface DiscoveredRevision {
  /** A provider of providers/registry.ts. */
  provider: string;
  /** One of its export formats. */
  format: string;
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
  /**
   * A collector reads its own bucket: a manifest that names an object of another bucket is an
   * error, not a key to look up here. Files copied to a local folder (`meterflow rate`) keep their
   * manifests' original bucket names, so the check is off there.
   */
  checkBucket?: boolean;
}

/** How a manifest's file references are resolved (see resolveFiles). */
export interface ResolveOptions {
  bucket: string;
  manifestDir: string;
  /** The manifest, named in errors. */
  manifest: string;
  checkBucket?: boolean;
}

interface Relative {
  obj: ListedObject;
  /** Key below the prefix, without leading slashes. */
  rel: string;
}

export function underPrefix(objects: ListedObject[], prefix: string): Relative[] {
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

export function compactDateToPeriod(yyyymmdd: string): string {
  return `${yyyymmdd.slice(0, 4)}-${yyyymmdd.slice(4, 6)}`;
}

export function dirname(key: string): string {
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
  opts: ResolveOptions,
): { key: string; found: boolean } {
  const candidates: string[] = [];
  let r = ref;
  const url = /^(?:s3|gs):\/\/([^/]+)\/(.*)$/.exec(r) ?? /^https:\/\/[^/]+\/([^/]+)\/(.*)$/.exec(r);
  if (url && opts.checkBucket && url[1] !== opts.bucket) {
    // Reading `key` from our own bucket instead would count another export's file, or a stale copy.
    throw new InputError(
      ErrorCodes.MALFORMED_INPUT,
      `the manifest lists ${ref}, an object of bucket ${url[1]}, not of ${opts.bucket}`,
      { object: opts.manifest },
    );
  }
  if (url) r = url[2];
  candidates.push(r, r.replace(/^\/+/, ''));
  if (r.replace(/^\/+/, '').startsWith(`${opts.bucket}/`)) {
    candidates.push(r.replace(/^\/+/, '').slice(opts.bucket.length + 1));
  }
  if (!r.includes('/') && opts.manifestDir) candidates.push(`${opts.manifestDir}/${r}`);
  for (const c of candidates) if (listed.has(c)) return { key: c, found: true };
  return { key: candidates[1], found: false };
}

export function resolveFiles(
  refs: string[],
  objects: ListedObject[],
  opts: ResolveOptions,
): { files: string[]; missing: string[] } {
  const listed = new Set(objects.map((o) => o.key));
  const files: string[] = [];
  const missing: string[] = [];
  const seen = new Set<string>();
  for (const ref of refs) {
    const { key, found } = resolveFile(ref, listed, opts);
    // An object the manifest lists twice is read once: read twice, its rows would count twice in
    // the revision's control totals (which then never reconcile with the indexed documents) and
    // its bad lines would be dead-lettered twice.
    if (seen.has(key)) continue;
    seen.add(key);
    files.push(key);
    if (!found) missing.push(key);
  }
  return { files, missing };
}

export function addUnique(
  out: Map<string, DiscoveredRevision>,
  rev: DiscoveredRevision,
  manifestKey: string,
): void {
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

export function sortedRevisions(out: Map<string, DiscoveredRevision>): DiscoveredRevision[] {
  return [...out.values()].sort((a, b) => (a.scope < b.scope ? -1 : a.scope > b.scope ? 1 : 0));
}

/*
 * Manifests. Every schema is loose (unknown fields pass through): providers add fields without
 * notice, and only the fields discovery depends on are required. Fields that docs/export-formats.md
 * marks unconfirmed are optional and accept several spellings. The schemas live with their provider.
 */

export function parseWith<T>(schema: z.ZodType<T>, value: unknown, object: string, kind: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue.path.length ? issue.path.map(String).join('.') : undefined;
  throw new InputError(ErrorCodes.MALFORMED_INPUT, `invalid ${kind}: ${issue.message}`, { object, field });
}

// Counts sometimes arrive as strings (JSON writers that protect 64-bit integers).
export const count = z.union([
  z.number().int().nonnegative(),
  z
    .string()
    .regex(/^\d+$/)
    .transform((s) => Number(s)),
]);

/** `20180801T000000.000Z` (legacy CUR), ISO-8601, or `YYYY-MM-DD` -> `YYYY-MM`. */
export function periodOf(text: string): string | undefined {
  const m = /^(\d{4})-?(\d{2})/.exec(text.trim());
  return m ? `${m[1]}-${m[2]}` : undefined;
}
