import { z } from 'zod';

/**
 * Building blocks of every config section (runtime/config.ts assembles the sections; each
 * component keeps its own beside it). Numbers and booleans are also accepted as text, since
 * environment overrides arrive as text.
 */

export const num = (description: string) =>
  z
    .preprocess(
      (v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v),
      z.number().int().nonnegative(),
    )
    .describe(description);
/** An integer in [min, max], also given as text. */
export const intBetween = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(
    (v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v),
    z.number().int().min(min).max(max),
  );
export const bool = (description: string) =>
  z
    .preprocess(
      (v) => (typeof v === 'string' ? ['1', 'true', 'yes', 'on'].includes(v.trim().toLowerCase()) : v),
      z.boolean(),
    )
    .describe(description);
export const strList = (description: string) =>
  z
    .preprocess(
      (v) =>
        typeof v === 'string'
          ? v
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : v,
      z.array(z.string().min(1)),
    )
    .describe(description);
export const str = (description: string) => z.string().min(1).describe(description);

/** TLS settings of a client connection (Kafka, Elasticsearch). */
export const TlsSchema = z
  .object({
    enabled: bool('Connect with TLS.').default(false),
    ca_file: str('PEM file of the certificate authorities to trust; the system store when unset.').optional(),
    cert_file: str('PEM client certificate for mutual TLS.').optional(),
    key_file: str('PEM private key of the client certificate.').optional(),
    reject_unauthorized: bool(
      'Reject servers whose certificate does not verify. Turn off only for a test cluster.',
    ).default(true),
  })
  .strict();
