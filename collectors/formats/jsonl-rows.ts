import { isUtf8 } from 'node:buffer';
import { Readable } from 'node:stream';
import { isLosslessNumber, parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';
import { ErrorCodes, InputError, PermanentError } from '../../runtime/errors';
import { flattenCompactJson } from './compact-json';
import { clipText as clip, MAX_RECORD_BYTES_DEFAULT, type MapLine } from './rows';

export type JsonlRowResult = MapLine;

const LF = 0x0a;
const CR = 0x0d;

/** Splits a byte stream at LF without decoding, so invalid UTF-8 can be reported per line. */
async function* byteLines(bytes: Readable, object: string, maxRecordBytes: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let line = 1;
  for await (const chunk of bytes as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let start = 0;
    for (let i = buf.indexOf(LF); i !== -1; i = buf.indexOf(LF, start)) {
      const piece = buf.subarray(start, i);
      yield pending.length ? Buffer.concat([...pending, piece]) : piece;
      pending = [];
      pendingBytes = 0;
      line++;
      start = i + 1;
    }
    // Pieces are concatenated only once the line is complete: a multi-MB line stays linear.
    if (start < buf.length) {
      pending.push(buf.subarray(start));
      pendingBytes += buf.length - start;
      if (pendingBytes > maxRecordBytes) {
        throw new InputError(
          ErrorCodes.MALFORMED_INPUT,
          `a line longer than ${maxRecordBytes} bytes (collector.max_record_bytes) without its end`,
          { object, line },
        );
      }
    }
  }
  if (pending.length) yield Buffer.concat(pending);
}

class FlattenCollision extends PermanentError {
  constructor(readonly field: string) {
    super(ErrorCodes.MALFORMED_INPUT, `two JSON paths flatten to ${field}`, { details: { field } });
  }
}

/**
 * Flattens a BigQuery row to dot paths. REPEATED fields (arrays: credits, labels, project.labels,
 * system_labels, tags) are kept whole as JSON text because their order and multiplicity carry meaning
 * (credits are summed, labels may repeat a key). Numbers keep their source text: BigQuery writes
 * FLOAT64 as JSON numbers, and a round trip through a JS number would alter digits such as
 * 1.0000000000000002 or 12345678901234567890.
 */
function flatten(value: unknown, path: string, out: Record<string, string>): void {
  if (value === null || value === undefined) return;
  let text: string | undefined;
  if (isLosslessNumber(value)) text = value.value;
  else if (typeof value === 'string') text = value;
  else if (typeof value === 'boolean') text = String(value);
  else if (Array.isArray(value)) text = stringifyLossless(value);
  else if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      flatten(v, path ? `${path}.${k}` : k, out);
    }
    return;
  }
  if (text === undefined || text === '') return;
  if (Object.prototype.hasOwnProperty.call(out, path)) throw new FlattenCollision(path);
  out[path] = text;
}

/**
 * One JSON line flattened by the general path: lossless-json's parse, then `flatten`. Every line
 * the compact path (compact-json.ts) declines comes here, so every error message is made here.
 */
export function flattenJsonLine(
  text: string,
): { columns: Record<string, string> } | { error: { message: string; field?: string } } {
  let parsed: unknown;
  try {
    parsed = parseLossless(text);
  } catch (err) {
    return { error: { message: `invalid JSON (${(err as Error).message})` } };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || isLosslessNumber(parsed)) {
    return { error: { message: 'line is not a JSON object' } };
  }
  const columns: Record<string, string> = {};
  try {
    flatten(parsed, '', columns);
  } catch (err) {
    if (!(err instanceof FlattenCollision)) throw err;
    return { error: { field: err.field, message: err.message } };
  }
  return { columns };
}

/**
 * Streams BigQuery `EXPORT DATA (format='JSON')` output: one JSON object per line. `line` is the
 * 1-based line number; blank lines are skipped but counted. Pass bytes through `openDecoded` first
 * for `.json.gz` / `.jsonl.gz` shards. A line that is not UTF-8, not JSON or not an object becomes a
 * `malformed` result and reading continues with the next line.
 *
 * Values follow the export's encoding: INT64 and NUMERIC arrive as strings and stay strings;
 * timestamps stay in BigQuery's `2020-11-10 05:49:32.199 UTC` text.
 *
 * A line is flattened by the compact path (compact-json.ts: one pass, no object tree; the GCP
 * collector's CPU per row about halves) when it can, else by `flattenJsonLine`; both give the same
 * columns.
 */
export async function* readJsonlRows(
  bytes: Readable,
  opts: { object: string; maxRecordBytes?: number },
): AsyncGenerator<MapLine> {
  let line = 0;
  for await (let raw of byteLines(bytes, opts.object, opts.maxRecordBytes ?? MAX_RECORD_BYTES_DEFAULT)) {
    line++;
    if (line === 1 && raw.length >= 3 && raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf) {
      raw = raw.subarray(3);
    }
    if (raw.length && raw[raw.length - 1] === CR) raw = raw.subarray(0, raw.length - 1);
    if (!isUtf8(raw)) {
      yield { kind: 'malformed', line, message: 'line is not valid UTF-8', text: clip(raw.toString('utf8')) };
      continue;
    }
    const text = raw.toString('utf8');
    const compact = flattenCompactJson(text);
    if (compact) {
      yield { kind: 'row', line, columns: compact };
      continue;
    }
    if (text.trim() === '') continue;
    const flat = flattenJsonLine(text);
    if ('columns' in flat) yield { kind: 'row', line, columns: flat.columns };
    else yield { kind: 'malformed', line, ...flat.error, text: clip(text) };
  }
}
