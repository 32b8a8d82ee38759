import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The metrics every stage emits, with the same names everywhere (after Vector's component spec):
 *
 *   meterflow_records_received_total{component}             records read from the stage's input
 *   meterflow_records_sent_total{component}                 records written to the stage's output
 *   meterflow_records_failed_total{component,error_type}    records that failed (dead-lettered or retried to exhaustion)
 *   meterflow_records_dropped_total{component,reason,intentional}  records dropped on purpose (duplicates) or not
 *
 * The registry is passed in, never global, so each process and each test owns its own.
 * Label values are bounded: component names and error codes, never object keys or record ids.
 */
export interface StageMetrics {
  readonly registry: Registry;
  received(n?: number): void;
  sent(n?: number): void;
  failed(errorType: string, n?: number): void;
  dropped(reason: string, intentional: boolean, n?: number): void;
}

function counter(registry: Registry, name: string, help: string, labelNames: string[]): Counter<string> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<string>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

export function gauge(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[] = [],
): Gauge<string> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<string>;
  return new Gauge({ name, help, labelNames, registers: [registry] });
}

export function histogram(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  buckets: number[],
): Histogram<string> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Histogram<string>;
  return new Histogram({ name, help, labelNames, buckets, registers: [registry] });
}

export function stageCounter(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
): Counter<string> {
  return counter(registry, name, help, labelNames);
}

export function createStageMetrics(registry: Registry, component: string): StageMetrics {
  const received = counter(
    registry,
    'meterflow_records_received_total',
    'Records read from the stage input',
    ['component'],
  );
  const sent = counter(registry, 'meterflow_records_sent_total', 'Records written to the stage output', [
    'component',
  ]);
  const failed = counter(registry, 'meterflow_records_failed_total', 'Records that failed, by error type', [
    'component',
    'error_type',
  ]);
  const dropped = counter(registry, 'meterflow_records_dropped_total', 'Records dropped, by reason', [
    'component',
    'reason',
    'intentional',
  ]);
  return {
    registry,
    received: (n = 1) => received.inc({ component }, n),
    sent: (n = 1) => sent.inc({ component }, n),
    failed: (errorType, n = 1) => failed.inc({ component, error_type: errorType }, n),
    dropped: (reason, intentional, n = 1) =>
      dropped.inc({ component, reason, intentional: String(intentional) }, n),
  };
}

/** A registry for a long-running process, with Node's default process metrics. */
export function createProcessRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'meterflow_' });
  return registry;
}
