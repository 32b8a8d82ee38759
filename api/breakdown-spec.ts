import { BREAKDOWN_BY } from './breakdown';

/**
 * The OpenAPI path and schemas of GET /v1/usage/breakdown (api/breakdown.ts), spread into
 * api/openapi.ts. Closed schemas, as everywhere in the spec: the integration tests validate every
 * answer against them.
 */
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const response = (name: string) => ({ $ref: `#/components/responses/${name}` });
const count = { type: 'integer', minimum: 0 };
const nullableStr = { type: ['string', 'null'] };
const date = { type: 'string', format: 'date' };

const rowProperties = {
  key: nullableStr,
  currency: ref('Currency'),
  amount: ref('Decimal'),
  record_count: count,
  cloud_cost: {
    type: 'array',
    items: ref('CurrencyAmount'),
    description: 'Admin keys only: BilledCost of the same records, per billing currency.',
  },
  margin: {
    anyOf: [ref('Decimal'), { type: 'null' }],
    description:
      'Admin keys only: amount minus cloud cost when the cloud cost is in this one currency, else null.',
  },
};
const row = (properties: Record<string, unknown>, required: string[], description: string) => ({
  type: 'object',
  description,
  additionalProperties: false,
  required,
  properties,
});
const { key: _key, ...totalProperties } = rowProperties;

export const breakdownPaths = {
  '/v1/usage/breakdown': {
    get: {
      operationId: 'getUsageBreakdown',
      summary:
        'Published usage over [from, to) of ChargePeriodStart, summed exactly per UTC day, key and currency ' +
        '(admin keys: every customer, with cloud cost and margin; customer keys: their own customer, without them).',
      parameters: [
        { name: 'from', in: 'query', required: true, description: 'First day, inclusive.', schema: date },
        {
          name: 'to',
          in: 'query',
          required: true,
          description: 'Day after the last, exclusive. At most max_range_days after from.',
          schema: date,
        },
        {
          name: 'by',
          in: 'query',
          required: false,
          description: 'The key: ServiceName, RegionId, x_CustomerId, or the value of the tag `tag_key`.',
          schema: { type: 'string', enum: [...BREAKDOWN_BY], default: 'service' },
        },
        {
          name: 'tag_key',
          in: 'query',
          required: false,
          description: 'The tag whose value is the key; required with by=tag, refused otherwise.',
          schema: { type: 'string', minLength: 1, maxLength: 256 },
        },
        {
          name: 'customer',
          in: 'query',
          required: false,
          description:
            "One customer's usage. A customer key always reads its own customer; naming another answers 404.",
          schema: { type: 'string', minLength: 1, maxLength: 256 },
        },
      ],
      responses: {
        '200': {
          description: 'Exact sums of x_RatedCost per day, key and currency; per key; per currency.',
          content: { 'application/json': { schema: ref('UsageBreakdown') } },
        },
        '400': response('BadRequest'),
        '401': response('Unauthorized'),
        '403': response('Forbidden'),
        '404': response('NotFound'),
        '429': response('TooManyRequests'),
        '500': response('InternalError'),
        '503': response('Unavailable'),
      },
    },
  },
};

export const breakdownSchemas = {
  BreakdownRow: row(
    rowProperties,
    ['key', 'currency', 'amount', 'record_count'],
    'One key and currency; key is null when the records carry none.',
  ),
  BreakdownDay: row(
    { day: date, ...rowProperties },
    ['day', 'key', 'currency', 'amount', 'record_count'],
    'One UTC day, key and currency.',
  ),
  BreakdownTotal: row(totalProperties, ['currency', 'amount', 'record_count'], 'One currency.'),
  UsageBreakdown: {
    type: 'object',
    additionalProperties: false,
    required: [
      'from',
      'to',
      'by',
      'tag_key',
      'customer',
      'includes_cost',
      'record_count',
      'unrated_record_count',
      'series',
      'groups',
      'totals',
    ],
    properties: {
      from: date,
      to: date,
      by: { type: 'string', enum: [...BREAKDOWN_BY] },
      tag_key: nullableStr,
      customer: { ...nullableStr, description: 'The customer covered, or null for every customer.' },
      includes_cost: { type: 'boolean', description: 'Rows carry cloud_cost and margin (admin keys).' },
      record_count: count,
      unrated_record_count: count,
      series: { type: 'array', items: ref('BreakdownDay') },
      groups: { type: 'array', items: ref('BreakdownRow') },
      totals: { type: 'array', items: ref('BreakdownTotal') },
    },
  },
};
