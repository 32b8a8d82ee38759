import crypto from 'node:crypto';
import type { ApiKeyEntry } from './config';
import { ApiError, ApiErrorCodes } from './errors';

/**
 * Who is calling: an admin (everything), one customer's key (that customer's data only), or a
 * metrics key (GET /metrics and nothing else: what a Prometheus scraper needs).
 */
export type Principal =
  | { keyId: string; role: 'admin' }
  | { keyId: string; role: 'customer'; customer: string }
  | { keyId: string; role: 'metrics' }
  | { keyId: string; role: 'ingest'; grant: IngestGrant };

/** What an ingest key may send (api.keys[].sources / customers / events_per_second). */
export interface IngestGrant {
  sources: readonly string[];
  customers: readonly string[];
  eventsPerSecond: number;
  eventsBurst: number;
}

/** Hex sha256 of an API key: what the config stores (`keys[].key_sha256`). */
export function hashApiKey(key: string): string {
  return crypto.createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A new random API key (32 bytes, base64url): for `meterflow api new-key` and tests. */
export function generateApiKey(): string {
  return `mf_${crypto.randomBytes(32).toString('base64url')}`;
}

interface CompiledKey {
  entry: ApiKeyEntry;
  hash: Buffer;
}

export interface Authenticator {
  /** The principal of an Authorization header value, or an ApiError(401). */
  authenticate(authorization: string | undefined): Principal;
}

/**
 * Keys are compared as sha256 digests with crypto.timingSafeEqual, against EVERY configured key
 * (no early exit), so neither the time to answer nor which entry matched depends on how many
 * leading bytes of a guess were right. Hashing first also makes both sides 32 bytes, which
 * timingSafeEqual requires, whatever the length of the presented key.
 */
export function createAuthenticator(keys: readonly ApiKeyEntry[]): Authenticator {
  const compiled: CompiledKey[] = keys.map((entry) => ({
    entry,
    hash: Buffer.from(entry.key_sha256, 'hex'),
  }));
  return {
    authenticate(authorization) {
      const presented = bearerToken(authorization);
      if (presented === undefined) {
        throw new ApiError(
          401,
          ApiErrorCodes.UNAUTHORIZED,
          'missing or malformed Authorization: Bearer <key>',
        );
      }
      const digest = crypto.createHash('sha256').update(presented, 'utf8').digest();
      let match: ApiKeyEntry | undefined;
      for (const key of compiled) {
        if (crypto.timingSafeEqual(digest, key.hash) && match === undefined) match = key.entry;
      }
      if (!match) throw new ApiError(401, ApiErrorCodes.UNAUTHORIZED, 'invalid API key');
      if (match.role === 'admin') return { keyId: match.id, role: 'admin' };
      if (match.role === 'metrics') return { keyId: match.id, role: 'metrics' };
      if (match.role === 'ingest') {
        // The schema requires both lists for ingest keys; empty ones grant nothing.
        const eventsPerSecond = match.events_per_second ?? 1000;
        return {
          keyId: match.id,
          role: 'ingest',
          grant: {
            sources: match.sources ?? [],
            customers: match.customers ?? [],
            eventsPerSecond,
            eventsBurst: match.events_burst ?? Math.max(1, Math.ceil(eventsPerSecond * 10)),
          },
        };
      }
      // The config schema requires a customer for customer keys; a missing one must never widen access.
      if (!match.customer) throw new ApiError(401, ApiErrorCodes.UNAUTHORIZED, 'invalid API key');
      return { keyId: match.id, role: 'customer', customer: match.customer };
    },
  };
}

function bearerToken(header: string | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}

/** GET /metrics: a metrics key or an admin key. */
export function requireMetricsReader(principal: Principal): void {
  if (principal.role !== 'metrics' && principal.role !== 'admin')
    throw new ApiError(403, ApiErrorCodes.FORBIDDEN, '/metrics needs a metrics or admin key');
}

export function requireAdmin(principal: Principal): void {
  if (principal.role !== 'admin')
    throw new ApiError(403, ApiErrorCodes.FORBIDDEN, 'this route needs an admin key');
}

/** Whether the principal may read this customer's data. */
export function canReadCustomer(principal: Principal, customer: string): boolean {
  return principal.role === 'admin' || (principal.role === 'customer' && principal.customer === customer);
}
