import type { PriceBook } from '../processors/price/price-book';
import type { UsageSummary } from './usage';

/**
 * The invoice currency of a customer's period: the customer's `billing_currency` from the price book;
 * without one, the one currency its usage is rated in (else the book's default, else `fallback`).
 * Usage rated in another currency than the billing currency, or in several currencies, is a problem
 * naming the currencies, never several invoices.
 */
export function resolveCurrency(book: PriceBook, summary: UsageSummary, fallback: string | null) {
  const problems: string[] = [];
  const billing = book.customers[summary.customer]?.billing_currency;
  const rated = [...summary.ratedCurrencies].sort();
  if (billing) {
    const other = rated.filter((c) => c !== billing);
    if (other.length)
      problems.push(
        `customer ${summary.customer} is billed in ${billing} but usage of ${summary.period} is rated in ${other.join(', ')}`,
      );
    return { currency: billing, problems };
  }
  if (rated.length > 1) {
    // One invoice per currency would hide the problem: the book should give the customer a
    // billing_currency (rating then converts every line).
    problems.push(
      `usage of customer ${summary.customer} in ${summary.period} is rated in several currencies (${rated.join(', ')}); ` +
        `set customers.${summary.customer}.billing_currency in the price book`,
    );
    return { currency: null, problems };
  }
  return { currency: rated[0] ?? book.currency_default ?? fallback, problems };
}
