import { exportedMetricNames, samplesOf } from './promql';

/** The record counters every stage exports under the same names (runtime/metrics.ts). */
export const STANDARD_STAGE_COUNTERS = [
  'meterflow_records_received_total',
  'meterflow_records_sent_total',
  'meterflow_records_failed_total',
  'meterflow_records_dropped_total',
] as const;

export interface StageCounts {
  received: number;
  sent: number;
  /** Over every error_type. */
  failed: number;
  /** Over every reason. */
  dropped: number;
}

/**
 * One component's standard record counters, read from its /metrics page (after Vector's component
 * compliance checks: a running component, not the helper that defines the metrics, is what must
 * export them). Throws when the page does not declare all four families, so a component that
 * forgot one fails the test that reads it. A counter without a sample for the component is 0.
 */
export function stageCountsOf(exposition: string, component: string): StageCounts {
  const declared = exportedMetricNames(exposition);
  const missing = STANDARD_STAGE_COUNTERS.filter((name) => !declared.has(name));
  if (missing.length > 0) throw new Error(`${component}: /metrics does not export ${missing.join(', ')}`);
  const sum = (name: string): number =>
    samplesOf(exposition, name)
      .filter((s) => s.labels.component === component)
      .reduce((total, s) => total + s.value, 0);
  return {
    received: sum('meterflow_records_received_total'),
    sent: sum('meterflow_records_sent_total'),
    failed: sum('meterflow_records_failed_total'),
    dropped: sum('meterflow_records_dropped_total'),
  };
}
