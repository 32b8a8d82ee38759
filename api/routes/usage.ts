import { BREAKDOWN_BY, breakdownScope, parseBreakdownQuery, usageBreakdown } from '../breakdown';
import type { ApiOptions } from '../config';
import { authenticatedErrors, customerParams, errors, json, query, ref } from '../openapi';
import { GROUP_BY, HISTORY_PARAMS, parseUsageQuery } from '../params';
import { usageSummary } from '../queries/usage';
import { ownCustomer, type Route } from './route';

/** Published usage: one customer's sums per group, and the breakdown per day and key. */
export function registerUsageRoutes(route: Route, options: ApiOptions): void {
  route(
    '/v1/customers/:customer/usage',
    'any-key',
    {
      operationId: 'getCustomerUsage',
      summary: "A customer's published usage over [from, to) of ChargePeriodStart, summed exactly per group.",
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

  const day = (description: string) => ({ type: 'string', format: 'date', description });
  const id = (description: string) => ({ type: 'string', minLength: 1, maxLength: 256, description });
  route(
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
}
