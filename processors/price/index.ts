/**
 * The price stage's pure core: the price book (format, loader, defaults, fingerprint), line
 * rating, and the period-level charge models the invoice stage will apply.
 */
export {
  atCostPriceBook,
  canonicalJson,
  loadPriceBook,
  parseBookDate,
  parsePriceBook,
  priceBookFingerprint,
  PriceBookSchema,
  MATCH_COLUMNS,
  type CostBasis,
  type CostPlusRule,
  type Customer,
  type ExchangeRate,
  type FixedPerLineRule,
  type MatchColumn,
  type Matcher,
  type PerUnitRule,
  type Plan,
  type PriceBook,
  type PriceRule,
  type RuleMatch,
} from './price-book';
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
