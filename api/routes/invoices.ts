import crypto from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { renderInvoiceHtml } from '../../invoices/html';
import { checkInvoiceLink, signInvoiceLink } from '../../invoices/links';
import { canReadCustomer, type Principal } from '../auth';
import { ApiError, ApiErrorCodes, notFound } from '../errors';
import {
  authenticatedErrors,
  customerParams,
  errors,
  invoiceParams,
  json,
  query,
  ref,
  str,
} from '../openapi';
import { identifier, onlyParams, parseInvoicePeriodQuery } from '../params';
import type { QueryContext } from '../queries/context';
import {
  getInvoice,
  listInvoices,
  listPeriodInvoices,
  toCustomerInvoiceResponse,
  toInvoiceResponse,
} from '../queries/invoices';
import type { ApiDependencies } from '../server';
import { ownCustomer, type Route } from './route';

// The invoice page is self-contained (html.ts): its own inline styles and data: images, no
// scripts, nothing fetched. The policy says exactly that, so an injected value could run nothing.
const HTML_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/** Invoices: a customer's list, one invoice (JSON, HTML page, signed link), a period's list. */
export function registerInvoiceRoutes(route: Route, deps: ApiDependencies): void {
  const render = deps.renderInvoiceHtml ?? renderInvoiceHtml;
  route(
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
}
