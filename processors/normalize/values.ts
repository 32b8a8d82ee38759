import { parse as parseLossless, isLosslessNumber } from 'lossless-json';
import { DECIMAL_BOUNDS, Decimal, decimalToString, parseDecimal } from '../../schemas/decimal';
import { DeadLetterReasons, PermanentError } from '../../runtime/errors';
import { parseCompactJsonKeepingNumberText } from '../../collectors/formats/compact-json';
import { clipText } from '../../collectors/formats/rows';

/**
 * Value parsers shared by the per-format mappers. Every parser that can fail throws a
 * {@link FieldError} naming the SOURCE column, which normalizeRow turns into
 * `{ ok: false, reason: 'malformed', field }`. Money and quantities stay Decimal / decimal text.
 */

/** A value a mapper cannot use; its code is the dead-letter reason (malformed or schema_violation). */
export class FieldError extends PermanentError {
  constructor(
    readonly field: string,
    message: string,
    readonly reason:
      | typeof DeadLetterReasons.MALFORMED_INPUT
      | typeof DeadLetterReasons.SCHEMA_VIOLATION = DeadLetterReasons.MALFORMED_INPUT,
  ) {
    super(reason, message, { details: { field } });
    this.name = 'FieldError';
  }
}

/** A raw value together with the header it was read from (for error messages). */
export interface Cell {
  key: string;
  value: string;
}

/**
 * A mapper's input column, resolved against one header when the plan is compiled: the header
 * positions of its candidate names, so reading it per row is array indexing only. Candidates are
 * tried in the order given (then header order, when two headers normalize to the same name); the
 * first present, non-blank value wins, as the mappers' alias lists intend.
 */
export class Slot {
  constructor(
    private readonly positions: readonly number[],
    /** The header each position came from, named in error messages. */
    private readonly keys: readonly string[],
    /** Lower-case literal text read as null (FOCUS examples write `null`); null for none. */
    private readonly nulls: ReadonlySet<string> | null,
  ) {}

  /** True when the header has at least one candidate column. */
  get present(): boolean {
    return this.positions.length > 0;
  }

  /** First present, non-blank cell among the candidates. */
  cell(values: readonly string[]): Cell | undefined {
    const positions = this.positions;
    for (let i = 0; i < positions.length; i++) {
      const value = values[positions[i]];
      if (value === undefined || value === '') continue;
      if (!isBlankOrNull(value, this.nulls)) return { key: this.keys[i], value };
    }
    return undefined;
  }

  /** Trimmed text of the first present cell, else null. */
  str(values: readonly string[]): string | null {
    const positions = this.positions;
    for (let i = 0; i < positions.length; i++) {
      const value = values[positions[i]];
      if (value === undefined || value === '') continue;
      const t = trimmed(value);
      if (t === '' || (this.nulls !== null && this.nulls.has(t.toLowerCase()))) continue;
      return t;
    }
    return null;
  }
}

// Most export values carry no surrounding space: check the ends before paying for trim(). Every
// char String#trim removes is <= U+0020 or outside ASCII, so an ASCII-printable pair of ends is
// exactly the case where trim() would return the text unchanged.
function trimmed(v: string): string {
  const a = v.charCodeAt(0);
  const b = v.charCodeAt(v.length - 1);
  return a > 32 && a < 127 && b > 32 && b < 127 ? v : v.trim();
}

function isBlankOrNull(v: string, nulls: ReadonlySet<string> | null): boolean {
  const t = trimmed(v);
  return t === '' || (nulls !== null && nulls.has(t.toLowerCase()));
}

const NO_SLOT = new Slot([], [], null);

/**
 * A header compiled for one mapper: names normalized once (so `lineItem/UnblendedCost` and
 * `line_item_unblended_cost`, or `CostInBillingCurrency` and `costInBillingCurrency`, are one
 * name), looked up only while the plan is built, never per row.
 */
export class ColumnIndex {
  private readonly byName = new Map<string, number[]>();
  private readonly nulls: ReadonlySet<string> | null;

  constructor(
    readonly header: readonly string[],
    readonly normalizeKey: (header: string) => string,
    nullLiterals: readonly string[] = [],
  ) {
    header.forEach((h, i) => {
      const name = normalizeKey(h);
      const at = this.byName.get(name);
      if (at === undefined) this.byName.set(name, [i]);
      else at.push(i);
    });
    this.nulls = nullLiterals.length ? new Set(nullLiterals) : null;
  }

