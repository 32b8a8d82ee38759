import type { Client, estypes } from '@elastic/elasticsearch';
import { scanAll } from '../../runtime/elasticsearch';
import { type IndexNames, publishKey, type RevisionDocument } from './indices';
import { accumulates, usageAliasFilter } from './visibility';

/**
 * Usage history (docs/history.md): the documents of a superseded revision stay in the monthly
 * usage indices for `sink.history_retention_days` after it was superseded, invisible in the
 * published alias, and the revision documents say when each revision became visible
 * (`published_at`) and when it stopped being visible (`superseded_at`). Together they answer "what
 * did readers see at time T" (knowledge time), next to usage time (ChargePeriodStart) and the price
 * book version (x_PriceBookVersion): bitemporal usage.
 *
 * Resolution: both times are written by the publisher in the same revision-state update, right
 * AFTER its atomic alias swap (publisher.ts, steps 4 and 5). A reader that queried the alias between
 * the swap and the state write (a few milliseconds; longer only when the publisher crashed in
 * between and the next pass repaired it) already saw the new revision while its `published_at`
 * is still to come. "As known at T" is exact for every T outside such a window.
 */

export type Lifetime = Pick<RevisionDocument, 'scope' | 'revision_id' | 'state' | 'published_at'> & {
  superseded_at?: string | null;
  /** The export format; a format whose scopes accumulate (first-party event seals) is never superseded. */
  format?: string;
};

/**
 * The publish keys readers saw at knowledge time `at` (epoch ms): revisions published at or before
 * it and not superseded by then. Pure. A revision superseded before superseded_at existed (no time
 * recorded) is left out: the version that superseded it deleted its documents at once, so there is
 * nothing to read.
 */
export function keysVisibleAt(revisions: Lifetime[], at: number): string[] {
  return revisionsVisibleAt(revisions, at)
    .map((r) => publishKey(r.scope, r.revision_id))
    .sort();
}

/**
 * The revisions themselves (see keysVisibleAt), at most one per scope as in the alias. Pure. The
 * publisher writes the replacing revision's published_at and the replaced one's superseded_at in
 * one bulk request, but not atomically across the two documents: after a partial failure the next
 * pass writes superseded_at a little later, and in between both would qualify. The newer
 * publication is the one the alias showed, so it wins.
 */
export function revisionsVisibleAt<R extends Lifetime>(revisions: R[], at: number): R[] {
  const byScope = new Map<string, R>();
  // Accumulating scopes (providers/platform): every seal published by then, as the alias shows them.
  const accumulated: R[] = [];
  for (const r of revisions) {
    if (!r.published_at || Date.parse(r.published_at) > at) continue;
    if (r.format !== undefined && accumulates({ format: r.format })) {
      accumulated.push(r);
      continue;
    }
    if (r.state === 'superseded' && !r.superseded_at) continue;
    if (r.superseded_at && Date.parse(r.superseded_at) <= at) continue;
    const other = byScope.get(r.scope);
    if (!other || Date.parse(r.published_at) > Date.parse(other.published_at!)) byScope.set(r.scope, r);
  }
  return [...byScope.values(), ...accumulated];
}

const DAY_MS = 86_400_000;

/**
 * Whether the usage documents of a revision may be deleted now (epoch ms). Pure.
 *   failed      at once: it was never published, so no reader ever saw it and no invoice can
 *               record it; keeping it would only cost disk.
 *   superseded  once `retentionDays` have passed since superseded_at (0: at once, the behaviour
 *               before history was kept). At once when it was never published (a newer revision
 *               overtook it while pending: nobody saw it) or has no superseded_at (superseded by
 *               an earlier version, which deleted the documents then): no history to keep.
 *   otherwise   never: the revision is, or may become, the one readers see.
 */
export function pastRetention(
  r: Pick<RevisionDocument, 'state' | 'published_at'> & { superseded_at?: string | null },
  now: number,
  retentionDays: number,
): boolean {
  if (r.state === 'failed') return true;
  if (r.state !== 'superseded') return false;
  if (retentionDays === 0 || !r.published_at || !r.superseded_at) return true;
  return Date.parse(r.superseded_at) + retentionDays * DAY_MS <= now;
}

