import crypto from 'node:crypto';
import type { Client } from '@elastic/elasticsearch';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { classifyError } from '../runtime/errors';
import type { Logger } from '../runtime/logger';
import { createProcessRegistry, histogram, stageCounter } from '../runtime/metrics';
import type { IndexNames } from '../sinks/elasticsearch/indices';
import { renderInvoiceHtml } from '../invoices/html';
import type { InvoiceDocument } from '../invoices/types';
import { checkInvoiceLink, signInvoiceLink } from '../invoices/links';
import {
  canReadCustomer,
  createAuthenticator,
  type Principal,
  requireAdmin,
  requireMetricsReader,
} from './auth';
import { KeyRateLimiter } from './limits';
import type { ApiOptions } from './config';
import { ApiError, ApiErrorCodes, errorBody, notFound } from './errors';
import { openApiSpec } from './openapi';
import {
  identifier,
  onlyParams,
  parseDeadLetterQuery,
  parseInvoicePeriodQuery,
  parseRevisionsQuery,
  parseUsageQuery,
} from './params';
import {
  deadLetterSummary,
  elasticsearchReady,
  getInvoice,
  listInvoices,
  listPeriodInvoices,
  listRevisions,
  type QueryContext,
  toCustomerInvoiceResponse,
  toInvoiceResponse,
  usageSummary,
} from './queries';

export interface ApiDependencies {
  es: Client;
  names: IndexNames;
  options: ApiOptions;
  logger: Logger;
  /** Renders the /html route; default invoices/html.ts renderInvoiceHtml. */
  renderInvoiceHtml?: InvoiceHtmlRenderer;
  /** Registry /metrics serves; a fresh process registry when omitted. */
  registry?: Registry;
  /** Signed /html links (invoices/links.ts): secret (empty or absent: random per process) and lifetime. */
  htmlLinks?: { secret: string; ttlSeconds: number };
}

export interface RunningApi {
  url: string;
  close(): Promise<void>;
}

/** Renders an invoice as a complete, self-contained HTML document (every value escaped). */
export type InvoiceHtmlRenderer = (invoice: InvoiceDocument) => string;

type Access = 'any-key' | 'admin';
/** A route's work, given the caller and the query context of this request (its deadline signal). */
type Handler = (
  req: FastifyRequest,
  reply: FastifyReply,
  principal: Principal,
  ctx: QueryContext,
) => Promise<unknown>;

const HTML_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/**
 * Builds the API (not listening): fastify.inject works on it. Access rules, in the order they are
 * checked on every /v1 route:
 *   1. 401 without a valid key (before anything about the request is looked at);
 *   2. 403 on operator routes (revisions, dead letters) for customer keys;
 *   3. 404 for a customer key naming another customer, or an invoice of another customer: the
 *      same answer, byte for byte, as for a customer or invoice that does not exist, so a key
 *      cannot learn which other customers exist;
 *   4. 400 for bad parameters (unknown query parameters included).
 */
