/**
 * The price book: how meterflow turns a cloud cost line into the customer's price.
 *
 * One YAML file, versioned (`version` is stamped on every rated record as x_PriceBookVersion)
 * and distributed on the compacted <prefix>.price-book topic; `priceBookFingerprint` identifies
 * its content. Unknown keys are rejected and every problem is reported at once, each with the
 * file, the line and the rule (or customer, or plan) it is in.
 *
 * Decimals (percentages, prices, rates, quantities) may be written as YAML strings ('0.92') or
 * as YAML numbers (0.92); numbers are read from their source text, never through a binary
 * float, so 0.1 is exactly 0.1 and 0.10 is 0.1. Any other scalar written as a YAML number
 * (a version 2026.10, an id 012345) is read as its source text too. Dates are YYYY-MM-DD (UTC
 * midnight) or a full ISO-8601 instant with a zone (2026-03-01T12:00:00Z).
 *
 * Full example (test/fixtures/price/pricebook.example.yaml is a larger one):
 *
 *   version: '2026-03.1'            # required, text; a new version for every change you ship
 *   description: List prices 2026   # optional
 *   currency_default: USD           # optional: currency of per_unit / fixed prices that state none,
 *                                   # and the billing currency of customers that state none.
 *                                   # Unset: such customers are billed in each line's own currency.
 *   customers:                      # optional; customer id (x_CustomerId) -> settings
 *     acme:
 *       name: Acme GmbH             # optional, for people
 *       billing_currency: EUR       # optional; lines in another currency are converted
 *       discount_percent: '3'       # optional; applied to every line of the customer, after the rule's
 *     globex: {}
 *   exchange_rates:                 # optional; dated, one direction each (no implied inverse)
 *     - { from: USD, to: EUR, rate: '0.92', effective_from: 2026-01-01 }
 *     - { from: USD, to: EUR, rate: '0.94', effective_from: 2026-03-01 }
 *   rules:                          # required, at least one
 *     - id: default-markup          # required, unique; stamped on records as x_PriceRuleId
 *       description: 12% on everything
 *       priority: 0                 # optional integer, default 0; higher wins
 *       model: cost_plus            # cost_plus | per_unit | fixed_per_line
 *       basis: EffectiveCost        # cost_plus: BilledCost or EffectiveCost
 *       markup_percent: 12          # cost_plus: >= -100
 *     - id: ec2-markup
 *       match:                      # optional; every key present must match (AND); a key is a value,
 *         ProviderName: AWS         # a list of values (OR), or '*' (anything, same as leaving it out)
 *         ServiceName: [AmazonEC2, AmazonEBS]
 *         RegionId: '*'
 *         ChargeCategory: Usage
 *         Tags: { env: prod, team: '*' }   # tag present with that value / with any value
 *       model: cost_plus
 *       basis: BilledCost
 *       markup_percent: '15'
 *       effective_to: 2026-04-01    # optional, exclusive
 *     - id: ec2-markup-q2
 *       match: { ProviderName: AWS, ServiceName: [AmazonEC2, AmazonEBS], ChargeCategory: Usage }
 *       model: cost_plus
 *       basis: BilledCost
 *       markup_percent: '14'
 *       effective_from: 2026-04-01  # optional, inclusive
 *     - id: gpu-hours
 *       match: { SkuId: 8ZQ2Y7GVNHF4, PricingUnit: Hrs }   # per_unit must match PricingUnit
 *       model: per_unit
 *       unit_price: '2.95'          # per PricingUnit; rated = PricingQuantity * unit_price
 *       currency: USD               # optional, default currency_default
 *     - id: acme-discounted
 *       customers: [acme]           # x_CustomerId matcher: a value, a list, or '*' (default)
 *       priority: 100
 *       model: cost_plus
 *       basis: EffectiveCost
 *       markup_percent: '10'
 *       discount_percent: '2.5'     # optional, any model; 0..100
 *     - id: marketplace-line-fee
 *       match: { ChargeCategory: Purchase, ServiceCategory: Marketplace }
 *       priority: 10
 *       model: fixed_per_line       # a fixed amount per line, whatever its cost
 *       amount: '0.05'
 *       currency: EUR               # optional, default currency_default
 *   plans: []                       # period-level charge models; see charge-models.ts
 *
 * Matching keys under `match` are the FOCUS columns they compare, exactly and case-sensitively:
 * ProviderName, ServiceName, ServiceCategory, SkuId, RegionId, PricingUnit, ChargeCategory, and
 * Tags (key -> value matcher). A value matcher never matches a null column; '*' matches
 * anything, null included. `customers` matches x_CustomerId and must name customers defined
 * under `customers:`.
 *
 * Effective dating: a rule applies to a line when the line's ChargePeriodStart lies in
 * [effective_from, effective_to); either bound may be left out. To change a price from a date,
 * end the old rule (effective_to) and start the new one (effective_from) on the same date.
 *
 * PRECEDENCE. Of the rules that are in effect and match a line, exactly one prices it:
 *   1. the highest `priority` wins;
 *   2. on equal priority, the most specific rule wins: specificity is the number of non-'*'
 *      matchers (each `match` key counts 1, each Tags key counts 1, `customers` counts 1);
 *   3. on equal priority and specificity, the rule written first in the file wins.
 * Customer-specific rules override general ones through the same order: `customers` adds one
 * to specificity, so it beats an equally specific general rule of the same priority; to make a
 * customer's price win over every general rule, give it a higher priority (the example uses
 * 100 for customer rules). A line no rule matches is `unpriced` (dead-lettered), never rated at
 * zero: a catch-all rule (no match, priority below the others) prices everything else.
 *
 * Rating (rate.ts), exact decimals throughout, no rounding:
 *   cost_plus       amount = record[basis] * (100 + markup_percent) / 100, in the record's BillingCurrency
 *   per_unit        amount = PricingQuantity * unit_price, in the rule's currency
 *   fixed_per_line  amount = amount, in the rule's currency
 *   then            amount *= (100 - rule discount_percent) / 100 * (100 - customer discount_percent) / 100
 *   then            converted with the latest exchange rate whose effective_from <= ChargePeriodStart
 *                   when the customer's billing currency (else currency_default) differs.
 */

// ---------------------------------------------------------------------------------------------
// Where the price book is implemented. This file keeps the format reference above (the unit
// tests parse its full example, so it cannot drift from the code) and re-exports the book's
// public API, so `./price-book` and `processors/price` (index.ts) keep working unchanged.
//
//   book/types.ts         the validated PriceBook and its rules, plans, customers, rates
//   book/fields.ts        field schemas: ids, text, currencies, decimals, dates, matchers
//   book/schema.ts        the document schema (PriceBookSchema): sections and their entries
//   book/yaml.ts          YAML -> plain values, with the source offset of every path
//   book/issues.ts        schema problems -> line-numbered messages naming rule/plan/customer
//   book/cross-checks.ts  checks across fields and entries (dates, references, duplicates)
//   book/normalize.ts     validated data -> frozen PriceBook with defaults resolved
//   book/load.ts          parsePriceBook / loadPriceBook: text or file -> PriceBook or error
//   book/at-cost.ts       the book in force when none is configured
//   book/fingerprint.ts   canonical JSON and the content fingerprint of a book

export { atCostPriceBook } from './book/at-cost';
export { parseBookDate } from './book/fields';
export { canonicalJson, priceBookFingerprint } from './book/fingerprint';
export { loadPriceBook, parsePriceBook } from './book/load';
export { PriceBookSchema } from './book/schema';
export {
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
} from './book/types';
