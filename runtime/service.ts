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
  /** /readyz checks by name; components add theirs once they exist. */
  readiness: Record<string, ReadinessCheck>;
}

export async function startService(
  config: MeterflowConfig,
  component: string,
  options: { ops: boolean; readiness?: Record<string, ReadinessCheck>; opsPort?: number } = { ops: true },
): Promise<Service> {
  const logger = createLogger({ level: config.log.level, component });
  const registry = createProcessRegistry();
  const shutdown = new Shutdown(logger, { timeoutMs: config.ops.shutdown_timeout_ms });
  shutdown.installSignalHandlers();
  const readiness: Record<string, ReadinessCheck> = { ...options.readiness };
  let ops: OpsServer | undefined;
  if (options.ops) {
    ops = await startOpsServer({
      host: config.ops.host,
      port: options.opsPort ?? config.ops.port,
      registry,
      readiness,
    });
    logger.info({ url: ops.url }, 'ops endpoint: /metrics /healthz /readyz');
    shutdown.register('ops endpoint', () => ops!.close());
  }
  return { logger, registry, shutdown, ops, readiness };
}

/**
 * What a long-running command does when one of its consumers stops for good (ConsumerHealth): log
 * it, stop within the shutdown deadline, and exit 1, so that the supervisor or Kubernetes starts
 * a fresh process. Idling with a dead consumer would look healthy and process nothing.
 */
export function exitOnFatal(
  service: Pick<Service, 'logger' | 'shutdown'>,
  what: string,
): (err: Error) => void {
  return (err) => {
    // Already shutting down (a signal, or the shutdown of an embedding program such as a test or
    // the demo): whoever began it decides how the process ends. A consumer that fails while it is
    // being stopped loses nothing (what it had not committed is read again by the next consumer),
    // and exiting here would end the embedding program in the middle of its own work.
    if (service.shutdown.signal.aborted) {
      service.logger.warn(
        { err, consumer: what },
        `${what}: the consumer stopped on an error while shutting down; nothing to restart`,
      );
      return;
    }
    service.logger.fatal(
      { err, consumer: what },
      `${what}: the consumer stopped on a non-retriable error; exiting so that the process is restarted`,
    );
    void service.shutdown.run().then(() => process.exit(1));
  };
}
