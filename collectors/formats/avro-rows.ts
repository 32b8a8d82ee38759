import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import avro from 'avsc';
import { LosslessNumber } from 'lossless-json';
import { ErrorCodes, PermanentError } from '../../runtime/errors';
import type { MapLine } from './rows';
import { loadHyparquet } from './hyparquet';
import {
  JsonValue,
  ValueError,
  bytesText,
  bytesToBigInt,
  dateFromDays,
  genericJson,
  isoFromEpoch,
  leafText,
  numberJson,
  putColumn,
  rowText,
  scaledDecimalText,
  timeOfDay,
} from './value-text';

const MAGIC = Buffer.from([0x4f, 0x62, 0x6a, 0x01]); // "Obj" 1
const SYNC_SIZE = 16;

/** Avro object container codecs we can read. */
export const AVRO_CODECS = ['null', 'deflate', 'snappy'] as const;

/**
 * Not Avro, truncated, corrupt, or an unsupported codec: the object cannot be read at all.
 * readAvroRows wraps it with the object name and byte position.
 */
class Unreadable extends PermanentError {
  constructor(message: string) {
    super(ErrorCodes.UNREADABLE_OBJECT, message);
  }
}

/**
 * Pulls bytes from the source on demand. Chunks are joined only when a caller needs a contiguous
 * range (one block), so a block spread over many chunks is copied once.
 */
class ByteQueue {
  private chunks: Buffer[] = [];
  private length = 0;
  private ended = false;
  consumed = 0;

  constructor(private readonly source: AsyncIterator<Buffer | string>) {}

  /** Reads until `n` bytes are buffered or the source ends; true when they are. */
  async fill(n: number): Promise<boolean> {
    while (this.length < n && !this.ended) {
      const next = await this.source.next();
      if (next.done) {
        this.ended = true;
        break;
      }
      const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
      if (chunk.length) {
        this.chunks.push(chunk);
        this.length += chunk.length;
      }
    }
    return this.length >= n;
  }

  get available(): number {
    return this.length;
  }

  /** The first `n` buffered bytes as one buffer, without consuming them. */
  peek(n: number): Buffer {
    if (this.chunks[0].length < n) {
      let have = 0;
      let k = 0;
      while (have < n) have += this.chunks[k++].length;
      this.chunks.splice(0, k, Buffer.concat(this.chunks.slice(0, k), have));
    }
    return this.chunks[0].subarray(0, n);
  }

  /** Consumes and returns `n` bytes (all must be buffered). */
  take(n: number): Buffer {
    const out = n === 0 ? Buffer.alloc(0) : this.peek(n);
    this.skip(n);
    return out;
  }

  private skip(n: number): void {
    this.length -= n;
    this.consumed += n;
    while (n > 0) {
      const head = this.chunks[0];
      if (head.length <= n) {
        n -= head.length;
        this.chunks.shift();
      } else {
        this.chunks[0] = head.subarray(n);
        n = 0;
      }
    }
  }

  /** True when the source has ended and every byte was consumed. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill(1));
  }

  /** A zig-zag varint `long` (at most 10 bytes). */
  async readLong(what: string): Promise<bigint> {
    await this.fill(10);
    const n = Math.min(10, this.length);
    if (n === 0) throw new Unreadable(`truncated before ${what}`);
    const head = this.peek(n);
    let value = 0n;
    let shift = 0n;
    for (let i = 0; i < n; i++) {
      const b = head[i];
      value |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if ((b & 0x80) === 0) {
        this.skip(i + 1);
        return (value >> 1n) ^ -(value & 1n);
      }
    }
    throw new Unreadable(n < 10 ? `truncated in ${what}` : `invalid varint in ${what}`);
  }

  async readBytes(n: number, what: string): Promise<Buffer> {
    if (!(await this.fill(n))) throw new Unreadable(`truncated in ${what} (${n} bytes expected)`);
    return this.take(n);
  }
}

function safeCount(v: bigint, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (v < 0n || v > BigInt(max)) throw new Unreadable(`invalid ${what} ${v}`);
  return Number(v);
}

