import { z } from 'zod';
import { intBetween } from '../runtime/config-schema';

/**
 * Options of `meterflow api` (snake_case, every key has a default). Wired into runtime/config.ts as
 * `api:`. API keys are stored as sha256 hashes only: a leaked config file or config dump never
 * contains a usable key (`meterflow api new-key` prints the hash of a new key).
 */
/** Integers also accept text: METERFLOW_API__PORT=9000 arrives as a string (env overrides). */
const int = intBetween;

export const ApiKeySchema = z
  .object({
    id: z.string().min(1).max(100).describe('Name of the key in logs and metrics (never the key itself).'),
    key_sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex characters (sha256 of the key)')
      .transform((s) => s.toLowerCase())
      .describe('Hex sha256 of the key, as printed by `meterflow api new-key`.'),
    role: z
      .enum(['admin', 'customer', 'metrics', 'ingest'])
      .describe(
        'admin: every customer and the operator routes; customer: one customer only; metrics: GET /metrics only (for Prometheus); ' +
          'ingest: POST /v1/events only, for the sources and customers listed on the key.',
      ),
    customer: z
      .string()
      .min(1)
      .optional()
      .describe('With role customer: the only customer (x_CustomerId) this key can read.'),
    sources: z
      .array(z.string().min(1))
      .optional()
      .describe(
        'With role ingest (required): CloudEvents sources the key may send, each exact or a prefix ending in * ' +
          '("//deploy.example.com/*").',
      ),
    customers: z
      .array(z.string().min(1))
      .optional()
      .describe('With role ingest (required): customers the key may send usage for; ["*"] for any.'),
    events_per_second: z
      .number()
      .positive()
      .optional()
      .describe('With role ingest: events per second the key may send on average (default 1000).'),
    events_burst: int(1)
      .optional()
      .describe('With role ingest: events the key may send at once (default 10 x events_per_second).'),
  })
  .strict()
  .superRefine((key, ctx) => {
    if (key.role === 'customer' && !key.customer) {
      ctx.addIssue({ code: 'custom', path: ['customer'], message: 'required when role is customer' });
    }
    if (key.role === 'ingest') {
      if (!key.sources?.length)
        ctx.addIssue({ code: 'custom', path: ['sources'], message: 'required when role is ingest' });
      if (!key.customers?.length)
        ctx.addIssue({ code: 'custom', path: ['customers'], message: 'required when role is ingest' });
    } else {
      for (const field of ['sources', 'customers', 'events_per_second', 'events_burst'] as const)
        if (key[field] !== undefined)
          ctx.addIssue({ code: 'custom', path: [field], message: `only for role ingest, not ${key.role}` });
    }
    if (key.role !== 'customer' && key.customer !== undefined) {
      // An admin key scoped to a customer would be ambiguous; refuse rather than guess.
      ctx.addIssue({ code: 'custom', path: ['customer'], message: `not allowed when role is ${key.role}` });
    }
  });

export type ApiKeyEntry = z.output<typeof ApiKeySchema>;

export const ApiConfigSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1').describe('Interface the API listens on.'),
    port: int(0, 65535).default(8080).describe('TCP port of the API; 0 picks a free port (tests).'),
    keys: z
      .array(ApiKeySchema)
      .default([])
      .superRefine((keys, ctx) => {
        const ids = new Set<string>();
        const hashes = new Set<string>();
        keys.forEach((k, i) => {
          if (ids.has(k.id))
            ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate id ${k.id}` });
          if (hashes.has(k.key_sha256)) {
            // The same key under two entries would make its role depend on list order.
            ctx.addIssue({ code: 'custom', path: [i, 'key_sha256'], message: 'duplicate key' });
          }
          ids.add(k.id);
          hashes.add(k.key_sha256);
        });
      })
      .describe('API keys (hashed). Empty: every authenticated route answers 401.'),
    max_range_days: int(1)
      .default(366)
      .describe('Longest usage query range (to - from) in days; longer ranges are rejected with 400.'),
    request_timeout_ms: int(0)
      .default(30_000)
      .describe(
        'Time allowed to receive a whole request, and timeout of each Elasticsearch request the API makes ' +
          '(0: no limit).',
      ),
    rate_limit_per_second: int(0)
      .default(10)
      .describe(
        'Requests per second each API key may make on average (0: no limit); more get 429 with Retry-After.',
      ),
    rate_limit_burst: int(1)
      .default(20)
      .describe('Requests a key may make at once before rate_limit_per_second applies.'),
    max_concurrent_requests: int(1)
      .default(8)
      .describe(
        'Authenticated requests served at the same time, all keys together; more get 503 with Retry-After. ' +
          'Bounds the Elasticsearch work the API can cause.',
      ),
    request_deadline_ms: int(0)
      .default(60_000)
      .describe(
        'Longest one request may take in all, its Elasticsearch requests included; then it is abandoned ' +
          'with 503 (0: no deadline).',
      ),
    page_size: int(1, 10_000)
      .default(5_000)
      .describe('Documents per Elasticsearch page when the API sums usage or lists documents.'),
  })
  .strict();

export type ApiOptions = z.output<typeof ApiConfigSchema>;
export type ApiOptionsInput = z.input<typeof ApiConfigSchema>;

/** Validate options and fill defaults. Throws a ZodError listing every problem. */
export function parseApiOptions(input: unknown = {}): ApiOptions {
  return ApiConfigSchema.parse(input ?? {});
}

export const DEFAULT_API_OPTIONS: ApiOptions = parseApiOptions({});
