import { BILLED_COST, CURRENCY, FOCUS_PERIOD_COLUMNS, type FocusFormat } from './columns';
import { discoverFocusFiles } from './discovery';
import { compileFocus } from './to-focus';
import type { ProviderDefinition } from '../provider';

/**
 * FOCUS files from any producer (a provider's own FOCUS export rated with --provider focus, a
 * FinOps tool, a SQL engine). There is no bucket of its own: AWS and Azure FOCUS exports arrive
 * through their provider's collector as aws-focus and azure-focus; `meterflow rate` reads files.
 */
export const focus = {
  name: 'focus',
  article: 'a FOCUS',
  formats: {
    focus: {
      billedCostColumns: BILLED_COST.focus,
      currencyColumns: CURRENCY.focus,
      toFocus: compileFocus,
      // A FOCUS row states its ChargeClass itself.
      infersCorrections: false,
    },
  },
  focusFormat: 'focus',
  periodColumns(columns) {
    const byLower = new Map(columns.map((c) => [c.toLowerCase(), c]));
    return FOCUS_PERIOD_COLUMNS.map((c) => ({ name: byLower.get(c.toLowerCase()) ?? c }));
  },
  // Files at rest are complete: no quiet period.
  discoverAtRest: async (input) =>
    discoverFocusFiles({ ...input, provider: 'focus', now: new Date(8.64e15), quietPeriodMs: 0 }),
  layout: '<export>/<YYYY-MM | BILLING_PERIOD=YYYY-MM | yyyymmdd-yyyymmdd>/<file>.csv(.gz)',
} as const satisfies ProviderDefinition<FocusFormat>;
