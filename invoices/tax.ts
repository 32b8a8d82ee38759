import { type Decimal, decimalToString, parseDecimal } from '../schemas/decimal';
import type { InvoiceOptions } from './config';
import { formatAmount, roundAmount } from './rounding';
import type { InvoiceTax } from './types';

/**
 * Taxes of an invoice. THE tax rule: one rate per invoice, chosen by the customer's jurisdiction
 * (`invoice.customers.<id>.jurisdiction`; a subdivision without a rate of its own, US-CA, falls back
 * to its country, US). The base is the subtotal, the exact sum of the already rounded line amounts;
 * the tax is base x rate / 100, computed exactly and rounded ONCE, per invoice (never per line), to
 * the currency's minor unit with the invoices' one rounding mode, HALF_EVEN (rounding.ts). The total
 * is subtotal + tax, exact. A finalized invoice is never recomputed, so its taxes stay as they were.
 */

export type TaxOptions = InvoiceOptions['tax'];

/** The rate of a jurisdiction: its own, else its country's; undefined when neither is configured. */
export function taxRateFor(
  rates: Record<string, string>,
  jurisdiction: string,
): { jurisdiction: string; rate: string } | undefined {
  if (rates[jurisdiction] !== undefined) return { jurisdiction, rate: rates[jurisdiction] };
  const country = jurisdiction.split('-')[0];
  if (country !== jurisdiction && rates[country] !== undefined)
    return { jurisdiction: country, rate: rates[country] };
  return undefined;
}

/** The tax line of a subtotal at `ratePercent`: exact product, rounded once (HALF_EVEN) to the minor unit. */
export function taxLine(args: {
  label: string;
  jurisdiction: string;
  ratePercent: string;
  subtotal: Decimal;
  currency: string;
}): InvoiceTax {
  const rate = parseDecimal(args.ratePercent);
  if (rate === undefined) throw new RangeError(`tax rate "${args.ratePercent}" is not a decimal`);
  const exact = args.subtotal.times(rate).dividedBy(100);
  return {
    label: args.label,
    jurisdiction: args.jurisdiction,
    rate_percent: decimalToString(rate),
    base: formatAmount(args.subtotal, args.currency),
    amount_exact: decimalToString(exact),
    amount: formatAmount(roundAmount(exact, args.currency), args.currency),
  };
}

/**
 * The taxes of a customer's invoice: none when no rate is configured at all; else exactly one line,
 * or a problem (the invoice is not computed) when the customer has no jurisdiction or its
 * jurisdiction no rate: a missing rate must never silently mean 0 (configure "0" for exempt).
 */
export function invoiceTaxes(args: {
  tax: TaxOptions | undefined;
  jurisdiction: string | null;
  customer: string;
  subtotal: Decimal;
  currency: string;
  problems: string[];
}): InvoiceTax[] {
  const rates = args.tax?.rates ?? {};
  if (Object.keys(rates).length === 0) return [];
  if (args.jurisdiction === null) {
    args.problems.push(
      `customer ${args.customer} has no tax jurisdiction (invoice.customers.${args.customer}.jurisdiction) but invoice.tax.rates is set`,
    );
    return [];
  }
  const found = taxRateFor(rates, args.jurisdiction);
  if (!found) {
    args.problems.push(
      `no tax rate for jurisdiction ${args.jurisdiction} of customer ${args.customer} in invoice.tax.rates`,
    );
    return [];
  }
  return [
    taxLine({
      label: args.tax?.label ?? 'Tax',
      jurisdiction: found.jurisdiction,
      ratePercent: found.rate,
      subtotal: args.subtotal,
      currency: args.currency,
    }),
  ];
}

/** The rounding rule as printed on documents. */
export function roundingRuleText(minorUnits: number): string {
  return (
    `Each line is rounded once to ${minorUnits} decimal(s), HALF_EVEN; the subtotal is the sum of the rounded lines; ` +
    `tax is computed on the subtotal and rounded once per invoice, HALF_EVEN, to ${minorUnits} decimal(s); ` +
    'the total is subtotal + tax.'
  );
}
