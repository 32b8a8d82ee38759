import type { Client } from '@elastic/elasticsearch';
import { scanAll } from '../../runtime/elasticsearch';
import type { UsageRecord } from '../../schemas/types.generated';
import {
  type IndexNames,
  publishKey,
  type RevisionDocument,
  revisionDocId,
} from '../../sinks/elasticsearch/indices';
import { USAGE_RECORD_FIELDS } from '../offline/output';

/**
 * What a re-rate reads from Elasticsearch: which published scopes it affects, their revision
 * documents, and the records of a published revision.
 */

/**
 * The scopes whose PUBLISHED usage (the `P-usage` alias, as invoices read it) has records with
 * ChargePeriodStart on or after `from` that `version` did not price: scope -> its published
 * revision ids (one for a replaced scope; several seals for a first-party scope). A composite
 * terms aggregation on keywords: it only finds the scopes, it sums nothing.
 */
export async function affectedScopes(
  es: Client,
  names: IndexNames,
  from: string,
  version: string,
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  let after: Record<string, unknown> | undefined;
  for (;;) {
    const res = await es.search<
      unknown,
      { s: { buckets: { key: { s: string; r: string } }[]; after_key?: Record<string, unknown> } }
    >({
      index: names.usageAlias,
      ignore_unavailable: true,
      allow_no_indices: true,
      size: 0,
      query: {
        bool: {
          filter: [{ range: { ChargePeriodStart: { gte: `${from}T00:00:00Z` } } }],
          must_not: [{ term: { x_PriceBookVersion: version } }],
        },
      },
      aggs: {
        s: {
          composite: {
            size: 1000,
            sources: [{ s: { terms: { field: 'x_Scope' } } }, { r: { terms: { field: 'x_Revision' } } }],
            ...(after ? { after: after as never } : {}),
          },
        },
      },
    });
    const agg = res.aggregations?.s;
    if (!agg) return out;
    for (const b of agg.buckets) out.set(b.key.s, [...(out.get(b.key.s) ?? []), b.key.r]);
    if (agg.buckets.length === 0 || !agg.after_key) return out;
    after = agg.after_key;
  }
}

/** Every revision document of the scopes, by scope. */
export async function revisionsOf(
  es: Client,
  names: IndexNames,
  scopes: string[],
): Promise<Map<string, RevisionDocument[]>> {
  const out = new Map<string, RevisionDocument[]>();
  for (let i = 0; i < scopes.length; i += 1000) {
    const query = { terms: { scope: scopes.slice(i, i + 1000) } };
    for await (const hits of scanAll<RevisionDocument>(es, names.revisions, query, true))
      for (const h of hits) {
        const r = h._source!;
        out.set(r.scope, [...(out.get(r.scope) ?? []), r]);
      }
  }
  return out;
}

export async function revisionDocument(
  es: Client,
  names: IndexNames,
  scope: string,
  revisionId: string,
): Promise<RevisionDocument | undefined> {
  const res = await es.get<RevisionDocument>(
    { index: names.revisions, id: revisionDocId(scope, revisionId) },
    { ignore: [404] },
  );
  return res.found ? res._source : undefined;
}

/**
 * The records of one revision, complete (rating may read any field), from every monthly index
 * rather than the published alias: a revision's documents never change, so the alias swapping
 * while we read (our own re-rated revision being published) cannot change what is read.
 */
export async function* revisionRecords(
  es: Client,
  names: IndexNames,
  scope: string,
  revisionId: string,
): AsyncGenerator<UsageRecord> {
  const query = { term: { x_PublishKey: publishKey(scope, revisionId) } };
  for await (const hits of scanAll<Partial<UsageRecord>>(es, names.usagePattern, query, [
    ...USAGE_RECORD_FIELDS,
  ]))
    for (const h of hits) {
      // A field absent from _source (a document indexed before the field existed) is null, as the
      // Avro schema's defaults say, so the record encodes.
      const r: Record<string, unknown> = {};
      for (const f of USAGE_RECORD_FIELDS) r[f] = (h._source as Record<string, unknown>)[f] ?? null;
      r.Tags ??= {};
      yield r as unknown as UsageRecord;
    }
}
