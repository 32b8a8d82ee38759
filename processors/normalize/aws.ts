import { Decimal, decimalToString } from '../../runtime/decimal';
import type { RawUsageRow } from '../../schemas/types.generated';
import type { NormalizeOptions } from './config';
import { serviceCategory } from './service-categories';
import { type ChargeCategory, type Mapped, NULL_FIELDS } from './types';
import {
  type Cell,
  Columns,
  FieldError,
  decimalOf,
  formatIso,
  monthBounds,
  optDecimal,
  optDecimalText,
  parseTagObject,
  parseTimestampMs,
  requireCell,
  timestampOf,
} from './values';

/**
 * AWS legacy CUR (slash headers `lineItem/UnblendedCost`, and the Athena / legacy-Parquet snake_case
 * flavour `line_item_unblended_cost`) and CUR 2.0 (snake_case with map columns as JSON text).
 *
 * One alias table: every header is normalized to snake_case (`/` -> `_`, each capital starts a
 * word, lower-case), which is how AWS itself derives the Athena and CUR 2.0 names
 * (`reservation/ReservationARN` -> `reservation_reservation_a_r_n`).
 *
 * BilledCost = lineItem/UnblendedCost exactly (the collector's control-total column).
 * Tags (the convention attribution relies on):
 *   resourceTags/user:<k>, resource_tags_user_<k>, resource_tags map key user_<k> / user:<k> -> `<k>`
 *   resourceTags/aws:<k>,  resource_tags_aws_<k>,  map key aws_<k> / aws:<k>              -> `aws:<k>`
 *   costCategory/<n>, cost_category_<n>, cost_category map key <n>                        -> `costCategory:<n>`
 * Other categories (koku's `noTags/...`, product attributes) are not tags.
 */

// Called for every column of every row with the same few hundred header names: memoised.
const awsKeys = new Map<string, string>();

export function awsKey(header: string): string {
  let key = awsKeys.get(header);
  if (key === undefined) {
    key = computeAwsKey(header);
    if (awsKeys.size < 10_000) awsKeys.set(header, key);
  }
  return key;
}

