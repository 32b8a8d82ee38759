import { FOCUS_BILLED_COST, FOCUS_CURRENCY } from '../focus/columns';

export type AzureFormat = 'azure-actual' | 'azure-amortized' | 'azure-focus';

/**
 * Billed-cost column of the Actual and Amortized datasets: `CostInBillingCurrency` (2021-10-01-style
 * EA and, as `costInBillingCurrency`, MCA), then `Cost` (toolkit EA samples and the c360-2025-04
 * dataset version), then `PreTaxCost` (legacy usage schema). No file carries two of these, so the
 * order only matters for which name is reported. Matching is case-insensitive: EA writes
 * PascalCase, MCA camelCase, some files all lower case.
 */
export const BILLED_COST: Record<AzureFormat, readonly string[]> = {
  'azure-actual': ['CostInBillingCurrency', 'Cost', 'PreTaxCost'],
  'azure-amortized': ['CostInBillingCurrency', 'Cost', 'PreTaxCost'],
  'azure-focus': FOCUS_BILLED_COST,
};

/** EA 2021-10-01 BillingCurrencyCode, toolkit EA / MCA BillingCurrency / billingCurrency, legacy Currency. */
export const CURRENCY: Record<AzureFormat, readonly string[]> = {
  'azure-actual': ['BillingCurrencyCode', 'BillingCurrency', 'Currency'],
  'azure-amortized': ['BillingCurrencyCode', 'BillingCurrency', 'Currency'],
  'azure-focus': FOCUS_CURRENCY,
};

/** Billing-period columns of an Azure row, as azureKey spells them (case and separators folded). */
export const PERIOD_KEYS = [
  'billingperiodstartdate',
  'billingperiodstart',
  'date',
  'usagedatetime',
  'usagedate',
] as const;

/** azureKey of the billed-cost columns: a file holding one of them is an Azure cost export. */
export const COST_KEYS: ReadonlySet<string> = new Set(['costinbillingcurrency', 'cost', 'pretaxcost']);
