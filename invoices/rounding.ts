import { Decimal } from '../schemas/decimal';

/**
 * THE rounding rule of invoices, in one place: every invoice line's amount is rounded exactly once,
 * from its exact decimal value, to the minor unit of the invoice currency, with HALF_EVEN (banker's
 * rounding: a tie goes to the even neighbour, 0.125 -> 0.12, 0.135 -> 0.14), so ties do not bias
 * a long invoice upwards. Nothing upstream rounds (rating is exact) and nothing downstream rounds:
 * the invoice total is the exact sum of the rounded line amounts, so lines always add up to it.
 *
 * Minor units follow ISO 4217 (the currency's number of decimals); currencies not listed have 2.
 */
const MINOR_UNITS: Readonly<Record<string, number>> = {
  // 0 decimals
  BIF: 0,
  CLP: 0,
  DJF: 0,
  GNF: 0,
  ISK: 0,
  JPY: 0,
  KMF: 0,
  KRW: 0,
  PYG: 0,
  RWF: 0,
  UGX: 0,
  UYI: 0,
  VND: 0,
  VUV: 0,
  XAF: 0,
  XOF: 0,
  XPF: 0,
  // 3 decimals
  BHD: 3,
  IQD: 3,
  JOD: 3,
  KWD: 3,
  LYD: 3,
  OMR: 3,
  TND: 3,
  // 4 decimals (units of account)
  CLF: 4,
  UYW: 4,
};

export function minorUnits(currency: string): number {
  return MINOR_UNITS[currency] ?? 2;
}

/** Round an exact amount to the currency's minor unit, HALF_EVEN. */
export function roundAmount(amount: Decimal, currency: string): Decimal {
  return amount.toDecimalPlaces(minorUnits(currency), Decimal.ROUND_HALF_EVEN);
}

/**
 * Text of an amount already at the minor unit, with exactly that many decimals ("12.50", "1250",
 * "1.250"): what invoices show and store. Throws if the amount was not rounded first, so an
 * unrounded value can never slip onto an invoice disguised by formatting.
 */
export function formatAmount(amount: Decimal, currency: string): string {
  const places = minorUnits(currency);
  if (!amount.equals(amount.toDecimalPlaces(places))) {
    throw new RangeError(`amount ${amount.toFixed()} has more than ${places} decimals for ${currency}`);
  }
  const text = amount.toFixed(places);
  // "-0.00" would read as a negative amount.
  return amount.isZero() ? new Decimal(0).toFixed(places) : text;
}
