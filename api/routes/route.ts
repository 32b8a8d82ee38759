import type { FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import { canReadCustomer, type Principal } from '../auth';
import { notFound } from '../errors';
import { identifier } from '../params';
import type { QueryContext } from '../queries/context';

/*
 * What a /v1 route module (api/routes/*.ts) is given: `Route`, which registers a route behind the
 * checks every /v1 route passes in the same order (server.ts: key, rate limit, role, ownership,
 * concurrency cap, request deadline). A module only says what its routes serve.
 */

/** Who may call a route: any key, admin keys only, or readers of usage (admin and customer keys, not metrics keys). */
export type Access = 'any-key' | 'admin' | 'reader' | 'ingest';

/** A route's work, given the caller and the query context of this request (its deadline signal). */
export type Handler = (
  req: FastifyRequest,
  reply: FastifyReply,
  principal: Principal,
  ctx: QueryContext,
) => Promise<unknown>;

/**
 * What every route declares: its OpenAPI operation (operationId, summary, responses) and the
 * schemas of its path parameters and query string, which fastify validates requests against.
 * A route without one cannot be registered through `Route`, and a unit test checks that every
 * route the API serves appears in the generated document.
 */
export interface RouteSchema extends FastifySchema {
  operationId: string;
  summary: string;
  response: Record<string, unknown>;
}

export interface RouteExtra {
  // POST only where a GET cannot carry the input (a whole price book): same checks, same order.
  method?: 'GET' | 'POST';
  /** A principal from something other than the Authorization header (a signed link), if any. */
  altAuth?: (req: FastifyRequest) => Principal | undefined;
}

/** Registers one /v1 route behind the API's checks. */
export type Route = (
  url: string,
  access: Access,
  schema: RouteSchema,
  handler: Handler,
  extra?: RouteExtra,
) => void;

/** The customer of a customer route, or 404 when the key belongs to another customer. */
export function ownCustomer(principal: Principal, param: string | undefined): string {
  const customer = identifier('customer', param);
  if (!canReadCustomer(principal, customer)) throw notFound('customer');
  return customer;
}
