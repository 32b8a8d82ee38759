import { Decimal } from '../../../schemas/decimal';
import { deepFreeze } from './normalize';
import type { CostBasis, PriceBook } from './types';

/**
 * The book in force when none is configured: every line at cost (cost_plus, markup 0, on
 * BilledCost so rated totals reconcile with the exports' control totals), in the line's own
 * currency, rule id `at-cost`, version `at-cost`.
 */
export function atCostPriceBook(basis: CostBasis = 'BilledCost'): PriceBook {
  return deepFreeze({
    version: 'at-cost',
    description: 'No price book configured: every line at cost.',
    currency_default: null,
    customers: {},
    exchange_rates: [],
    rules: [
      {
        id: 'at-cost',
        priority: 0,
        effective_from: null,
        effective_to: null,
        match: {},
        customers: '*',
        discount_percent: new Decimal(0),
        model: 'cost_plus',
        basis,
        markup_percent: new Decimal(0),
      },
    ],
    plans: [],
  });
}
