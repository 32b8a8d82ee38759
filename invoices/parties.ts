import type { PriceBook } from '../processors/price/price-book';
import type { InvoiceOptions } from './config';
import type { InvoiceParties } from './types';

export type PartyOptions = Partial<
  Pick<InvoiceOptions, 'seller' | 'customers' | 'payment_terms_days' | 'payment_terms'>
>;

/**
 * Seller, buyer and payment terms of a customer's invoice, from the `invoice:` config (the buyer's
 * name falls back to the price book's customer name, then the customer id). Copied onto the draft
 * when it is computed, so a config change shows on the next generate, and frozen with the rest of
 * the document on finalize.
 */
export function invoiceParties(options: PartyOptions, customer: string, book?: PriceBook): InvoiceParties {
  const c = options.customers?.[customer];
  const days = options.payment_terms_days ?? 30;
  return {
    seller: {
      name: options.seller?.name ?? '',
      address: options.seller?.address ?? [],
      tax_id: options.seller?.tax_id ? options.seller.tax_id : null,
    },
    buyer: {
      name: c?.name ?? book?.customers?.[customer]?.name ?? customer,
      address: c?.address ?? [],
      tax_id: c?.tax_id ?? null,
      jurisdiction: c?.jurisdiction ?? null,
    },
    payment_terms_days: days,
    payment_terms: options.payment_terms
      ? options.payment_terms
      : `Payment due within ${days} days of issue.`,
  };
}

/** The due date (YYYY-MM-DD) of a document issued on `issueDate` (YYYY-MM-DD) with `days` of terms. */
export function dueDate(issueDate: string, days: number): string {
  const d = new Date(`${issueDate}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}
