import type { Client } from '@elastic/elasticsearch';
import { scanAll } from '../runtime/elasticsearch';
import { ErrorCodes, PermanentError } from '../runtime/errors';
import {
  type DeadLetterDocument,
  type IndexNames,
  publishKey,
  type RevisionDocument,
} from '../sinks/elasticsearch/indices';

/**
 * The completeness gate of finalize: a period is complete when none of its usage is still on the
 * way. Refused while the period has
 *   - PENDING revisions: of `billing_period` = P, in state collecting, pending or unreconciled, and
 *     not replaced by a newer published revision of the same scope (the publisher would never
 *     publish those; by `completed_offset`, which orders the revisions of a scope), or
 *   - OPEN dead letters: letters of the period's current revisions (any stage, collector included)
 *     whose record was not indexed since (a replayed letter whose record is now in the revision's
 *     usage is closed). They are in the revision's reconciliation but not on any invoice.
 * Superseded and failed revisions, and their letters, do not count. This is what /v1/revisions and
 * /v1/dead-letters/summary show, read straight from the same indices.
 */

export interface PendingRevision {
  scope: string;
  revision_id: string;
  state: string;
}

export interface OpenDeadLetters {
  scope: string;
  revision_id: string;
  count: number;
  reasons: string[];
}

export interface PeriodCompleteness {
  period: string;
  pending: PendingRevision[];
  deadLetters: OpenDeadLetters[];
  complete: boolean;
}

const NOT_FINAL = new Set(['collecting', 'pending', 'unreconciled']);
const GONE = new Set(['superseded', 'failed']);

export async function periodCompleteness(
  es: Client,
  names: IndexNames,
  period: string,
): Promise<PeriodCompleteness> {
  const revisions: RevisionDocument[] = [];
  const fields = ['scope', 'revision_id', 'state', 'completed_offset', 'failed'];
  for await (const hits of scanAll<RevisionDocument>(
    es,
    names.revisions,
    { term: { billing_period: period } },
    fields,
  ))
    for (const h of hits) revisions.push(h._source!);
  const newestPublished = new Map<string, number>();
  for (const r of revisions)
    if (r.state === 'published' && r.completed_offset !== null)
      newestPublished.set(r.scope, Math.max(newestPublished.get(r.scope) ?? -1, r.completed_offset));
  const replaced = (r: RevisionDocument) =>
    r.completed_offset !== null && r.completed_offset < (newestPublished.get(r.scope) ?? -1);
  const pending = revisions
    .filter((r) => NOT_FINAL.has(r.state) && !r.failed && !replaced(r))
    .map((r) => ({ scope: r.scope, revision_id: r.revision_id, state: r.state }))
    .sort((a, b) => (a.scope + a.revision_id < b.scope + b.revision_id ? -1 : 1));

  const deadLetters: OpenDeadLetters[] = [];
  for (const r of revisions) {
    if (GONE.has(r.state) || r.failed || replaced(r)) continue;
    const open = await openDeadLetters(es, names, r);
    if (open) deadLetters.push(open);
  }
  deadLetters.sort((a, b) => (a.scope + a.revision_id < b.scope + b.revision_id ? -1 : 1));
  return { period, pending, deadLetters, complete: pending.length === 0 && deadLetters.length === 0 };
}

async function openDeadLetters(
  es: Client,
  names: IndexNames,
  r: RevisionDocument,
): Promise<OpenDeadLetters | undefined> {
  const query = {
    bool: { filter: [{ term: { scope: r.scope } }, { term: { revision_id: r.revision_id } }] },
  };
  const byRecord = new Map<string, DeadLetterDocument>();
  for await (const hits of scanAll<DeadLetterDocument>(es, names.deadLetters, query, [
    'record_id',
    'object',
    'line',
    'reason',
    'stage',
  ]))
    for (const h of hits) {
      const d = h._source!;
      // A row dead-lettered twice (a replay that failed again) is one row.
      const id = d.record_id ?? `${d.object}#${d.line}`;
      if (!byRecord.has(id)) byRecord.set(id, d);
    }
  if (byRecord.size === 0) return undefined;
  const recordIds = [...byRecord.entries()].filter(([, d]) => d.record_id !== null).map(([id]) => id);
  const indexed = new Set<string>();
  for (let i = 0; i < recordIds.length; i += 1000) {
    const res = await es.search({
      index: names.usagePattern,
      ignore_unavailable: true,
      allow_no_indices: true,
      size: 1000,
      _source: false,
      query: {
        bool: {
          filter: [
            { ids: { values: recordIds.slice(i, i + 1000) } },
            { term: { x_PublishKey: publishKey(r.scope, r.revision_id) } },
          ],
        },
      },
    });
    for (const h of res.hits.hits) if (h._id) indexed.add(h._id);
  }
  const open = [...byRecord.entries()].filter(([id]) => !indexed.has(id));
  if (open.length === 0) return undefined;
  return {
    scope: r.scope,
    revision_id: r.revision_id,
    count: open.length,
    reasons: [...new Set(open.map(([, d]) => `${d.stage}/${d.reason}`))].sort(),
  };
}

/** The gate's refusal: what is pending, what is open, and how to proceed. */
export class IncompletePeriodError extends PermanentError {
  readonly completeness: PeriodCompleteness;
  constructor(c: PeriodCompleteness) {
    super(ErrorCodes.MALFORMED_INPUT, describeIncomplete(c), {
      details: { period: c.period, pending: c.pending.length, dead_letters: c.deadLetters.length },
    });
    this.completeness = c;
  }
}

export function describeIncomplete(c: PeriodCompleteness): string {
  const parts = [`period ${c.period} is not complete; not finalizing.`];
  if (c.pending.length)
    parts.push(
      `Pending revisions (${c.pending.length}): ${c.pending.map((p) => `${p.scope}@${p.revision_id} (${p.state})`).join(', ')}.`,
    );
  if (c.deadLetters.length)
    parts.push(
      `Open dead letters (${c.deadLetters.reduce((n, d) => n + d.count, 0)}): ` +
        `${c.deadLetters.map((d) => `${d.count} of ${d.scope}@${d.revision_id} [${d.reasons.join(', ')}]`).join('; ')}.`,
    );
  parts.push(
    'Wait for the publisher, replay or resolve the letters (meterflow replay), or finalize anyway with ' +
      '--force-incomplete --reason "<why>" (recorded on the invoice and in the audit log).',
  );
  return parts.join(' ');
}
