import type { estypes } from '@elastic/elasticsearch';
import type { DeadLetterDocument, RevisionDocument } from '../../sinks/elasticsearch/indices';
import type { DeadLetterQuery, RevisionsQuery } from '../params';
import { LENIENT, pick, transport, type QueryContext } from './context';

/** What operators read: revisions with their reconciliation state, and dead-letter counts. */

export interface RevisionList {
  total: number;
  revisions: RevisionDocument[];
}

const REVISION_FIELDS: (keyof RevisionDocument)[] = [
  'scope',
  'revision_id',
  'provider',
  'format',
  'billing_period',
  'files',
  'row_count',
  'collector_dead_letters',
  'control_totals',
  'completed_offset',
  'failed',
  'state',
  'indexed_rows',
  'dead_lettered_rows',
  'indexed_totals',
  'problems',
  'published_at',
  'updated_at',
];

/** The documented revision fields (openapi.ts `Revision`), whatever else the document gains. */
export function toRevisionResponse(doc: RevisionDocument): RevisionDocument {
  const out = pick(doc, REVISION_FIELDS as string[]);
  // Documents written before the collector's failure flag existed carry none: not failed.
  out.failed = doc.failed === true;
  // When readers stopped seeing it (docs/history.md); only revisions superseded since history exists.
  if (doc.superseded_at) out.superseded_at = doc.superseded_at;
  return out;
}

/** Revisions, most recently updated first. */
export async function listRevisions(ctx: QueryContext, q: RevisionsQuery): Promise<RevisionList> {
  const filter: estypes.QueryDslQueryContainer[] = [];
  if (q.state) filter.push({ term: { state: q.state } });
  if (q.scope) filter.push({ term: { scope: q.scope } });
  if (q.billingPeriod) filter.push({ term: { billing_period: q.billingPeriod } });
  const result = await ctx.es.search<RevisionDocument>(
    {
      index: ctx.names.revisions,
      ...LENIENT,
      size: q.limit,
      query: { bool: { filter } },
      sort: [
        { updated_at: { order: 'desc', unmapped_type: 'date' } },
        { revision_id: { order: 'asc', unmapped_type: 'keyword' } },
      ],
      track_total_hits: true,
    },
    transport(ctx),
  );
  const total = result.hits.total;
  return {
    total: typeof total === 'number' ? total : (total?.value ?? 0),
    revisions: result.hits.hits.map((h) => toRevisionResponse(h._source as RevisionDocument)),
  };
}

export interface DeadLetterSummary {
  total: number;
  by_reason: { reason: string; count: number; by_stage: { stage: string; count: number }[] }[];
  by_stage: { stage: string; count: number }[];
}

type Buckets<T = unknown> = { buckets: ({ key: string; doc_count: number } & T)[] };

/** Dead-letter counts by reason (and stage within it) and by stage. Counts, not money: aggregations are fine. */
export async function deadLetterSummary(ctx: QueryContext, q: DeadLetterQuery): Promise<DeadLetterSummary> {
  const filter: estypes.QueryDslQueryContainer[] = [];
  if (q.stage) filter.push({ term: { stage: q.stage } });
  if (q.scope) filter.push({ term: { scope: q.scope } });
  if (q.customer) filter.push({ term: { customer: q.customer } });
  const result = await ctx.es.search<
    DeadLetterDocument,
    { by_reason: Buckets<{ by_stage: Buckets }>; by_stage: Buckets }
  >(
    {
      index: ctx.names.deadLetters,
      ...LENIENT,
      size: 0,
      query: { bool: { filter } },
      track_total_hits: true,
      aggs: {
        // Reasons and stages are bounded code lists, far below these sizes.
        by_reason: {
          terms: { field: 'reason', size: 1000 },
          aggs: { by_stage: { terms: { field: 'stage', size: 100 } } },
        },
        by_stage: { terms: { field: 'stage', size: 100 } },
      },
    },
    transport(ctx),
  );
  const total = result.hits.total;
  const aggs = result.aggregations;
  return {
    total: typeof total === 'number' ? total : (total?.value ?? 0),
    by_reason: (aggs?.by_reason.buckets ?? []).map((b) => ({
      reason: b.key,
      count: b.doc_count,
      by_stage: b.by_stage.buckets.map((s) => ({ stage: s.key, count: s.doc_count })),
    })),
    by_stage: (aggs?.by_stage.buckets ?? []).map((b) => ({ stage: b.key, count: b.doc_count })),
  };
}
