import { isUtf8 } from 'node:buffer';
import { LosslessNumber, isLosslessNumber, stringify as stringifyLossless } from 'lossless-json';
import { Decimal, decimalToString } from '../../schemas/decimal';
import { ErrorCodes, InputError } from '../../runtime/errors';
import { MALFORMED_TEXT_LIMIT } from './rows';

/*
 * How typed values (Parquet and Avro columns) become the export's text: exact decimals, the
 * shortest double that round-trips, ISO-8601 timestamps, JSON for nested values. The Parquet and
 * the Avro readers both use these rules, so a value reads the same from either format.
 */

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
