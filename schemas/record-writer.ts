import type avro from 'avsc';

/**
 * A compiled Avro binary writer for flat record schemas (string, ["null","string"], long and
 * map<string> fields: the shape of usage-record.avsc), writing the same bytes as avsc's
 * `type.toBuffer`, many records into one growing buffer.
 *
 * Why not avsc's own writer: encoding a UsageRecord was the largest single cost of the normalize
 * stage (about 30 % of its CPU, profiled in bench/RESULTS.md), and most of it is per string, not
 * per byte: avsc measures every string with a native call before writing it. Two things make this
 * writer cheaper, without changing one byte on the wire:
 *   - ASCII text (nearly all billing data) is written in one pass: the length is the string's
 *     length, and the first non-ASCII character falls back to the exact UTF-8 path.
 *   - Consecutive records of one object repeat most values (account, period, object, revision,
 *     currency, ...). A field whose value equals the one it had in the previous record copies the
 *     bytes it wrote then, from earlier in the same buffer, instead of encoding them again.
 *
 * schemas/record-writer.test.ts checks the bytes against avsc's on every golden record.
 */

type FieldKind = 'string' | 'nullableString' | 'long' | 'stringMap';

interface AvscField {
  name: string;
  type: { typeName: string; types?: Array<{ typeName: string }>; valuesType?: { typeName: string } };
}

function kindOf(field: AvscField): FieldKind {
  const t = field.type;
  if (t.typeName === 'string') return 'string';
  if (t.typeName === 'long') return 'long';
  if (t.typeName === 'map' && t.valuesType?.typeName === 'string') return 'stringMap';
  if (
    t.typeName === 'union:unwrapped' &&
    t.types?.length === 2 &&
    t.types[0].typeName === 'null' &&
    t.types[1].typeName === 'string'
  )
    return 'nullableString';
  throw new Error(`record-writer: field ${field.name} has type ${t.typeName}, which it does not write`);
}

/** Field names are Avro names ([A-Za-z_][A-Za-z0-9_]*), checked again here before use in code. */
const AVRO_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type RecordWriterFor<T> = new () => RecordWriter<T>;

/**
 * Compiles a writer class for one record type. The per-record function is generated once (as avsc
 * does for its own writers) so that every field is a plain property read.
 */
export function compileRecordWriter<T>(type: avro.Type): RecordWriterFor<T> {
  const fields = (type as unknown as { fields: AvscField[] }).fields;
  const body = fields
    .map((f, i) => {
      if (!AVRO_NAME.test(f.name)) throw new Error(`record-writer: field name ${f.name}`);
      const kind = kindOf(f);
      if (kind === 'long') return `w.long(r.${f.name}, ${i});`;
      if (kind === 'stringMap') return `w.stringMap(r.${f.name}, ${i});`;
      return `w.${kind}(r.${f.name}, ${i});`;
    })
    .join('\n');
  const writeFields = new Function('w', 'r', body) as (w: RecordWriter<T>, r: T) => void;
  const names = fields.map((f) => f.name);
  return class extends RecordWriter<T> {
    constructor() {
      super(names, writeFields);
    }
  };
}

export class RecordWriter<T> {
  buf: Buffer = Buffer.allocUnsafe(64 * 1024);
  /** Bytes written so far. */
  pos = 0;
  // The previous record's value of each field, and where its bytes are in buf.
  private readonly last: unknown[];
  private readonly lastStart: Int32Array;
  private readonly lastEnd: Int32Array;

  constructor(
    private readonly names: readonly string[],
    private readonly writeFields: (w: RecordWriter<T>, r: T) => void,
  ) {
    this.last = new Array(names.length).fill(undefined);
    this.lastStart = new Int32Array(names.length);
    this.lastEnd = new Int32Array(names.length);
  }

  /** Appends one record's Avro bytes. */
  write(record: T): void {
    this.writeFields(this, record);
  }

  /** Moves the bytes [start, pos) to the front and forgets the remembered values (their bytes moved). */
  keepFrom(start: number): void {
    this.buf.copyWithin(0, start, this.pos);
    this.pos -= start;
    this.last.fill(undefined);
  }

