import { isUtf8 } from 'node:buffer';
import { Readable } from 'node:stream';
import { ErrorCodes, InputError, PermanentError } from '../../runtime/errors';
import {
  clipText,
  MALFORMED_TEXT_LIMIT,
  MAX_RECORD_BYTES_DEFAULT,
  type Header,
  type ParsedLine,
} from './rows';

export { MALFORMED_TEXT_LIMIT };
export type CsvRowResult = ParsedLine;

export interface CsvReadOptions {
  /** Object URL or key, used in error messages. */
  object: string;
  /** Maps a raw header name to the name used in the header (alias tables, localized headers). */
  headerAliases?: (header: string) => string;
  /** Longest record held before the object fails (default MAX_RECORD_BYTES_DEFAULT). */
  maxRecordBytes?: number;
}

const LF = 0x0a;
const QUOTE = 34; // '"'
const COMMA = 44; // ','
const CR = 13; // '\r'
const NL = 10; // '\n'

/** A CSV syntax error with no safe resynchronisation point: the object fails as a whole. */
class CsvSyntaxError extends PermanentError {
  constructor(
    message: string,
    /** Physical line on which the broken record starts. */
    readonly line: number,
  ) {
    super(ErrorCodes.MALFORMED_INPUT, message, { details: { line } });
  }
}

/**
 * Column names from the header record. Duplicate names get a `#2`, `#3`, ... suffix (and an empty
 * name becomes `#<position>`) instead of failing the file or letting the later column overwrite
 * the earlier one: both values stay available and alias tables simply do not match the suffixed
 * name. `#` does not occur in any provider's column names.
 */