export function buildApi(deps: ApiDependencies): FastifyInstance {
  const { options, logger } = deps;
  const registry = deps.registry ?? createProcessRegistry();
  const auth = createAuthenticator(options.keys);
  const render = deps.renderInvoiceHtml ?? renderInvoiceHtml;
  const baseCtx: QueryContext = {
    es: deps.es,
    names: deps.names,
    pageSize: options.page_size,
    timeoutMs: options.request_timeout_ms,
  };
  const requests = stageCounter(
    registry,
    'meterflow_api_requests_total',
    'API requests, by route and status',
    ['route', 'method', 'status'],
  );
  const duration = histogram(
    registry,
    'meterflow_api_request_duration_seconds',
    'API request duration, by route',
    ['route', 'method'],
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  );

  // The authenticated key id of each request, for the request log (set by `route`).
  const keyIds = new WeakMap<FastifyRequest, string>();

  const app = Fastify({
    // Request logging is ours (info level, key id, route template, no headers): Authorization must never be logged.
    logger: false,
    requestTimeout: options.request_timeout_ms,
    return503OnClosing: true,
    // Customer ids and invoice ids (`<customer>:<period>`) can be longer than the default 100.
    routerOptions: { maxParamLength: 1024 },
  });

  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    return payload;
  });

  app.addHook('onResponse', async (req, reply) => {
    // The route template (bounded), never the raw URL: label values must not carry ids.
    const route = req.routeOptions.url ?? 'unmatched';
    requests.inc({ route, method: req.method, status: String(reply.statusCode) });
    duration.observe({ route, method: req.method }, reply.elapsedTime / 1000);
    // The audit trail of API use: which key (its id, never the key), which route, what answer.
    logger.info(
      {
        key_id: keyIds.get(req) ?? null,
        method: req.method,
        route,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'api request',
    );
  });

  app.setNotFoundHandler(async (_req, reply) => {
    return reply.code(404).send(errorBody(ApiErrorCodes.NOT_FOUND, 'no such route'));
  });

  app.setErrorHandler(async (err: unknown, req, reply) => {
    if (err instanceof ApiError) {
      if (err.status === 401) reply.header('www-authenticate', 'Bearer');
      return reply.code(err.status).send(errorBody(err.code, err.message));
    }
    const fastifyError = err as { code?: unknown; statusCode?: unknown; message?: unknown };
    // fastify's own request errors (bad content type, body too large, ...) are the client's fault
    // and their messages describe the request only. Foreign errors carrying a statusCode (an
    // Elasticsearch 400, say) are ours, so only FST_ codes qualify.
    if (
      typeof fastifyError.code === 'string' &&
      fastifyError.code.startsWith('FST_') &&
      typeof fastifyError.statusCode === 'number' &&
      fastifyError.statusCode >= 400 &&
      fastifyError.statusCode < 500
    ) {
      return reply
        .code(fastifyError.statusCode)
        .send(errorBody(ApiErrorCodes.BAD_REQUEST, String(fastifyError.message)));
    }
    const classified = classifyError(err);
    const route = req.routeOptions.url ?? 'unmatched';
    logger.error({ err, route, method: req.method, code: classified.code }, 'api request failed');
    if (classified.retryable) {
      return reply
        .code(503)
        .send(errorBody(ApiErrorCodes.UNAVAILABLE, 'the data store is unavailable; retry later'));
    }
    return reply.code(500).send(errorBody(ApiErrorCodes.INTERNAL, 'internal error'));
  });

  const limiter = new KeyRateLimiter(options.rate_limit_per_second, options.rate_limit_burst);
  let inFlight = 0;
  /*
   * Every /v1 route, in this order: authenticate (401); the key's rate limit (429 + Retry-After);
   * the role (403); the concurrency cap over all keys (503 + Retry-After); then the handler under
   * the request deadline, whose signal aborts the Elasticsearch requests still in flight. So the
   * Elasticsearch work one key, and all keys together, can cause is bounded.
   */
  const route = (
    url: string,
    access: Access,
    handler: Handler,
    /** A principal from something other than the Authorization header (a signed link), if any. */
    altAuth?: (req: FastifyRequest) => Principal | undefined,
  ) => {
    app.get(url, async (req, reply) => {
      const principal = altAuth?.(req) ?? auth.authenticate(req.headers.authorization);
      keyIds.set(req, principal.keyId);
      const wait = limiter.take(principal.keyId);
      if (wait > 0) {
        reply.header('retry-after', String(Math.ceil(wait)));
        throw new ApiError(
          429,
          ApiErrorCodes.THROTTLED,
          'too many requests for this key; retry after the Retry-After seconds',
        );
      }
      if (access === 'admin') requireAdmin(principal);
      if (inFlight >= options.max_concurrent_requests) {
        reply.header('retry-after', '1');
        throw new ApiError(
          503,
          ApiErrorCodes.UNAVAILABLE,
          'the API is serving as many requests as it may; retry shortly',
        );
      }
      inFlight++;
      const deadline = new AbortController();
      const timer =
        options.request_deadline_ms > 0
          ? setTimeout(() => deadline.abort(), options.request_deadline_ms)
          : undefined;
      try {
        return await handler(req, reply, principal, { ...baseCtx, signal: deadline.signal });
      } catch (err) {
        if (deadline.signal.aborted) {
          throw new ApiError(
            503,
            ApiErrorCodes.TIMEOUT,
            `the request took longer than ${options.request_deadline_ms} ms and was abandoned; ask for less (a shorter range) or retry`,
          );
        }
        throw err;
      } finally {
        clearTimeout(timer);
        inFlight--;
      }
    });
  };

  // Health and the spec: no key, so orchestrators can reach them; they reveal no customer data.
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    let ready = false;
    let status = 'ok';
    try {
      ready = await elasticsearchReady(baseCtx);
      if (!ready) status = 'cluster status red';
    } catch (err) {
      // The error text names hosts and ports; unauthenticated callers get a word, the log the rest.
      logger.warn({ err }, 'readiness check: elasticsearch unreachable');
      status = 'unreachable';
    }
    return reply.code(ready ? 200 : 503).send({ ready, checks: { elasticsearch: status } });
  });
  // Metrics name routes, key ids and volumes: a metrics (or admin) key reads them, Prometheus
  // sends it as a bearer token (authorization.credentials_file in a scrape config).
  app.get('/metrics', async (req, reply) => {
    const principal = auth.authenticate(req.headers.authorization);
    keyIds.set(req, principal.keyId);
    requireMetricsReader(principal);
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });
  app.get('/openapi.json', async () => openApiSpec);

  route('/v1/customers/:customer/usage', 'any-key', async (req, _reply, principal, ctx) => {
    const customer = ownCustomer(principal, (req.params as { customer?: string }).customer);
    const q = parseUsageQuery(req.query as Record<string, unknown>, options.max_range_days);
    return usageSummary(ctx, customer, q);
  });

  route('/v1/customers/:customer/invoices', 'any-key', async (req, _reply, principal, ctx) => {
    const customer = ownCustomer(principal, (req.params as { customer?: string }).customer);
    onlyParams(req.query as Record<string, unknown>, []);
    return { customer, invoices: await listInvoices(ctx, customer) };
  });

  const visibleInvoice = async (
    req: FastifyRequest,
    principal: Principal,
    ctx: QueryContext,
    params: string[] = [],
  ) => {
    const id = identifier('invoice_id', (req.params as { invoice_id?: string }).invoice_id);
    onlyParams(req.query as Record<string, unknown>, params);
    const invoice = await getInvoice(ctx, id);
    // Ownership is decided by the stored document's customer, not by parsing the id.
    if (!invoice || !canReadCustomer(principal, invoice.customer)) throw notFound('invoice');
    return invoice;
  };
  route('/v1/invoices/:invoice_id', 'any-key', async (req, _reply, principal, ctx) => {
    const invoice = await visibleInvoice(req, principal, ctx);
    return principal.role === 'admin' ? toInvoiceResponse(invoice) : toCustomerInvoiceResponse(invoice);
  });
  // Signed links (invoices/links.ts): a browser opens the page without a key. The link names one
  // invoice; the principal it yields reads that invoice's page and nothing else.
  const linkSecret = deps.htmlLinks?.secret || crypto.randomBytes(32);
  const linkTtl = deps.htmlLinks?.ttlSeconds ?? 900;
  // Requests let in by a valid link (not by a key): only they may carry expires and sig.
  const bySignedLink = new WeakSet<FastifyRequest>();
  const signedLink = (req: FastifyRequest): Principal | undefined => {
    const q = req.query as Record<string, unknown>;
    if (q.sig === undefined && q.expires === undefined) return undefined;
    const id = identifier('invoice_id', (req.params as { invoice_id?: string }).invoice_id);
    const check = checkInvoiceLink({
      secret: linkSecret,
      invoiceId: id,
      expires: typeof q.expires === 'string' ? q.expires : undefined,
      sig: typeof q.sig === 'string' ? q.sig : undefined,
      maxTtlSeconds: linkTtl,
    });
    if (check !== 'valid')
      throw new ApiError(
        401,
        ApiErrorCodes.UNAUTHORIZED,
        `invoice link ${check.replace('_', ' ')}: ask for a new one`,
      );
    bySignedLink.add(req);
    return { keyId: `signed-link:${id}`, role: 'admin' };
  };
  route(
    '/v1/invoices/:invoice_id/html',
    'any-key',
    async (req, reply, principal, ctx) => {
      const params = bySignedLink.has(req) ? ['expires', 'sig'] : [];
      const html = render(await visibleInvoice(req, principal, ctx, params));
      return reply.type('text/html; charset=utf-8').header('content-security-policy', HTML_CSP).send(html);
    },
    signedLink,
  );
  route('/v1/invoices/:invoice_id/html-link', 'any-key', async (req, _reply, principal, ctx) => {
    const invoice = await visibleInvoice(req, principal, ctx);
    return signInvoiceLink({ secret: linkSecret, invoiceId: invoice.invoice_id, ttlSeconds: linkTtl });
  });
  route('/v1/invoices', 'admin', async (req, _reply, _principal, ctx) => {
    const q = parseInvoicePeriodQuery(req.query as Record<string, unknown>);
    return { period: q.period, invoices: await listPeriodInvoices(ctx, q) };
  });

  route('/v1/revisions', 'admin', async (req, _reply, _principal, ctx) =>
    listRevisions(ctx, parseRevisionsQuery(req.query as never)),
  );
  route('/v1/dead-letters/summary', 'admin', async (req, _reply, _principal, ctx) =>
    deadLetterSummary(ctx, parseDeadLetterQuery(req.query as never)),
  );

  return app;
}

/** The customer of a customer route, or 404 when the key belongs to another customer. */
function ownCustomer(principal: Principal, param: string | undefined): string {
  const customer = identifier('customer', param);
  if (!canReadCustomer(principal, customer)) throw notFound('customer');
  return customer;
}

/** Builds the API and listens on options.host:options.port (0 = a free port). */
export async function startApi(deps: ApiDependencies): Promise<RunningApi> {
  const app = buildApi(deps);
  await app.listen({ host: deps.options.host, port: deps.options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : deps.options.port;
  const host = deps.options.host.includes(':') ? `[${deps.options.host}]` : deps.options.host;
  const url = `http://${host}:${port}`;
  deps.logger.info({ url, keys: deps.options.keys.length }, 'api listening');
  return { url, close: () => app.close() };
}
