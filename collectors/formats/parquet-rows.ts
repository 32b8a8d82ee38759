import { isUtf8 } from 'node:buffer';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';
import { LosslessNumber, isLosslessNumber, stringify as stringifyLossless } from 'lossless-json';
import type { AsyncBuffer, FileMetaData, ParquetParsers, SchemaElement, SchemaTree } from 'hyparquet' with {
  'resolution-mode': 'import',
};
import { Decimal, decimalToString } from '../../schemas/decimal';
import { ErrorCodes, InputError, PermanentError } from '../../runtime/errors';
import { MALFORMED_TEXT_LIMIT, type MapLine } from './rows';

// ---------------------------------------------------------------------------------------------
// Loading hyparquet (ESM-only) from this CommonJS module
// ---------------------------------------------------------------------------------------------

type Hyparquet = typeof import('hyparquet', { with: { 'resolution-mode': 'import' } });
type HyparquetCompressors = typeof import('hyparquet-compressors', { with: { 'resolution-mode': 'import' } });
/** Constructors of the realm hyparquet runs in, for its `instanceof Promise` / `ArrayBuffer` checks. */
interface Realm {
  Promise: PromiseConstructor;
  ArrayBuffer: ArrayBufferConstructor;
  Uint8Array: Uint8ArrayConstructor;
}
export interface HyparquetModules {
  hyparquet: Hyparquet;
  compressors: HyparquetCompressors['compressors'];
  realm: Realm;
}

let loading: Promise<HyparquetModules> | undefined;

/**
 * hyparquet and hyparquet-compressors are ES modules. Node >= 20.19 (our `engines`) loads them with
 * a plain `require()` (require(esm)), which is what the built service does. Jest's module registry
 * only supports require(esm) from Node 24.9 and its vm sandbox refuses a bare dynamic `import()`
 * without --experimental-vm-modules, so there we fall back to `import()` compiled in the main
 * context with Node's default loader (`vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER`). Objects from
 * that path belong to the main realm: nothing below relies on `instanceof` for hyparquet values, and
 * the promises and buffers we hand to hyparquet are made in its realm (it checks `instanceof Promise`).
 */
/**
 * Loads an ES module from this CommonJS code the way loadHyparquet does: require(esm) where Node
 * allows it, else `import()` in the main context. Values that cross from such a module must not
 * rely on `instanceof` against this realm's classes.
 */
export async function importEsm<T>(specifier: string): Promise<T> {
  const req = createRequire(__filename);
  try {
    return req(specifier) as T;
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ERR_REQUIRE_ESM') throw err;
  }
  const load = vm.runInThisContext('(url) => import(url)', {
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  }) as (url: string) => Promise<unknown>;
  return (await load(pathToFileURL(req.resolve(specifier)).href)) as T;
}

export function loadHyparquet(): Promise<HyparquetModules> {
  loading ??= (async (): Promise<HyparquetModules> => {
    const req = createRequire(__filename);
    try {
      const hyparquet = req('hyparquet') as Hyparquet;
      const { compressors } = req('hyparquet-compressors') as HyparquetCompressors;
      return { hyparquet, compressors, realm: { Promise, ArrayBuffer, Uint8Array } };
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ERR_REQUIRE_ESM') throw err;
    }
    const importEsm = vm.runInThisContext('(url) => import(url)', {
      importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    }) as (url: string) => Promise<unknown>;
    const hyparquet = (await importEsm(pathToFileURL(req.resolve('hyparquet')).href)) as Hyparquet;
    const { compressors } = (await importEsm(
      pathToFileURL(req.resolve('hyparquet-compressors')).href,
    )) as HyparquetCompressors;
    const realm = vm.runInThisContext('({ Promise, ArrayBuffer, Uint8Array })') as Realm;
    return { hyparquet, compressors, realm };
  })();
  loading.catch(() => (loading = undefined));
  return loading;
}

// ---------------------------------------------------------------------------------------------
// Value-to-text rules shared with the Avro reader
// ---------------------------------------------------------------------------------------------

/**
 * A value that cannot be turned into text; the row becomes a `malformed` result. InputError
 * writes the message as `field <field>: <message>`.
 */
export class ValueError extends InputError {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(ErrorCodes.MALFORMED_INPUT, message, field === undefined ? {} : { field });
  }
}

/** Exact text of `unscaled × 10^-scale`: no exponent, no trailing zeros, never "-0". */
export function scaledDecimalText(unscaled: bigint, scale: number): string {
  const neg = unscaled < 0n;
  let digits = (neg ? -unscaled : unscaled).toString();
  let text: string;
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    const int = digits.slice(0, digits.length - scale);
    const frac = digits.slice(digits.length - scale).replace(/0+$/, '');
    text = frac ? `${int}.${frac}` : int;
  } else {
    text = digits === '0' ? digits : digits + '0'.repeat(-scale);
  }
  return neg && text !== '0' ? `-${text}` : text;
}

/** Big-endian two's-complement bytes (Parquet and Avro decimals) to a bigint. */
export function bytesToBigInt(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  const v = BigInt(`0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`);
  return bytes[0] & 0x80 ? v - (1n << BigInt(bytes.length * 8)) : v;
}

