import { PriceBookError } from '../../processors/price/errors';
import { loadCandidateBook, priceBookDiff } from '../../processors/preview';
import { badParameter } from '../errors';
import { authenticatedErrors, errors, json, query, ref } from '../openapi';
import { MAX_LIMIT, parseDeadLetterQuery, parseRevisionsQuery, REVISION_STATES } from '../params';
import { priceBookDiffBody } from '../pricebook-diff-spec';
import { deadLetterSummary, listRevisions } from '../queries/operator';
import type { Route } from './route';

/** The operators' routes (admin keys): revisions, dead letters, and a candidate price book's diff. */
export function registerOperatorRoutes(route: Route): void {
  route(
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
    async (req, _reply, _principal, ctx) => deadLetterSummary(ctx, parseDeadLetterQuery(req.query as never)),
  );
  route(
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
}