  /** The column(s) holding any of the (already normalized) names, in the order given. */
  slot(...names: string[]): Slot {
    const positions: number[] = [];
    for (const n of names) for (const i of this.byName.get(n) ?? []) positions.push(i);
    if (positions.length === 0) return NO_SLOT;
    return new Slot(
      positions,
      positions.map((i) => this.header[i]),
      this.nulls,
    );
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }
}

export interface MoneyOptions {
  /** Accept spreadsheet money (`"$10,000.00 "`): strip a currency sign, thousands separators and spaces. */
  lenient?: boolean;
}

/** Parse decimal text of a cell; throws FieldError naming the column when it is not a decimal. */
export function decimalOf(cell: Cell, opts: MoneyOptions = {}): Decimal {
  let text = cell.value.trim();
  if (opts.lenient) text = text.replace(/^([+-]?)\s*[$€£]\s*/, '$1').replace(/[,\s]/g, '');
  const d = parseDecimal(text);
  if (d === undefined) {
    throw new FieldError(
      cell.key,
      `${cell.key}: "${clipText(cell.value)}" is not a decimal number (at most ${DECIMAL_BOUNDS.maxIntegerDigits} integer digits and ${DECIMAL_BOUNDS.maxFractionDigits} decimal places)`,
    );
  }
  return d;
}

export function optDecimal(cell: Cell | undefined, opts: MoneyOptions = {}): Decimal | null {
  return cell === undefined ? null : decimalOf(cell, opts);
}

// Text that decimalToString would return unchanged: no sign but `-`, no leading zero, no exponent, no
// trailing fractional zero, not `-0`. Most export amounts already look like this.
const CANONICAL_DECIMAL = /^-?(?:0|[1-9]\d*)(?:\.\d*[1-9])?$/;
const CANONICAL_FAST_LENGTH = DECIMAL_BOUNDS.maxIntegerDigits;

/**
 * Canonical decimal text of a cell (what decimalToString(decimalOf(cell)) gives), without building
 * a Decimal when the text is canonical already. Throws FieldError naming the column otherwise.
 */
export function decimalTextOf(cell: Cell, opts: MoneyOptions = {}): string {
  const v = cell.value;
  // Short canonical text is within DECIMAL_BOUNDS whatever its digits; longer text is checked.
  if (v.length <= CANONICAL_FAST_LENGTH && CANONICAL_DECIMAL.test(v) && v !== '-0') return v;
  return decimalToString(decimalOf(cell, opts));
}

export function optDecimalText(cell: Cell | undefined, opts: MoneyOptions = {}): string | null {
  return cell === undefined ? null : decimalTextOf(cell, opts);
}

export function requireCell(cell: Cell | undefined, field: string, what: string): Cell {
  if (cell === undefined) throw new FieldError(field, `${field}: missing ${what}`);
  return cell;
}

// ---------------------------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------------------------

const ISO_LIKE =
  /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$/i;
const COMPACT = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(?:\.(\d{1,9}))?Z$/i;
const US_DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{2}|\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?\s*(AM|PM)?)?$/i;

