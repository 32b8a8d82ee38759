import { isUtf8 } from 'node:buffer';
import { Readable } from 'node:stream';
import { Parser } from 'csv-parse';
import { ErrorCodes, InputError } from '../../runtime/errors';

/** One data line of an export, or why it could not be read. Shared by the CSV and JSON-lines readers. */
export type CsvRowResult =
  | { kind: 'row'; line: number; columns: Record<string, string> }
  | { kind: 'malformed'; line: number; field?: string; message: string; text: string };

export interface CsvReadOptions {
  /** Object URL or key, used in error messages. */
  object: string;
  /** Maps a raw header name to the name used in `columns` (alias tables, localized headers). */
  headerAliases?: (header: string) => string;
}

/** Longest `text` a malformed result carries; a multi-MB bad row is cut (the line number still finds it). */
export const MALFORMED_TEXT_LIMIT = 64 * 1024;

const LF = 0x0a;
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

function countLf(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(LF); i !== -1; i = b.indexOf(LF, i + 1)) n++;
  return n;
}

function csvQuote(b: Buffer): string {
  const s = b.toString('utf8');
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Re-serialises a record for a dead letter (the parser does not keep the raw text). */
function recordText(fields: Buffer[]): string {
  const text = fields.map(csvQuote).join(',');
  return text.length > MALFORMED_TEXT_LIMIT ? text.slice(0, MALFORMED_TEXT_LIMIT) : text;
}

/**
 * Column names from the header record. Duplicate names get a `#2`, `#3`, ... suffix (and an empty
 * name becomes `#<position>`) instead of failing the file or letting the later column overwrite
 * the earlier one: both values stay available and alias tables simply do not match the suffixed
 * name. `#` does not occur in any provider's column names.
 */
function headerNames(raw: Buffer[], opts: CsvReadOptions): string[] {
  const seen = new Set<string>();
  return raw.map((b, i) => {
    if (!isUtf8(b)) {
      throw new InputError(ErrorCodes.MALFORMED_INPUT, 'header is not valid UTF-8', {
        object: opts.object,
        line: 1,
        field: `#${i + 1}`,
      });
    }
    const text = b.toString('utf8');
    let name = text === '' ? `#${i + 1}` : opts.headerAliases ? opts.headerAliases(text) : text;
    if (seen.has(name)) {
      let n = 2;
      while (seen.has(`${name}#${n}`)) n++;
      name = `${name}#${n}`;
    }
    seen.add(name);
    return name;
  });
}

/** csv-parse's push-style core, reachable as `Parser#api` (untyped in v5). */
interface CsvParseApi {
  parse(
    buf: Buffer | undefined,
    end: boolean,
    push: (record: Buffer[]) => void,
    close: () => void,
  ): Error | undefined;
}

/**
 * Streams records as arrays of raw field bytes.
 *
 * The push-style core of csv-parse is driven directly instead of piping into its Transform: when the
 * Transform meets a syntax error it destroys itself and discards the records it had already
 * buffered, so the error could not be placed after the last good record. Here every record parsed
 * from a chunk is yielded before that chunk's error is thrown, and the next source chunk is only
 * read once the consumer has taken them (backpressure, flat memory). A source error (network, corrupt
 * gzip) is thrown from the same iteration; leaving the loop early destroys the source.
 */
async function* parseRecords(bytes: Readable): AsyncGenerator<Buffer[]> {
  const { api } = new Parser({
    // Buffers, not strings: decoding here would turn invalid bytes into U+FFFD silently. The typings
    // omit the documented `null` value. The BOM is stripped below rather than with the `bom` option,
    // which switches the parser back to string output.
    encoding: null as unknown as BufferEncoding,
    // Both endings in one file are accepted (auto-detection would lock onto the first one seen).
    record_delimiter: ['\r\n', '\n'],
    relax_column_count: true,
    // Empty lines are reported as one-empty-field records so that our own line count stays exact.
    skip_empty_lines: false,
  }) as unknown as { api: CsvParseApi };
  const ready: Buffer[][] = [];
  const push = (record: Buffer[]): void => void ready.push(record);
  const close = (): void => undefined;
  let head: Buffer | undefined = Buffer.alloc(0);
  const feed = (buf: Buffer): Error | undefined => {
    if (head !== undefined) {
      head = Buffer.concat([head, buf]);
      if (head.length < UTF8_BOM.length) return undefined;
      buf = head.subarray(0, UTF8_BOM.length).equals(UTF8_BOM) ? head.subarray(UTF8_BOM.length) : head;
      head = undefined;
    }
    return api.parse(buf, false, push, close);
  };
  for await (const chunk of bytes as AsyncIterable<Buffer | string>) {
    const err = feed(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    while (ready.length) yield ready.shift() as Buffer[];
    if (err) throw err;
  }
  // A file shorter than a BOM: whatever arrived is data.
  const err =
    (head?.length ? api.parse(head, false, push, close) : undefined) ??
    api.parse(undefined, true, push, close);
  while (ready.length) yield ready.shift() as Buffer[];
  if (err) throw err;
}

function isEmptyLine(fields: Buffer[]): boolean {
  return fields.length === 1 && fields[0].length === 0;
}

/**
 * Streams the data rows of a CSV export, one result per record, with flat memory.
 *
 * `line` is the 1-based physical line on which the record starts (header = line 1). It is counted
 * here from the line feeds inside quoted fields, not taken from csv-parse's `info.lines`, which
 * counts CR and LF separately inside quotes and drifts by one per quoted CRLF.
 *
 * Rules: empty values are omitted (empty = null in every provider CSV); rows shorter than the header
 * are fine (the AWS and Azure fixtures have them); rows longer than the header, and fields that are
 * not valid UTF-8, become `malformed` results and the file continues. A broken quote has no safe
 * resynchronisation point, so it throws InputError(MALFORMED_INPUT) and the object fails as a whole.
 * Header-only and empty files yield nothing.
 */
export async function* readCsvRows(bytes: Readable, opts: CsvReadOptions): AsyncGenerator<CsvRowResult> {
  const records = parseRecords(bytes);
  let header: string[] | undefined;
  let nextLine = 1;
  try {
    for await (const fields of records) {
      const line = nextLine;
      let spanned = 0;
      for (const f of fields) spanned += countLf(f);
      nextLine = line + 1 + spanned;
      if (isEmptyLine(fields)) continue;
      if (header === undefined) {
        header = headerNames(fields, opts);
        continue;
      }
      if (fields.length > header.length) {
        yield {
          kind: 'malformed',
          line,
          message: `row has ${fields.length} fields, header has ${header.length}`,
          text: recordText(fields),
        };
        continue;
      }
      const columns: Record<string, string> = {};
      let bad: string | undefined;
      for (let i = 0; i < fields.length; i++) {
        const f = fields[i];
        if (f.length === 0) continue;
        if (!isUtf8(f)) {
          bad = header[i];
          break;
        }
        columns[header[i]] = f.toString('utf8');
      }
      if (bad !== undefined) {
        yield {
          kind: 'malformed',
          line,
          field: bad,
          message: `field ${bad} is not valid UTF-8`,
          text: recordText(fields),
        };
        continue;
      }
      yield { kind: 'row', line, columns };
    }
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('CSV_')) {
      throw new InputError(
        ErrorCodes.MALFORMED_INPUT,
        `unreadable CSV (${(err as Error).message})`,
        { object: opts.object, line: nextLine },
        err,
      );
    }
    throw err;
  }
}

/** Reads only the header (after aliases and duplicate suffixes); `[]` for an empty object. */
export async function readCsvHeader(bytes: Readable, opts: CsvReadOptions): Promise<string[]> {
  const records = parseRecords(bytes);
  for await (const fields of records) {
    if (isEmptyLine(fields)) continue;
    // Leaving the loop destroys the parser, and pipeline then releases the source.
    return headerNames(fields, opts);
  }
  return [];
}
