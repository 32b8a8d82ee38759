import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP fault injector in front of a real server: every request is forwarded to `upstream`
 * unchanged, unless the current rule answers it with an error status instead (S3's 503 SlowDown,
 * Elasticsearch's 429 rejected execution). toxiproxy breaks connections at the TCP level; a server
 * *answering* "slow down" is an HTTP-level fault, which this adds on top. What gets through is the
 * real server's own answer.
 */
export interface HttpFault {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

/** Decides, per request, whether to answer with a fault; undefined forwards it. */
export type FaultRule = (req: { method: string; url: string; seq: number }) => HttpFault | undefined;

export interface HttpFaultProxy {
  /** Base URL meterflow is pointed at instead of the server. */
  readonly url: string;
  /** Requests answered with a fault so far. */
  readonly faulted: number;
  /** Replaces the rule (undefined: forward everything). */
  setRule(rule: FaultRule | undefined): void;
  close(): Promise<void>;
}

/** S3's throttling answer (the error code the SDKs treat as retryable). */
export const S3_SLOW_DOWN: HttpFault = {
  status: 503,
  headers: { 'content-type': 'application/xml' },
  body:
    '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>' +
    '<Message>Please reduce your request rate.</Message><RequestId>fault</RequestId></Error>',
};

/** Elasticsearch's answer when its write queue is full. */
export const ES_TOO_MANY_REQUESTS: HttpFault = {
  status: 429,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    error: {
      root_cause: [{ type: 'es_rejected_execution_exception', reason: 'rejected execution (fault)' }],
      type: 'es_rejected_execution_exception',
      reason: 'rejected execution (fault)',
    },
    status: 429,
  }),
};

export async function startHttpFaultProxy(upstream: string): Promise<HttpFaultProxy> {
  const target = new URL(upstream);
  let rule: FaultRule | undefined;
  let seq = 0;
  let faulted = 0;
  const server = http.createServer((req, res) => {
    const fault = rule?.({ method: req.method ?? 'GET', url: req.url ?? '/', seq: seq++ });
    if (fault) {
      faulted++;
      // Read the request body first, as a server does, so the client sees an answer, not a reset.
      req.resume();
      req.on('end', () => {
        res.writeHead(fault.status, { ...fault.headers, 'content-length': Buffer.byteLength(fault.body) });
        res.end(fault.body);
      });
      return;
    }
    const forward = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        // The Host header stays the one the client sent: S3 clients sign it (SigV4).
        headers: req.headers,
        // A connection per request: a kept-alive upstream socket that the next hop closed while
        // idle would fail the following request (a fault this injector must not add by itself).
        agent: false,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${target.pathname === '/' ? '' : target.pathname}`,
    get faulted() {
      return faulted;
    },
    setRule: (r) => {
      rule = r;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
