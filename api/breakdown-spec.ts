import { BREAKDOWN_BY } from './breakdown';

/**
 * The named schemas of GET /v1/usage/breakdown's answer (api/breakdown.ts), spread into the
 * components of api/openapi.ts; the route's own schema sits beside its handler in api/routes/usage.ts.
 * Closed schemas, as everywhere in the document: the integration tests validate every answer
 * against them.
 */
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
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
      as_known_at: {
        type: 'string',
        format: 'date-time',
        description: 'The knowledge time of the answer (UTC), when the request gave one.',
      },
      price_book_version: { type: 'string', description: 'The price book version filter, when given.' },
    },
  },
};