function daysInMonth(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

const MIN_YEAR = 1900;

function build(
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  s: number,
  frac: string | undefined,
  offsetMinutes: number,
): number | undefined {
  // Date.UTC reads years 0-99 as 1900-1999: `0025-11-01` would silently become 1925. No billing
  // export dates a charge before 1900, so such a year is not a timestamp.
  if (y < MIN_YEAR) return undefined;
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return undefined;
  if (h > 23 || mi > 59 || s > 59) return undefined;
  const ms = frac === undefined ? 0 : Math.floor(Number(`0.${frac}`) * 1000 + 1e-9);
  return Date.UTC(y, mo - 1, d, h, mi, s, ms) - offsetMinutes * 60_000;
}

function parseOffset(z: string | undefined): number {
  if (z === undefined) return 0;
  const u = z.toUpperCase();
  if (u === 'Z' || u === 'UTC' || u === 'GMT') return 0;
  const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(z);
  if (!m) return NaN;
  if (Number(m[2]) > 14 || Number(m[3] ?? '0') > 59) return NaN;
  const mins = Number(m[2]) * 60 + Number(m[3] ?? '0');
  return m[1] === '-' ? -mins : mins;
}

/**
 * Epoch milliseconds of an export timestamp, or undefined when the text is none of the forms of
 * docs/export-formats.md, "Timestamp forms": ISO with `T` or space, optional fraction, `Z` /
 * ` UTC` / `+00:00` or no zone (= UTC); compact `20180801T000000.000Z`; US `MM/dd/yyyy` and
 * `M/d/yy` (Azure, FOCUS examples; two-digit years are 20yy); date-only forms mean midnight UTC.
 */
// Export rows repeat a few hundred distinct timestamps (hours of the month, period bounds): parsed
// and formatted text is remembered, bounded so a pathological file cannot grow it without limit.
const TIME_CACHE_LIMIT = 10_000;
const parsedTimes = new Map<string, number | undefined>();
const formattedTimes = new Map<number, string>();

export function parseTimestampMs(text: string): number | undefined {
  const hit = parsedTimes.get(text);
  if (hit !== undefined || parsedTimes.has(text)) return hit;
  const ms = parseTimestampUncached(text);
  if (parsedTimes.size >= TIME_CACHE_LIMIT) parsedTimes.clear();
  parsedTimes.set(text, ms);
  return ms;
}

function parseTimestampUncached(text: string): number | undefined {
  const t = text.trim();
  let m = ISO_LIKE.exec(t);
  if (m) {
    const off = parseOffset(m[8]);
    if (Number.isNaN(off)) return undefined;
    return build(
      Number(m[1]),
      Number(m[2]),
      Number(m[3]),
      Number(m[4] ?? 0),
      Number(m[5] ?? 0),
      Number(m[6] ?? 0),
      m[7],
      off,
    );
  }
  m = COMPACT.exec(t);
  if (m) {
    return build(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), m[7], 0);
  }
  m = US_DATE.exec(t);
  if (m) {
    let y = Number(m[3]);
    if (m[3].length === 2) y += 2000;
    let h = Number(m[4] ?? 0);
    if (m[7] !== undefined) {
      if (h < 1 || h > 12) return undefined;
      h = (h % 12) + (m[7].toUpperCase() === 'PM' ? 12 : 0);
    }
    return build(y, Number(m[1]), Number(m[2]), h, Number(m[5] ?? 0), Number(m[6] ?? 0), undefined, 0);
  }
  return undefined;
}

/** ISO-8601 UTC text `YYYY-MM-DDTHH:mm:ssZ` (milliseconds kept only when non-zero). */
export function formatIso(ms: number): string {
  let text = formattedTimes.get(ms);
  if (text === undefined) {
    const iso = new Date(ms).toISOString();
    text = iso.endsWith('.000Z') ? `${iso.slice(0, 19)}Z` : iso;
    if (formattedTimes.size >= TIME_CACHE_LIMIT) formattedTimes.clear();
    formattedTimes.set(ms, text);
  }
  return text;
}

/**
 * Which timestamp forms a format's columns may hold. Month/day/year is read only where the
 * provider writes it (Azure's `Date`, FOCUS files written by spreadsheet tools); AWS and GCP never
 * do, so there `01/02/2025` is refused instead of being guessed into 2 January or 1 February.
 */
export type TimestampForms = 'iso' | 'iso-or-us';

/** A slash date (`01/02/2025`, `3/1/21`): the month/day/year form. */
export function isSlashDate(text: string): boolean {
  const t = text.trimStart();
  return t.length > 2 && (t.charCodeAt(1) === 0x2f || t.charCodeAt(2) === 0x2f);
}

export function timestampOf(cell: Cell, forms: TimestampForms = 'iso'): number {
  if (forms === 'iso' && isSlashDate(cell.value)) {
    throw new FieldError(
      cell.key,
      `${cell.key}: "${cell.value}" is a slash date, which this export format never writes; day and month order would be a guess`,
    );
  }
  const ms = parseTimestampMs(cell.value);
  if (ms === undefined) {
    throw new FieldError(cell.key, `${cell.key}: "${cell.value}" is not a recognised timestamp`);
  }
  return ms;
}

export const DAY_MS = 86_400_000;

/** First instant of a `YYYY-MM` period and of the next month, UTC. */
export function monthBounds(period: string, field: string): { start: number; end: number } {
  const m = /^(\d{4})-?(\d{2})$/.exec(period.trim());
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 12) {
    throw new FieldError(field, `${field}: "${period}" is not a YYYY-MM month`);
  }
  const y = Number(m[1]);
  const mo = Number(m[2]);
  return { start: Date.UTC(y, mo - 1, 1), end: Date.UTC(y, mo, 1) };
}

/** UTC offset in minutes of a time zone at an instant (Intl, so DST rules come from ICU). */
// Building an Intl.DateTimeFormat is expensive (it dominated GCP rows in a profile); one per zone.
const zoneFormatters = new Map<string, Intl.DateTimeFormat>();

