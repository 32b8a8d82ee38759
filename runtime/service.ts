import type { Registry } from 'prom-client';
import type { MeterflowConfig } from './config';
import { createLogger, type Logger } from './logger';
import { createProcessRegistry } from './metrics';
import { startOpsServer, type OpsServer, type ReadinessCheck } from './http-server';
import { Shutdown } from './shutdown';

/**
 * What every long-running meterflow process sets up: a logger, its own metrics registry, the ops
 * endpoint (/metrics, /healthz, /readyz) and graceful shutdown on SIGTERM/SIGINT.
 */
export interface Service {
  logger: Logger;
  registry: Registry;
  shutdown: Shutdown;
  ops: OpsServer | undefined;
}

export async function startService(
  config: MeterflowConfig,
  component: string,
  options: { ops: boolean; readiness?: Record<string, ReadinessCheck>; opsPort?: number } = { ops: true },
): Promise<Service> {
  const logger = createLogger({ level: config.log.level, component });
  const registry = createProcessRegistry();
  const shutdown = new Shutdown(logger);
  shutdown.installSignalHandlers();
  let ops: OpsServer | undefined;
  if (options.ops) {
    ops = await startOpsServer({
      host: config.ops.host,
      port: options.opsPort ?? config.ops.port,
      registry,
      readiness: options.readiness,
    });
    logger.info({ url: ops.url }, 'ops endpoint: /metrics /healthz /readyz');
    shutdown.register('ops endpoint', () => ops!.close());
  }
  return { logger, registry, shutdown, ops };
}
