/**
 * The one shape every export reader produces: a header per object and rows as positional values.
 *
 * Why positional: an export repeats the same ~100-200 column names on every line. Carrying them once
 * per object (instead of a name -> value map per row) is what lets normalize compile one column plan
 * per header and read each value by index, and what keeps the raw topic smaller than the CSV itself
 * (schemas/raw-row-batch.avsc).
 *
 * Rules shared by every reader:
 * - `header` is the same array instance for every row read under it. A CSV object has one header;
 *   a JSON-lines, Parquet or Avro object gets a new, longer header when a row brings a column not seen
 *   before in that object (earlier rows simply end before it).
 * - `values[i]` is the text of `header[i]`; `''` and a missing trailing value both mean null (empty
 *   is null in every provider format). Money and quantities stay exact text.
 */
export type Header = readonly string[];

export interface RowLine {
  kind: 'row';
  /** 1-based physical line (CSV: the header is line 1) or record number in the decompressed object. */
  line: number;
  header: Header;
  values: readonly string[];
}

export interface MalformedLine {
  kind: 'malformed';
  line: number;
  field?: string;
  message: string;
  /** The line as read (cut to MALFORMED_TEXT_LIMIT), for the dead letter's payload. */
  text: string;
}

export type ParsedLine = RowLine | MalformedLine;

/** A row as a name -> value map, the shape the JSON-lines, Parquet and Avro flatteners build. */
export type MapLine = { kind: 'row'; line: number; columns: Record<string, string> } | MalformedLine;

/** Longest `text` a malformed result carries; a multi-MB bad row is cut (the line number still finds it). */
export const MALFORMED_TEXT_LIMIT = 64 * 1024;

export function clipText(text: string): string {
  return text.length > MALFORMED_TEXT_LIMIT ? text.slice(0, MALFORMED_TEXT_LIMIT) : text;
}

/**
 * Turns name -> value rows into positional rows over a running header. The header only grows, so a
 * plan compiled for it stays valid for the rows before; a new array is made only when a row brings a
 * new column (rare: an object's rows come from one schema).
 */
export class HeaderBuilder {
  private names: string[] = [];
  private readonly index = new Map<string, number>();
  private current: Header = this.names;

  toPositional(columns: Record<string, string>): { header: Header; values: string[] } {
    const values: string[] = new Array<string>(this.names.length).fill('');
    let grown = false;
    for (const name in columns) {
      let i = this.index.get(name);
      if (i === undefined) {
        i = this.names.length;
        if (!grown) {
          this.names = [...this.names];
          grown = true;
        }
        this.names.push(name);
        this.index.set(name, i);
        values.push('');
      }
      values[i] = columns[name];
    }
    if (grown) this.current = this.names;
    return { header: this.current, values };
  }
}

/** Positional rows from a reader that yields name -> value maps. */
export async function* positional(lines: AsyncIterable<MapLine>): AsyncGenerator<ParsedLine> {
  const builder = new HeaderBuilder();
  for await (const l of lines) {
    if (l.kind !== 'row') {
      yield l;
      continue;
    }
    const { header, values } = builder.toPositional(l.columns);
    yield { kind: 'row', line: l.line, header, values };
  }
}

/** The non-empty values of a positional row by column name (dead-letter payloads, tests, tools). */
export function columnsOf(header: Header, values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const n = Math.min(header.length, values.length);
  for (let i = 0; i < n; i++) if (values[i] !== '') out[header[i]] = values[i];
  return out;
}

/**
 * The longest record (a CSV record, a JSON line) a reader holds before giving up on the object. A
 * billing row is a few KB; a "line" of a GiB is a broken or hostile export, and buffering it would
 * exhaust the process and crash-loop the collector on the same object. Configurable as
 * collector.max_record_bytes.
 */
export const MAX_RECORD_BYTES_DEFAULT = 16 * 1024 * 1024;
