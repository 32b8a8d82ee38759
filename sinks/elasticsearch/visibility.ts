import { findFormat } from '../../providers/registry';
import type { RevisionDocument } from './indices';

/**
 * What a reader of usage sees, as an Elasticsearch filter on the usage documents. Shared by the
 * publisher (the `P-usage` alias filter, now) and history (the same filter as known at a past
 * time, docs/history.md), so both select revisions the same way.
 */

/** Whether a revision's scope accumulates (first-party event seals) instead of being replaced. */
export function accumulates(r: Pick<RevisionDocument, 'format'>): boolean {
  return findFormat(r.format)?.revisions === 'accumulate';
}

/** The `P-usage` alias filter: the current revision of every replaced scope, and each accumulating scope up to its watermark. */
export function usageAliasFilter(keys: string[], watermarks: Map<string, string>): Record<string, unknown> {
  if (watermarks.size === 0) return { terms: { x_PublishKey: keys } };
  return {
    bool: {
      minimum_should_match: 1,
      should: [
        { terms: { x_PublishKey: keys } },
        ...[...watermarks]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([scope, w]) => ({
            bool: { filter: [{ term: { x_Scope: scope } }, { range: { x_Revision: { lte: w } } }] },
          })),
      ],
    },
  };
}
