import type { PublicationState } from '../sinks/elasticsearch/indices';
import { parseKnowledgeTime } from '../sinks/elasticsearch/history';
import { ApiError, ApiErrorCodes, badParameter } from './errors';

/**
 * Query and path parameter parsing: pure functions, so every 400 is unit-tested without a server.
 * Unknown query parameters are rejected rather than ignored: a client that sends `?customer=x` or
 * a misspelt filter must not receive an unfiltered answer it believes is filtered.
 */

export type Query = Record<string, unknown>;

export function onlyParams(query: Query | undefined, allowed: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(query ?? {})) {
    if (!allowed.includes(name)) {
      throw new ApiError(
        400,
        ApiErrorCodes.UNKNOWN_PARAMETER,
        allowed.length
          ? `unknown query parameter "${name}" (allowed: ${allowed.join(', ')})`
          : `unknown query parameter "${name}" (this route takes none)`,
      );
    }
    // fastify has validated the query against the route's schema first, turning integers into numbers.
    if (typeof value === 'number') {
      out[name] = String(value);
      continue;
    }
    if (typeof value !== 'string') throw badParameter(`query parameter "${name}" must be given once`);
    out[name] = value;
  }
  return out;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAY_MS = 86_400_000;

/** A calendar date YYYY-MM-DD (UTC), as epoch ms of its midnight; rejects 2025-02-30 and friends. */
export function parseDate(name: string, text: string | undefined): number {
  if (text === undefined || text === '') {
    throw new ApiError(
      400,
      ApiErrorCodes.MISSING_PARAMETER,
      `query parameter "${name}" is required (YYYY-MM-DD)`,
    );
  }
  const m = DATE.exec(text);
  if (!m) throw badParameter(`"${name}" must be a date YYYY-MM-DD, got "${truncate(text)}"`);
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) {
    throw badParameter(`"${name}" is not a calendar date: "${text}"`);
  }
  return ms;
}

export const GROUP_BY = ['service', 'sku', 'region', 'day'] as const;
export type GroupBy = (typeof GROUP_BY)[number];

export interface UsageQuery {
  /** YYYY-MM-DD, inclusive (ChargePeriodStart >= from 00:00 UTC). */
  from: string;
  /** YYYY-MM-DD, exclusive (ChargePeriodStart < to 00:00 UTC). */
  to: string;
  groupBy: GroupBy;
  /** Knowledge time (ISO-8601 UTC): the usage readers saw then (docs/history.md). Absent: now. */
  asKnownAt?: string;
  /** Only records rated with this price book version (x_PriceBookVersion). */
  priceBookVersion?: string;
}

/** The query schema of `as_known_at` and `price_book_version` (api/routes/usage.ts). */
export const HISTORY_PARAMS = {
  as_known_at: {
    type: 'string',
    minLength: 10,
    maxLength: 40,
    description:
      'Knowledge time: the usage as readers saw it then (ISO-8601 date or date-time with a zone), ' +
      'superseded revisions included while kept (sink.history_retention_days, docs/history.md). Default: now.',
  },
  price_book_version: {
    type: 'string',
    minLength: 1,
    maxLength: 256,
    description: 'Only records rated with this price book version (x_PriceBookVersion).',
  },
};

/** `as_known_at` and `price_book_version`, shared by the usage routes. */
export function parseHistoryParams(q: Record<string, string | undefined>): {
  asKnownAt?: string;
  priceBookVersion?: string;
} {
  const out: { asKnownAt?: string; priceBookVersion?: string } = {};
  if (q.as_known_at !== undefined) {
    try {
      out.asKnownAt = new Date(parseKnowledgeTime('"as_known_at"', q.as_known_at)).toISOString();
    } catch (err) {
      throw badParameter((err as Error).message);
    }
  }
  if (q.price_book_version !== undefined)
    out.priceBookVersion = identifier('price_book_version', q.price_book_version);
  return out;
}

/**
 * `from` and `to` (YYYY-MM-DD) of a usage query: a valid, non-empty range of at most maxRangeDays,
 * which bounds the Elasticsearch work one request can cause.
 */
export function checkDayRange(
  q: Record<string, string | undefined>,
  maxRangeDays: number,
): { from: string; to: string } {
  const from = parseDate('from', q.from);
  const to = parseDate('to', q.to);
  if (from >= to) {
    throw new ApiError(400, ApiErrorCodes.INVALID_RANGE, `"from" (${q.from}) must be before "to" (${q.to})`);
  }
  const days = (to - from) / DAY_MS;
  if (days > maxRangeDays) {
    throw new ApiError(
      400,
      ApiErrorCodes.RANGE_TOO_LONG,
      `range of ${days} days is longer than the maximum of ${maxRangeDays} days`,
    );
  }
  return { from: q.from as string, to: q.to as string };
}

