import { Decimal, decimalToString } from '../../schemas/decimal';
import { accumulates } from './visibility';
import { publishKey, type RevisionDocument } from './indices';

/*
 * The publisher's decisions (publisher.ts runs them each pass), as pure functions so each rule is
 * testable on its own: whether a revision reconciles, which revision of a scope readers see, and
 * how far an accumulating scope's seals are shown.
 */

type Totals = RevisionDocument['control_totals'];

/** What the publisher found for one revision: all rows accounted for, and exact totals. */
export interface RevisionCount {
  indexed: number;
  deadLettered: number;
  totals: Totals;
}

/**
 * Whether a revision can be published, from the collector's COMPLETED record and what is in
 * Elasticsearch. Pure, so the rule is testable on its own:
 *
 *   pending       indexed + dead-lettered < row_count (rows still on their way)
 *   unreconciled  indexed + dead-lettered > row_count, or the exact per-currency billed-cost
 *                 totals or row counts differ from the COMPLETED record's control totals
 *   reconciled    otherwise: every row the collector produced is either a usage document or a
 *                 dead letter with a typed reason, and the money adds up to the last digit
 */
export function reconcile(
  revision: Pick<RevisionDocument, 'row_count' | 'control_totals'>,
  found: RevisionCount,
): { verdict: 'pending' | 'unreconciled' | 'reconciled'; problems: string[] } {
  const rows = revision.row_count ?? 0;
  const accounted = found.indexed + found.deadLettered;
  if (accounted < rows) return { verdict: 'pending', problems: [] };
  const problems: string[] = [];
  if (accounted > rows)
    problems.push(`${accounted} rows indexed or dead-lettered, but the collector produced ${rows}`);
  const expected = new Map(revision.control_totals.map((t) => [t.currency, t]));
  const actual = new Map(found.totals.map((t) => [t.currency, t]));
  for (const currency of [...new Set([...expected.keys(), ...actual.keys()])].sort()) {
    const e = expected.get(currency);
    const a = actual.get(currency);
    const eCost = new Decimal(e?.billed_cost ?? 0);
    const aCost = new Decimal(a?.billed_cost ?? 0);
    if (!eCost.equals(aCost))
      problems.push(
        `${currency}: billed cost ${decimalToString(aCost)} in Elasticsearch, ${decimalToString(eCost)} in the export`,
      );
    if ((e?.rows ?? 0) !== (a?.rows ?? 0))
      problems.push(`${currency}: ${a?.rows ?? 0} rows in Elasticsearch, ${e?.rows ?? 0} in the export`);
  }
  return { verdict: problems.length ? 'unreconciled' : 'reconciled', problems };
}

/**
 * For every scope, the revision readers should see: the newest (by its COMPLETED record's offset
 * on the control topic, which is keyed by scope and so ordered per scope) among the published one
 * and the reconciled candidates. Pure.
 */
export function chooseCurrent(
  revisions: Array<Pick<RevisionDocument, 'scope' | 'revision_id' | 'completed_offset' | 'state'>>,
  reconciled: Set<string>,
): Map<string, string> {
  const best = new Map<string, { id: string; offset: number }>();
  for (const r of revisions) {
    const key = publishKey(r.scope, r.revision_id);
    if (r.completed_offset === null) continue;
    if (r.state !== 'published' && !reconciled.has(key)) continue;
    const b = best.get(r.scope);
    if (!b || r.completed_offset > b.offset)
      best.set(r.scope, { id: r.revision_id, offset: r.completed_offset });
  }
  return new Map([...best].map(([scope, b]) => [scope, b.id]));
}

/**
 * For every ACCUMULATING scope (providers/platform: sealed first-party events), the newest
 * revision id W such that every completed revision of the scope with an id <= W is published or
 * reconciled now. Pure.
 *
 * Seal ids grow with commit order and one writer commits a scope's seals one transaction at a
 * time, with STARTED and COMPLETED in the seal's own transaction on the scope's control partition;
 * so the sink has recorded every seal below one it has recorded, and `x_Revision <= W` selects
 * exactly the reconciled seals. One range clause per scope then shows all of them: the filter
 * grows with scopes (ingest instances x periods), not with seals, and a new seal never supersedes
 * an older one. A seal that does not reconcile holds back the ones after it (they stay pending and
 * the unreconciled alert names it), exactly as an unreconciled export revision is never shown.
 */
export function accumulatedWatermarks(
  revisions: Array<
    Pick<RevisionDocument, 'scope' | 'revision_id' | 'completed_offset' | 'state' | 'failed' | 'format'>
  >,
  reconciled: Set<string>,
): Map<string, string> {
  const byScope = new Map<string, typeof revisions>();
  for (const r of revisions) {
    if (!accumulates(r) || r.failed) continue;
    const list = byScope.get(r.scope);
    if (list) list.push(r);
    else byScope.set(r.scope, [r]);
  }
  const out = new Map<string, string>();
  for (const [scope, list] of byScope) {
    let watermark: string | undefined;
    for (const r of [...list].sort((a, b) => (a.revision_id < b.revision_id ? -1 : 1))) {
      const ok =
        r.completed_offset !== null &&
        (r.state === 'published' || reconciled.has(publishKey(r.scope, r.revision_id)));
      if (!ok) break;
      watermark = r.revision_id;
    }
    if (watermark !== undefined) out.set(scope, watermark);
  }
  return out;
}