function computeAwsKey(header: string): string {
  return header
    .replace(/^\uFEFF/, '')
    .trim()
    .replace(/\//g, '_')
    .replace(/([A-Z])/g, '_$1')
    .toLowerCase()
    .replace(/_+/g, '_')
    .replace(/^_/, '');
}

const USAGE_TYPES = new Set(['Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage', 'SavingsPlanNegation']);
const PURCHASE_TYPES = new Set(['Fee', 'RIFee', 'SavingsPlanUpfrontFee', 'SavingsPlanRecurringFee']);
const CREDIT_TYPES = new Set([
  'Credit',
  'Discount',
  'BundledDiscount',
  'PrivateRateDiscount',
  'EdpDiscount',
  'DistributorDiscount',
]);
const SP_TYPES = new Set([
  'SavingsPlanCoveredUsage',
  'SavingsPlanNegation',
  'SavingsPlanUpfrontFee',
  'SavingsPlanRecurringFee',
]);
const RI_TYPES = new Set(['DiscountedUsage', 'RIFee', 'Fee']);

/**
 * lineItem/LineItemType -> FOCUS 1.2 ChargeCategory (+ ChargeClass):
 *   Usage, DiscountedUsage, SavingsPlanCoveredUsage, SavingsPlanNegation -> Usage
 *   Fee, RIFee, SavingsPlanUpfrontFee, SavingsPlanRecurringFee          -> Purchase
 *   Tax                                                                  -> Tax
 *   Credit, Discount, BundledDiscount, PrivateRateDiscount, EdpDiscount  -> Credit
 *   Refund -> Credit (Tax when lineItem/TaxType is set), ChargeClass Correction
 *   anything else                                                        -> Adjustment
 */
export function awsChargeCategory(
  lineItemType: string | null,
  taxType: string | null,
): { category: ChargeCategory; correction: boolean } {
  const t = lineItemType ?? 'Usage';
  if (USAGE_TYPES.has(t)) return { category: 'Usage', correction: false };
  if (PURCHASE_TYPES.has(t)) return { category: 'Purchase', correction: false };
  if (t === 'Tax') return { category: 'Tax', correction: false };
  if (CREDIT_TYPES.has(t)) return { category: 'Credit', correction: false };
  if (t === 'Refund') return { category: taxType !== null ? 'Tax' : 'Credit', correction: true };
  return { category: 'Adjustment', correction: false };
}

function mapColumn(cols: Columns, name: string): Record<string, string> {
  const c = cols.cell(name);
  return c === undefined ? {} : parseTagObject(c);
}

const fromPrefixed = (k: string): string => {
  if (/^user[:_]/.test(k)) return k.slice(5);
  if (/^aws[:_]/.test(k)) return `aws:${k.slice(4)}`;
  return k;
};

/** The tag key a header column carries (resourceTags/..., costCategory/..., CUR 2.0 snake forms), or null. */
function computeTagKey(header: string): string | null {
  const h = header.replace(/^\uFEFF/, '').trim();
  let m: RegExpExecArray | null;
  if ((m = /^resourceTags\/(.+)$/.exec(h))) return fromPrefixed(m[1]);
  if ((m = /^costCategory\/(.+)$/.exec(h))) return `costCategory:${m[1]}`;
  if ((m = /^resource_tags_(.+)$/.exec(h))) return fromPrefixed(m[1]);
  if ((m = /^cost_category_(.+)$/.exec(h))) return `costCategory:${m[1]}`;
  return null;
}

// Every row of an export repeats the same ~150 headers: classify each header once (the regexes
// were a fifth of normalize's CPU on a 151-column CUR), bounded like awsKeys.
const tagKeys = new Map<string, string | null>();
function tagKeyOf(header: string): string | null {
  let key = tagKeys.get(header);
  if (key === undefined) {
    key = computeTagKey(header);
    if (tagKeys.size < 10_000) tagKeys.set(header, key);
  }
  return key;
}

function awsTags(row: RawUsageRow, cols: Columns): Record<string, string> {
  const tags: Record<string, string> = {};
  const put = (k: string, v: string) => {
    if (k !== '' && !(k in tags)) tags[k] = v;
  };
  for (const header in row.columns) {
    const key = tagKeyOf(header);
    if (key !== null) put(key, row.columns[header]);
  }
  for (const [k, v] of Object.entries(mapColumn(cols, 'resource_tags'))) put(fromPrefixed(k), v);
  for (const [k, v] of Object.entries(mapColumn(cols, 'cost_category'))) put(`costCategory:${k}`, v);
  return tags;
}

function arnParts(id: string | null): { type: string | null; name: string | null } {
  if (id === null || !id.startsWith('arn:')) return { type: null, name: null };
  const resource = id.split(':').slice(5).join(':');
  if (resource === '') return { type: null, name: null };
  const slash = resource.indexOf('/');
  if (slash > 0)
    return { type: resource.slice(0, slash), name: resource.slice(resource.lastIndexOf('/') + 1) };
  const colon = resource.indexOf(':');
  if (colon > 0) return { type: resource.slice(0, colon), name: resource.slice(colon + 1) };
  return { type: null, name: resource };
}

export function mapAws(row: RawUsageRow, options: NormalizeOptions): Mapped {
  const cols = new Columns(row.columns, awsKey);
  const slashStyle = Object.keys(row.columns).some((k) => k.includes('/'));
  /** Name for an error about a missing column, in the row's own header style. */
  const nameOf = (slash: string, snake: string) => (slashStyle ? slash : snake);

  const lineItemType = cols.str('line_item_line_item_type');
  const { category, correction } = awsChargeCategory(lineItemType, cols.str('line_item_tax_type'));

  // Money
  const billedCell = requireCell(
    cols.cell('line_item_unblended_cost'),
    nameOf('lineItem/UnblendedCost', 'line_item_unblended_cost'),
    'billed cost',
  );
  const billed = decimalOf(billedCell);
  const effective = awsEffectiveCost(cols, lineItemType, billed);
  const listCost = optDecimalText(cols.cell('pricing_public_on_demand_cost'));
  const listUnitPrice = optDecimalText(cols.cell('pricing_public_on_demand_rate'));
  const usageAmount = optDecimalText(cols.cell('line_item_usage_amount'));

  const currency =
    cols.str('line_item_currency_code') ??
    options.default_currency ??
    missing(nameOf('lineItem/CurrencyCode', 'line_item_currency_code'), 'currency');

  // Periods
  let chargeStart: number;
  let chargeEnd: number;
  const startCell = cols.cell('line_item_usage_start_date');
  const endCell = cols.cell('line_item_usage_end_date');
  const interval = cols.cell('identity_time_interval');
  if (startCell !== undefined && endCell !== undefined) {
    chargeStart = timestampOf(startCell);
    chargeEnd = timestampOf(endCell);
  } else if (interval !== undefined) {
    [chargeStart, chargeEnd] = splitInterval(interval);
  } else {
    missing(nameOf('lineItem/UsageStartDate', 'line_item_usage_start_date'), 'charge period');
  }
  const bpStartCell = cols.cell('bill_billing_period_start_date');
  const bpEndCell = cols.cell('bill_billing_period_end_date');
  const fallback = monthBounds(row.billing_period, 'billing_period');
  const billingStart = bpStartCell === undefined ? fallback.start : timestampOf(bpStartCell);
  const billingEnd = bpEndCell === undefined ? fallback.end : timestampOf(bpEndCell);

  // Product map (CUR 2.0) for attributes legacy CUR has as product/* columns
  const product = mapColumn(cols, 'product');
  const productCode = cols.str('line_item_product_code') ?? cols.str('product_servicecode') ?? null;
  const resourceId = cols.str('line_item_resource_id');
  const arn = arnParts(resourceId);

  const billType = cols.str('bill_bill_type');
  const isUsage = lineItemType === null || USAGE_TYPES.has(lineItemType);
  const chargeFrequency = isUsage
    ? 'Usage-Based'
    : lineItemType === 'SavingsPlanUpfrontFee' || billType === 'Purchase' || billType === 'Refund'
      ? 'One-Time'
      : 'Recurring';

  // Commitment discounts
  const spArn = cols.str('savings_plan_savings_plan_a_r_n');
  const riArn = cols.str('reservation_reservation_a_r_n');
  let commitment: {
    CommitmentDiscountId: string | null;
    CommitmentDiscountType: string | null;
    CommitmentDiscountCategory: string | null;
    CommitmentDiscountStatus: string | null;
  } = {
    CommitmentDiscountId: null,
    CommitmentDiscountType: null,
    CommitmentDiscountCategory: null,
    CommitmentDiscountStatus: null,
  };
  if (spArn !== null && lineItemType !== null && SP_TYPES.has(lineItemType)) {
    commitment = {
      CommitmentDiscountId: spArn,
      CommitmentDiscountType: 'Savings Plan',
      CommitmentDiscountCategory: 'Spend',
      CommitmentDiscountStatus: lineItemType === 'SavingsPlanCoveredUsage' ? 'Used' : null,
    };
  } else if (riArn !== null && lineItemType !== null && RI_TYPES.has(lineItemType)) {
    commitment = {
      CommitmentDiscountId: riArn,
      CommitmentDiscountType: 'Reserved Instance',
      CommitmentDiscountCategory: 'Usage',
      CommitmentDiscountStatus: lineItemType === 'DiscountedUsage' ? 'Used' : null,
    };
  }

  const payer = cols.str('bill_payer_account_id');
  const pricingUnit = cols.str('pricing_unit') ?? product['pricing_unit'] ?? null;

  return {
    fields: {
      ...NULL_FIELDS,
      BillingAccountId: payer,
      BillingAccountName: cols.str('bill_payer_account_name'),
      SubAccountId: cols.str('line_item_usage_account_id'),
      SubAccountName: cols.str('line_item_usage_account_name'),
      ProviderName: 'AWS',
      PublisherName: cols.str('line_item_legal_entity'),
      InvoiceIssuerName: cols.str('bill_invoicing_entity'),
      ServiceName: productCode,
      ServiceCategory: serviceCategory('aws', productCode),
      SkuId: cols.str('product_sku') ?? product['sku'] ?? null,
      SkuPriceId: cols.str('pricing_rate_code', 'pricing_rate_id'),
      RegionId:
        cols.str('product_region', 'product_region_code') ??
        product['region'] ??
        product['region_code'] ??
        null,
      RegionName: cols.str('product_location') ?? product['location'] ?? null,
      AvailabilityZone: cols.str('line_item_availability_zone'),
      ResourceId: resourceId,
      ResourceName: arn.name,
      ResourceType: arn.type,
      ChargeCategory: category,
      ChargeClass: correction || billType === 'Refund' ? 'Correction' : null,
      ChargeDescription: cols.str('line_item_line_item_description'),
      ChargeFrequency: chargeFrequency,
      ChargePeriodStart: formatIso(chargeStart),
      ChargePeriodEnd: formatIso(chargeEnd),
      BillingPeriodStart: formatIso(billingStart),
      BillingPeriodEnd: formatIso(billingEnd),
      ConsumedQuantity: category === 'Usage' ? usageAmount : null,
      ConsumedUnit: category === 'Usage' && usageAmount !== null ? pricingUnit : null,
      PricingQuantity: usageAmount,
      PricingUnit: usageAmount !== null ? pricingUnit : null,
      ListUnitPrice: listUnitPrice,
      ListCost: listCost,
      BilledCost: decimalToString(billed),
      EffectiveCost: decimalToString(effective),
      BillingCurrency: currency,
      ...commitment,
      Tags: awsTags(row, cols),
    },
    billingAccountIds: [payer],
  };
}

/** EffectiveCost by line item type (EXPORT-FORMATS.md §5.5); the billed cost where no rule applies. */
function awsEffectiveCost(cols: Columns, type: string | null, billed: Decimal): Decimal {
  const d = (name: string) => optDecimal(cols.cell(name));
  switch (type) {
    case 'SavingsPlanCoveredUsage':
      return d('savings_plan_savings_plan_effective_cost') ?? billed;
    case 'SavingsPlanRecurringFee': {
      const total = d('savings_plan_total_commitment_to_date');
      const used = d('savings_plan_used_commitment');
      return total !== null && used !== null ? total.minus(used) : billed;
    }
    case 'SavingsPlanNegation':
    case 'SavingsPlanUpfrontFee':
      return new Decimal(0);
    case 'DiscountedUsage':
      return d('reservation_effective_cost') ?? billed;
    case 'RIFee': {
      const upfront = d('reservation_unused_amortized_upfront_fee_for_billing_period');
      const recurring = d('reservation_unused_recurring_fee');
      if (upfront === null && recurring === null) return billed;
      return (upfront ?? new Decimal(0)).plus(recurring ?? new Decimal(0));
    }
    case 'Fee':
      // An RI upfront fee is amortized into DiscountedUsage / RIFee rows.
      return cols.str('reservation_reservation_a_r_n') !== null ? new Decimal(0) : billed;
    default:
      return billed;
  }
}

function splitInterval(cell: Cell): [number, number] {
  const parts = cell.value.trim().split('/');
  const a = parts.length === 2 ? parseTimestampMs(parts[0]) : undefined;
  const b = parts.length === 2 ? parseTimestampMs(parts[1]) : undefined;
  if (a === undefined || b === undefined) {
    throw new FieldError(cell.key, `${cell.key}: "${cell.value}" is not a start/end interval`);
  }
  return [a, b];
}

function missing(field: string, what: string): never {
  throw new FieldError(field, `${field}: missing ${what}`);
}