export function parseUsageQuery(query: Query | undefined, maxRangeDays: number): UsageQuery {
  const q = onlyParams(query, ['from', 'to', 'group_by', 'as_known_at', 'price_book_version']);
  checkDayRange(q, maxRangeDays);
  const groupBy = q.group_by ?? 'service';
  if (!(GROUP_BY as readonly string[]).includes(groupBy)) {
    throw badParameter(`"group_by" must be one of ${GROUP_BY.join(', ')}, got "${truncate(groupBy)}"`);
  }
  return { from: q.from, to: q.to, groupBy: groupBy as GroupBy, ...parseHistoryParams(q) };
}

export const REVISION_STATES: readonly PublicationState[] = [
  'collecting',
  'pending',
  'published',
  'superseded',
  'unreconciled',
  'failed',
];

export interface RevisionsQuery {
  state?: PublicationState;
  scope?: string;
  billingPeriod?: string;
  limit: number;
}

export const MAX_LIMIT = 1000;

export function parseRevisionsQuery(query: Query | undefined): RevisionsQuery {
  const q = onlyParams(query, ['state', 'scope', 'billing_period', 'limit']);
  const out: RevisionsQuery = { limit: parseLimit(q.limit) };
  if (q.state !== undefined) {
    if (!(REVISION_STATES as readonly string[]).includes(q.state)) {
      throw badParameter(`"state" must be one of ${REVISION_STATES.join(', ')}, got "${truncate(q.state)}"`);
    }
    out.state = q.state as PublicationState;
  }
  if (q.scope !== undefined) out.scope = identifier('scope', q.scope);
  if (q.billing_period !== undefined) {
    if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(q.billing_period)) {
      throw badParameter(`"billing_period" must be YYYY-MM, got "${truncate(q.billing_period)}"`);
    }
    out.billingPeriod = q.billing_period;
  }
  return out;
}

function parseLimit(text: string | undefined): number {
  if (text === undefined) return 100;
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > MAX_LIMIT) {
    throw badParameter(`"limit" must be an integer from 1 to ${MAX_LIMIT}, got "${truncate(text)}"`);
  }
  return Number(text);
}

export interface DeadLetterQuery {
  stage?: string;
  scope?: string;
  customer?: string;
}

export function parseDeadLetterQuery(query: Query | undefined): DeadLetterQuery {
  const q = onlyParams(query, ['stage', 'scope', 'customer']);
  const out: DeadLetterQuery = {};
  if (q.stage !== undefined) out.stage = identifier('stage', q.stage);
  if (q.scope !== undefined) out.scope = identifier('scope', q.scope);
  if (q.customer !== undefined) out.customer = identifier('customer', q.customer);
  return out;
}

export interface InvoicePeriodQuery {
  period: string;
  customer?: string;
  status?: 'draft' | 'finalized' | 'void';
}

export const INVOICE_STATUS_VALUES = ['draft', 'finalized', 'void'] as const;

/** GET /v1/invoices?period=YYYY-MM[&customer][&status]. */
export function parseInvoicePeriodQuery(query: Query | undefined): InvoicePeriodQuery {
  const q = onlyParams(query, ['period', 'customer', 'status']);
  if (q.period === undefined || !/^\d{4}-(0[1-9]|1[0-2])$/.test(q.period))
    throw badParameter(`"period" must be YYYY-MM, got "${truncate(q.period ?? '')}"`);
  const out: InvoicePeriodQuery = { period: q.period };
  if (q.customer !== undefined) out.customer = identifier('customer', q.customer);
  if (q.status !== undefined) {
    if (!(INVOICE_STATUS_VALUES as readonly string[]).includes(q.status))
      throw badParameter(
        `"status" must be one of ${INVOICE_STATUS_VALUES.join(', ')}, got "${truncate(q.status)}"`,
      );
    out.status = q.status as InvoicePeriodQuery['status'];
  }
  return out;
}

/** Keyword values (customer, scope, invoice id) that are used as exact terms. */
export function identifier(name: string, text: string | undefined): string {
  if (text === undefined || text === '') throw badParameter(`"${name}" must not be empty`);
  if (text.length > 256) throw badParameter(`"${name}" is longer than 256 characters`);
  // Control characters have no business in an id and would only garble logs.
  if (/[\u0000-\u001f\u007f]/.test(text)) throw badParameter(`"${name}" contains control characters`);
  return text;
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}
