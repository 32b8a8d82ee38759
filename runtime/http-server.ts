import { z } from 'zod';
import { num, str } from './config-schema';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { classifyError, ErrorCodes, TransientError } from './errors';
/** The `ops:` section of meterflow.yaml: the endpoint of /metrics, /healthz and /readyz. */
export const OpsConfigSchema = z
  .object({
    host: str('Address of the /metrics, /healthz and /readyz endpoint of long-running processes.').default(
      '127.0.0.1',
    ),
    port: num('Port of that endpoint; 0 picks a free one (printed at start).').default(9464),
    shutdown_timeout_ms: num(
      'Longest a long-running process takes to stop on SIGTERM or SIGINT; then it exits anyway (safe: delivery rests on Kafka commits, not on a clean stop).',
    ).default(10_000),
  })
  .strict();

/**
 * A readiness check: resolves when the dependency is usable, rejects (or returns false) when not.
 * /readyz is unauthenticated, so only a NotReady's message is shown there; any other error (whose
 * text may name hosts, ports or credentials) shows as its error code.
 */
export type ReadinessCheck = () => Promise<boolean | void> | boolean | void;

/** A readiness failure whose message is safe to show on /readyz. */
export class NotReady extends TransientError {
  constructor(message: string) {
    super(ErrorCodes.UNAVAILABLE, message);
  }
}

export interface OpsServerOptions {
  host: string;
  port: number;
  registry: Registry;
  readiness?: Record<string, ReadinessCheck>;
}

export interface OpsServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The small HTTP endpoint every long-running process serves:
 *   GET /metrics  Prometheus text format from the process's registry
 *   GET /healthz  200 while the process is alive and its event loop turns
 *   GET /readyz   200 when every readiness check passes, 503 with the failing ones otherwise
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res
        .writeHead(405, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: 'method not allowed' }));
      return;
    }
    if (path === '/metrics') {
      options.registry
        .metrics()
        .then((text) => res.writeHead(200, { 'content-type': options.registry.contentType }).end(text))
        .catch(() => res.writeHead(500).end());
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok' }));
      return;
    }
    if (path === '/readyz') {
      void runReadiness(options.readiness ?? {}).then(({ ready, checks }) => {
        res
          .writeHead(ready ? 200 : 503, { 'content-type': 'application/json' })
          .end(JSON.stringify({ ready, checks }));
      });
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${address.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function runReadiness(
  checks: Record<string, ReadinessCheck>,
): Promise<{ ready: boolean; checks: Record<string, string> }> {
  const results: Record<string, string> = {};
  let ready = true;
  await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        const ok = await check();
        results[name] = ok === false ? 'not ready' : 'ok';
        if (ok === false) ready = false;
      } catch (err) {
        results[name] = err instanceof NotReady ? err.message : `failed (${classifyError(err).code})`;
        ready = false;
      }
    }),
  );
  return { ready, checks: results };
}
