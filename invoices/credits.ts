import { Decimal, decimalToString } from '../schemas/decimal';
import type { PriceBook } from '../processors/price/price-book';
import { line } from './lines';
import { counts, plansInEffect, type CountedLine } from './plans';
import type { InvoiceDocument, InvoiceLine } from './types';

/**
 * Prepaid credit, step 5 of the computation (compute.ts), applied last, on what remains due:
 * burn = min(balance, due). The balance is credit_amount minus the burns on FINALIZED invoices of
 * earlier periods, so regenerating a draft never burns twice; credit is granted at effective_from
 * and what is left lapses at effective_to (the plan is no longer in effect). A credit with a `match`
 * burns only against lines whose every record matches it; commitment true-ups and adjustments count
 * only toward a credit without `match`.
 */

/** Credit of `planId` burned by the customer's finalized invoices of periods before `period`. */
export function creditBurnedBefore(invoices: InvoiceDocument[], period: string, planId: string): Decimal {
  let burned = new Decimal(0);
  for (const inv of invoices) {
    if (inv.status !== 'finalized' || inv.period >= period) continue;
    for (const l of inv.lines)
      if (l.kind === 'credit' && l.plan_id === planId) burned = burned.minus(l.amount);
  }
  return burned;
}

/**
 * The credit lines (negative) of the invoice of `period`, one per prepaid credit in effect with a
 * balance left and something due, in book order. A credit in another currency than the invoice is a
 * problem (it is not converted).
 */
export function prepaidCreditLines(args: {
  book: PriceBook;
  customer: string;
  period: string;
  currency: string;
  /** The customer's stored invoices of other periods. */
  invoices: InvoiceDocument[];
  /** The invoice's lines before credits. */
  lines: CountedLine[];
  problems: string[];
}): InvoiceLine[] {
  const { period, currency, problems } = args;
  // What is due after the credits applied so far: each credit burns only what the earlier left.
  const lines = [...args.lines];
  const out: InvoiceLine[] = [];
  for (const plan of plansInEffect(args.book, args.customer, period)) {
    if (plan.model !== 'prepaid_credit') continue;
    if (plan.currency !== null && plan.currency !== currency) {
      problems.push(`prepaid credit ${plan.id} is in ${plan.currency}, the invoice in ${currency}`);
      continue;
    }
    const balance = plan.credit_amount.minus(creditBurnedBefore(args.invoices, period, plan.id));
    if (!balance.isPositive() || balance.isZero()) continue;
    const running = lines.reduce((a, c) => a.plus(c.line.amount), new Decimal(0));
    const counted = lines
      .filter((c) => counts(plan, c))
      .reduce((a, c) => a.plus(c.line.amount), new Decimal(0));
    const due = Decimal.min(running, counted);
    if (!due.isPositive() || due.isZero()) continue;
    const burn = Decimal.min(balance, due);
    const expiry = plan.effective_to ? `, expires ${plan.effective_to.slice(0, 10)}` : '';
    const credit = line(
      {
        line_id: `credit:${plan.id}`,
        kind: 'credit',
        description:
          `${plan.description ?? `Prepaid credit ${plan.id}`}: balance ${decimalToString(balance)} ${currency}, ` +
          `used ${decimalToString(burn)}, remaining ${decimalToString(balance.minus(burn))}${expiry}`,
        group: null,
        plan_id: plan.id,
        quantity: null,
        unit: null,
      },
      burn.negated(),
      currency,
    );
    lines.push({ line: credit, matchesAll: null });
    out.push(credit);
  }
  return out;
}
