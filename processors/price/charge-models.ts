import { Decimal } from '../../schemas/decimal';

/**
 * Period-level charge models: what the invoice stage needs, and the pure tier math it will use.
 *
 * The price stage (rate.ts) prices each usage line on its own: cost-plus, per-unit or fixed, with
 * line discounts and currency conversion. Some prices cannot be known from one line, only from a
 * customer's whole billing period. The price book declares them under `plans:` (validated when
 * the book is loaded, see price-book.ts); the invoice stage, a later issue, applies them. This
 * file is the contract between the two.
 *
 * Plan shape in the price book (all money and quantities are decimals, parsed from source text):
 *
 *   plans:
 *     - id: acme-storage-tiers          # unique among plans; shown on the invoice line
 *       customer: acme                  # must be defined under `customers:`
 *       description: S3 storage, graduated
 *       match: { ServiceName: AmazonS3, PricingUnit: GB-Mo }   # which of the customer's lines it covers
 *       model: graduated                # graduated | volume | package | minimum_commitment | prepaid_credit
 *       period: month                   # the only period today: one calendar month (x_BillingPeriod)
 *       effective_from: 2026-01-01      # optional, inclusive; matched against the billing period start
 *       effective_to: 2027-01-01        # optional, exclusive
 *       currency: EUR                   # optional; default the customer's billing currency, else currency_default
 *       tiers:                          # graduated and volume
 *         - { up_to: 1000, unit_price: '0.023' }   # up_to is inclusive
 *         - { up_to: 50000, unit_price: '0.021' }
 *         - { unit_price: '0.019' }                 # the last tier has no up_to (unbounded)
 *     - { id: acme-ips, customer: acme, model: package, match: { PricingUnit: IP-Hrs },
 *         package_size: 100, package_price: '2.50' }
 *     - { id: acme-commit, customer: acme, model: minimum_commitment, minimum_amount: '5000' }
 *     - { id: acme-credit, customer: acme, model: prepaid_credit, credit_amount: '20000',
 *         effective_from: 2026-01-01, effective_to: 2027-01-01 }
 *
 * What the invoice stage needs, per customer and billing period (x_BillingPeriod):
 *
 * 1. Inputs. Every rated line of the customer in the period (one complete revision per scope, as
 *    the Elasticsearch sink keeps it), with x_RatedCost in the customer's billing currency, and
 *    the book version in force for the period. Quantities are summed exactly (Decimal) from
 *    PricingQuantity of the lines a plan covers (the plan's `match`, evaluated like a rule's
 *    matchers); quantity-based plans (graduated, volume, package) must name the PricingUnit so
 *    that different units are never added up; the loader enforces it.
 * 2. Quantity-based plans replace line prices. For graduated, volume and package plans the plan
 *    charge (graduated(), volume(), packages() below, on the period's summed quantity) is the
 *    invoice line, and the x_RatedCost of the covered lines is shown as "included in plan"
 *    rather than added again. A line covered by two plans is a book error the invoice stage
 *    must report (overlap cannot be checked here without data). Negative period quantities
 *    (corrections larger than usage) are an error to report, not to price.
 * 3. Discounts. Line discounts (rule and customer `discount_percent`) are already inside
 *    x_RatedCost; the invoice stage must not apply them again. Plan charges are not discounted
 *    by the customer discount unless a later issue adds a plan-level `discount_percent`.
 * 4. Minimum commitment. After usage and plan charges: true-up = max(0, minimum_amount - total
 *    of the covered lines and plan charges), one extra invoice line. `match` narrows what counts
 *    toward the commitment (default: everything of the customer).
 * 5. Prepaid credit. Applied last, to what remains due: burn = min(balance, due); the balance
 *    carries over from period to period until exhausted or until effective_to (expiry; unused
 *    credit lapses). This needs state the price book cannot hold: a per-plan ledger of burns
 *    keyed by (plan id, billing period), recomputed idempotently when a period is re-rated or a
 *    revision is restated, so a replay never burns credit twice.
 * 6. Currency and rounding. Plan amounts are in the plan currency (which must equal the
 *    customer's billing currency, or be converted with the book's exchange rate for the period
 *    start). Rounding to the currency's minor unit happens once per invoice line, HALF_EVEN,
 *    after all of the above; nothing upstream rounds.
 * 7. Dating and proration. A plan applies to a billing period when the period start lies in
 *    [effective_from, effective_to). There is no proration of partial months today.
 */

