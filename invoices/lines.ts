import { Decimal, decimalToString } from '../schemas/decimal';
import { formatAmount, roundAmount } from './rounding';
import type { InvoiceLine, InvoiceLineTrace } from './types';

/**
 * Building blocks of invoice lines. `line` is the one place a line's amount is made: the exact value
 * is kept in `amount_exact` and rounded ONCE (rounding.ts) into `amount`; nothing else rounds, so
 * totals and true-ups are exact sums of rounded amounts. Cloud cost stays per currency and exact.
 * Everything is ordered deterministically (cmp), so the same inputs give the same document and the
 * same fingerprint.
 */

/** Plain code-unit order: deterministic and locale-independent. */
export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function addTo(map: Map<string, Decimal>, key: string, value: Decimal): void {
  map.set(key, (map.get(key) ?? new Decimal(0)).plus(value));
}

/** Cloud cost per currency as stored on lines and invoices: sorted by currency, zero amounts left out. */
export function cloudList(map: Map<string, Decimal>): { currency: string; amount: string }[] {
  return [...map.entries()]
    .filter(([, v]) => !v.isZero())
    .sort(([a], [b]) => cmp(a, b))
    .map(([currency, v]) => ({ currency, amount: decimalToString(v) }));
}

export function cloudMap(list: { currency: string; amount: string }[]): Map<string, Decimal> {
  const m = new Map<string, Decimal>();
  for (const c of list) addTo(m, c.currency, new Decimal(c.amount));
  return m;
}

export const EMPTY_TRACE: InvoiceLineTrace = {
  revisions: [],
  source_objects: [],
  source_object_count: 0,
  record_count: 0,
};

/** An invoice line of exact amount `exact`: `amount` is it rounded once to the currency's minor unit. */
export function line(
  fields: Omit<
    InvoiceLine,
    'amount' | 'amount_exact' | 'included_in_plan' | 'cloud_cost' | 'trace' | 'adjusts'
  > &
    Partial<Pick<InvoiceLine, 'included_in_plan' | 'cloud_cost' | 'trace' | 'adjusts'>>,
  exact: Decimal,
  currency: string,
): InvoiceLine {
  return {
    ...fields,
    amount_exact: decimalToString(exact),
    amount: formatAmount(roundAmount(exact, currency), currency),
    included_in_plan: fields.included_in_plan ?? null,
    cloud_cost: fields.cloud_cost ?? [],
    trace: fields.trace ?? EMPTY_TRACE,
    adjusts: fields.adjusts ?? null,
  };
}