function zoneFormatter(timeZone: string): Intl.DateTimeFormat {
  let f = zoneFormatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    zoneFormatters.set(timeZone, f);
  }
  return f;
}

function zoneOffsetMinutes(ms: number, timeZone: string): number {
  const parts = zoneFormatter(timeZone).formatToParts(new Date(ms));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const asUtc = Date.UTC(
    get('year'),
    get('month') - 1,
    get('day'),
    get('hour'),
    get('minute'),
    get('second'),
  );
  return Math.round((asUtc - ms) / 60_000);
}

/** UTC instant of local midnight on the first day of a month in a time zone. */
export function zonedMonthStart(year: number, month: number, timeZone: string): number {
  const naive = Date.UTC(year, month - 1, 1);
  let guess = naive - zoneOffsetMinutes(naive, timeZone) * 60_000;
  guess = naive - zoneOffsetMinutes(guess, timeZone) * 60_000;
  return guess;
}

// ---------------------------------------------------------------------------------------------
// JSON-ish text (tags, maps, GCP repeated fields)
// ---------------------------------------------------------------------------------------------

/**
 * Convert Python-repr text (koku's flattened BigQuery rows: `[{'name': 'x', 'amount': -5e-06}]`,
 * None / True / False) to JSON text. JSON input passes through unchanged.
 */
export function pythonReprToJson(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '"') {
      // Double-quoted string (Python uses these when the text holds a single quote): copy as is.
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (ch === "'") {
      let s = '';
      let j = i + 1;
      while (j < text.length && text[j] !== "'") {
        if (text[j] === '\\' && j + 1 < text.length) {
          const n = text[j + 1];
          s += n === "'" ? "'" : n === '"' ? '"' : `\\${n}`;
          j += 2;
        } else {
          s += text[j] === '"' ? '\\"' : text[j];
          j += 1;
        }
      }
      out += `"${s}"`;
      i = j + 1;
    } else if (/[A-Za-z_]/.test(ch)) {
      let j = i;
      while (j < text.length && /[A-Za-z0-9_]/.test(text[j])) j += 1;
      const word = text.slice(i, j);
      out += word === 'None' ? 'null' : word === 'True' ? 'true' : word === 'False' ? 'false' : word;
      i = j;
    } else {
      out += ch;
      i += 1;
    }
  }
  return out;
}

/**
 * Parse JSON keeping every number as its exact text (no binary float on the money path).
 * Compact JSON goes through the native parser (compact-json.ts), the rest through lossless-json;
 * both give the same value. Falls back to the Python-repr form. Throws FieldError naming the
 * column when neither parses.
 */
export function parseJsonCell(cell: Cell): unknown {
  const text = cell.value.trim();
  const compact = parseCompactJsonKeepingNumberText(text);
  if (compact) return compact.value;
  const keepText = (s: string) => s;
  try {
    return parseLossless(text, null, keepText);
  } catch {
    try {
      return parseLossless(pythonReprToJson(text), null, keepText);
    } catch (e) {
      throw new FieldError(cell.key, `${cell.key}: not valid JSON (${(e as Error).message})`);
    }
  }
}

function scalarText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (isLosslessNumber(v)) return v.toString();
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/**
 * A JSON object of tags / a map column. Azure writes it without the outer braces
 * (`"env": "prod","team": "x"`): trim, wrap in braces when it does not start with `{`, then parse.
 * Non-string values are kept as their JSON text.
 */
export function parseTagObject(cell: Cell): Record<string, string> {
  let text = cell.value.trim();
  if (text === '') return {};
  if (!text.startsWith('{')) text = `{${text}}`;
  const parsed = parseJsonCell({ key: cell.key, value: text });
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new FieldError(cell.key, `${cell.key}: expected a JSON object of tags`);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) out[k] = scalarText(v);
  return out;
}

/** GCP repeated `{key, value}` records (labels, project.labels) as a map. */
export function parseKeyValueArray(cell: Cell): Record<string, string> {
  const parsed = parseJsonCell(cell);
  if (!Array.isArray(parsed)) {
    throw new FieldError(cell.key, `${cell.key}: expected an array of {key, value}`);
  }
  const out: Record<string, string> = {};
  for (const item of parsed) {
    if (item === null || typeof item !== 'object' || !('key' in item)) {
      throw new FieldError(cell.key, `${cell.key}: array element without "key"`);
    }
    const rec = item as { key: unknown; value?: unknown };
    out[scalarText(rec.key)] = scalarText(rec.value);
  }
  return out;
}

export { scalarText };
