/**
 * POST /v1/pricebook/diff (api/routes/operator.ts): its request body and the named schemas of its answer,
 * the PriceBookDiff of processors/preview/shadow.ts, spread into the components of
 * api/openapi.ts. Closed schemas, as everywhere in the document: the integration tests validate
 * every answer against them.
 */
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const count = { type: 'integer', minimum: 0 };
const str = { type: 'string' };
const nullableStr = { type: ['string', 'null'] };
const closed = (properties: Record<string, unknown>, description?: string) => ({
  type: 'object',
  ...(description ? { description } : {}),
  additionalProperties: false,
  required: Object.keys(properties),
  properties,
});
const change = {
  old: ref('Decimal'),
  new: ref('Decimal'),
  change: ref('Decimal'),
};

/** The request body: JSON, with the candidate book as text. */
export const priceBookDiffBody = {
  type: 'object',
  additionalProperties: false,
  required: ['book', 'period'],
  properties: {
    book: {
      type: 'string',
      minLength: 1,
      description:
        'The candidate price book: the text of a price-book file (YAML, or JSON, which is YAML too), validated ' +
        'exactly as `meterflow pricebook publish` validates it. The body is limited to 1 MiB.',
    },
    period: {
      type: 'string',
      pattern: '^\\d{4}-(0[1-9]|1[0-2])$',
      description: 'Billing period (x_BillingPeriod), YYYY-MM.',
    },
    customer: { type: 'string', minLength: 1, maxLength: 256, description: "Only this customer's usage." },
  },
};

const unratedRecords = (description: string) =>
  closed(
    {
      count,
      records: {
        type: 'array',
        description: 'The first 100 of them.',
        items: closed({
          record_id: str,
          reason: { type: 'string', enum: ['unpriced', 'no_exchange_rate', 'malformed_input'] },
          message: str,
          old_rule_id: nullableStr,
          old_amount: { anyOf: [ref('Decimal'), { type: 'null' }] },
          old_currency: nullableStr,
        }),
      },
    },
    description,
  );

export const priceBookDiffSchemas = {
  PriceBookDiffRule: closed(
    {
      rule_id: {
        ...nullableStr,
        description: 'x_PriceRuleId: the indexed one for old, the candidate one for new.',
      },
      ...change,
      old_records: count,
      new_records: count,
    },
    'One price rule: old sums the indexed x_RatedCost of the records it priced, new the candidate amounts of ' +
      'the records the candidate prices with it.',
  ),
  PriceBookDiffCurrency: closed({
    currency: ref('Currency'),
    ...change,
    rules: { type: 'array', items: ref('PriceBookDiffRule') },
  }),
  PriceBookDiffCustomer: closed({
    customer: str,
    records: count,
    currencies: { type: 'array', items: ref('PriceBookDiffCurrency') },
    unpriced: unratedRecords('Records no rule of the candidate matches: in old, not in new.'),
    failed: unratedRecords(
      'Records the candidate has a rule for but cannot rate (no exchange rate, a malformed field).',
    ),
    problems: {
      type: 'array',
      items: str,
      description: 'Indexed records without a rated cost (not in old).',
    },
  }),
  PriceBookDiff: closed(
    {
      period: str,
      customer: nullableStr,
      book: closed({ version: str, fingerprint: str }),
      records: count,
      customers: { type: 'array', items: ref('PriceBookDiffCustomer') },
      totals: { type: 'array', items: closed({ currency: ref('Currency'), ...change }) },
    },
    "The period's published usage rated with the candidate book (nothing published): exact old, new and " +
      'change (new - old) per customer, currency and rule.',
  ),
};
