import { createHash } from 'node:crypto';
import { Decimal, decimalToString } from '../../../schemas/decimal';
import type { PriceBook } from './types';

/** Canonical JSON: object keys sorted, decimals as canonical text, list order kept. */
export function canonicalJson(value: unknown): string {
  if (Decimal.isDecimal(value)) return JSON.stringify(decimalToString(value as Decimal));
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * sha256 (hex) of the book's canonical JSON. Equal for books that price identically whatever
 * their formatting, comments, key order or decimal spelling (0.10 vs '0.1'); any change to a
 * price, matcher, date, id, order or the version changes it.
 */
export function priceBookFingerprint(book: PriceBook): string {
  return createHash('sha256').update(canonicalJson(book)).digest('hex');
}
