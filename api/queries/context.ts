import type { Client } from '@elastic/elasticsearch';
import type { estypes } from '@elastic/elasticsearch';
import { scanAll as scanAllHits } from '../../runtime/elasticsearch';
import type { IndexNames } from '../../sinks/elasticsearch/indices';

/**
 * The API's reads from Elasticsearch. Two rules:
 *   1. Usage is read from the PUBLISHED alias only, so a reader never sees two revisions of a
 *      scope, nor a revision that has not reconciled. With `as_known_at` it is read from the
 *      monthly indices filtered to the revisions the alias showed at that time (usageSource): the
 *      same guarantee, at another knowledge time.
 *   2. Money is exact. The `double` mapping of the money fields exists for analysts; a sum over it
 *      is binary floating point and never reaches a client as an amount. Sums come from the exact
 *      integer parts of an amount (schemas/exact-parts.ts), checked to be exact, or from the
 *      decimal text in _source with Decimal. Counts may come from aggregations.
 * Every search passes ignore_unavailable + allow_no_indices, so a deployment with no data yet
 * answers empty results instead of 404s.
 */
export interface QueryContext {
  es: Client;
  names: IndexNames;
  pageSize: number;
  /** Per-request Elasticsearch timeout; 0 = the client's default. */
  timeoutMs: number;
  /** Aborted at the API request's deadline: every Elasticsearch request in flight stops with it. */
  signal?: AbortSignal;
}

/** Search options for indices that may not exist yet: empty results, not 404s (see above). */
export const LENIENT = { ignore_unavailable: true, allow_no_indices: true } as const;

/** Per-request transport options: the request timeout and the API request's deadline signal. */
export function transport(ctx: QueryContext) {
  return {
    ...(ctx.timeoutMs > 0 ? { requestTimeout: ctx.timeoutMs } : {}),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  };
}

/** Every document matching `query`, page by page, from one point in time (see runtime/elasticsearch.ts). */
export async function* scanAll<T>(
  ctx: QueryContext,
  index: string,
  query: estypes.QueryDslQueryContainer,
  source: string[],
): AsyncGenerator<T[]> {
  for await (const hits of scanAllHits<T>(ctx.es, index, query, source, {
    pageSize: ctx.pageSize,
    requestTimeoutMs: ctx.timeoutMs,
    signal: ctx.signal,
  }))
    yield hits.map((h) => h._source as T);
}

/** Orders text by UTF-16 code units, as the API's lists are sorted. */
export const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The listed fields of a document, absent ones as null: what a response may carry, nothing else. */
export function pick<T>(doc: T, fields: string[]): T {
  const src = doc as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of fields) out[f] = src[f] ?? null;
  return out as T;
}
