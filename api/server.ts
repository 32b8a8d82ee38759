import { elasticsearchReady } from '../runtime/elasticsearch';
import type { Client } from '@elastic/elasticsearch';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { classifyError } from '../runtime/errors';
import { createLogger, type Logger } from '../runtime/logger';
import { createProcessRegistry, histogram, stageCounter } from '../runtime/metrics';
import type { IndexNames } from '../sinks/elasticsearch/indices';
import type { InvoiceDocument } from '../invoices/types';
import { createAuthenticator, type Principal, requireAdmin, requireMetricsReader } from './auth';
import { KeyRateLimiter } from './limits';
import { parseApiOptions, type ApiOptions } from './config';
import { registerConsole } from './console';
import { ApiError, ApiErrorCodes, errorBody } from './errors';
import { errors, json, openApiBase, query, ref, str } from './openapi';
import { validationError } from './validation';
import type { EventIngestor } from '../ingest/ingestor';
import type { QueryContext } from './queries/context';
import { registerEventRoutes } from './routes/events';
import { registerInvoiceRoutes } from './routes/invoices';
import { registerOperatorRoutes } from './routes/operator';
import {
  ownCustomer,
  type Access,
  type Handler,
  type Route,
  type RouteExtra,
  type RouteSchema,
} from './routes/route';
import { registerUsageRoutes } from './routes/usage';

export type { RouteSchema } from './routes/route';

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
  /** First-party usage ingest (POST /v1/events); absent: the route answers 503 (events.enabled off). */
  events?: EventIngestor;
}

export interface RunningApi {
  url: string;
  close(): Promise<void>;
}

/** Renders an invoice as a complete, self-contained HTML document (every value escaped). */
export type InvoiceHtmlRenderer = (invoice: InvoiceDocument) => string;

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
    // Requests are validated against each route's schema; an unknown query parameter is refused
    // (not silently removed, fastify's default) so that a misspelt filter is never ignored.
    ajv: { customOptions: { removeAdditional: false } },
  });
  // Responses are sent as the handlers build them (JSON.stringify): their schemas document them
  // and the tests check them, but fastify's schema-driven serializer would drop or coerce fields.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

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
    // A request that does not fit its route's schema: the API's own codes and a message naming
    // the parameter (api/validation.ts).
    if ((err as FastifyError).validation) err = validationError(err as FastifyError, req.routeOptions.schema);
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
    api: FastifyInstance,
    url: string,
    access: Access,
    schema: RouteSchema,
    handler: Handler,
    extra: RouteExtra = {},
  ) => {
    const { method = 'GET', altAuth } = extra;
    api.route({
      method,
      url,
      schema,
      // Before fastify validates the request against the schema: 401, 429 and 403 come first,
      // so a caller without a valid key learns nothing about the parameters.
      onRequest: async (req, reply) => {
        const principal = altAuth?.(req) ?? auth.authenticate(req.headers.authorization);
        keyIds.set(req, principal.keyId);
        principals.set(req, principal);
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
        if (access === 'reader' && principal.role !== 'admin' && principal.role !== 'customer') {
          throw new ApiError(403, ApiErrorCodes.FORBIDDEN, 'this route needs an admin or customer key');
        }
        if (access === 'ingest' && principal.role !== 'ingest')
          throw new ApiError(403, ApiErrorCodes.FORBIDDEN, 'this route needs an ingest key');
        if (access !== 'ingest' && principal.role === 'ingest')
          throw new ApiError(403, ApiErrorCodes.FORBIDDEN, 'an ingest key may only send events');
        // Ownership before the parameters too: another customer's route answers 404 whatever
        // its query, exactly as a customer that does not exist.
        const { customer } = req.params as { customer?: string };
        if (customer !== undefined) ownCustomer(principal, customer);
      },
      handler: async (req, reply) => {
        const principal = principals.get(req) as Principal;
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
      },
    });
  };
  const principals = new WeakMap<FastifyRequest, Principal>();

  // The OpenAPI document is generated from the routes registered after this plugin: every route
  // carries its schema (RouteSchema), which fastify also validates requests against. Swagger UI
  // at /docs serves its assets from the installed package (no network needed).
  void app.register(swagger, { openapi: openApiBase as never });
  void app.register(swaggerUi, { routePrefix: '/docs' });
  void app.register(async (api) => {
    // Health and the spec: no key, so orchestrators can reach them; they reveal no customer data.
    api.get(
      '/healthz',
      {
        schema: {
          operationId: 'health',
          summary: 'Liveness: 200 while the process serves requests.',
          security: [],
          querystring: query(),
          response: { '200': json(ref('Health'), 'Alive.') },
        },
      },
      async () => ({ status: 'ok' }),
    );
    api.get(
      '/readyz',
      {
        schema: {
          operationId: 'ready',
          summary: 'Readiness: 200 when Elasticsearch answers and is not red, else 503.',
          security: [],
          querystring: query(),
          response: {
            '200': json(ref('Readiness'), 'Ready.'),
            '503': json(ref('Readiness'), 'Not ready; `checks` says why.'),
          },
        },
      },
      async (_req, reply) => {
        let ready = false;
        let status = 'ok';
        try {
          ready = await elasticsearchReady(baseCtx.es);
          if (!ready) status = 'cluster status red';
        } catch (err) {
          // The error text names hosts and ports; unauthenticated callers get a word, the log the rest.
          logger.warn({ err }, 'readiness check: elasticsearch unreachable');
          status = 'unreachable';
        }
        return reply.code(ready ? 200 : 503).send({ ready, checks: { elasticsearch: status } });
      },
    );
    // Metrics name routes, key ids and volumes: a metrics (or admin) key reads them, Prometheus
    // sends it as a bearer token (authorization.credentials_file in a scrape config).
    api.get(
      '/metrics',
      {
        schema: {
          operationId: 'metrics',
          summary: 'Prometheus metrics (text exposition format), for a metrics or admin key.',
          response: {
            '200': { description: 'Metrics.', content: { 'text/plain': { schema: str } } },
            '401': errors.Unauthorized,
            '403': errors.Forbidden,
          },
        },
      },
      async (req, reply) => {
        const principal = auth.authenticate(req.headers.authorization);
        keyIds.set(req, principal.keyId);
        requireMetricsReader(principal);
        const text = await registry.metrics();
        return reply.type(registry.contentType).send(text);
      },
    );
    api.get(
      '/openapi.json',
      {
        schema: {
          operationId: 'openapi',
          summary: 'This document.',
          security: [],
          querystring: query(),
          response: { '200': json({ type: 'object' }, 'The OpenAPI document.') },
        },
      },
      async () => app.swagger(),
    );

    // The /v1 routes, by what they serve (api/routes/).
    const v1: Route = (url, access, schema, handler, extra) =>
      route(api, url, access, schema, handler, extra);
    registerUsageRoutes(v1, options);
    registerInvoiceRoutes(v1, deps);
    registerOperatorRoutes(v1);
    registerEventRoutes(api, v1, deps);
    // The analyst console: static files only; its data comes from the /v1 routes with the user's key.
    registerConsole(api);
  });

  return app;
}

/** The OpenAPI document the API serves, generated from its routes (no server, no Elasticsearch). */
export async function generateOpenApiDocument(): Promise<Record<string, unknown>> {
  const app = buildApi({
    es: {} as Client,
    names: {} as IndexNames,
    options: parseApiOptions({}),
    logger: createLogger({ level: 'silent' }),
  });
  await app.ready();
  const doc = app.swagger() as unknown as Record<string, unknown>;
  await app.close();
  return doc;
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
