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

/** Parse exported decimal text. Returns undefined for text that is not a plain decimal number. */
export function parseDecimal(text: string): Decimal | undefined {
  const t = text.trim();
  if (!DECIMAL_TEXT.test(t)) return undefined;
  return new Decimal(t);
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