/** Parses a knowledge time (ISO-8601 date, or date-time with a zone) to epoch ms; a clear error otherwise. */
export function parseKnowledgeTime(name: string, text: string): number {
  // A time without a zone would be read in the server's zone: refuse rather than guess.
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(text))
    throw new RangeError(
      `${name} must be an ISO-8601 date or date-time with a zone (2026-03-01 or 2026-03-01T12:00:00Z), got "${text.slice(0, 40)}"`,
    );
  const ms = Date.parse(text);
  // Date.parse rolls 2026-02-30 over into March: check the calendar date itself.
  const [y, m, d] = text.slice(0, 10).split('-').map(Number);
  const day = new Date(Date.UTC(y, m - 1, d));
  const calendar = day.getUTCFullYear() === y && day.getUTCMonth() === m - 1 && day.getUTCDate() === d;
  if (Number.isNaN(ms) || !calendar)
    throw new RangeError(`${name} is not a valid time: "${text.slice(0, 40)}"`);
  return ms;
}

/** The publish keys readers saw at `at` (epoch ms), from the revision documents. */
export async function publishedKeysAt(
  es: Client,
  names: IndexNames,
  at: number,
  options: { requestTimeoutMs?: number; signal?: AbortSignal } = {},
): Promise<string[]> {
  return keysVisibleAt(await publishedRevisionsAt(es, names, at, options), at);
}

/** The revisions readers saw at `at` (epoch ms), from the revision documents. */
export async function publishedRevisionsAt(
  es: Client,
  names: IndexNames,
  at: number,
  options: { requestTimeoutMs?: number; signal?: AbortSignal } = {},
): Promise<Lifetime[]> {
  const revisions: Lifetime[] = [];
  const query: estypes.QueryDslQueryContainer = {
    range: { published_at: { lte: new Date(at).toISOString() } },
  };
  const fields = ['scope', 'revision_id', 'state', 'published_at', 'superseded_at', 'format'];
  for await (const hits of scanAll<Lifetime>(es, names.revisions, query, fields, options))
    for (const h of hits) if (h._source) revisions.push(h._source);
  return revisionsVisibleAt(revisions, at);
}

/** An index (or alias) to read usage from, and the filters that select what readers saw. */
export interface UsageReadSource {
  index: string;
  filter: estypes.QueryDslQueryContainer[];
}

/**
 * Where to read usage as known at a time: the monthly indices (every revision still kept), filtered
 * to the keys readers saw then. Without a time: the published alias, as every reader does. An
 * empty key list matches nothing (terms with no values), which is right: nothing was published yet.
 */
export async function usageAsKnownAt(
  es: Client,
  names: IndexNames,
  at: number | undefined,
  options: { requestTimeoutMs?: number; signal?: AbortSignal } = {},
): Promise<UsageReadSource> {
  if (at === undefined) return { index: names.usageAlias, filter: [] };
  return {
    index: names.usagePattern,
    filter: [visibleAtFilter(await publishedRevisionsAt(es, names, at, options))],
  };
}

/**
 * The filter the alias had at that time, built the way the publisher builds it: the key of each
 * replaced scope's revision, and each accumulating scope up to its newest seal published by then
 * (seals publish in id order, so the seals published by T are exactly those up to that one). A
 * range per scope rather than a term per seal keeps the query within Elasticsearch's terms limit.
 */
export function visibleAtFilter(visible: Lifetime[]): estypes.QueryDslQueryContainer {
  const keys: string[] = [];
  const watermarks = new Map<string, string>();
  for (const r of visible) {
    if (r.format !== undefined && accumulates({ format: r.format })) {
      const w = watermarks.get(r.scope);
      if (w === undefined || r.revision_id > w) watermarks.set(r.scope, r.revision_id);
    } else keys.push(publishKey(r.scope, r.revision_id));
  }
  return usageAliasFilter(keys.sort(), watermarks) as estypes.QueryDslQueryContainer;
}
