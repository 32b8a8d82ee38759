/**
 * Secret scrubbing for everything that may be logged or shown to a person: log fields, error
 * messages and stacks, URLs. Two layers:
 *  1. Values registered with `registerSecret` (every secret the config loader read) are replaced
 *     wherever they appear, whatever the surrounding text.
 *  2. Patterns catch secrets we were never told about: credentials in URLs (user:pass@host),
 *     signed-URL query parameters (AWS SigV4, Azure SAS, GCS), Azure connection-string keys,
 *     Authorization headers and ApiKey / Bearer tokens.
 */
const MASK = '[REDACTED]';
const registered = new Set<string>();

export function registerSecret(value: string | undefined | null): void {
  // Very short values would mask innocent text ("a", "1"); none of our secrets is that short.
  if (value && value.length >= 4) registered.add(value);
}

export function clearRegisteredSecrets(): void {
  registered.clear();
}

const PATTERNS: Array<[RegExp, string]> = [
  // scheme://user:password@host
  [/([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)[^\s@/]+@/gi, `$1${MASK}@`],
  // signed URL query parameters
  [
    /([?&](?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|X-Goog-Signature|X-Goog-Credential|sig|signature|access_token|token|api_key|apikey|key)=)[^&\s"']+/gi,
    `$1${MASK}`,
  ],
  // Azure connection strings and similar key=value lists
  [/((?:AccountKey|SharedAccessSignature|SharedAccessKey|Password|Pwd)=)[^;\s"']+/gi, `$1${MASK}`],
  // HTTP authorization values
  [/(\b(?:Basic|Bearer|ApiKey)\s+)[A-Za-z0-9+/=._~-]{8,}/g, `$1${MASK}`],
  // AWS secret keys written as aws_secret_access_key=... or "secretAccessKey":"..."
  [
    /((?:secret_?access_?key|secretAccessKey|session_?token|sessionToken|password|api_key|apiKey|account_key|accountKey|sas_token|sasToken|private_key|privateKey)["']?\s*[:=]\s*["']?)[^"',;\s}]+/gi,
    `$1${MASK}`,
  ],
];

export function redactText(text: string): string {
  let out = text;
  for (const secret of registered) {
    if (out.includes(secret)) out = out.split(secret).join(MASK);
  }
  for (const [re, replacement] of PATTERNS) out = out.replace(re, replacement);
  return out;
}

const SECRET_KEY =
  /^(password|passwd|secret|secret_access_key|secretaccesskey|session_token|sessiontoken|api_key|apikey|account_key|accountkey|sas_token|sastoken|connection_string|connectionstring|private_key|privatekey|authorization|credentials|token)$/i;

/** Deep copy of a value with secret-named keys masked and every string scrubbed. */
export function redactValue(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[depth limit]';
  if (typeof value === 'string') return redactText(value);
  if (value instanceof Error) return redactError(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] =
        SECRET_KEY.test(k) && v !== undefined && v !== null && v !== '' ? MASK : redactValue(v, depth + 1);
    }
    return out;
  }
  return value;
}

export function redactError(err: Error): Record<string, unknown> {
  const e = err as Error & { code?: unknown; retryable?: unknown; details?: unknown; cause?: unknown };
  const out: Record<string, unknown> = {
    type: e.name,
    message: redactText(e.message),
  };
  if (e.code !== undefined) out.code = e.code;
  if (e.retryable !== undefined) out.retryable = e.retryable;
  if (e.details !== undefined) out.details = redactValue(e.details, 1);
  if (e.stack) out.stack = redactText(e.stack);
  if (e.cause instanceof Error) out.cause = redactError(e.cause);
  return out;
}
