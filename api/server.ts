import crypto from 'node:crypto';
import { elasticsearchReady } from '../runtime/elasticsearch';
import type { Client } from '@elastic/elasticsearch';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifySchema,
} from 'fastify';
import type { Registry } from 'prom-client';
import { classifyError } from '../runtime/errors';
import { createLogger, type Logger } from '../runtime/logger';
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
import { parseApiOptions, type ApiOptions } from './config';
import { BREAKDOWN_BY, breakdownScope, parseBreakdownQuery, usageBreakdown } from './breakdown';
import { registerConsole } from './console';
import { ApiError, ApiErrorCodes, badParameter, errorBody, notFound } from './errors';
import {
  authenticatedErrors,
  customerParams,
  errors,
  invoiceParams,
  json,
  openApiBase,
  query,
  ref,
  str,
} from './openapi';
import { validationError } from './validation';
import { priceBookDiffBody } from './pricebook-diff-spec';
import { EVENT_MEDIA_TYPES, eventsBody, ingestResultSchema } from './events-spec';
import { IngestRefused, type EventIngestor } from '../ingest/ingestor';
import { loadCandidateBook, priceBookDiff } from '../processors/preview';
import { PriceBookError } from '../processors/price/errors';
import {
  HISTORY_PARAMS,
  GROUP_BY,
  identifier,
  MAX_LIMIT,
  onlyParams,
  parseDeadLetterQuery,
  parseInvoicePeriodQuery,
  parseRevisionsQuery,
  parseUsageQuery,
  REVISION_STATES,
} from './params';
import {
  deadLetterSummary,
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
  /** First-party usage ingest (POST /v1/events); absent: the route answers 503 (events.enabled off). */
  events?: EventIngestor;
}

export interface RunningApi {
  url: string;
  close(): Promise<void>;
}

/** Renders an invoice as a complete, self-contained HTML document (every value escaped). */
export type InvoiceHtmlRenderer = (invoice: InvoiceDocument) => string;

