import type { Client } from '@elastic/elasticsearch';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { buildApi, generateApiKey, hashApiKey, parseApiOptions } from '../../../api';
import { createLogger } from '../../../runtime/logger';
import type { IndexNames } from '../../../sinks/elasticsearch/indices';

const ADMIN_KEY = generateApiKey();
const CUSTOMER_KEY = generateApiKey();

/**
 * The API's OpenAPI document is generated from the routes: each route registered must carry a
 * schema (its operation and its parameters) and appear in the document, and fastify validates
 * requests against the same schemas. The Elasticsearch client is a stub that fails the test if
 * touched: everything here is answered before any query.
 */
describe('route schemas', () => {
  let app: FastifyInstance;
  let base = '';
  const routes: RouteOptions[] = [];
  beforeAll(async () => {
    const es = new Proxy({} as Client, {
      get: (_t, prop) => {
        throw new Error(`Elasticsearch touched (${String(prop)})`);
      },
    });
    app = buildApi({
      es,
      names: {} as IndexNames,
      options: parseApiOptions({
        keys: [
          { id: 'ops', role: 'admin', key_sha256: hashApiKey(ADMIN_KEY) },
          { id: 'acme', role: 'customer', customer: 'acme', key_sha256: hashApiKey(CUSTOMER_KEY) },
        ],
      }),
      logger: createLogger({ level: 'silent' }),
    });
    app.addHook('onRoute', (r) => void routes.push(r));
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(() => app.close());

  it('every route has a schema and appears in the generated document; only Swagger UI and the console static files are hidden', () => {
    const doc = app.swagger() as { paths: Record<string, Record<string, { operationId?: string }>> };
    // fastify adds a HEAD route beside every GET one; the document lists GET and POST operations.
    const methodOf = (r: RouteOptions) =>
      ['GET', 'POST'].find((m) => r.method === m || (Array.isArray(r.method) && r.method.includes(m)));
    const served = routes.filter((r) => methodOf(r) !== undefined);
    const hidden = served.filter((r) => (r.schema as { hide?: boolean } | undefined)?.hide);
    expect(hidden.length).toBeGreaterThan(0);
    for (const r of hidden) expect(r.url).toMatch(/^\/(docs|console)(\/|$)/);
    expect(hidden.map((r) => r.url)).toContain('/console');
    const documented = served.filter((r) => !(r.schema as { hide?: boolean } | undefined)?.hide);
    expect(documented.map((r) => r.url)).toContain('/v1/revisions');
    expect(documented.filter((r) => methodOf(r) === 'POST').map((r) => r.url)).toEqual([
      '/v1/pricebook/diff',
      '/v1/events',
    ]);
    for (const r of documented) {
      const schema = r.schema as { operationId?: string; response?: Record<string, unknown> } | undefined;
      expect({ url: r.url, operationId: typeof schema?.operationId }).toEqual({
        url: r.url,
        operationId: 'string',
      });
      expect(Object.keys(schema?.response ?? {})).toContain('200');
      const template = r.url.replace(/:([A-Za-z_]+)/g, '{$1}');
      const method = methodOf(r)!.toLowerCase();
      expect({ url: r.url, operationId: doc.paths[template]?.[method]?.operationId }).toEqual({
        url: r.url,
        operationId: schema?.operationId,
      });
    }
    expect(Object.keys(doc.paths).sort()).toEqual(
      [...new Set(documented.map((r) => r.url.replace(/:([A-Za-z_]+)/g, '{$1}')))].sort(),
    );
  });

  // Over a real socket: fastify's inject needs an ESM-only module that jest cannot load.
  const get = async (url: string, key?: string) => {
    const res = await fetch(`${base}${url}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
    const body = await res.text();
    return { statusCode: res.status, body, json: () => JSON.parse(body) };
  };

  it('answers a query that does not fit the schema with 400 and a message naming the parameter', async () => {
    const cases: [string, string, RegExp][] = [
      ['/v1/revisions?limit=many', 'invalid_parameter', /query parameter "limit" must be integer/],
      ['/v1/revisions?limit=5000', 'invalid_parameter', /query parameter "limit" must be <= 1000/],
      [
        '/v1/revisions?state=done',
        'invalid_parameter',
        /query parameter "state" must be equal to one of the allowed values \(collecting, pending/,
      ],
      [
        '/v1/revisions?customer=acme',
        'unknown_parameter',
        /unknown query parameter "customer" \(allowed: state, scope, billing_period, limit\)/,
      ],
      ['/v1/customers/acme/usage?from=2025-01-01', 'missing_parameter', /missing query parameter "to"/],
      [
        '/v1/customers/acme/usage?from=2025-13-01&to=2025-02-01',
        'invalid_parameter',
        /query parameter "from" must match format "date"/,
      ],
      ['/v1/customers/acme/invoices?customer=globex', 'unknown_parameter', /\(this route takes none\)/],
    ];
    for (const [url, code, message] of cases) {
      const res = await get(url, ADMIN_KEY);
      expect({ url, status: res.statusCode, code: res.json().error.code }).toEqual({
        url,
        status: 400,
        code,
      });
      expect(res.json().error.message).toMatch(message);
    }
  });

  const post = async (url: string, body: unknown, key?: string, contentType = 'application/json') => {
    const res = await fetch(`${base}${url}`, {
      method: 'POST',
      headers: { 'content-type': contentType, ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { statusCode: res.status, json: () => JSON.parse(text) };
  };

  it('POST /v1/pricebook/diff: 401, then 403 for a customer key, then the body checked against its schema', async () => {
    const book =
      'version: v2\nrules:\n  - { id: all, model: cost_plus, basis: BilledCost, markup_percent: 5 }\n';
    const url = '/v1/pricebook/diff';
    const noKey = await post(url, { period: 'nonsense' });
    expect([noKey.statusCode, noKey.json().error.code]).toEqual([401, 'unauthorized']);
    const customer = await post(url, { period: 'nonsense' }, CUSTOMER_KEY);
    expect([customer.statusCode, customer.json().error.code]).toEqual([403, 'forbidden']);
    const cases: [unknown, string, RegExp][] = [
      [{ book }, 'missing_parameter', /missing body field "period"/],
      [{ book, period: '2026-13' }, 'invalid_parameter', /body field "period" must match pattern/],
      [
        { book, period: '2026-10', limit: 1 },
        'unknown_parameter',
        /unknown body field "limit" \(allowed: book, period, customer\)/,
      ],
      [{ book: { rules: [] }, period: '2026-10' }, 'invalid_parameter', /body field "book" must be text/],
      // The candidate is validated as `pricebook publish` does it, before Elasticsearch is asked
      // anything (the client here throws when touched): line, rule and field named.
      [
        { book: book.replace('markup_percent: 5', 'markup_percent: lots'), period: '2026-10' },
        'invalid_parameter',
        /invalid price book body\.book \(1 problem\):\n {2}- body\.book line 3, rule "all": markup_percent: /,
      ],
    ];
    // The documented 415 and 413: a YAML body, and a book over the 1 MiB body limit.
    const yaml = await post(url, book, ADMIN_KEY, 'application/yaml');
    expect([yaml.statusCode, yaml.json().error.code]).toEqual([415, 'bad_request']);
    const huge = await post(
      url,
      { book: `# ${'x'.repeat(1024 * 1024)}\n${book}`, period: '2026-10' },
      ADMIN_KEY,
    );
    expect([huge.statusCode, huge.json().error.code]).toEqual([413, 'bad_request']);
    for (const [body, code, message] of cases) {
      const res = await post(url, body, ADMIN_KEY);
      expect({ body, status: res.statusCode, code: res.json().error.code }).toEqual({
        body,
        status: 400,
        code,
      });
      expect(res.json().error.message).toMatch(message);
    }
  });

  it('still answers 401 before looking at the parameters', async () => {
    const res = await get('/v1/revisions?limit=many');
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('unauthorized');
  });

  it('serves Swagger UI at /docs from local assets, and the document at /openapi.json', async () => {
    const page = await get('/docs/static/index.html');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('swagger-ui');
    const css = await get('/docs/static/swagger-ui.css');
    expect(css.statusCode).toBe(200);
    expect(css.body.length).toBeGreaterThan(1000);
    const doc = await get('/openapi.json');
    expect(doc.json()).toEqual(app.swagger());
  });
});