  /** Empties the buffer (the bytes written so far must have been copied out). */
  clear(): void {
    this.keepFrom(this.pos);
  }

  // --- per field kind (called by the generated function) ---

  string(s: unknown, i: number): void {
    if (typeof s !== 'string') throw this.invalid(s, i);
    if (s === this.last[i]) return this.repeat(i);
    const start = this.pos;
    this.text(s);
    this.remember(s, i, start);
  }

  nullableString(s: unknown, i: number): void {
    if (s === null) {
      this.ensure(1);
      this.buf[this.pos++] = 0; // union branch 0: null
      return;
    }
    if (typeof s !== 'string') throw this.invalid(s, i);
    if (s === this.last[i]) return this.repeat(i);
    const start = this.pos;
    this.ensure(1);
    this.buf[this.pos++] = 2; // union branch 1 (zig-zag 1): string
    this.text(s);
    this.remember(s, i, start);
  }

  long(n: unknown, i: number): void {
    // avsc's range for a long held in a JS number.
    if (typeof n !== 'number' || !Number.isInteger(n) || Math.abs(n) > 9007199254740990)
      throw this.invalid(n, i);
    this.ensure(10);
    this.varint(n);
  }

  stringMap(m: unknown, i: number): void {
    if (m === null || typeof m !== 'object' || Array.isArray(m)) throw this.invalid(m, i);
    const map = m as Record<string, unknown>;
    const keys = Object.keys(map);
    this.ensure(20);
    if (keys.length > 0) {
      this.varint(keys.length);
      for (const k of keys) {
        const v = map[k];
        if (typeof v !== 'string') throw this.invalid(m, i);
        this.text(k);
        this.text(v);
      }
    }
    this.ensure(1);
    this.buf[this.pos++] = 0; // end of the map's blocks
  }

  // --- encoding ---

  private remember(s: string, i: number, start: number): void {
    this.last[i] = s;
    this.lastStart[i] = start;
    this.lastEnd[i] = this.pos;
  }

  /** The field's bytes from the previous record, again. */
  private repeat(i: number): void {
    const start = this.lastStart[i];
    const n = this.lastEnd[i] - start;
    this.ensure(n);
    const buf = this.buf;
    let pos = this.pos;
    if (n < 32) for (let k = start; k < start + n; k++) buf[pos++] = buf[k];
    else {
      buf.copyWithin(pos, start, start + n);
      pos += n;
    }
    this.pos = pos;
    this.lastStart[i] = this.pos - n;
    this.lastEnd[i] = this.pos;
  }

  /** An Avro string: zig-zag varint byte length, then UTF-8. */
  private text(s: string): void {
    const n = s.length;
    this.ensure(10 + n * 3);
    const buf = this.buf;
    const start = this.pos;
    this.varint(n);
    let pos = this.pos;
    for (let k = 0; k < n; k++) {
      const c = s.charCodeAt(k);
      if (c >= 0x80) {
        // Not ASCII: the byte length differs from the length; write it exactly.
        this.pos = start;
        const bytes = Buffer.byteLength(s);
        this.varint(bytes);
        this.pos += buf.write(s, this.pos, bytes, 'utf8');
        return;
      }
      buf[pos++] = c;
    }
    this.pos = pos;
  }

  /** avsc's writeLong: zig-zag, 7 bits per byte; integer arithmetic while it cannot overflow. */
  private varint(n: number): void {
    const buf = this.buf;
    let pos = this.pos;
    if (n >= -1073741824 && n < 1073741824) {
      let m = n >= 0 ? n << 1 : (~n << 1) | 1;
      while (m > 0x7f) {
        buf[pos++] = (m & 0x7f) | 0x80;
        m >>>= 7;
      }
      buf[pos++] = m;
    } else {
      let f = n >= 0 ? n * 2 : -n * 2 - 1;
      while (f >= 128) {
        buf[pos++] = (f % 128) | 0x80;
        f = Math.floor(f / 128);
      }
      buf[pos++] = f;
    }
    this.pos = pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  private invalid(value: unknown, i: number): Error {
    return new TypeError(`invalid value for field ${this.names[i]}: ${JSON.stringify(value)}`);
  }
}