/** Who may call a route: any key, admin keys only, or readers of usage (admin and customer keys, not metrics keys). */
type Access = 'any-key' | 'admin' | 'reader' | 'ingest';
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
    extra: {
      // POST only where a GET cannot carry the input (a whole price book): same checks, same order.
      method?: 'GET' | 'POST';
      /** A principal from something other than the Authorization header (a signed link), if any. */
      altAuth?: (req: FastifyRequest) => Principal | undefined;
    } = {},
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

    route(
      api,
      '/v1/customers/:customer/usage',
      'any-key',
      {
        operationId: 'getCustomerUsage',
        summary:
          "A customer's published usage over [from, to) of ChargePeriodStart, summed exactly per group.",
        params: customerParams,
        querystring: query(
          {
            from: { type: 'string', format: 'date', description: 'First day, inclusive (00:00 UTC).' },
            to: {
              type: 'string',
              format: 'date',
              description: 'Day after the last, exclusive (00:00 UTC). At most max_range_days after from.',
            },
            group_by: {
              type: 'string',
              enum: [...GROUP_BY],
              default: 'service',
              description: 'Group by ServiceName, SkuId, RegionId or UTC day of ChargePeriodStart.',
            },
            ...HISTORY_PARAMS,
          },
          ['from', 'to'],
        ),
        response: {
          '200': json(ref('UsageSummary'), 'Exact sums of x_RatedCost per group and currency.'),
          '404': errors.NotFound,
          ...authenticatedErrors,
        },
      },
      async (req, _reply, principal, ctx) => {
        const customer = ownCustomer(principal, (req.params as { customer?: string }).customer);
        const q = parseUsageQuery(req.query as Record<string, unknown>, options.max_range_days);
        return usageSummary(ctx, customer, q);
      },
    );

    route(
      api,
      '/v1/customers/:customer/invoices',
      'any-key',
      {
        operationId: 'listCustomerInvoices',
        summary: "A customer's invoices, newest period first.",
        params: customerParams,
        querystring: query(),
        response: {
          '200': json(ref('InvoiceList'), 'Invoices (summaries; fetch one for its lines).'),
          '404': errors.NotFound,
          ...authenticatedErrors,
        },
      },
      async (req, _reply, principal, ctx) => {
        const customer = ownCustomer(principal, (req.params as { customer?: string }).customer);
        onlyParams(req.query as Record<string, unknown>, []);
        return { customer, invoices: await listInvoices(ctx, customer) };
      },
    );

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
    route(
      api,
      '/v1/invoices/:invoice_id',
      'any-key',
      {
        operationId: 'getInvoice',
        summary: 'One invoice with its lines.',
        params: invoiceParams,
        querystring: query(),
        response: {
          '200': json(
            { oneOf: [ref('Invoice'), ref('CustomerInvoice')] },
            'The invoice: the whole document for an admin key; for a customer key the customer view, without the cloud cost, the margin and the lineage.',
          ),
          '404': errors.NotFound,
          ...authenticatedErrors,
        },
      },
      async (req, _reply, principal, ctx) => {
        const invoice = await visibleInvoice(req, principal, ctx);
        return principal.role === 'admin' ? toInvoiceResponse(invoice) : toCustomerInvoiceResponse(invoice);
      },
    );
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
      api,
      '/v1/invoices/:invoice_id/html',
      'any-key',
      {
        operationId: 'getInvoiceHtml',
        summary:
          'One invoice as a printable HTML page: with a Bearer key, or with the expires and sig of a signed link (no key).',
        params: invoiceParams,
        querystring: query({
          expires: { type: 'string', pattern: '^\\d+$', description: 'From a signed link (html-link).' },
          sig: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'From a signed link (html-link).' },
        }),
        response: {
          '200': { description: 'The invoice page.', content: { 'text/html': { schema: str } } },
          '404': errors.NotFound,
          ...authenticatedErrors,
        },
      },
      async (req, reply, principal, ctx) => {
        const params = bySignedLink.has(req) ? ['expires', 'sig'] : [];
        const html = render(await visibleInvoice(req, principal, ctx, params));
        return reply.type('text/html; charset=utf-8').header('content-security-policy', HTML_CSP).send(html);
      },
      { altAuth: signedLink },
    );
    route(
      api,
      '/v1/invoices/:invoice_id/html-link',
      'any-key',
      {
        operationId: 'getInvoiceHtmlLink',
        summary:
          'A short-lived signed link to the invoice page, which a browser opens without a key (invoice.html_links).',
        params: invoiceParams,
        querystring: query(),
        response: {
          '200': json(ref('SignedLink'), 'The link (a path on this API) and when it expires.'),
          '404': errors.NotFound,
          ...authenticatedErrors,
        },
      },
      async (req, _reply, principal, ctx) => {
        const invoice = await visibleInvoice(req, principal, ctx);
        return signInvoiceLink({ secret: linkSecret, invoiceId: invoice.invoice_id, ttlSeconds: linkTtl });
      },
    );
    route(
      api,
      '/v1/invoices',
      'admin',
      {
        operationId: 'listPeriodInvoices',
        summary: "A billing period's invoices of every customer (admin only).",
        querystring: query(
          {
            period: { type: 'string', pattern: '^\\d{4}-(0[1-9]|1[0-2])$' },
            customer: { type: 'string', minLength: 1 },
            status: { type: 'string', enum: ['draft', 'finalized', 'void'] },
          },
          ['period'],
        ),
        response: {
          '200': json(ref('PeriodInvoiceList'), 'Invoice summaries, by customer.'),
          '403': errors.Forbidden,
          ...authenticatedErrors,
        },
      },
      async (req, _reply, _principal, ctx) => {
        const q = parseInvoicePeriodQuery(req.query as Record<string, unknown>);
        return { period: q.period, invoices: await listPeriodInvoices(ctx, q) };
      },
    );

    route(
      api,
      '/v1/revisions',
      'admin',
      {
        operationId: 'listRevisions',
        summary: 'Revisions and their reconciliation state, most recently updated first (admin only).',
        querystring: query({
          state: { type: 'string', enum: [...REVISION_STATES] },
          scope: { type: 'string', minLength: 1 },
          billing_period: { type: 'string', pattern: '^\\d{4}-(0[1-9]|1[0-2])$' },
          limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: 100 },
        }),
        response: {
          '200': json(ref('RevisionList'), 'Matching revisions (at most `limit`) and how many match in all.'),
          '403': errors.Forbidden,
          ...authenticatedErrors,
        },
      },
      async (req, _reply, _principal, ctx) => listRevisions(ctx, parseRevisionsQuery(req.query as never)),
    );
    route(
      api,
      '/v1/dead-letters/summary',
      'admin',
      {
        operationId: 'deadLetterSummary',
        summary: 'Dead-letter counts by reason (and stage) and by stage (admin only).',
        querystring: query({
          stage: { type: 'string', minLength: 1 },
          scope: { type: 'string', minLength: 1 },
          customer: { type: 'string', minLength: 1 },
        }),
        response: {
          '200': json(ref('DeadLetterSummary'), 'Counts.'),
          '403': errors.Forbidden,
          ...authenticatedErrors,
        },
      },
      async (req, _reply, _principal, ctx) =>
        deadLetterSummary(ctx, parseDeadLetterQuery(req.query as never)),
    );
    const day = (description: string) => ({ type: 'string', format: 'date', description });
    const id = (description: string) => ({ type: 'string', minLength: 1, maxLength: 256, description });
    route(
      api,
      '/v1/usage/breakdown',
      'reader',
      {
        operationId: 'getUsageBreakdown',
        summary:
          'Published usage over [from, to) of ChargePeriodStart, summed exactly per UTC day, key and currency ' +
          '(admin keys: every customer, with cloud cost and margin; customer keys: their own customer, without them).',
        querystring: query(
          {
            from: day('First day, inclusive.'),
            to: day('Day after the last, exclusive. At most max_range_days after from.'),
            by: {
              type: 'string',
              enum: [...BREAKDOWN_BY],
              default: 'service',
              description: 'The key: ServiceName, RegionId, x_CustomerId, or the value of the tag `tag_key`.',
            },
            tag_key: id('The tag whose value is the key; required with by=tag, refused otherwise.'),
            customer: id(
              "One customer's usage. A customer key always reads its own customer; naming another answers 404.",
            ),
            ...HISTORY_PARAMS,
          },
          ['from', 'to'],
        ),
        response: {
          '200': json(
            ref('UsageBreakdown'),
            'Exact sums of x_RatedCost per day, key and currency; per key; per currency.',
          ),
          '403': errors.Forbidden,
          '404': errors.NotFound,
          ...authenticatedErrors,
        },
      },
      async (req, _reply, principal, ctx) => {
        const q = parseBreakdownQuery(req.query as Record<string, unknown>, options.max_range_days);
        const customer = breakdownScope(principal, q.customer);
        return usageBreakdown(ctx, { ...q, customer }, principal.role === 'admin');
      },
    );
    route(
      api,
      '/v1/pricebook/diff',
      'admin',
      {
        operationId: 'diffPriceBook',
        summary:
          "Preview a candidate price book (admin only): the period's published usage rated with it, nothing " +
          'published; exact old, new and change per customer, currency and rule, and the records it cannot price.',
        querystring: query(),
        body: priceBookDiffBody,
        response: {
          '200': json(ref('PriceBookDiff'), 'The diff (processors/preview/shadow.ts).'),
          '403': errors.Forbidden,
          '413': json(ref('Error'), 'The body is larger than 1 MiB.'),
          '415': json(ref('Error'), 'The body is not application/json.'),
          ...authenticatedErrors,
        },
      },
      async (req, _reply, _principal, ctx) => {
        const body = req.body as { book: string; period: string; customer?: string };
        let book;
        try {
          book = loadCandidateBook({ text: body.book, sourceName: 'body.book' });
        } catch (err) {
          // Every problem, each with its line, rule and field, as `pricebook publish` words them.
          if (err instanceof PriceBookError) throw badParameter(err.message);
          throw err;
        }
        return priceBookDiff(ctx.es, ctx.names, book, {
          period: body.period,
          customer: body.customer,
          pageSize: ctx.pageSize,
          requestTimeoutMs: ctx.timeoutMs,
          signal: ctx.signal,
        });
      },
      { method: 'POST' },
    );
    // CloudEvents JSON (single and batch) is JSON; fastify parses application/json only by itself.
    api.addContentTypeParser(
      EVENT_MEDIA_TYPES,
      { parseAs: 'string' },
      api.getDefaultJsonParser('error', 'error'),
    );
    route(
      api,
      '/v1/events',
      'ingest',
      {
        operationId: 'ingestEvents',
        summary:
          'First-party usage events (ingest key): one CloudEvent (application/cloudevents+json) or a batch ' +
          '(application/cloudevents-batch+json). Each event is judged alone: the valid ones are written to Kafka ' +
          '(committed, acks=all) before the answer, invalid ones are reported by index and field, re-sent ones ' +
          '(same source + id) are counted once. 202 when events were written, 200 when none were new, 400 when ' +
          'every event was rejected.',
        querystring: query(),
        body: eventsBody,
        response: {
          '200': json(ingestResultSchema, 'Nothing new was written (every valid event was a duplicate).'),
          '202': json(ingestResultSchema, 'Events were written to Kafka.'),
          '403': errors.Forbidden,
          '413': json(ref('Error'), "More events than events.max_batch_events or the key's events_burst."),
          '415': json(ref('Error'), 'Not a CloudEvents JSON or JSON body.'),
          ...authenticatedErrors,
          '400': json(
            { oneOf: [ingestResultSchema, ref('Error')] },
            'Every event was rejected (the per-event reasons), or the body is not JSON.',
          ),
        },
      },
      async (req, reply, principal) => {
        if (!deps.events)
          throw new ApiError(503, ApiErrorCodes.UNAVAILABLE, 'event ingest is not enabled (events.enabled)');
        if (principal.role !== 'ingest')
          throw new ApiError(403, ApiErrorCodes.FORBIDDEN, 'needs an ingest key');
        const body = req.body as unknown;
        const batch = (req.headers['content-type'] ?? '').startsWith('application/cloudevents-batch+json');
        if (batch && !Array.isArray(body))
          throw badParameter('application/cloudevents-batch+json needs a JSON array of events');
        const events = Array.isArray(body) ? body : [body];
        try {
          const result = await deps.events.ingest(principal.keyId, principal.grant, events);
          reply.code(
            result.accepted > 0 ? 202 : result.rejected === events.length && events.length > 0 ? 400 : 200,
          );
          return result;
        } catch (err) {
          if (!(err instanceof IngestRefused)) throw err;
          if (err.retryAfterSeconds !== undefined)
            reply.header('retry-after', String(Math.max(1, Math.ceil(err.retryAfterSeconds))));
          const code =
            err.status === 429
              ? ApiErrorCodes.THROTTLED
              : err.status === 503
                ? ApiErrorCodes.UNAVAILABLE
                : ApiErrorCodes.BAD_REQUEST;
          throw new ApiError(err.status, code, err.message);
        }
      },
      { method: 'POST' },
    );
    // The analyst console: static files only; its data comes from the /v1 routes with the user's key.
    registerConsole(api);
  });

  return app;
}

/**
 * What every route declares: its OpenAPI operation (operationId, summary, responses) and the
 * schemas of its path parameters and query string, which fastify validates requests against.
 * A route without one cannot be registered through `route`, and a unit test checks that every
 * route the API serves appears in the generated document.
 */
export interface RouteSchema extends FastifySchema {
  operationId: string;
  summary: string;
  response: Record<string, unknown>;
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
