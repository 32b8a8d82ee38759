import path from 'node:path';
import { breakdownSchemas } from './breakdown-spec';
import { priceBookDiffSchemas } from './pricebook-diff-spec';
import { ApiErrorCodes } from './errors';
import { GROUP_BY, REVISION_STATES } from './params';

/**
 * The parts of the OpenAPI 3.1 description of `meterflow api` that routes share: the document's
 * head, the named schemas (`#/components/schemas/...`) and the helpers that route schemas are
 * written with. Each route's own schema (parameters, responses) sits beside its handler in
 * api/routes/ (api/server.ts for the unauthenticated ones); @fastify/swagger assembles the document from the registered routes, fastify
 * validates requests against the same schemas, and /openapi.json serves the result.
 * api/openapi.json is its committed rendering (a unit test checks they are equal; regenerate with
 * `npx tsx api/openapi-document.ts && npx prettier --write api/openapi.json`). The integration tests compile
 * the response schemas with ajv and validate every response they receive, so the document cannot
 * drift from what the handlers send. Schemas are closed (additionalProperties: false) for that reason.
 *
 * Amounts are strings of exact decimal text, never JSON numbers: a JSON number is a binary
 * float in most clients, and a bill must not lose digits on the way out.
 */

export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const nullable = (schema: Record<string, unknown>) => ({ anyOf: [schema, { type: 'null' }] });
export const str = { type: 'string' };
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
/** A closed object with more properties that are present only sometimes (not required). */
const withOptional = (schema: ReturnType<typeof closed>, optional: Record<string, unknown>) => ({
  ...schema,
  properties: { ...schema.properties, ...optional },
});
/** Echoed by the usage answers when the request gave them (docs/history.md). */
const HISTORY_ECHO = {
  as_known_at: {
    type: 'string',
    format: 'date-time',
    description: 'The knowledge time of the answer (UTC), when the request gave one.',
  },
  price_book_version: { type: 'string', description: 'The price book version filter, when given.' },
};
export const json = (schema: Record<string, unknown>, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

const idSchema = (description: string) => ({ type: 'string', minLength: 1, maxLength: 256, description });
/** Path parameters (fastify `params` schemas). */
export const customerParams = {
  type: 'object',
  required: ['customer'],
  properties: {
    customer: idSchema('Customer id (x_CustomerId). A customer key may only name its own customer.'),
  },
};
export const invoiceParams = {
  type: 'object',
  required: ['invoice_id'],
  properties: {
    invoice_id: idSchema('Invoice id, `<customer>:<period>` (URL-encode the colon or not; both work).'),
  },
};
/** A query string schema: unknown parameters are refused (api/params.ts says why). */
export const query = (properties: Record<string, unknown> = {}, required: string[] = []) => ({
  type: 'object',
  additionalProperties: false,
  ...(required.length ? { required } : {}),
  properties,
});

const errorResponse = (description: string, headers?: Record<string, unknown>) => ({
  ...json(ref('Error'), description),
  ...(headers ? { headers } : {}),
});
/** The error answers, inlined in each route's responses. */
export const errors = {
  BadRequest: errorResponse('Invalid parameters.'),
  Unauthorized: errorResponse('Missing or invalid API key.'),
  Forbidden: errorResponse('The key may not use this route.'),
  NotFound: errorResponse('No such resource, or not visible to this key.'),
  InternalError: errorResponse('Unexpected failure (details are logged, never returned).'),
  TooManyRequests: errorResponse(
    'The key made more requests than api.rate_limit_per_second allows (code throttled).',
    { 'Retry-After': { type: 'integer', description: 'Seconds to wait.' } },
  ),
  Unavailable: errorResponse(
    'Elasticsearch is unreachable or timed out (unavailable), the API is at api.max_concurrent_requests ' +
      '(unavailable, with Retry-After), or the request passed api.request_deadline_ms (timeout).',
    { 'Retry-After': { type: 'integer', description: 'Seconds to wait, when sent.' } },
  ),
};

/** Errors every authenticated route can answer. */
export const authenticatedErrors = {
  '400': errors.BadRequest,
  '401': errors.Unauthorized,
  '429': errors.TooManyRequests,
  '500': errors.InternalError,
  '503': errors.Unavailable,
};

// An invoice as an admin key sees it, and the customer view (api/queries/invoices.ts
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

/** The document's head and shared components, handed to @fastify/swagger (api/server.ts). */
export const openApiBase = {
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
  components: {
    securitySchemes: {
      bearerAuth: {
        type: 'http',
        scheme: 'bearer',
        description: 'An API key from the `api.keys` config (stored there as its sha256).',
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
      UsageSummary: withOptional(
        closed({
          customer: str,
          from: { type: 'string', format: 'date' },
          to: { type: 'string', format: 'date' },
          group_by: { type: 'string', enum: [...GROUP_BY] },
          record_count: count,
          unrated_record_count: count,
          groups: { type: 'array', items: ref('UsageGroup') },
          totals: { type: 'array', items: ref('AmountByCurrency') },
        }),
        HISTORY_ECHO,
      ),
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
      Revision: withOptional(
        closed(
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
            failed: {
              type: 'boolean',
              description: 'The collector abandoned the revision (REVISION_FAILED).',
            },
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
        {
          superseded_at: {
            ...dateTime,
            description:
              'When readers stopped seeing the revision (superseded): its documents are kept as history until sink.history_retention_days after it.',
          },
        },
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
      ...breakdownSchemas,
      ...priceBookDiffSchemas,
    },
  },
};

/**
 * The committed rendering of the document, for clients that need it without starting the API
 * (written by api/openapi-document.ts; a unit test checks it equals what the API generates). The
 * API itself never reads it: it serves what @fastify/swagger generates, so the built package
 * (dist/) does not need the file.
 */
export const OPENAPI_FILE = path.join(__dirname, 'openapi.json');

export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Record<string, unknown>>>;
  components: { schemas: Record<string, Record<string, unknown>> };
  [key: string]: unknown;
}
