/**
 * FOCUS columns every FOCUS export carries, whoever writes it (AWS and Azure FOCUS exports use
 * them too). The control total of a FOCUS file is the sum of BilledCost.
 */
export const FOCUS_BILLED_COST = ['BilledCost'] as const;
export const FOCUS_CURRENCY = ['BillingCurrency'] as const;

export type FocusFormat = 'focus';

export const BILLED_COST: Record<FocusFormat, readonly string[]> = { focus: FOCUS_BILLED_COST };
export const CURRENCY: Record<FocusFormat, readonly string[]> = { focus: FOCUS_CURRENCY };

/** Billing-period columns of a FOCUS row: the period start, else the charge start. */
export const FOCUS_PERIOD_COLUMNS = ['BillingPeriodStart', 'ChargePeriodStart'] as const;
