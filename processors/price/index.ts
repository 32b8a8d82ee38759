/**
 * The price stage's pure core: the price book (format, loader, defaults, fingerprint), line
 * rating, and the period-level charge models the invoice stage will apply.
 */
// The price book's API (format, loader, defaults, fingerprint, types): price-book.ts lists it.
export * from './price-book';
export {
  exchangeRateAt,
  findRule,
  rateRecord,
  ruleSpecificity,
  type RateFailureReason,
  type RateResult,
} from './rate';
export { graduated, packages, tierProblems, volume, type PlanModel, type Tier } from './charge-models';
export { PriceBookError } from './errors';
