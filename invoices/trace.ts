import { cmp } from './lines';
import type { InvoiceLineTrace } from './types';
import type { UsageInput } from './usage';

/**
 * Line traces: which published revisions and source objects a line's amount came from, so every
 * line (and every adjustment) can be followed back to the usage behind it.
 */

export function sortRevisions(revs: { scope: string; revision_id: string }[]) {
  return [...revs].sort((a, b) =>
    a.scope === b.scope ? cmp(a.revision_id, b.revision_id) : cmp(a.scope, b.scope),
  );
}

export class TraceAcc {
  readonly revisions = new Map<string, { scope: string; revision_id: string }>();
  readonly objects = new Set<string>();
  records = 0;

  add(r: UsageInput): void {
    this.revisions.set(`${r.x_Scope}\u0000${r.x_Revision}`, { scope: r.x_Scope, revision_id: r.x_Revision });
    this.objects.add(r.x_SourceObject);
    this.records++;
  }

  merge(other: TraceAcc): void {
    for (const [k, v] of other.revisions) this.revisions.set(k, v);
    for (const o of other.objects) this.objects.add(o);
    this.records += other.records;
  }

  toTrace(maxObjects: number): InvoiceLineTrace {
    const objects = [...this.objects].sort();
    return {
      revisions: sortRevisions([...this.revisions.values()]),
      source_objects: objects.slice(0, maxObjects),
      source_object_count: objects.length,
      record_count: this.records,
    };
  }
}

export function mergeTraces(traces: InvoiceLineTrace[], into: TraceAcc, max: number): InvoiceLineTrace {
  // Source objects beyond the first `max` of each line are not kept; the count is a lower bound then.
  let count = 0;
  for (const t of traces) {
    for (const r of t.revisions) into.revisions.set(`${r.scope}\u0000${r.revision_id}`, r);
    for (const o of t.source_objects) into.objects.add(o);
    into.records += t.record_count;
    count = Math.max(count, t.source_object_count);
  }
  const out = into.toTrace(max);
  return { ...out, source_object_count: Math.max(out.source_object_count, count) };
}