/**
 * A finite double as plain decimal text: the shortest text that round-trips (`String(n)`), taken
 * out of exponent form through Decimal, so 1.385e-05 -> "0.00001385". The digits are those of the
 * double as written; no binary expansion is invented.
 */
export function doubleText(n: number): string {
  return decimalToString(new Decimal(String(n)));
}

/** A FLOAT (32-bit) widened to a JS number: the shortest text that rounds back to the same float. */
export function floatText(n: number): string {
  for (let p = 1; p <= 9; p++) {
    const s = n.toPrecision(p);
    if (Math.fround(Number(s)) === n) return decimalToString(new Decimal(s));
  }
  return doubleText(n);
}

/** A JSON leaf for a JS number: exact decimal text, or a string for NaN / ±Infinity (not JSON numbers). */
export function numberJson(n: number, isFloat32 = false): LosslessNumber | string {
  if (!Number.isFinite(n)) return String(n);
  return new LosslessNumber(
    Number.isInteger(n) && Math.abs(n) < 2 ** 53 ? String(n) : isFloat32 ? floatText(n) : doubleText(n),
  );
}

const MAX_DATE_MS = 8.64e15;

/**
 * ISO-8601 UTC text (`...Z`) of an epoch count in `unitsPerSecond` units (1000 = millis, 1e6 = micros,
 * 1e9 = nanos). The fraction keeps every non-zero digit of the unit and is omitted when zero, like
 * processors/normalize `formatIso`.
 */
export function isoFromEpoch(value: bigint, unitsPerSecond: bigint): string {
  let secs = value / unitsPerSecond;
  let frac = value % unitsPerSecond;
  if (frac < 0n) {
    frac += unitsPerSecond;
    secs -= 1n;
  }
  const ms = Number(secs) * 1000;
  if (!(Math.abs(ms) <= MAX_DATE_MS)) throw new ValueError(`timestamp ${value} is out of range`);
  const base = new Date(ms).toISOString().replace(/\.000Z$/, '');
  if (frac === 0n) return `${base}Z`;
  const width = unitsPerSecond.toString().length - 1;
  let digits = frac.toString().padStart(width, '0');
  while (digits.length > 3 && digits.endsWith('000')) digits = digits.slice(0, -3);
  return `${base}.${digits}Z`;
}

/** `YYYY-MM-DD` of a count of days since 1970-01-01. */
export function dateFromDays(days: number): string {
  const ms = days * 86_400_000;
  if (!(Math.abs(ms) <= MAX_DATE_MS)) throw new ValueError(`date ${days} is out of range`);
  return new Date(ms).toISOString().replace(/T.*$/, '');
}

/** Time of day from a count of `unitsPerSecond` units since midnight: `HH:MM:SS[.fraction]`. */
export function timeOfDay(value: bigint, unitsPerSecond: bigint): string {
  const iso = isoFromEpoch(value, unitsPerSecond);
  return iso.slice(iso.indexOf('T') + 1, -1);
}

/** Bytes without a text annotation: UTF-8 text when they are valid UTF-8, otherwise base64 (BigQuery's BYTES form). */
export function bytesText(bytes: Uint8Array): string {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return isUtf8(buf) ? buf.toString('utf8') : buf.toString('base64');
}

/** JSON value whose numbers are LosslessNumber, so `stringifyLossless` writes them digit for digit. */
export type JsonValue = null | string | boolean | LosslessNumber | JsonValue[] | { [key: string]: JsonValue };

/** Fallback for values whose schema gives no better rule (variant, geometry): plain JSON, numbers exact. */
export function genericJson(v: unknown): JsonValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return numberJson(v);
  if (typeof v === 'bigint') return new LosslessNumber(v.toString());
  if (isLosslessNumber(v)) return v;
  if (ArrayBuffer.isView(v)) return bytesText(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  if (Object.prototype.toString.call(v) === '[object Date]') return (v as Date).toISOString();
  if (Array.isArray(v)) return v.map(genericJson);
  if (typeof v === 'object') {
    const out: { [key: string]: JsonValue } = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = genericJson(x);
    return out;
  }
  return String(v);
}

/** Column text of a scalar JSON leaf; `undefined` means omit (null or empty). */
export function leafText(v: JsonValue): string | undefined {
  if (v === null) return undefined;
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'boolean') return String(v);
  if (isLosslessNumber(v)) return v.value;
  return stringifyLossless(v);
}

/** Sets `out[path]` unless another path already produced the same column name. */
export function putColumn(out: Record<string, string>, path: string, text: string | undefined): void {
  if (text === undefined) return;
  if (Object.prototype.hasOwnProperty.call(out, path))
    throw new ValueError('two fields flatten to this name', path);
  out[path] = text;
}

/** Text for a malformed result: the row as JSON, clipped. */
export function rowText(row: unknown): string {
  let text: string;
  try {
    text = stringifyLossless(genericJson(row)) ?? '';
  } catch {
    text = '';
  }
  return text.length > MALFORMED_TEXT_LIMIT ? text.slice(0, MALFORMED_TEXT_LIMIT) : text;
}

// ---------------------------------------------------------------------------------------------
// Parquet
// ---------------------------------------------------------------------------------------------

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
