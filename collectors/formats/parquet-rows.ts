import { LosslessNumber } from 'lossless-json';
import type { AsyncBuffer, FileMetaData, ParquetParsers, SchemaElement, SchemaTree } from 'hyparquet' with {
  'resolution-mode': 'import',
};
import { ErrorCodes, PermanentError } from '../../runtime/errors';
import { type MapLine } from './rows';
import { loadHyparquet } from './hyparquet';
import {
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
  type JsonValue,
} from './value-text';

/* Parquet exports as rows of text (readParquetRows), read by ranged reads of the object. */

/** Random access to the object: `slice(start, end)` returns bytes [start, end) (a ranged GET). */
export interface RangeSource {
  byteLength: number;
  slice(start: number, end: number): Promise<ArrayBuffer>;
}

/** Bytes read from the end of the file for the footer; a larger footer costs one more read. */
export const PARQUET_FOOTER_PREFETCH = 64 * 1024;

/**
 * Stands for a value our parsers could not convert (a string that is not UTF-8, where hyparquet's
 * default would insert U+FFFD; a timestamp out of range). Parsers run inside hyparquet's decoding,
 * so they must not throw: the walk below turns the marker into a `malformed` row.
 */
class BadValue {
  constructor(readonly message: string) {}
}

function guarded<T>(convert: (v: T) => string): (v: T) => unknown {
  return (v: T) => {
    if (v === null || v === undefined) return v;
    try {
      return convert(v);
    } catch (err) {
      return new BadValue((err as Error).message);
    }
  };
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

function big(v: unknown): bigint {
  return typeof v === 'bigint' ? v : BigInt(v as number);
}

/**
 * Our parsers for hyparquet: timestamps and dates become their final text here (hyparquet's
 * defaults build a Date and drop micro- and nanoseconds).
 */
const utf8Text = guarded((b: Uint8Array) => {
  try {
    return fatalUtf8.decode(b);
  } catch {
    throw new Error('is not valid UTF-8');
  }
});
const PARSERS: Partial<ParquetParsers> = {
  timestampFromMilliseconds: guarded((v: bigint) => isoFromEpoch(big(v), 1000n)),
  timestampFromMicroseconds: guarded((v: bigint) => isoFromEpoch(big(v), 1_000_000n)),
  timestampFromNanoseconds: guarded((v: bigint) => isoFromEpoch(big(v), 1_000_000_000n)),
  dateFromDays: guarded((v: number) => dateFromDays(Number(v))),
  stringFromBytes: utf8Text,
  // JSON columns stay text: JSON.parse would round big numbers.
  jsonFromBytes: utf8Text,
};

function isDecimal(e: SchemaElement): boolean {
  return e.converted_type === 'DECIMAL' || e.logical_type?.type === 'DECIMAL';
}

function decimalScale(e: SchemaElement): number {
  const lt = e.logical_type;
  return e.scale ?? (lt?.type === 'DECIMAL' ? lt.scale : 0) ?? 0;
}

/**
 * hyparquet turns DECIMAL columns into JS numbers (lossy beyond 15-17 digits). The schema handed to
 * it is therefore stripped of the DECIMAL annotation, so it returns the stored unscaled integers
 * (INT32 / INT64 / big-endian bytes); the original schema, kept for our own walk, has the scale.
 */
function withoutDecimals(metadata: FileMetaData): FileMetaData {
  return {
    ...metadata,
    schema: metadata.schema.map((e) => {
      if (!isDecimal(e)) return e;
      const copy: SchemaElement = { ...e };
      delete copy.converted_type;
      delete copy.logical_type;
      return copy;
    }),
  };
}

function isListLike(node: SchemaTree): boolean {
  if (node.element.converted_type !== 'LIST' || node.children.length > 1) return false;
  const first = node.children[0];
  return first !== undefined && first.children.length <= 1 && first.element.repetition_type === 'REPEATED';
}

function isMapLike(node: SchemaTree): boolean {
  if (node.element.converted_type !== 'MAP' || node.children.length > 1) return false;
  const first = node.children[0];
  if (first === undefined || first.children.length !== 2 || first.element.repetition_type !== 'REPEATED') {
    return false;
  }
  return first.children.every((c) => c.element.repetition_type !== 'REPEATED');
}

function timeUnitsPerSecond(e: SchemaElement): bigint | undefined {
  if (e.converted_type === 'TIME_MILLIS') return 1000n;
  if (e.converted_type === 'TIME_MICROS') return 1_000_000n;
  const lt = e.logical_type;
  if (lt?.type === 'TIME') {
    return lt.unit === 'MILLIS' ? 1000n : lt.unit === 'MICROS' ? 1_000_000n : 1_000_000_000n;
  }
  return undefined;
}

/** One stored leaf value (after hyparquet's conversions and our parsers) as a JSON leaf. */
function parquetLeaf(e: SchemaElement, v: unknown, path: string): JsonValue {
  if (v === null || v === undefined) return null;
  if (isDecimal(e)) {
    let unscaled: bigint;
    if (typeof v === 'bigint') unscaled = v;
    else if (typeof v === 'number') unscaled = BigInt(v);
    else if (ArrayBuffer.isView(v))
      unscaled = bytesToBigInt(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    else throw new ValueError(`unexpected decimal value ${String(v)}`, path);
    return new LosslessNumber(scaledDecimalText(unscaled, decimalScale(e)));
  }
  if (v instanceof BadValue) throw new ValueError(v.message, path);
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  const timeUnits = timeUnitsPerSecond(e);
  if (timeUnits !== undefined && (typeof v === 'number' || typeof v === 'bigint')) {
    try {
      return timeOfDay(big(v), timeUnits);
    } catch (err) {
      throw new ValueError((err as Error).message, path);
    }
  }
  if (typeof v === 'bigint') return new LosslessNumber(v.toString());
  if (typeof v === 'number') return numberJson(v, e.type === 'FLOAT');
  if (ArrayBuffer.isView(v)) return bytesText(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  return genericJson(v);
}

/** A Parquet value as JSON, following the schema (lists, maps, structs, repeated fields). */
function parquetJson(node: SchemaTree, v: unknown, path: string, asElement = false): JsonValue {
  if (v === null || v === undefined) return null;
  const e = node.element;
  if (e.logical_type?.type === 'VARIANT') return genericJson(v);
  if (!asElement && e.repetition_type === 'REPEATED' && Array.isArray(v)) {
    return v.map((x) => parquetJson(node, x, path, true));
  }
  if (isListLike(node) && Array.isArray(v)) {
    // Same element choice as hyparquet's assembly: the repeated group, or its single child.
    let el = node.children[0];
    if (el.children.length === 1) el = el.children[0];
    return v.map((x) => parquetJson(el, x, path, true));
  }
  if (isMapLike(node) && typeof v === 'object') {
    const valueNode =
      node.children[0].children.find((c) => c.element.name === 'value') ?? node.children[0].children[1];
    const out: { [key: string]: JsonValue } = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>))
      out[k] = parquetJson(valueNode, x, path, true);
    return out;
  }
  if (node.children.length && typeof v === 'object' && !Array.isArray(v)) {
    const out: { [key: string]: JsonValue } = {};
    const rec = v as Record<string, unknown>;
    for (const child of node.children)
      out[child.element.name] = parquetJson(child, rec[child.element.name], path);
    return out;
  }
  if (node.children.length) return genericJson(v);
  return parquetLeaf(e, v, path);
}

/** Flattens one top-level column: structs to dot paths, lists / maps / repeated fields to JSON text. */
function emitParquet(node: SchemaTree, v: unknown, path: string, out: Record<string, string>): void {
  if (v === null || v === undefined) return;
  const e = node.element;
  const isStruct =
    node.children.length > 0 &&
    e.repetition_type !== 'REPEATED' &&
    !isListLike(node) &&
    !isMapLike(node) &&
    e.logical_type?.type !== 'VARIANT' &&
    typeof v === 'object' &&
    !Array.isArray(v);
  if (isStruct) {
    const rec = v as Record<string, unknown>;
    for (const child of node.children)
      emitParquet(child, rec[child.element.name], `${path}.${child.element.name}`, out);
    return;
  }
  putColumn(out, path, leafText(parquetJson(node, v, path)));
}

/**
 * Streams the rows of a Parquet object (CUR 2.0 / legacy Athena CUR, Azure Parquet exports, BigQuery
 * EXPORT DATA format='PARQUET'). Needs random access: the footer is read first (one ranged read of
 * at most {@link PARQUET_FOOTER_PREFETCH} bytes, plus one more for a larger footer), then one row
 * group at a time, so memory is bounded by one row group whatever the file size.
 *
 * `line` is the 1-based row number. Every value becomes text: strings as is; integers in decimal;
 * DECIMAL exactly from its unscaled integer and scale; FLOAT / DOUBLE as the shortest text that
 * round-trips, without exponent (1.385e-05 -> "0.00001385"); timestamps ISO-8601 UTC with `Z`
 * (fraction kept to the stored unit, omitted when zero); DATE `YYYY-MM-DD`; booleans
 * `true` / `false`; bytes without annotation as UTF-8 text when valid, else base64. Structs are
 * flattened to dot paths (`service.description`); lists, maps and repeated fields stay whole as JSON
 * text with exact numbers (`resource_tags`, `labels`, `credits`). Null and empty strings are omitted.
 *
 * A string that is not UTF-8, an out-of-range timestamp or two fields flattening to one name make that
 * row `malformed`; the file continues. A file that is not Parquet, is truncated or corrupt, or uses an
 * unsupported codec or type throws PermanentError(UNREADABLE_OBJECT). Errors from `source.slice`
 * itself (network) are rethrown unchanged so the caller can retry them.
 */
export async function* readParquetRows(
  source: RangeSource,
  opts: { object: string },
): AsyncGenerator<MapLine> {
  const { hyparquet, compressors, realm } = await loadHyparquet();
  const sourceErrors = new WeakSet<object>();
  const size = source.byteLength;
  const file: AsyncBuffer = {
    byteLength: size,
    slice: (start: number, end: number = size): Promise<ArrayBuffer> => {
      const read = async (): Promise<ArrayBuffer> => {
        const to = Math.min(end, size);
        let buf: ArrayBuffer;
        try {
          buf = await source.slice(start, to);
        } catch (err) {
          if (typeof err === 'object' && err !== null) sourceErrors.add(err);
          throw err;
        }
        if (buf.byteLength !== to - start) {
          throw new Error(`short read: bytes ${start}-${to} returned ${buf.byteLength} bytes`);
        }
        if (Object.getPrototypeOf(buf) === realm.ArrayBuffer.prototype) return buf;
        const copy = new realm.Uint8Array(buf.byteLength);
        copy.set(new Uint8Array(buf));
        return copy.buffer;
      };
      return realm.Promise.resolve(read());
    },
  };
  const unreadable = (err: unknown): unknown => {
    if (typeof err === 'object' && err !== null && sourceErrors.has(err)) return err;
    if (err instanceof PermanentError) return err;
    return new PermanentError(
      ErrorCodes.UNREADABLE_OBJECT,
      `${opts.object}: unreadable Parquet file (${(err as Error)?.message ?? String(err)})`,
      { cause: err, details: { object: opts.object } },
    );
  };

  let metadata: FileMetaData;
  let tree: SchemaTree;
  try {
    if (size < 12) throw new Error(`${size} bytes is too short for a Parquet file`);
    metadata = await hyparquet.parquetMetadataAsync(file, {
      parsers: PARSERS,
      initialFetchSize: PARQUET_FOOTER_PREFETCH,
      geoparquet: false,
    });
    tree = hyparquet.parquetSchema(metadata);
  } catch (err) {
    throw unreadable(err);
  }
  const readMetadata = withoutDecimals(metadata);

  let groupStart = 0;
  let line = 0;
  for (let g = 0; g < metadata.row_groups.length; g++) {
    const groupRows = Number(metadata.row_groups[g].num_rows);
    if (groupRows === 0) continue;
    let rows: Record<string, unknown>[];
    try {
      rows = await hyparquet.parquetReadObjects({
        file,
        metadata: readMetadata,
        rowStart: groupStart,
        rowEnd: groupStart + groupRows,
        compressors,
        parsers: PARSERS,
        utf8: false,
        geoparquet: false,
      });
      if (rows.length !== groupRows) {
        throw new Error(`row group ${g} holds ${groupRows} rows, ${rows.length} decoded`);
      }
    } catch (err) {
      throw unreadable(err);
    }
    groupStart += groupRows;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      line++;
      const columns: Record<string, string> = {};
      try {
        for (const child of tree.children)
          emitParquet(child, row[child.element.name], child.element.name, columns);
      } catch (err) {
        if (!(err instanceof ValueError)) throw err;
        yield {
          kind: 'malformed',
          line,
          ...(err.field === undefined ? {} : { field: err.field }),
          message: err.message,
          text: rowText(row),
        };
        continue;
      }
      // Release the row as soon as it is consumed: the group array is the only large allocation.
      (rows as unknown[])[i] = undefined;
      yield { kind: 'row', line, columns };
    }
  }
}
