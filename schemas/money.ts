import type { UsageRecord } from './types.generated';

/**
 * The exact-decimal fields of a UsageRecord: amounts, quantities and unit prices, carried as decimal
 * text and computed with schemas/decimal.ts, never as binary floats. This is the one list; the
 * record's Avro schema marks the same fields "exact decimal text" (a unit test keeps them equal).
 */

/** Decimal fields normalize fills from a provider's row (FOCUS amounts, quantities, unit prices). */
export const SOURCE_DECIMAL_FIELDS = [
  'ConsumedQuantity',
  'PricingQuantity',
  'ListUnitPrice',
  'ContractedUnitPrice',
  'BilledCost',
  'EffectiveCost',
  'ListCost',
  'ContractedCost',
  'PricingCurrencyListUnitPrice',
  'PricingCurrencyContractedUnitPrice',
  'PricingCurrencyEffectiveCost',
  'CommitmentDiscountQuantity',
] as const satisfies readonly (keyof UsageRecord)[];

/** Every decimal field of a rated UsageRecord: the source's and the rating's. */
export const USAGE_DECIMAL_FIELDS = [
  ...SOURCE_DECIMAL_FIELDS,
  'x_RatedCost',
  'x_ExchangeRate',
] as const satisfies readonly (keyof UsageRecord)[];

/**
 * The amounts Elasticsearch can sum exactly (sinks/elasticsearch/indices.ts indexes their
 * `exactParts` under `x_Exact.<field>`): what invoices, the API and analysts total.
 */
export const EXACT_SUM_FIELDS = [
  'BilledCost',
  'EffectiveCost',
  'x_RatedCost',
] as const satisfies readonly (typeof USAGE_DECIMAL_FIELDS)[number][];
export type ExactSumField = (typeof EXACT_SUM_FIELDS)[number];
