import type { Decimal } from '../../../schemas/decimal';
import type { Tier } from '../charge-models';

/**
 * The shape of a validated price book: what parsePriceBook (load.ts) returns and what rating
 * (rate.ts) and the invoice stage read. Defaults are resolved (priority 0, customers '*',
 * discount 0, currencies) so consumers never re-apply them. The YAML format itself is
 * documented at the top of price-book.ts.
 */

/** A column matcher: '*' (anything) or the accepted values. */
export type Matcher = '*' | readonly string[];

export const MATCH_COLUMNS = [
  'ProviderName',
  'ServiceName',
  'ServiceCategory',
  'SkuId',
  'RegionId',
  'PricingUnit',
  'ChargeCategory',
] as const;
export type MatchColumn = (typeof MATCH_COLUMNS)[number];

/** Matchers of a rule or plan; '*' matchers are dropped, so every key present constrains. */
export type RuleMatch = { readonly [K in MatchColumn]?: readonly string[] } & {
  readonly Tags?: Readonly<Record<string, Matcher>>;
};

interface RuleCommon {
  readonly id: string;
  readonly description?: string;
  readonly priority: number;
  /** ISO-8601 instant, inclusive; null: since always. */
  readonly effective_from: string | null;
  /** ISO-8601 instant, exclusive; null: for ever. */
  readonly effective_to: string | null;
  readonly match: RuleMatch;
  readonly customers: Matcher;
  readonly discount_percent: Decimal;
}

export type CostBasis = 'BilledCost' | 'EffectiveCost';

export interface CostPlusRule extends RuleCommon {
  readonly model: 'cost_plus';
  readonly basis: CostBasis;
  readonly markup_percent: Decimal;
}
export interface PerUnitRule extends RuleCommon {
  readonly model: 'per_unit';
  readonly unit_price: Decimal;
  /** Resolved: the rule's currency, else the book's currency_default. */
  readonly currency: string;
}
export interface FixedPerLineRule extends RuleCommon {
  readonly model: 'fixed_per_line';
  readonly amount: Decimal;
  readonly currency: string;
}
export type PriceRule = CostPlusRule | PerUnitRule | FixedPerLineRule;

export interface Customer {
  readonly name?: string;
  readonly billing_currency?: string;
  readonly discount_percent?: Decimal;
}

export interface ExchangeRate {
  readonly from: string;
  readonly to: string;
  readonly rate: Decimal;
  readonly effective_from: string;
}

export interface PlanCommon {
  readonly id: string;
  readonly description?: string;
  readonly customer: string;
  readonly match: RuleMatch;
  readonly period: 'month';
  readonly effective_from: string | null;
  readonly effective_to: string | null;
  /** Resolved: the plan's currency, else the customer's billing currency, else currency_default. */
  readonly currency: string | null;
}
export type Plan =
  | (PlanCommon & { readonly model: 'graduated' | 'volume'; readonly tiers: readonly Tier[] })
  | (PlanCommon & {
      readonly model: 'package';
      readonly package_size: Decimal;
      readonly package_price: Decimal;
    })
  | (PlanCommon & { readonly model: 'minimum_commitment'; readonly minimum_amount: Decimal })
  | (PlanCommon & { readonly model: 'prepaid_credit'; readonly credit_amount: Decimal });

/** A validated, immutable price book. Rules keep their file order (the last tie-breaker). */
export interface PriceBook {
  readonly version: string;
  readonly description?: string;
  readonly currency_default: string | null;
  readonly customers: Readonly<Record<string, Customer>>;
  readonly exchange_rates: readonly ExchangeRate[];
  readonly rules: readonly PriceRule[];
  readonly plans: readonly Plan[];
}