/** Header metadata: an Avro map<bytes> (blocks of count [, size] then entries, ending with 0). */
async function readHeader(q: ByteQueue): Promise<{ meta: Map<string, Buffer>; sync: Buffer }> {
  if (!(await q.fill(MAGIC.length)) || !q.peek(MAGIC.length).equals(MAGIC)) {
    throw new Unreadable('not an Avro object container file (bad magic bytes)');
  }
  q.take(MAGIC.length);
  const meta = new Map<string, Buffer>();
  for (;;) {
    let count = await q.readLong('header');
    if (count === 0n) break;
    if (count < 0n) {
      count = -count;
      await q.readLong('header');
    }
    for (let i = 0n; i < count; i++) {
      const key = await q.readBytes(
        safeCount(await q.readLong('header key'), 'header key length'),
        'header key',
      );
      const value = await q.readBytes(
        safeCount(await q.readLong('header value'), 'header value length'),
        'header',
      );
      meta.set(key.toString('utf8'), value);
    }
  }
  return { meta, sync: await q.readBytes(SYNC_SIZE, 'header sync marker') };
}

type Decompress = (data: Buffer) => Buffer | Promise<Buffer>;

async function codecFor(name: string): Promise<Decompress> {
  switch (name) {
    case 'null':
      return (data) => data;
    case 'deflate':
      return (data) => zlib.inflateRawSync(data);
    case 'snappy': {
      // Avro's snappy blocks: raw snappy data, then the big-endian CRC-32 of the uncompressed bytes.
      const { hyparquet } = await loadHyparquet();
      return (data) => {
        if (data.length < 4) throw new Unreadable('snappy block shorter than its checksum');
        const body = data.subarray(0, data.length - 4);
        let size = 0;
        let shift = 0;
        for (let i = 0; ; i++) {
          if (i >= body.length || i >= 5) throw new Unreadable('snappy block has no valid length');
          size += (body[i] & 0x7f) * 2 ** shift;
          shift += 7;
          if ((body[i] & 0x80) === 0) break;
        }
        const out = Buffer.alloc(size);
        hyparquet.snappyUncompress(body, out);
        if (zlib.crc32(out) !== data.readUInt32BE(data.length - 4)) {
          throw new Unreadable('snappy block checksum mismatch');
        }
        return out;
      };
    }
    default:
      throw new Unreadable(`unsupported Avro codec "${name}" (supported: ${AVRO_CODECS.join(', ')})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Types: 64-bit longs as bigint; logical types converted to their text when decoded
// ---------------------------------------------------------------------------------------------

/** `long` as bigint: avsc's default turns longs into JS numbers and rejects those above 2^53. */
const BIG_LONG = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(BigInt(n));
    return buf;
  },
  fromJSON: (v: unknown) => BigInt(v as string),
  toJSON: (n: bigint) => n.toString(),
  isValid: (n: unknown) => typeof n === 'bigint',
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
});

function toBigInt(v: unknown): bigint {
  return typeof v === 'bigint' ? v : BigInt(v as number);
}

/** Marks a value the logical type could not convert; the walk turns it into a malformed row. */
class BadValue {
  constructor(readonly message: string) {}
}

function isLongSchema(schema: unknown): boolean {
  return typeof schema === 'object' && schema !== null && (schema as { type?: unknown }).type === 'long';
}

/**
 * avsc resolves the name `"long"` through the registry but builds its own number-based LongType for
 * the object form `{"type": "long", ...}`, which BigQuery uses for every TIMESTAMP. This hook sends
 * both forms to {@link BIG_LONG}, except where a logical type of ours must be built first.
 */
const longHook =
  (inLogicalType: boolean) =>
  (schema: unknown): avro.Type | undefined => {
    if (!isLongSchema(schema)) return undefined;
    const logical = (schema as { logicalType?: unknown }).logicalType;
    if (!inLogicalType && typeof logical === 'string' && logical in LOGICAL_TYPES) return undefined;
    return BIG_LONG;
  };

/** Base for read-only logical types: decoding converts, encoding is not supported. */
abstract class TextLogicalType extends avro.types.LogicalType {
  constructor(schema: avro.Schema, opts?: object) {
    // The underlying type is built from the same schema: make a `long` underneath a bigint.
    super(schema, { ...opts, typeHook: longHook(true) });
  }
  protected abstract convert(v: unknown): JsonValue;
  protected override _fromValue(v: unknown): unknown {
    try {
      return this.convert(v);
    } catch (err) {
      return new BadValue((err as Error).message);
    }
  }
  protected override _toValue(): unknown {
    throw new Error('meterflow reads Avro only');
  }
  protected override _resolve(): undefined {
    return undefined;
  }
}

/** `decimal` on bytes or fixed: exact text from the big-endian unscaled integer and the scale. */
class DecimalType extends TextLogicalType {
  private readonly scale: number;
  constructor(schema: avro.Schema, opts?: object) {
    super(schema, opts);
    this.scale = Number((schema as { scale?: unknown }).scale ?? 0);
  }
  protected convert(v: Buffer): JsonValue {
    return new LosslessNumber(scaledDecimalText(bytesToBigInt(v), this.scale));
  }
}

function timestampType(unitsPerSecond: bigint) {
  return class extends TextLogicalType {
    protected convert(v: unknown): JsonValue {
      return isoFromEpoch(toBigInt(v), unitsPerSecond);
    }
  };
}

function timeType(unitsPerSecond: bigint) {
  return class extends TextLogicalType {
    protected convert(v: unknown): JsonValue {
      return timeOfDay(toBigInt(v), unitsPerSecond);
    }
  };
}

class DateType extends TextLogicalType {
  protected convert(v: number): JsonValue {
    return dateFromDays(v);
  }
}

const LOGICAL_TYPES: Record<string, new (schema: avro.Schema, opts?: object) => avro.types.LogicalType> = {
  decimal: DecimalType,
  'timestamp-millis': timestampType(1000n),
  'timestamp-micros': timestampType(1_000_000n),
  'timestamp-nanos': timestampType(1_000_000_000n),
  'local-timestamp-millis': timestampType(1000n),
  'local-timestamp-micros': timestampType(1_000_000n),
  'local-timestamp-nanos': timestampType(1_000_000_000n),
  'time-millis': timeType(1000n),
  'time-micros': timeType(1_000_000n),
  date: DateType,
};

// ---------------------------------------------------------------------------------------------
// Values to columns
// ---------------------------------------------------------------------------------------------

type AnyType = avro.Type & {
  typeName: string;
  fields?: { name: string; type: AnyType }[];
  itemsType?: AnyType;
  valuesType?: AnyType;
  types?: AnyType[];
};

/** Branch of an unwrapped union (`["null", T]`, BigQuery's NULLABLE) that a decoded value belongs to. */
function unionBranch(type: AnyType): AnyType | undefined {
  const branches = (type.types ?? []).filter((t) => t.typeName !== 'null');
  if (branches.length === 1) return branches[0];
  return undefined;
}

function avroJson(type: AnyType, v: unknown, path: string): JsonValue {
  if (v === null || v === undefined) return null;
  if (v instanceof BadValue) throw new ValueError(v.message, path);
  switch (type.typeName) {
    case 'record':
    case 'error': {
      const out: { [key: string]: JsonValue } = {};
      const rec = v as Record<string, unknown>;
      for (const f of type.fields ?? []) out[f.name] = avroJson(f.type, rec[f.name], path);
      return out;
    }
    case 'array':
      return (v as unknown[]).map((x) => avroJson(type.itemsType as AnyType, x, path));
    case 'map': {
      const out: { [key: string]: JsonValue } = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        out[k] = avroJson(type.valuesType as AnyType, x, path);
      }
      return out;
    }
    case 'union:unwrapped': {
      const branch = unionBranch(type);
      return branch ? avroJson(branch, v, path) : genericJson(v);
    }
    case 'union:wrapped': {
      // { branchName: value }: a single-key object naming the branch.
      const [name, x] = Object.entries(v as Record<string, unknown>)[0] ?? [];
      const branch = (type.types ?? []).find((t) => t.branchName === name);
      return branch ? avroJson(branch, x, path) : genericJson(x);
    }
    case 'float':
      return numberJson(v as number, true);
    case 'double':
    case 'int':
      return numberJson(v as number);
    case 'long':
    case 'abstract:long':
      return new LosslessNumber(toBigInt(v).toString());
    case 'bytes':
    case 'fixed':
      return bytesText(v as Buffer);
    case 'string':
    case 'enum':
    case 'boolean':
      return v as string | boolean;
    default:
      // Logical types converted themselves; anything else (unknown logical types) as plain JSON.
      return genericJson(v);
  }
}

function isRecord(type: AnyType): boolean {
  return type.typeName === 'record' || type.typeName === 'error';
}

/** Records flatten to dot paths; arrays and maps stay whole as JSON text. */
function emitAvro(type: AnyType, v: unknown, path: string, out: Record<string, string>): void {
  if (v === null || v === undefined) return;
  if (v instanceof BadValue) throw new ValueError(v.message, path);
  if (type.typeName === 'union:unwrapped') {
    const branch = unionBranch(type);
    if (branch) return emitAvro(branch, v, path, out);
  }
  if (isRecord(type)) {
    const rec = v as Record<string, unknown>;
    for (const f of type.fields ?? [])
      emitAvro(f.type, rec[f.name], path ? `${path}.${f.name}` : f.name, out);
    return;
  }
  putColumn(out, path, leafText(avroJson(type, v, path)));
}

/**
 * Streams BigQuery `EXPORT DATA (format='AVRO')` object container files (codecs null, deflate and
 * snappy), block by block: memory holds one block. `line` is the 1-based record number.
 *
 * Values become text as in {@link readParquetRows}: `decimal` (NUMERIC = decimal(38,9), BIGNUMERIC)
 * exactly from its unscaled bytes; `long` exactly (never through a JS number); double / float as the
 * shortest round-trip text without exponent; `timestamp-micros` / `-millis` ISO-8601 UTC with `Z`;
 * `date` `YYYY-MM-DD`; `time-*` `HH:MM:SS[.fraction]`; bytes as UTF-8 text when valid, else base64.
 * Records (STRUCT) flatten to dot paths (`service.description`); arrays (REPEATED: `labels`,
 * `credits`) and maps stay whole as JSON text with exact numbers. Null and empty strings are omitted.
 *
 * A value that cannot be converted (out-of-range timestamp, colliding names) makes that record
 * `malformed`. A file that is not Avro, is truncated or corrupt, or uses another codec throws
 * PermanentError(UNREADABLE_OBJECT); errors of the byte stream itself are rethrown unchanged.
 */
export async function* readAvroRows(bytes: Readable, opts: { object: string }): AsyncGenerator<MapLine> {
  const source = (bytes as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  let sourceError: unknown;
  const guardedSource: AsyncIterator<Buffer | string> = {
    next: async () => {
      try {
        return await source.next();
      } catch (err) {
        sourceError = err;
        throw err;
      }
    },
  };
  const q = new ByteQueue(guardedSource);
  const unreadable = (err: unknown): unknown => {
    if (err === sourceError) return err;
    return new PermanentError(
      ErrorCodes.UNREADABLE_OBJECT,
      `${opts.object}: unreadable Avro file at byte ${q.consumed} (${(err as Error)?.message ?? String(err)})`,
      { cause: err, details: { object: opts.object } },
    );
  };

  let line = 0;
  try {
    let type: AnyType;
    let decompress: Decompress;
    let sync: Buffer;
    try {
      const header = await readHeader(q);
      sync = header.sync;
      decompress = await codecFor(header.meta.get('avro.codec')?.toString('utf8') || 'null');
      const schemaText = header.meta.get('avro.schema');
      if (!schemaText) throw new Unreadable('header has no avro.schema');
      type = avro.Type.forSchema(JSON.parse(schemaText.toString('utf8')), {
        registry: { long: BIG_LONG },
        typeHook: longHook(false),
        logicalTypes: LOGICAL_TYPES,
        wrapUnions: 'auto',
      }) as AnyType;
    } catch (err) {
      throw unreadable(err);
    }

    for (;;) {
      let block: Buffer;
      let count: number;
      try {
        if (await q.atEnd()) break;
        count = safeCount(await q.readLong('block count'), 'block count');
        const size = safeCount(await q.readLong('block size'), 'block size', 2 ** 31 - 1);
        const data = await q.readBytes(size, 'block data');
        const marker = await q.readBytes(SYNC_SIZE, 'block sync marker');
        if (!marker.equals(sync)) throw new Unreadable('sync marker mismatch (corrupt block)');
        block = await decompress(data);
      } catch (err) {
        throw unreadable(err);
      }
      let pos = 0;
      for (let i = 0; i < count; i++) {
        let value: unknown;
        try {
          const res = type.decode(block, pos);
          if (res.offset < 0) throw new Unreadable(`block ends inside record ${i + 1} of ${count}`);
          value = res.value;
          pos = res.offset;
        } catch (err) {
          throw unreadable(err);
        }
        line++;
        const columns: Record<string, string> = {};
        try {
          emitAvro(type, value, '', columns);
        } catch (err) {
          if (!(err instanceof ValueError)) throw err;
          yield {
            kind: 'malformed',
            line,
            ...(err.field === undefined ? {} : { field: err.field }),
            message: err.message,
            text: rowText(value),
          };
          continue;
        }
        yield { kind: 'row', line, columns };
      }
      if (pos !== block.length) {
        throw unreadable(
          new Unreadable(`${block.length - pos} bytes left over after the block's ${count} records`),
        );
      }
    }
  } finally {
    // Leaving early (consumer break, error) releases the source.
    if (!bytes.destroyed) bytes.destroy();
  }
}
