import { createHash } from 'node:crypto';
import {
  underPrefix,
  type DiscoveredRevision,
  type DiscoveryInput,
  type ListedObject,
} from '../../collectors/core/discovery';
import { BILLED_COST } from './columns';

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
  input: Omit<DiscoveryInput, 'readJson'> & { provider: string; now: Date; quietPeriodMs?: number },
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
      billed_cost_column: BILLED_COST['focus'][0],
      missing_files: [],
    });
  }
  return out.sort((a, b) => (a.scope < b.scope ? -1 : 1));
}
