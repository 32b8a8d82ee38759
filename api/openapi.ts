import fs from 'node:fs';
import path from 'node:path';
import { ApiErrorCodes } from './errors';
import { GROUP_BY, MAX_LIMIT, REVISION_STATES } from './params';

/**
 * The OpenAPI 3.1 description of `meterflow api`. This object is what /openapi.json serves;
 * api/openapi.json is its committed rendering (a unit test checks they are equal;
 * regenerate with
 * `npx tsx api/openapi.ts && npx prettier --write api/openapi.json`). The integration tests compile the response
 * schemas below with ajv and validate every response they receive, so the spec cannot drift
 * from what the handlers send. Schemas are closed (additionalProperties: false) for that reason.
 *
 * Amounts are strings of exact decimal text, never JSON numbers: a JSON number is a binary
 * float in most clients, and a bill must not lose digits on the way out.
 */

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const response = (name: string) => ({ $ref: `#/components/responses/${name}` });
const nullable = (schema: Record<string, unknown>) => ({ anyOf: [schema, { type: 'null' }] });
const str = { type: 'string' };
const nullableStr = { type: ['string', 'null'] };
const count = { type: 'integer', minimum: 0 };
const dateTime = { type: 'string', format: 'date-time' };
const closed = (properties: Record<string, unknown>, description?: string) => ({
  type: 'object',
  ...(description ? { description } : {}),
  additionalProperties: false,
  required: Object.keys(properties),
  properties,
});
const json = (schema: Record<string, unknown>, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

const customerParam = {
  name: 'customer',
  in: 'path',
  required: true,
  description: 'Customer id (x_CustomerId). A customer key may only name its own customer.',
  schema: { type: 'string', minLength: 1, maxLength: 256 },
};
const invoiceIdParam = {
  name: 'invoice_id',
  in: 'path',
  required: true,
  description: 'Invoice id, `<customer>:<period>` (URL-encode the colon or not; both work).',
  schema: { type: 'string', minLength: 1, maxLength: 256 },
};

/** Errors every authenticated route can answer. */
const authenticatedErrors = {
  '400': response('BadRequest'),
  '401': response('Unauthorized'),
  '429': response('TooManyRequests'),
  '500': response('InternalError'),
  '503': response('Unavailable'),
};

// An invoice as an admin key sees it, and the customer view (api/queries.ts
// toCustomerInvoiceResponse): the same document without the cloud cost behind it, the margin and
// the lineage. Both are built from these parts, in the stored document's field order.
const lineFields = {
  line_id: str,
  kind: { type: 'string', enum: ['usage', 'plan', 'minimum_commitment', 'credit', 'adjustment'] },
  description: str,
  group: nullableStr,
  plan_id: nullableStr,
  quantity: nullable(ref('Decimal')),
  unit: nullableStr,
  amount_exact: ref('Decimal'),
  amount: ref('Decimal'),
  included_in_plan: nullable(ref('Decimal')),
};
const lineCost = {
  cloud_cost: { type: 'array', items: ref('CurrencyAmount') },
  trace: closed({
    revisions: { type: 'array', items: ref('RevisionRef') },
    source_objects: { type: 'array', items: str },
    source_object_count: count,
    record_count: count,
  }),
};
const adjusts = nullable(
  closed({
    invoice_id: str,
    invoice_number: nullableStr,
    period: str,
    line_id: str,
    billed_amount: ref('Decimal'),
    current_amount: ref('Decimal'),
    cause: str,
  }),
);
const invoiceFields = (line: string) => ({
  invoice_id: str,
  number: nullableStr,
  customer: str,
  period: str,
  currency: ref('Currency'),
  status: { type: 'string', enum: ['draft', 'finalized', 'void'] },
  generated_at: dateTime,
  finalized_at: nullable(dateTime),
  price_book_version: nullableStr,
  rounding: closed({ mode: { const: 'HALF_EVEN' }, minor_units: count }),
  lines: { type: 'array', items: ref(line) },
  // subtotal: the exact sum of the rounded line amounts (net); total = subtotal + taxes.
  subtotal: ref('Decimal'),
  taxes: { type: 'array', items: ref('InvoiceTax') },
  total: ref('Decimal'),
  document_type: { type: 'string', enum: ['invoice', 'credit_note'] },
  issue_date: nullable({ type: 'string', format: 'date' }),
  due_date: nullable({ type: 'string', format: 'date' }),
  // corrects: the invoice a credit note corrects; replaces / replaced_by: void and reissue.
  corrects: nullable(ref('DocumentRef')),
  replaces: nullable(ref('DocumentRef')),
  replaced_by: nullable(ref('DocumentRef')),
});
const invoiceCost = {
  cloud_cost: { type: 'array', items: ref('CurrencyAmount') },
  margin: nullable(ref('Decimal')),
  revisions: { type: 'array', items: ref('RevisionRef') },
};

export const openApiSpec = {
  openapi: '3.1.0',
  info: {
    title: 'meterflow API',
    version: '1.0.0',
    description:
      'Rated usage, invoices, revisions and dead letters of a meterflow deployment. ' +
      'Authenticate with `Authorization: Bearer <key>`. Admin keys read everything; a customer key reads its ' +
      "own customer only, and any other customer's usage or invoice answers 404, exactly like one that does " +
      'not exist. Operator routes (revisions, dead letters) answer 403 to customer keys. Every amount is a ' +
      'string of exact decimal text. Errors are `{ "error": { "code", "message" } }`.',
  },
  security: [{ bearerAuth: [] }],
  paths: {
    '/healthz': {
      get: {
        operationId: 'health',
        summary: 'Liveness: 200 while the process serves requests.',
        security: [],
        responses: { '200': json(ref('Health'), 'Alive.') },
      },
    },
    '/readyz': {
      get: {
        operationId: 'ready',
        summary: 'Readiness: 200 when Elasticsearch answers and is not red, else 503.',
        security: [],
        responses: {
          '200': json(ref('Readiness'), 'Ready.'),
          '503': json(ref('Readiness'), 'Not ready; `checks` says why.'),
        },
      },
    },
    '/metrics': {
      get: {
        operationId: 'metrics',
        summary: 'Prometheus metrics (text exposition format), for a metrics or admin key.',
        responses: {
          '200': { description: 'Metrics.', content: { 'text/plain': { schema: str } } },
          '401': response('Unauthorized'),
          '403': response('Forbidden'),
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'openapi',
        summary: 'This document.',
        security: [],
        responses: { '200': json({ type: 'object' }, 'The OpenAPI document.') },
      },
    },
    '/v1/customers/{customer}/usage': {
      get: {
        operationId: 'getCustomerUsage',
        summary:
          "A customer's published usage over [from, to) of ChargePeriodStart, summed exactly per group.",
        parameters: [
          customerParam,
          {
            name: 'from',
            in: 'query',
            required: true,
            description: 'First day, inclusive (00:00 UTC).',
            schema: { type: 'string', format: 'date' },
          },
          {
            name: 'to',
            in: 'query',
            required: true,
            description: 'Day after the last, exclusive (00:00 UTC). At most max_range_days after from.',
            schema: { type: 'string', format: 'date' },
          },
          {
            name: 'group_by',
            in: 'query',
            required: false,
            description: 'Group by ServiceName, SkuId, RegionId or UTC day of ChargePeriodStart.',
            schema: { type: 'string', enum: [...GROUP_BY], default: 'service' },
          },
        ],
        responses: {
          '200': json(ref('UsageSummary'), 'Exact sums of x_RatedCost per group and currency.'),
          '404': response('NotFound'),
          ...authenticatedErrors,
        },
      },
    },
    '/v1/customers/{customer}/invoices': {
      get: {
        operationId: 'listCustomerInvoices',
        summary: "A customer's invoices, newest period first.",
        parameters: [customerParam],
        responses: {
          '200': json(ref('InvoiceList'), 'Invoices (summaries; fetch one for its lines).'),
          '404': response('NotFound'),
          ...authenticatedErrors,
        },
      },
    },
    '/v1/invoices/{invoice_id}': {
      get: {
        operationId: 'getInvoice',
        summary: 'One invoice with its lines.',
        parameters: [invoiceIdParam],
        responses: {
          '200': json(
            { oneOf: [ref('Invoice'), ref('CustomerInvoice')] },
            'The invoice: the whole document for an admin key; for a customer key the customer view, without the cloud cost, the margin and the lineage.',
          ),
          '404': response('NotFound'),
          ...authenticatedErrors,
        },
      },
    },
    '/v1/invoices': {
      get: {
        operationId: 'listPeriodInvoices',
        summary: "A billing period's invoices of every customer (admin only).",
        parameters: [
          {
            name: 'period',
            in: 'query',
            required: true,
            schema: { type: 'string', pattern: '^\\d{4}-(0[1-9]|1[0-2])$' },
          },
          { name: 'customer', in: 'query', required: false, schema: { type: 'string', minLength: 1 } },
          {
            name: 'status',
            in: 'query',
            required: false,
            schema: { type: 'string', enum: ['draft', 'finalized', 'void'] },
          },
        ],
        responses: {
          '200': json(ref('PeriodInvoiceList'), 'Invoice summaries, by customer.'),
          '403': response('Forbidden'),
          ...authenticatedErrors,
        },
      },
    },
    '/v1/invoices/{invoice_id}/html-link': {
      get: {
        operationId: 'getInvoiceHtmlLink',
        summary:
          'A short-lived signed link to the invoice page, which a browser opens without a key (invoice.html_links).',
        parameters: [invoiceIdParam],
        responses: {
          '200': json(ref('SignedLink'), 'The link (a path on this API) and when it expires.'),
          '404': response('NotFound'),
          ...authenticatedErrors,
        },
      },
    },
    '/v1/invoices/{invoice_id}/html': {
      get: {
        operationId: 'getInvoiceHtml',
        summary:
          'One invoice as a printable HTML page: with a Bearer key, or with the expires and sig of a signed link (no key).',
        parameters: [
          invoiceIdParam,
          { name: 'expires', in: 'query', required: false, schema: { type: 'string', pattern: '^\\d+$' } },
          {
            name: 'sig',
            in: 'query',
            required: false,
            schema: { type: 'string', pattern: '^[0-9a-f]{64}$' },
          },
        ],
        responses: {
          '200': { description: 'The invoice page.', content: { 'text/html': { schema: str } } },
          '404': response('NotFound'),
          ...authenticatedErrors,
        },
      },
    },
    '/v1/revisions': {
      get: {
        operationId: 'listRevisions',
        summary: 'Revisions and their reconciliation state, most recently updated first (admin only).',
        parameters: [
          {
            name: 'state',
            in: 'query',
            required: false,
            schema: { type: 'string', enum: [...REVISION_STATES] },
          },
          { name: 'scope', in: 'query', required: false, schema: { type: 'string', minLength: 1 } },
          {
            name: 'billing_period',
            in: 'query',
            required: false,
            schema: { type: 'string', pattern: '^\\d{4}-(0[1-9]|1[0-2])$' },
          },
          {
            name: 'limit',
            in: 'query',
            required: false,
            schema: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: 100 },
          },
        ],
        responses: {
          '200': json(ref('RevisionList'), 'Matching revisions (at most `limit`) and how many match in all.'),
          '403': response('Forbidden'),
          ...authenticatedErrors,
        },
      },
    },
    '/v1/dead-letters/summary': {
      get: {
        operationId: 'deadLetterSummary',
        summary: 'Dead-letter counts by reason (and stage) and by stage (admin only).',
        parameters: [
          { name: 'stage', in: 'query', required: false, schema: { type: 'string', minLength: 1 } },
          { name: 'scope', in: 'query', required: false, schema: { type: 'string', minLength: 1 } },
          { name: 'customer', in: 'query', required: false, schema: { type: 'string', minLength: 1 } },
        ],
        responses: {
          '200': json(ref('DeadLetterSummary'), 'Counts.'),
          '403': response('Forbidden'),
          ...authenticatedErrors,
        },
      },
    },
  },
  components: {
    securitySchemes: {
      bearerAuth: {
        type: 'http',
        scheme: 'bearer',
        description: 'An API key from the `api.keys` config (stored there as its sha256).',
      },
    },
    responses: {
      BadRequest: json(ref('Error'), 'Invalid parameters.'),
      Unauthorized: json(ref('Error'), 'Missing or invalid API key.'),
      Forbidden: json(ref('Error'), 'The key may not use this route.'),
      NotFound: json(ref('Error'), 'No such resource, or not visible to this key.'),
      InternalError: json(ref('Error'), 'Unexpected failure (details are logged, never returned).'),
      TooManyRequests: {
        ...json(
          ref('Error'),
          'The key made more requests than api.rate_limit_per_second allows (code throttled).',
        ),
        headers: { 'Retry-After': { description: 'Seconds to wait.', schema: { type: 'integer' } } },
      },
      Unavailable: {
        ...json(
          ref('Error'),
          'Elasticsearch is unreachable or timed out (unavailable), the API is at api.max_concurrent_requests ' +
            '(unavailable, with Retry-After), or the request passed api.request_deadline_ms (timeout).',
        ),
        headers: {
          'Retry-After': { description: 'Seconds to wait, when sent.', schema: { type: 'integer' } },
        },
      },
    },
    schemas: {
      Error: closed({
        error: closed({
          code: { type: 'string', enum: Object.values(ApiErrorCodes) },
          message: str,
        }),
      }),
      Decimal: {
        type: 'string',
        description: 'Exact decimal text (no exponent).',
        pattern: '^-?[0-9]+(\\.[0-9]+)?$',
      },
      Currency: { type: 'string', pattern: '^[A-Z]{3}$' },
      Health: closed({ status: { const: 'ok' } }),
      Readiness: closed({
        ready: { type: 'boolean' },
        checks: { type: 'object', additionalProperties: str },
      }),
      AmountByCurrency: closed({ currency: ref('Currency'), amount: ref('Decimal'), record_count: count }),
      UsageGroup: closed(
        { key: nullableStr, currency: ref('Currency'), amount: ref('Decimal'), record_count: count },
        'One group and currency: key is the service, SKU, region or YYYY-MM-DD day (null when absent).',
      ),
      UsageSummary: closed({
        customer: str,
        from: { type: 'string', format: 'date' },
        to: { type: 'string', format: 'date' },
        group_by: { type: 'string', enum: [...GROUP_BY] },
        record_count: count,
        unrated_record_count: count,
        groups: { type: 'array', items: ref('UsageGroup') },
        totals: { type: 'array', items: ref('AmountByCurrency') },
      }),
      InvoiceSummary: closed({
        invoice_id: str,
        number: nullableStr,
        customer: str,
        period: str,
        currency: ref('Currency'),
        status: { type: 'string', enum: ['draft', 'finalized', 'void'] },
        total: ref('Decimal'),
        generated_at: dateTime,
        finalized_at: nullable(dateTime),
        document_type: { type: 'string', enum: ['invoice', 'credit_note'] },
      }),
      InvoiceList: closed({ customer: str, invoices: { type: 'array', items: ref('InvoiceSummary') } }),
      PeriodInvoiceList: closed({ period: str, invoices: { type: 'array', items: ref('InvoiceSummary') } }),
      SignedLink: closed({
        path: str,
        expires: { type: 'integer', description: 'Epoch seconds.' },
        expires_at: dateTime,
      }),
      RevisionRef: closed({ scope: str, revision_id: str }),
      DocumentRef: closed({ invoice_id: str, number: nullableStr }),
      InvoiceTax: closed(
        {
          label: str,
          jurisdiction: str,
          rate_percent: ref('Decimal'),
          base: ref('Decimal'),
          amount_exact: ref('Decimal'),
          amount: ref('Decimal'),
        },
        'Tax of the invoice: base (the subtotal) x rate_percent / 100, rounded once per invoice, HALF_EVEN, to the minor unit.',
      ),
      CurrencyAmount: closed({ currency: ref('Currency'), amount: ref('Decimal') }),
      InvoiceLine: closed({ ...lineFields, ...lineCost, adjusts }),
      Invoice: closed({ ...invoiceFields('InvoiceLine'), ...invoiceCost, fingerprint: str }),
      CustomerInvoiceLine: closed({ ...lineFields, adjusts }),
      CustomerInvoice: closed({ ...invoiceFields('CustomerInvoiceLine'), fingerprint: str }),
      Totals: closed({ currency: ref('Currency'), billed_cost: ref('Decimal'), rows: count }),
      Revision: closed(
        {
          scope: str,
          revision_id: str,
          provider: str,
          format: str,
          billing_period: str,
          files: { type: 'array', items: str },
          row_count: { type: ['integer', 'null'], minimum: 0 },
          collector_dead_letters: { type: ['integer', 'null'], minimum: 0 },
          control_totals: { type: 'array', items: ref('Totals') },
          completed_offset: { type: ['integer', 'null'], minimum: 0 },
          failed: { type: 'boolean', description: 'The collector abandoned the revision (REVISION_FAILED).' },
          state: { type: 'string', enum: [...REVISION_STATES] },
          indexed_rows: count,
          dead_lettered_rows: count,
          indexed_totals: { type: 'array', items: ref('Totals') },
          problems: { type: 'array', items: str },
          published_at: nullable(dateTime),
          updated_at: dateTime,
        },
        'A revision of a scope and its reconciliation: `state` published = every row accounted for and the ' +
          'exact totals match the export, visible in usage; unreconciled = counts or totals disagree ' +
          '(`problems` says how), not visible; pending/collecting = not complete yet.',
      ),
      RevisionList: closed({ total: count, revisions: { type: 'array', items: ref('Revision') } }),
      StageCount: closed({ stage: str, count }),
      DeadLetterSummary: closed({
        total: count,
        by_reason: {
          type: 'array',
          items: closed({ reason: str, count, by_stage: { type: 'array', items: ref('StageCount') } }),
        },
        by_stage: { type: 'array', items: ref('StageCount') },
      }),
    },
  },
};

export const OPENAPI_FILE = path.join(__dirname, 'openapi.json');

/** The spec as JSON text; the committed file is this, formatted by prettier (same JSON value). */
export function renderOpenApiSpec(): string {
  return `${JSON.stringify(openApiSpec, null, 2)}\n`;
}

if (require.main === module) {
  fs.writeFileSync(OPENAPI_FILE, renderOpenApiSpec());
  process.stdout.write(`wrote ${OPENAPI_FILE}\n`);
}
