import { Decimal, decimalToString, parseDecimal } from '../../schemas/decimal';
import type { RateSummary } from './rate';

/*
 * The summary of `meterflow rate`: the exact money totals it reports and its human-readable form.
 * Its shape (RateSummary) stays with runRate, which fills it.
 */

// ---------------------------------------------------------------------------------------------
// Totals

// Plain decimal text: what BigInt reads once the point is dropped (no exponent, sign, space or hex).
const PLAIN_DECIMAL = /^-?\d+(?:\.\d+)?$/;
/** Fraction digits kept per scale; longer fractions (none in real exports) go the Decimal way. */
const MAX_SCALE = 64;

// The last plain text read by addText and its value (shared by every Totals: it is a pure function of the text).
let lastText: string | undefined;
let lastScale = 0;
let lastUnits = 0n;

/** One currency's running total: a Decimal part and, per count of fraction digits, an integer sum. */
interface CurrencyTotal {
  decimal: Decimal | undefined;
  /** byScale[s] = sum of the amounts with s fraction digits, times 10^s (exact integers). */
  byScale: Array<bigint | undefined>;
}

/**
 * Exact money totals per currency. Amounts given as decimal text (addText) are summed as exact
 * integers per number of fraction digits (BigInt, no binary floating point), which costs a
 * fraction of a Decimal parse and addition per row; the parts are combined exactly in toRecord.
 */
export class Totals {
  private readonly totals = new Map<string, CurrencyTotal>();

  private of(currency: string): CurrencyTotal {
    let t = this.totals.get(currency);
    if (t === undefined) {
      t = { decimal: undefined, byScale: [] };
      this.totals.set(currency, t);
    }
    return t;
  }

  add(currency: string, amount: Decimal): void {
    const t = this.of(currency);
    t.decimal = t.decimal === undefined ? new Decimal(0).plus(amount) : t.decimal.plus(amount);
  }

  /** Adds decimal text (BilledCost, x_RatedCost); text that is not plain decimal is read as a Decimal. */
  addText(currency: string, text: string): void {
    let scale: number;
    let units: bigint;
    if (text === lastText) {
      // At cost, x_RatedCost is BilledCost's text: the rated total reads the amount just read.
      scale = lastScale;
      units = lastUnits;
    } else {
      const dot = text.indexOf('.');
      scale = dot < 0 ? 0 : text.length - dot - 1;
      if (scale > MAX_SCALE || !PLAIN_DECIMAL.test(text)) {
        this.add(currency, parseDecimal(text) as Decimal);
        return;
      }
      units = BigInt(dot < 0 ? text : text.slice(0, dot) + text.slice(dot + 1));
      lastText = text;
      lastScale = scale;
      lastUnits = units;
    }
    const byScale = this.of(currency).byScale;
    const prior = byScale[scale];
    byScale[scale] = prior === undefined ? units : prior + units;
  }

  toRecord(): Record<string, string> {
    return Object.fromEntries(
      [...this.totals.entries()]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([c, t]) => [c, decimalToString(totalOf(t))]),
    );
  }
}

function totalOf(t: CurrencyTotal): Decimal {
  const top = t.byScale.length - 1;
  if (top < 0) return t.decimal ?? new Decimal(0);
  let units = 0n;
  for (let s = 0; s <= top; s++) {
    const part = t.byScale[s];
    if (part !== undefined) units += part * 10n ** BigInt(top - s);
  }
  // units / 10^top as text; a Decimal built from text keeps every digit.
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(top + 1, '0');
  const text = top === 0 ? digits : `${digits.slice(0, -top)}.${digits.slice(-top)}`;
  const exact = new Decimal(negative ? `-${text}` : text);
  return t.decimal === undefined ? exact : t.decimal.plus(exact);
}

// ---------------------------------------------------------------------------------------------
// Summary text

function money(totals: Record<string, string>): string {
  const entries = Object.entries(totals);
  return entries.length === 0 ? '-' : entries.map(([c, v]) => `${c} ${v}`).join(', ');
}

/** Human-readable summary (several lines, ends with a newline); amounts are exact decimal text. */
export function formatRateSummary(s: RateSummary): string {
  const lines: string[] = [];
  lines.push(
    `meterflow rate: --provider ${s.provider}, ${s.input_kind} ${s.input}, ${s.revisions.length} revision(s)`,
  );
  for (const r of s.revisions) {
    const periods = r.billing_periods.length ? r.billing_periods.join(',') : 'no rows';
    const expected = r.expected_rows === null ? '' : ` (manifest: ${r.expected_rows})`;
    lines.push(
      `  ${r.scope}  revision ${r.revision_id}  ${r.format}  ${periods}  ${r.files} file(s)  ` +
        `${r.rows_in} rows in${expected}, ${r.rows_out} out`,
    );
  }
  const reasons = Object.entries(s.dead_letters)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  lines.push(`rows in:            ${s.rows_in}`);
  lines.push(`rows out:           ${s.rows_out}`);
  lines.push(`duplicates:         ${s.duplicates}`);
  lines.push(`dead letters:       ${s.dead_letters_total}${reasons ? ` (${reasons})` : ''}`);
  lines.push(
    `price book:         ${s.price_book.at_cost ? 'none, rated at cost (markup 0)' : `${s.price_book.version} (${s.price_book.source})`}`,
  );
  lines.push(`source billed cost: ${money(s.source_billed_cost)}`);
  lines.push(`BilledCost out:     ${money(s.billed_cost)}`);
  lines.push(`rated:              ${money(s.rated_cost)}`);
  lines.push(`output:             ${s.output === '-' ? 'stdout' : s.output}`);
  if (s.dead_letters_file !== null) lines.push(`dead-letter file:   ${s.dead_letters_file}`);
  for (const e of s.dead_letter_examples) lines.push(`  dead letter [${e.stage} ${e.reason}] ${e.message}`);
  for (const n of s.notes) lines.push(`note: ${n}`);
  for (const w of s.warnings) lines.push(`warning: ${w}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Exit codes of `meterflow rate` (README, "Trying meterflow without servers"): a script or a CI job
 * must be able to tell a run that rated the export from one that only produced dead letters.
 *   0  rated: at least one record written (or nothing to read), no warning;
 *   1  error: the run stopped (unreadable input, bad price book, I/O);
 *   2  usage: bad command line;
 *   3  rated with warnings, e.g. a manifest's row count differs from the rows its files hold;
 *   4  rows were read but every one was dead-lettered or dropped: nothing was rated.
 * `--exit-zero` turns 3 and 4 into 0 for runs that only want the files.
 */
export const RATE_EXIT = { OK: 0, ERROR: 1, USAGE: 2, WARNINGS: 3, NOTHING_RATED: 4 } as const;

export function rateExitCode(s: { rows_in: number; rows_out: number; warnings: readonly string[] }): number {
  if (s.rows_in > 0 && s.rows_out === 0) return RATE_EXIT.NOTHING_RATED;
  if (s.warnings.length > 0) return RATE_EXIT.WARNINGS;
  return RATE_EXIT.OK;
}
