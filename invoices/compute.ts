import type { PriceBook } from '../processors/price/price-book';
import { ErrorCodes, PermanentError } from '../runtime/errors';
import { computeAdjustments } from './adjustments';
import { assembleInvoice } from './assemble';
import type { InvoiceOptions } from './config';
import { prepaidCreditLines } from './credits';
import { cmp } from './lines';
import { invoiceId } from './period';
import { computePeriodLines, type PeriodLines } from './period-lines';
import type { CountedLine } from './plans';
import type { InvoiceDocument } from './types';
import type { UsageSummary } from './usage';
import { invoiceParties, type PartyOptions } from './parties';
import { invoiceTaxes, type TaxOptions } from './tax';
import { Decimal } from '../schemas/decimal';

/**
 * The invoice computation, pure: usage summaries and stored invoices in, one invoice document out.
 * All Elasticsearch I/O lives in published-usage.ts, store.ts, generate.ts and finalize.ts;
 * everything here is deterministic for its inputs, which is what makes regeneration idempotent (same
 * inputs -> same fingerprint -> nothing written).
 *
 * Order of computation for customer C and billing period P (processors/price/charge-models.ts is
 * the spec of the charge models):
 *   1. Usage lines: the customer's rated usage of P grouped by options.group_by, x_RatedCost summed
 *      exactly (usage.ts). Line discounts are already inside x_RatedCost and are not applied again.
 *   2. Quantity plans (graduated, volume, package) in effect for P: the summed PricingQuantity of the
 *      lines a plan matches is priced by the plan; those lines stay on the invoice as separate usage
 *      lines at amount 0 showing their rated cost under included_in_plan. A record matched by two
 *      quantity plans, a negative period quantity or a covered record without PricingQuantity is an
 *      error (nothing is guessed).
 *   3. Minimum commitment: true-up = minimum - (sum of the ROUNDED amounts of the lines it counts),
 *      one line when positive. Counting rounded amounts makes counted lines + true-up equal the
 *      minimum to the cent. (Steps 1 to 3: period-lines.ts.)
 *   4. Adjustments for finalized earlier periods (adjustments.ts).
 *   5. Prepaid credit, last, on what remains due (burn = min(balance, due)); the balance is
 *      credit_amount minus the burns on FINALIZED invoices of earlier periods, so regenerating a draft
 *      never burns twice. Credit is granted at effective_from and lapses at effective_to (credits.ts).
 *   6. Each line's amount is rounded once (lines.ts, rounding.ts); total = exact sum of the rounded
 *      amounts (assemble.ts).
 *
 * A commitment or credit with a `match` counts a line only when EVERY record of the line matches
 * (a plan line: every record it covers); partially matching lines do not count. Group by a finer
 * field (SkuId) when a match is finer than the grouping. Commitment true-ups and adjustments count
 * only toward a credit without `match` (plans.ts, counts).
 */

export class InvoiceError extends PermanentError {
  readonly problems: string[];
  constructor(invoiceId: string, problems: string[]) {
    super(ErrorCodes.MALFORMED_INPUT, `invoice ${invoiceId}: ${problems.join('; ')}`, {
      details: { invoice_id: invoiceId, problems },
    });
    this.problems = problems;
  }
}

export interface InvoiceInputs {
  customer: string;
  period: string;
  book: PriceBook;
  /** Seller, customers, payment terms and tax are optional: without them, no parties and no tax. */
  options: Pick<InvoiceOptions, 'max_trace_objects'> & PartyOptions & { tax?: TaxOptions };
  /** The customer's usage of `period`. */
  usage: UsageSummary;
  /** The customer's stored invoices, any status and period (the one of `period` is ignored). */
  invoices: InvoiceDocument[];
  /** Current usage of every period Q < period that has a finalized invoice. */
  restated: Record<string, UsageSummary>;
  /** ISO-8601 instant, generated_at. */
  now: string;
}

/** Compute the draft invoice. Throws InvoiceError listing every problem of the inputs. */
export function computeInvoice(inputs: InvoiceInputs): InvoiceDocument {
  const { customer, period, book } = inputs;
  const id = invoiceId(customer, period);
  const others = inputs.invoices.filter((i) => i.customer === customer && i.period !== period);
  const latestFinalized = others
    .filter((i) => i.status === 'finalized')
    .sort((a, b) => cmp(b.period, a.period))[0];
  const own = computePeriodLines(book, inputs.usage, inputs.options, latestFinalized?.currency ?? null);
  const problems = [...own.problems];
  const currency = own.currency;
  if (currency === null) throw new InvoiceError(id, problems.length ? problems : ['no invoice currency']);

  const recomputed: Record<string, PeriodLines> = {};
  for (const inv of others) {
    if (inv.status !== 'finalized' || inv.period >= period) continue;
    const summary = inputs.restated[inv.period];
    if (!summary) throw new RangeError(`restated usage of ${inv.period} is missing`);
    const q = computePeriodLines(book, summary, inputs.options, inv.currency);
    problems.push(...q.problems);
    recomputed[inv.period] = q;
  }
  const adjustments = computeAdjustments({ period, currency, invoices: others, recomputed, problems });

  const lines: CountedLine[] = [...own.lines, ...adjustments.map((l) => ({ line: l, matchesAll: null }))];
  const credits = prepaidCreditLines({ book, customer, period, currency, invoices: others, lines, problems });
  const allLines = [...lines.map((c) => c.line), ...credits];
  const parties = invoiceParties(inputs.options, customer, book);
  const subtotal = allLines.reduce((a, l) => a.plus(l.amount), new Decimal(0));
  const taxes = invoiceTaxes({
    tax: inputs.options.tax,
    jurisdiction: parties.buyer.jurisdiction,
    customer,
    subtotal,
    currency,
    problems,
  });
  if (problems.length) throw new InvoiceError(id, [...new Set(problems)]);
  return assembleInvoice({
    inputs,
    currency,
    lines: allLines,
    taxes,
    parties,
    basis: others
      .filter((i) => i.status === 'finalized')
      .map((i) => `${i.invoice_id}#${i.number}`)
      .sort(),
  });
}
