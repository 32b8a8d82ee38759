/**
 * Billing periods (`x_BillingPeriod`, `YYYY-MM`, calendar months in UTC) and the id of the invoice of
 * a customer's period (`_id` in P-invoices).
 */

export function invoiceId(customer: string, period: string): string {
  return `${customer}:${period}`;
}

const PERIOD = /^(\d{4})-(0[1-9]|1[0-2])$/;

export function isPeriod(text: string): boolean {
  return PERIOD.test(text);
}

/** Epoch ms of the first instant of a billing period (UTC). */
export function periodStartMs(period: string): number {
  const m = PERIOD.exec(period);
  if (!m) throw new RangeError(`billing period "${period}" is not YYYY-MM`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, 1);
}

/** The billing period `delta` months from `period`. */
export function shiftPeriod(period: string, delta: number): string {
  const d = new Date(periodStartMs(period));
  d.setUTCMonth(d.getUTCMonth() + delta);
  return periodOf(d);
}

export function periodOf(date: Date): string {
  return `${date.getUTCFullYear()}-${String(date.getUTCMonth() + 1).padStart(2, '0')}`;
}
