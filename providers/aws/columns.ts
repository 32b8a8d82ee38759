import { FOCUS_BILLED_COST, FOCUS_CURRENCY } from '../focus/columns';

export type AwsFormat = 'aws-cur-legacy' | 'aws-cur2' | 'aws-focus';

/**
 * Billed-cost column of each AWS format, in order of preference: `lineItem/UnblendedCost`, or its
 * snake_case name in Athena-style and CUR 2.0 files. Not NetUnblendedCost: that column exists only
 * with EDP / private pricing, and a control total must use one column for the whole revision.
 */
export const BILLED_COST: Record<AwsFormat, readonly string[]> = {
  'aws-cur-legacy': ['lineItem/UnblendedCost', 'line_item_unblended_cost'],
  'aws-cur2': ['line_item_unblended_cost'],
  'aws-focus': FOCUS_BILLED_COST,
};

export const CURRENCY: Record<AwsFormat, readonly string[]> = {
  'aws-cur-legacy': ['lineItem/CurrencyCode', 'line_item_currency_code'],
  'aws-cur2': ['line_item_currency_code'],
  'aws-focus': FOCUS_CURRENCY,
};

/** Billing-period columns of a CUR row: the period start, else the usage start. */
export const PERIOD_COLUMNS = [
  'bill/BillingPeriodStartDate',
  'bill_billing_period_start_date',
  'lineItem/UsageStartDate',
  'line_item_usage_start_date',
] as const;

/** Map columns of CUR 2.0 (Data Exports) that the Athena-style legacy CUR flattens into many columns. */
export const CUR2_MAP_COLUMNS = ['product', 'resource_tags', 'cost_category', 'discount'] as const;
