import { z } from 'zod';
import { Decimal, decimalToString, parseDecimal } from '../../../schemas/decimal';
import type { Matcher } from './types';

/**
 * Schemas of the price book's field types (ids, text, currencies, decimals, dates, integers,
 * matchers), shared by every section of the document schema (schema.ts). Each reports its
 * problem in words a person editing the YAML understands ("expected a decimal string, got
 * \"abc\""), since these messages end up verbatim in PriceBookError.
 *
 * Every scalar arrives here as text: yaml.ts hands over the source text of YAML numbers and
 * booleans, so these schemas parse text and never see a JS number.
 */

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@/-]*$/;
const CURRENCY_PATTERN = /^[A-Z]{3}$/;

export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a mapping' : String(v);
}

export const idSchema = (description: string) =>
  z
    .string({ error: (iss) => `expected an id (text), got ${show(iss.input)}` })
    .regex(ID_PATTERN, 'expected an id of letters, digits and . _ : @ / - (starting with a letter or digit)')
    .describe(description);

export const textSchema = (description: string) =>
  z.string({ error: (iss) => `expected text, got ${show(iss.input)}` }).describe(description);

export const currencySchema = (description: string) =>
  z
    .string({ error: (iss) => `expected an ISO 4217 currency code such as USD, got ${show(iss.input)}` })
    .regex(CURRENCY_PATTERN, 'expected an ISO 4217 currency code such as USD (three capital letters)')
    .describe(description);

interface DecimalBounds {
  /** Inclusive lower bound. */
  min?: number;
  /** Exclusive lower bound. */
  above?: number;
  /** Inclusive upper bound. */
  max?: number;
}

/** A decimal from YAML text (strings and numbers alike arrive here as their source text). */
export const decimalSchema = (description: string, bounds: DecimalBounds = {}) =>
  z
    .unknown()
    .transform((v, ctx): Decimal => {
      const d = typeof v === 'string' ? parseDecimal(v) : undefined;
      if (d === undefined || !d.isFinite()) {
        ctx.addIssue({
          code: 'custom',
          message: v === undefined ? 'required' : `expected a decimal string, got ${show(v)}`,
        });
        return z.NEVER;
      }
      if (bounds.min !== undefined && d.lessThan(bounds.min))
        ctx.addIssue({
          code: 'custom',
          message: `must be at least ${bounds.min}, got ${decimalToString(d)}`,
        });
      if (bounds.above !== undefined && d.lessThanOrEqualTo(bounds.above))
        ctx.addIssue({
          code: 'custom',
          message: `must be greater than ${bounds.above}, got ${decimalToString(d)}`,
        });
      if (bounds.max !== undefined && d.greaterThan(bounds.max))
        ctx.addIssue({ code: 'custom', message: `must be at most ${bounds.max}, got ${decimalToString(d)}` });
      return d;
    })
    .describe(description);

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Parse a price-book date to epoch milliseconds; undefined when it is not a valid date. */
export function parseBookDate(text: string): number | undefined {
  const m = DATE_ONLY.exec(text) ?? DATE_TIME.exec(text);
  if (!m) return undefined;
  const ms = Date.parse(DATE_ONLY.test(text) ? `${text}T00:00:00Z` : text);
  if (Number.isNaN(ms)) return undefined;
  // Reject dates Date.parse silently rolls over (2026-02-30).
  const day = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  if (day.getUTCFullYear() !== Number(m[1]) || day.getUTCMonth() !== Number(m[2]) - 1) return undefined;
  if (day.getUTCDate() !== Number(m[3])) return undefined;
  return ms;
}

export const dateSchema = (description: string) =>
  z
    .unknown()
    .transform((v, ctx): string => {
      const ms = typeof v === 'string' ? parseBookDate(v) : undefined;
      if (ms === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a date YYYY-MM-DD or an ISO-8601 instant with zone, got ${show(v)}`,
        });
        return z.NEVER;
      }
      return new Date(ms).toISOString();
    })
    .describe(description);

export const integerSchema = (description: string) =>
  z
    .unknown()
    .transform((v, ctx): number => {
      if (typeof v === 'string' && /^[+-]?\d{1,15}$/.test(v.trim())) return Number(v.trim());
      ctx.addIssue({ code: 'custom', message: `expected an integer, got ${show(v)}` });
      return z.NEVER;
    })
    .describe(description);

export const matcherSchema = (description: string) =>
  z
    .unknown()
    .transform((v, ctx): Matcher => {
      const bad = (message: string) => {
        ctx.addIssue({ code: 'custom', message });
        return z.NEVER;
      };
      if (v === '*') return '*';
      if (typeof v === 'string') return v === '' ? bad('an empty value matches nothing') : [v];
      if (!Array.isArray(v)) return bad(`expected a value, a list of values, or '*', got ${show(v)}`);
      if (v.length === 0) return bad('an empty list matches nothing; use "*" to match anything');
      const values: string[] = [];
      for (const item of v) {
        if (typeof item !== 'string' || item === '')
          return bad(`list items must be non-empty text, got ${show(item)}`);
        if (item === '*') return bad(`'*' cannot be part of a list; write '*' alone`);
        if (values.includes(item)) return bad(`"${item}" is listed twice`);
        values.push(item);
      }
      return values;
    })
    .describe(description);
