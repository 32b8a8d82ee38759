import type { Registry } from 'prom-client';
import { gauge } from '../../runtime/metrics';

/**
 * How current a collector is, per export, as two timestamps (unix seconds) rather than ages: an
 * age is only as fresh as the last update, while `time() - timestamp` keeps growing in Prometheus
 * when a pass hangs or the process stops reporting.
 *
 *   meterflow_collector_last_success_timestamp_seconds{component,export}
 *       the end of the last pass whose discovery succeeded and that left nothing to resume
 *       (every new revision written or failed for good); absent until the first such pass
 *   meterflow_collector_oldest_pending_revision_timestamp_seconds{component,export}
 *       when the oldest revision discovered but not yet written was first seen; 0 when none
 *
 * First-seen times live in memory: after a restart a pending revision counts from its rediscovery,
 * so an alert on it can come late, never early.
 */
export class CollectorFreshness {
  private readonly lastSuccess;
  private readonly oldestPending;
  /** export -> (scope + revision) -> first seen (ms). */
  private readonly pending = new Map<string, Map<string, number>>();

  constructor(
    registry: Registry,
    private readonly component: string,
    private readonly now: () => number = Date.now,
  ) {
    this.lastSuccess = gauge(
      registry,
      'meterflow_collector_last_success_timestamp_seconds',
      'Unix time of the last pass that read the export and left nothing to resume',
      ['component', 'export'],
    );
    this.oldestPending = gauge(
      registry,
      'meterflow_collector_oldest_pending_revision_timestamp_seconds',
      'Unix time the oldest revision discovered but not yet written was first seen (0: none pending)',
      ['component', 'export'],
    );
  }

  /** After a successful discovery: these revisions are new (not completed, not failed for good). */
  discovered(exportName: string, revisions: Array<{ scope: string; revision_id: string }>): void {
    const before = this.pending.get(exportName) ?? new Map<string, number>();
    const now = this.now();
    const after = new Map<string, number>();
    for (const r of revisions) {
      const key = keyOf(r);
      after.set(key, before.get(key) ?? now);
    }
    this.pending.set(exportName, after);
    this.update(exportName);
  }

  /** A revision was written, or failed for good: it no longer waits. */
  settled(exportName: string, revision: { scope: string; revision_id: string }): void {
    this.pending.get(exportName)?.delete(keyOf(revision));
    this.update(exportName);
  }

  /** The pass over this export ended; `complete` when nothing was left to resume. */
  passEnded(exportName: string, complete: boolean): void {
    if (complete) this.lastSuccess.set({ component: this.component, export: exportName }, this.now() / 1000);
  }

  private update(exportName: string): void {
    const firstSeen = [...(this.pending.get(exportName)?.values() ?? [])];
    this.oldestPending.set(
      { component: this.component, export: exportName },
      firstSeen.length ? Math.min(...firstSeen) / 1000 : 0,
    );
  }
}

function keyOf(r: { scope: string; revision_id: string }): string {
  return `${r.scope}\n${r.revision_id}`;
}