/** One tier: units up to and including `up_to` (null: unbounded) cost `unit_price` each. */
export interface Tier {
  readonly up_to: Decimal | null;
  readonly unit_price: Decimal;
}

export type PlanModel = 'graduated' | 'volume' | 'package' | 'minimum_commitment' | 'prepaid_credit';

/**
 * Problems with a tier list, empty when it is usable: at least one tier, `up_to` strictly
 * increasing and positive, only the last tier unbounded, prices not negative.
 */
export function tierProblems(tiers: readonly Tier[]): string[] {
  const problems: string[] = [];
  if (tiers.length === 0) problems.push('at least one tier is required');
  let previous: Decimal | undefined;
  tiers.forEach((tier, i) => {
    const last = i === tiers.length - 1;
    if (tier.unit_price.isNegative() && !tier.unit_price.isZero())
      problems.push(`tiers[${i}].unit_price: must not be negative`);
    if (tier.up_to === null) {
      if (!last) problems.push(`tiers[${i}].up_to: only the last tier may be unbounded`);
      return;
    }
    if (last) problems.push(`tiers[${i}].up_to: the last tier must be unbounded (leave out up_to)`);
    if (!tier.up_to.isPositive() || tier.up_to.isZero())
      problems.push(`tiers[${i}].up_to: must be greater than 0`);
    else if (previous !== undefined && !tier.up_to.greaterThan(previous))
      problems.push(`tiers[${i}].up_to: must be greater than the previous tier's up_to`);
    previous = tier.up_to;
  });
  return problems;
}

function checkTiers(quantity: Decimal, tiers: readonly Tier[]): void {
  const problems = tierProblems(tiers);
  if (problems.length) throw new RangeError(`invalid tiers: ${problems.join('; ')}`);
  if (quantity.isNegative() && !quantity.isZero()) throw new RangeError('quantity must not be negative');
}

/**
 * Graduated tiers: each unit is priced by the tier it falls in. With tiers
 * [{up_to 100, 1}, {up_to 1000, 0.8}, {0.5}], 1500 units cost 100*1 + 900*0.8 + 500*0.5 = 1070.
 * Fractional quantities are priced proportionally. Exact: no rounding.
 */
export function graduated(quantity: Decimal, tiers: readonly Tier[]): Decimal {
  checkTiers(quantity, tiers);
  let total = new Decimal(0);
  let lower = new Decimal(0);
  for (const tier of tiers) {
    if (!quantity.greaterThan(lower)) break;
    const upper = tier.up_to === null ? quantity : Decimal.min(quantity, tier.up_to);
    total = total.plus(upper.minus(lower).times(tier.unit_price));
    if (tier.up_to === null) break;
    lower = tier.up_to;
  }
  return total;
}

/**
 * Volume tiers: the total quantity selects one tier (the first whose `up_to` is >= quantity)
 * and every unit is priced at it. With the tiers above, 1500 units cost 1500*0.5 = 750 and
 * exactly 1000 units cost 1000*0.8 = 800.
 */
export function volume(quantity: Decimal, tiers: readonly Tier[]): Decimal {
  checkTiers(quantity, tiers);
  const tier = tiers.find((t) => t.up_to === null || quantity.lessThanOrEqualTo(t.up_to));
  // tierProblems guarantees an unbounded last tier, so a tier is always found.
  return quantity.times((tier ?? tiers[tiers.length - 1]).unit_price);
}

/**
 * Packages: the quantity is bought in whole packages of `packageSize` at `packagePrice` each;
 * a started package is a whole package (250 units in packages of 100 is 3 packages). Computed
 * with an integer quotient and the exact remainder, never a rounded division.
 */
export function packages(quantity: Decimal, packageSize: Decimal, packagePrice: Decimal): Decimal {
  if (!packageSize.isPositive() || packageSize.isZero())
    throw new RangeError('package size must be greater than 0');
  if (quantity.isNegative() && !quantity.isZero()) throw new RangeError('quantity must not be negative');
  const whole = quantity.divToInt(packageSize);
  const count = quantity.mod(packageSize).isZero() ? whole : whole.plus(1);
  return count.times(packagePrice);
}
