import DecimalJs from 'decimal.js';

/**
 * The one decimal type on the money path. Amounts and quantities are parsed from the exports'
 * text straight into Decimal and never pass through a JS number: a CUR cost such as
 * 0.0000000123456789 or a 20-digit total would silently lose digits in binary floating point.
 *
 * Precision is in significant digits and is set far above anything a bill holds (Azure and AWS
 * publish up to ~20 significant digits), so +, - and * are exact for every value we meet. Rounding
 * mode HALF_EVEN is only the default for divisions (currency conversion); invoice rounding is
 * explicit and happens in one place (see sinks/elasticsearch invoice rounding).
 */
export const Decimal = DecimalJs.clone({
  precision: 80,
  rounding: DecimalJs.ROUND_HALF_EVEN,
  toExpNeg: -80,
  toExpPos: 80,
});
export type Decimal = InstanceType<typeof Decimal>;

const DECIMAL_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Bounds of an amount or quantity read from an export. No bill holds a figure of 10^30 or one
 * with more than 40 decimal places (providers publish up to ~20 significant digits), while text
 * such as `1e100000000` is a valid number whose exact decimal text has a hundred million digits:
 * accepted, it would exhaust memory in every process that prints or sums it. Text outside the
 * bounds is not a decimal to meterflow; the row is dead-lettered as malformed.
 */
export const DECIMAL_BOUNDS = { maxTextLength: 100, maxIntegerDigits: 30, maxFractionDigits: 40 } as const;
const EXPONENT = /[eE]([+-]?\d+)$/;

/**
 * Parse exported decimal text. Returns undefined for text that is not a plain decimal number, or
 * one outside DECIMAL_BOUNDS.
 */
export function parseDecimal(text: string): Decimal | undefined {
  const t = text.trim();
  if (t.length > DECIMAL_BOUNDS.maxTextLength || !DECIMAL_TEXT.test(t)) return undefined;
  // A cheap look at the exponent first: decimal.js is not asked to hold 10^100000000.
  const e = EXPONENT.exec(t);
  if (e !== null && Math.abs(Number(e[1])) > 1_000) return undefined;
  const d = new Decimal(t);
  if (
    !d.isZero() &&
    (d.e >= DECIMAL_BOUNDS.maxIntegerDigits || d.decimalPlaces() > DECIMAL_BOUNDS.maxFractionDigits)
  ) {
    return undefined;
  }
  return d;
}

/** Canonical text for a decimal: no exponent, no trailing zeros, "-0" normalised to "0". */
export function decimalToString(d: Decimal): string {
  if (d.isZero()) return '0';
  return d.toFixed();
}

export function sumDecimals(values: Iterable<Decimal>): Decimal {
  let total = new Decimal(0);
  for (const v of values) total = total.plus(v);
  return total;
}
