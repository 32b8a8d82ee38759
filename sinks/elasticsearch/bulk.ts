/**
 * Bulk request building and item-level outcome classification (pure; the sink does the I/O).
 *
 * A bulk response can mix outcomes per item. Each item is classified on its own:
 *   ok         2xx: indexed (a re-indexed identical document is a plain overwrite, by _id)
 *   conflict   409 version conflict: the document is already there in a state at least as new;
 *              that is an acknowledgement, not a failure (counted apart, never dead-lettered)
 *   retry      429 (queue full, circuit breaker) and 5xx: Elasticsearch could take it later;
 *              only these items are sent again, with jittered backoff
 *   reject     any other 4xx (mapping, validation, strict-mapping violations): the document will
 *              never fit; it goes to the dead-letter topic with the status and reason
 */
export type ItemOutcome =
  | { kind: 'ok' }
  | { kind: 'conflict' }
  | { kind: 'retry'; status: number; reason: string }
  | { kind: 'reject'; status: number; type: string; reason: string };

interface BulkItemResult {
  status?: number;
  error?: { type?: string; reason?: string | null; caused_by?: { type?: string; reason?: string | null } };
}

export function classifyItem(item: BulkItemResult): ItemOutcome {
  const status = item.status ?? 500;
  if (status >= 200 && status < 300 && !item.error) return { kind: 'ok' };
  const type = item.error?.type ?? 'unknown';
  const cause = item.error?.caused_by?.reason ? `: ${item.error.caused_by.reason}` : '';
  const reason = `${type}: ${item.error?.reason ?? 'no reason given'}${cause}`;
  if (status === 409 || type === 'version_conflict_engine_exception') return { kind: 'conflict' };
  if (status === 429 || status >= 500) return { kind: 'retry', status, reason };
  return { kind: 'reject', status, type, reason };
}

/**
 * One bulk action: the action line and (for index/update) its body, serialized ONCE here (the size
 * of a request is known before it is built, and the client sends these strings as they are), plus
 * what it came from.
 */
export interface BulkAction<T = unknown> {
  action: string;
  /** JSON text, or its UTF-8 bytes. */
  body: string | Buffer;
  source: T;
  /** Serialized size, for sizing requests by bytes. */
  bytes: number;
}

export function bulkAction<T>(action: Record<string, unknown>, body: unknown, source: T): BulkAction<T> {
  return bulkActionJson(action, JSON.stringify(body), source);
}

/** A bulk action whose body is already JSON text. */
export function bulkActionJson<T>(
  action: Record<string, unknown>,
  json: string | Buffer,
  source: T,
): BulkAction<T> {
  const a = JSON.stringify(action);
  return { action: a, body: json, source, bytes: a.length + json.length + 2 };
}

/** Splits actions into requests of at most `maxDocs` actions and about `maxBytes` bytes each. */
export function chunkActions<T>(
  actions: BulkAction<T>[],
  maxDocs: number,
  maxBytes: number,
): BulkAction<T>[][] {
  const chunks: BulkAction<T>[][] = [];
  let current: BulkAction<T>[] = [];
  let bytes = 0;
  for (const a of actions) {
    if (current.length > 0 && (current.length >= maxDocs || bytes + a.bytes > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(a);
    bytes += a.bytes;
  }
  if (current.length) chunks.push(current);
  return chunks;
}

/**
 * The NDJSON request body, as bytes (the client sends a Buffer as it is; given objects, it would
 * serialize every document a second time). One allocation of the exact size.
 */
export function bulkBody(actions: BulkAction[]): Buffer {
  let size = 0;
  for (const a of actions)
    size +=
      Buffer.byteLength(a.action) +
      (typeof a.body === 'string' ? Buffer.byteLength(a.body) : a.body.length) +
      2;
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const a of actions) {
    pos += out.write(a.action, pos, 'utf8');
    out[pos++] = 0x0a;
    pos += typeof a.body === 'string' ? out.write(a.body, pos, 'utf8') : a.body.copy(out, pos);
    out[pos++] = 0x0a;
  }
  return out;
}