function headerNames(fields: readonly string[], badField: number, opts: CsvReadOptions): string[] {
  if (badField >= 0) {
    throw new InputError(ErrorCodes.MALFORMED_INPUT, 'header is not valid UTF-8', {
      object: opts.object,
      line: 1,
      field: `#${badField + 1}`,
    });
  }
  const seen = new Set<string>();
  return fields.map((text, i) => {
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

/** One record cut out of the text: its fields, the physical line it starts on and its raw text. */
interface CsvRecord {
  fields: string[];
  line: number;
  /** Index of the first field that is not valid UTF-8 (latin1 mode only), else -1. */
  badField: number;
  raw: string;
}

/**
 * Cuts records out of decoded text, RFC 4180 with both line endings.
 *
 * The parser works on a JS string, decoded once per chunk, because that is where V8 is fast: a line
 * without a quote (nearly every billing line) is one `indexOf('\n')` and one `split(',')`. Only lines
 * holding a quote take the character loop. Text is decoded as UTF-8 when the chunk is valid UTF-8 (the
 * norm); otherwise as latin1, where one char is one byte, so separators sit where they sit in the
 * bytes (UTF-8 never uses ASCII bytes inside a multi-byte sequence) and each field is re-decoded and
 * checked on its own, which lets a bad byte fail only its row, naming the field.
 *
 * Quote rules match csv-parse's strict defaults, which meterflow used before: a quote inside an
 * unquoted field, or anything but a separator after a closing quote, is a syntax error, and so is a
 * quote left open at the end of the object.
 */
class RecordCutter {
  /** Physical line of the next record. */
  line = 1;

  constructor(private readonly latin1: () => boolean) {}

  /**
   * Appends the complete records of `s` to `out` and returns how many chars were consumed; the rest
   * (an unfinished quoted record) is carried into the next chunk. `final` means no more text comes.
   */
  cut(s: string, out: CsvRecord[], final: boolean): number {
    const end = s.length;
    let p = 0;
    // The next quote at or after p (-1: none in the rest of the chunk). Recomputed only once p has
    // passed it, so finding quote-free lines stays linear in the chunk.
    let nextQuote = s.indexOf('"');
    while (p < end) {
      let nl = s.indexOf('\n', p);
      if (nl === -1) {
        if (!final) return p;
        nl = end;
      }
      if (nextQuote !== -1 && nextQuote < p) nextQuote = s.indexOf('"', p);
      if (nextQuote === -1 || nextQuote >= nl) {
        const stop = nl > p && s.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
        const raw = s.slice(p, stop);
        out.push({ fields: raw.split(','), line: this.line, badField: -1, raw });
        this.line++;
        p = nl + 1;
        continue;
      }
      const q = this.quoted(s, p, final, out);
      if (q === -1) return p;
      p = q;
    }
    return end;
  }

  /** The character loop for a record holding quotes; returns the position after it, -1 if unfinished. */
  private quoted(s: string, start: number, final: boolean, out: CsvRecord[]): number {
    const end = s.length;
    const fields: string[] = [];
    let lines = 0;
    let p = start;
    for (;;) {
      // At the start of a field.
      if (p < end && s.charCodeAt(p) === QUOTE) {
        let value = '';
        let from = p + 1;
        for (;;) {
          const q = s.indexOf('"', from);
          if (q === -1) {
            if (!final) return -1;
            throw new CsvSyntaxError(
              `Quote Not Closed: the parsing is finished with an opening quote at line ${this.line}`,
              this.line,
            );
          }
          value += s.slice(from, q);
          if (q + 1 < end && s.charCodeAt(q + 1) === QUOTE) {
            value += '"';
            from = q + 2;
            continue;
          }
          if (q + 1 >= end && !final) return -1;
          p = q + 1;
          break;
        }
        for (let i = value.indexOf('\n'); i !== -1; i = value.indexOf('\n', i + 1)) lines++;
        fields.push(value);
        const c = p < end ? s.charCodeAt(p) : NL;
        if (c === COMMA) {
          p++;
          continue;
        }
        if (c === CR && p + 1 < end && s.charCodeAt(p + 1) === NL) p++;
        else if (c === CR && p + 1 >= end && !final) return -1;
        else if (c !== NL) {
          throw new CsvSyntaxError(
            `Invalid Closing Quote: got "${s[p]}" at line ${this.line + lines} instead of delimiter, record delimiter, trimable character (if activated) or comment`,
            this.line,
          );
        }
        break;
      }
      // Unquoted field: up to the next comma or line end; a quote inside it is an error.
      let stop = p;
      while (stop < end) {
        const c = s.charCodeAt(stop);
        if (c === COMMA || c === NL) break;
        if (c === QUOTE) {
          throw new CsvSyntaxError(
            `Invalid Opening Quote: a quote is found on field ${fields.length} at line ${this.line + lines}, value is "${s.slice(p, stop)}"`,
            this.line,
          );
        }
        stop++;
      }
      if (stop >= end && !final) return -1;
      const c = stop < end ? s.charCodeAt(stop) : NL;
      if (c === COMMA) {
        fields.push(s.slice(p, stop));
        p = stop + 1;
        continue;
      }
      fields.push(s.slice(p, stop > p && s.charCodeAt(stop - 1) === CR ? stop - 1 : stop));
      p = stop;
      break;
    }
    // p is at the record's line feed (or the end of the text).
    const raw = s.slice(start, p > start && s.charCodeAt(p - 1) === CR ? p - 1 : p);
    out.push({ fields, line: this.line, badField: -1, raw });
    this.line += 1 + lines;
    return p + 1;
  }

  /** latin1 mode: re-decode each field from its bytes, remembering the first that is not UTF-8. */
  redecode(r: CsvRecord): void {
    if (!this.latin1()) return;
    for (let i = 0; i < r.fields.length; i++) {
      const bytes = Buffer.from(r.fields[i], 'latin1');
      if (!isUtf8(bytes)) {
        if (r.badField < 0) r.badField = i;
        continue;
      }
      r.fields[i] = bytes.toString('utf8');
    }
    r.raw = Buffer.from(r.raw, 'latin1').toString('utf8');
  }
}

/**
 * Streams the records of a CSV object, a chunk of records at a time. Each source chunk is cut at its
 * last line feed, so text is only decoded for whole lines and a multi-byte character is never split;
 * an unfinished quoted record is carried over as bytes. A file shorter than a BOM is data.
 */
async function* parseRecords(
  bytes: Readable,
  maxRecordBytes = MAX_RECORD_BYTES_DEFAULT,
): AsyncGenerator<CsvRecord[], void, undefined> {
  let latin1 = false;
  const cutter = new RecordCutter(() => latin1);
  let carry: Buffer = Buffer.alloc(0);
  let first = true;
  let broken: CsvSyntaxError | undefined;
  const run = (buf: Buffer, final: boolean): CsvRecord[] => {
    if (first) {
      if (buf.length < 3 && !final) {
        carry = buf;
        return [];
      }
      if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
      first = false;
    }
    const lastLf = final ? buf.length - 1 : buf.lastIndexOf(LF);
    if (lastLf < 0 && !final) {
      carry = buf;
      return [];
    }
    const whole = buf.subarray(0, lastLf + 1);
    latin1 = !isUtf8(whole);
    const text = whole.toString(latin1 ? 'latin1' : 'utf8');
    const records: CsvRecord[] = [];
    let used: number;
    try {
      used = cutter.cut(text, records, final);
    } catch (err) {
      // The records before the broken one are still delivered, then the error.
      if (!(err instanceof CsvSyntaxError)) throw err;
      broken = err;
      used = text.length;
    }
    const usedBytes =
      used === text.length
        ? whole.length
        : Buffer.byteLength(text.slice(0, used), latin1 ? 'latin1' : 'utf8');
    carry = buf.subarray(usedBytes);
    if (latin1) for (const r of records) cutter.redecode(r);
    return records;
  };
  for await (const chunk of bytes as AsyncIterable<Buffer | string>) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const records = run(carry.length ? Buffer.concat([carry, b]) : b, false);
    if (records.length) yield records;
    if (broken) throw broken;
    if (carry.length > maxRecordBytes) {
      throw new CsvSyntaxError(
        `a record longer than ${maxRecordBytes} bytes (collector.max_record_bytes) without its end`,
        cutter.line,
      );
    }
  }
  const records = run(carry, true);
  if (records.length) yield records;
  if (broken) throw broken;
}

/** A line with nothing on it (a record of one quoted empty field, `""`, is data, not blank). */
function isEmptyLine(r: CsvRecord): boolean {
  return r.raw.length === 0;
}

/**
 * Streams the data rows of a CSV export, one result per record, with flat memory.
 *
 * `line` is the 1-based physical line on which the record starts (header = line 1), counting the
 * line feeds inside quoted fields.
 *
 * Rules: rows shorter than the header are fine (the AWS and Azure fixtures have them); rows longer
 * than the header, and fields that are not valid UTF-8, become `malformed` results and the file
 * continues. A broken quote has no safe resynchronisation point, so it throws
 * InputError(MALFORMED_INPUT) and the object fails as a whole. Header-only and empty files yield
 * nothing.
 */
export async function* readCsvRows(bytes: Readable, opts: CsvReadOptions): AsyncGenerator<ParsedLine> {
  let header: Header | undefined;
  try {
    for await (const records of parseRecords(bytes, opts.maxRecordBytes)) {
      for (const r of records) {
        if (isEmptyLine(r)) continue;
        if (header === undefined) {
          header = headerNames(r.fields, r.badField, opts);
          continue;
        }
        if (r.fields.length > header.length) {
          yield {
            kind: 'malformed',
            line: r.line,
            message: `row has ${r.fields.length} fields, header has ${header.length}`,
            text: clipText(r.raw),
          };
          continue;
        }
        if (r.badField >= 0) {
          const field = header[r.badField];
          yield {
            kind: 'malformed',
            line: r.line,
            field,
            message: `field ${field} is not valid UTF-8`,
            text: clipText(r.raw),
          };
          continue;
        }
        yield { kind: 'row', line: r.line, header, values: r.fields };
      }
    }
  } catch (err) {
    if (err instanceof CsvSyntaxError) {
      throw new InputError(
        ErrorCodes.MALFORMED_INPUT,
        `unreadable CSV (${err.message})`,
        { object: opts.object, line: err.line },
        err,
      );
    }
    throw err;
  }
}

/** Reads only the header (after aliases and duplicate suffixes); `[]` for an empty object. */
export async function readCsvHeader(bytes: Readable, opts: CsvReadOptions): Promise<string[]> {
  for await (const records of parseRecords(bytes)) {
    for (const r of records) {
      if (isEmptyLine(r)) continue;
      // Leaving the loop ends the generator, and the source is released.
      return headerNames(r.fields, r.badField, opts);
    }
  }
  return [];
}
