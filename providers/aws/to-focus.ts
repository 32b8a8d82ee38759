import { Decimal, decimalToString } from '../../schemas/decimal';
import { serviceCategory, serviceSubcategory } from '../../processors/normalize/service-categories';
import { type ChargeCategory, type MapperCompiler } from '../../processors/normalize/types';
import {
  type Cell,
  ColumnIndex,
  FieldError,
  type Slot,
  decimalTextOf,
  formatIso,
  monthBounds,
  optDecimal,
  optDecimalText,
  parseTagObject,
  parseTimestampMs,
  requireCell,
  timestampOf,
} from '../../processors/normalize/values';

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

function mapColumn(slot: Slot, values: readonly string[]): Record<string, string> {
  const c = slot.cell(values);
  return c === undefined ? {} : parseTagObject(c);
}

const fromPrefixed = (k: string): string => {
  if (/^user[:_]/.test(k)) return k.slice(5);
  if (/^aws[:_]/.test(k)) return `aws:${k.slice(4)}`;
  return k;
};

/** The tag key a header column carries (resourceTags/..., costCategory/..., CUR 2.0 snake forms), or null. */
function tagKeyOf(header: string): string | null {
  const h = header.replace(/^\uFEFF/, '').trim();
  let m: RegExpExecArray | null;
  if ((m = /^resourceTags\/(.+)$/.exec(h))) return fromPrefixed(m[1]);
  if ((m = /^costCategory\/(.+)$/.exec(h))) return `costCategory:${m[1]}`;
  if ((m = /^resource_tags_(.+)$/.exec(h))) return fromPrefixed(m[1]);
  if ((m = /^cost_category_(.+)$/.exec(h))) return `costCategory:${m[1]}`;
  return null;
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

/** The AWS mapping compiled for one header (legacy CUR slash or snake names, CUR 2.0). */
export const compileAws: MapperCompiler = (header) => {
  const ix = new ColumnIndex(header, awsKey);
  const slashStyle = header.some((k) => k.includes('/'));
  /** Name for an error about a missing column, in the header's own style. */
  const nameOf = (slash: string, snake: string) => (slashStyle ? slash : snake);
  const col = {
    lineItemType: ix.slot('line_item_line_item_type'),
    taxType: ix.slot('line_item_tax_type'),
    unblendedCost: ix.slot('line_item_unblended_cost'),
    publicCost: ix.slot('pricing_public_on_demand_cost'),
    publicRate: ix.slot('pricing_public_on_demand_rate'),
    usageAmount: ix.slot('line_item_usage_amount'),
    currency: ix.slot('line_item_currency_code'),
    usageStart: ix.slot('line_item_usage_start_date'),
    usageEnd: ix.slot('line_item_usage_end_date'),
    interval: ix.slot('identity_time_interval'),
    billingStart: ix.slot('bill_billing_period_start_date'),
    billingEnd: ix.slot('bill_billing_period_end_date'),
    product: ix.slot('product'),
    productCode: ix.slot('line_item_product_code'),
    serviceCode: ix.slot('product_servicecode'),
    resourceId: ix.slot('line_item_resource_id'),
    billType: ix.slot('bill_bill_type'),
    savingsPlanArn: ix.slot('savings_plan_savings_plan_a_r_n'),
    reservationArn: ix.slot('reservation_reservation_a_r_n'),
    payer: ix.slot('bill_payer_account_id'),
    payerName: ix.slot('bill_payer_account_name'),
    usageAccount: ix.slot('line_item_usage_account_id'),
    usageAccountName: ix.slot('line_item_usage_account_name'),
    legalEntity: ix.slot('line_item_legal_entity'),
    pricingUnit: ix.slot('pricing_unit'),
    sku: ix.slot('product_sku'),
    rateCode: ix.slot('pricing_rate_code', 'pricing_rate_id'),
    region: ix.slot('product_region', 'product_region_code'),
    location: ix.slot('product_location'),
    availabilityZone: ix.slot('line_item_availability_zone'),
    description: ix.slot('line_item_line_item_description'),
    resourceTags: ix.slot('resource_tags'),
    costCategory: ix.slot('cost_category'),
    invoiceId: ix.slot('bill_invoice_id'),
    billingEntity: ix.slot('bill_billing_entity'),
    usageType: ix.slot('line_item_usage_type'),
    unblendedRate: ix.slot('line_item_unblended_rate'),
    netUnblendedCost: ix.slot('line_item_net_unblended_cost'),
    netUnblendedRate: ix.slot('line_item_net_unblended_rate'),
    pricingTerm: ix.slot('pricing_term'),
    capacityReservationArn: ix.slot(
      'reservation_capacity_reservation_a_r_n',
      'capacity_reservation_capacity_reservation_a_r_n',
    ),
    capacityReservationStatus: ix.slot(
      'reservation_capacity_reservation_status',
      'capacity_reservation_capacity_reservation_status',
    ),
  };
  const effectiveCost = compileEffectiveCost(ix);
  // Tag columns, classified once per header: [position, tag key], in header order.
  const tagColumns: Array<[number, string]> = [];
  header.forEach((h, i) => {
    const key = tagKeyOf(h);
    if (key !== null && key !== '') tagColumns.push([i, key]);
  });
  const tagsOf = (values: readonly string[]): Record<string, string> => {
    const tags: Record<string, string> = {};
    const put = (k: string, v: string) => {
      if (k !== '' && !(k in tags)) tags[k] = v;
    };
    for (const [i, key] of tagColumns) {
      const v = values[i];
      if (v !== undefined && v !== '') put(key, v);
    }
    if (col.resourceTags.present)
      for (const [k, v] of Object.entries(mapColumn(col.resourceTags, values))) put(fromPrefixed(k), v);
    if (col.costCategory.present)
      for (const [k, v] of Object.entries(mapColumn(col.costCategory, values))) put(`costCategory:${k}`, v);
    return tags;
  };
  const billedName = nameOf('lineItem/UnblendedCost', 'line_item_unblended_cost');
  const currencyName = nameOf('lineItem/CurrencyCode', 'line_item_currency_code');
  const startName = nameOf('lineItem/UsageStartDate', 'line_item_usage_start_date');

  return (v, ctx, options) => {
    const lineItemType = col.lineItemType.str(v);
    const { category, correction } = awsChargeCategory(lineItemType, col.taxType.str(v));

    // Money: the billed cost stays the export's exact text (canonical form); a Decimal is built
    // only where EffectiveCost needs arithmetic.
    const billedCell = requireCell(col.unblendedCost.cell(v), billedName, 'billed cost');
    const billed = decimalTextOf(billedCell);
    const effective = effectiveCost(v, lineItemType, billed);
    const listCost = optDecimalText(col.publicCost.cell(v));
    const listUnitPrice = optDecimalText(col.publicRate.cell(v));
    const usageAmount = optDecimalText(col.usageAmount.cell(v));

    const currency = col.currency.str(v) ?? options.default_currency ?? missing(currencyName, 'currency');

    // Periods
    let chargeStart: number;
    let chargeEnd: number;
    const startCell = col.usageStart.cell(v);
    const endCell = col.usageEnd.cell(v);
    const interval = col.interval.cell(v);
    if (startCell !== undefined && endCell !== undefined) {
      chargeStart = timestampOf(startCell);
      chargeEnd = timestampOf(endCell);
    } else if (interval !== undefined) {
      [chargeStart, chargeEnd] = splitInterval(interval);
    } else {
      missing(startName, 'charge period');
    }
    const bpStartCell = col.billingStart.cell(v);
    const bpEndCell = col.billingEnd.cell(v);
    let billingStart: number;
    let billingEnd: number;
    if (bpStartCell !== undefined && bpEndCell !== undefined) {
      billingStart = timestampOf(bpStartCell);
      billingEnd = timestampOf(bpEndCell);
    } else {
      const fallback = monthBounds(ctx.billing_period, 'billing_period');
      billingStart = bpStartCell === undefined ? fallback.start : timestampOf(bpStartCell);
      billingEnd = bpEndCell === undefined ? fallback.end : timestampOf(bpEndCell);
    }

    // Product map (CUR 2.0) for attributes legacy CUR has as product/* columns
    const product = col.product.present ? mapColumn(col.product, v) : NO_PRODUCT;
    const productCode = col.productCode.str(v) ?? col.serviceCode.str(v) ?? null;
    const resourceId = col.resourceId.str(v);
    const arn = arnParts(resourceId);

    const billType = col.billType.str(v);
    const isUsage = lineItemType === null || USAGE_TYPES.has(lineItemType);
    const chargeFrequency = isUsage
      ? 'Usage-Based'
      : lineItemType === 'SavingsPlanUpfrontFee' || billType === 'Purchase' || billType === 'Refund'
        ? 'One-Time'
        : 'Recurring';

    // Commitment discounts
    const spArn = col.savingsPlanArn.str(v);
    const riArn = col.reservationArn.str(v);
    let commitment: {
      CommitmentDiscountId: string | null;
      CommitmentDiscountType: string | null;
      CommitmentDiscountCategory: string | null;
      CommitmentDiscountStatus: string | null;
    } = NO_COMMITMENT;
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

    const payer = col.payer.str(v);
    const pricingUnit = col.pricingUnit.str(v) ?? product['pricing_unit'] ?? null;
    const category2 = serviceCategory('aws', productCode);
    // AWS's own FOCUS export: the contracted cost is the net unblended cost where the export
    // carries it (after negotiated discounts), else the unblended cost, which is the billed cost.
    const contractedCost = optDecimalText(col.netUnblendedCost.cell(v)) ?? billed;
    const contractedUnitPrice = col.netUnblendedCost.present
      ? optDecimalText(col.netUnblendedRate.cell(v))
      : optDecimalText(col.unblendedRate.cell(v));
    const capacityReservationId = col.capacityReservationArn.str(v);

    // One literal with every field, in schema order, and no spread: a spread into a literal this
    // size drops V8 into its slow copy path (it was half of this function's time).
    return {
      fields: {
        BillingAccountId: payer,
        BillingAccountName: col.payerName.str(v),
        SubAccountId: col.usageAccount.str(v),
        SubAccountName: col.usageAccountName.str(v),
        ProviderName: 'AWS',
        PublisherName: col.legalEntity.str(v) ?? col.billingEntity.str(v) ?? 'AWS',
        // The same name as ProviderName: AWS issues the invoice, whichever of its legal entities
        // (FOCUS reads another issuer as a third party that is paid instead).
        InvoiceIssuerName: 'AWS',
        ServiceName: productCode,
        ServiceCategory: category2,
        SkuId: col.sku.str(v) ?? product['sku'] ?? null,
        SkuPriceId: col.rateCode.str(v),
        RegionId: col.region.str(v) ?? product['region'] ?? product['region_code'] ?? null,
        RegionName: col.location.str(v) ?? product['location'] ?? null,
        AvailabilityZone: col.availabilityZone.str(v),
        ResourceId: resourceId,
        ResourceName: arn.name,
        ResourceType: arn.type,
        ChargeCategory: category,
        ChargeClass: correction || billType === 'Refund' ? 'Correction' : null,
        ChargeDescription: col.description.str(v),
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
        ContractedUnitPrice: usageAmount !== null ? contractedUnitPrice : null,
        BilledCost: billed,
        EffectiveCost: effective,
        ListCost: listCost,
        ContractedCost: contractedCost,
        BillingCurrency: currency,
        CommitmentDiscountId: commitment.CommitmentDiscountId,
        CommitmentDiscountType: commitment.CommitmentDiscountType,
        CommitmentDiscountCategory: commitment.CommitmentDiscountCategory,
        CommitmentDiscountStatus: commitment.CommitmentDiscountStatus,
        Tags: tagsOf(v),
        BillingAccountType: 'Payer Account',
        SubAccountType: 'Linked Account',
        InvoiceId: col.invoiceId.str(v),
        ServiceSubcategory: serviceSubcategory('aws', productCode, category2),
        PricingCategory: awsPricingCategory(category, lineItemType, col.pricingTerm.str(v)),
        PricingCurrency: null,
        PricingCurrencyListUnitPrice: null,
        PricingCurrencyContractedUnitPrice: null,
        PricingCurrencyEffectiveCost: null,
        SkuMeter: col.usageType.str(v) ?? product['usagetype'] ?? null,
        SkuPriceDetails: null,
        CommitmentDiscountName: null,
        CommitmentDiscountQuantity: null,
        CommitmentDiscountUnit: null,
        CapacityReservationId: capacityReservationId,
        CapacityReservationStatus:
          capacityReservationId === null ? null : awsCapacityStatus(col.capacityReservationStatus.str(v)),
        ServiceProviderName: 'AWS',
        HostProviderName: 'AWS',
      },
      billingAccountIds: [payer],
    };
  };
};

/**
 * FOCUS PricingCategory of a usage or purchase line: Committed when a Savings Plan or Reserved
 * Instance covers it, Dynamic for Spot, Standard for on-demand, Other for any other term; null
 * for other charges (tax, credits, fees), as FOCUS asks.
 */
function awsPricingCategory(
  category: string,
  lineItemType: string | null,
  term: string | null,
): string | null {
  if (category !== 'Usage' && category !== 'Purchase') return null;
  if (lineItemType !== null && (SP_TYPES.has(lineItemType) || RI_TYPES.has(lineItemType))) return 'Committed';
  if (term === null || term === 'OnDemand' || term === 'On Demand') return 'Standard';
  if (term === 'Spot' || term === 'spot') return 'Dynamic';
  if (term === 'Reserved' || term === 'Savings Plan') return 'Committed';
  return 'Other';
}

function awsCapacityStatus(status: string | null): string | null {
  if (status === null) return null;
  const s = status.toLowerCase();
  return s.includes('unused') ? 'Unused' : s.includes('used') ? 'Used' : null;
}

const NO_PRODUCT: Record<string, string> = Object.freeze({}) as Record<string, string>;
const NO_COMMITMENT = {
  CommitmentDiscountId: null,
  CommitmentDiscountType: null,
  CommitmentDiscountCategory: null,
  CommitmentDiscountStatus: null,
} as const;

/**
 * EffectiveCost by line item type (amortized commitments: see docs/export-formats.md, "AWS
 * EffectiveCost"); the billed cost where no rule applies. Returns canonical decimal text.
 */
function compileEffectiveCost(ix: ColumnIndex) {
  const spEffective = ix.slot('savings_plan_savings_plan_effective_cost');
  const spTotal = ix.slot('savings_plan_total_commitment_to_date');
  const spUsed = ix.slot('savings_plan_used_commitment');
  const riEffective = ix.slot('reservation_effective_cost');
  const riUpfront = ix.slot('reservation_unused_amortized_upfront_fee_for_billing_period');
  const riRecurring = ix.slot('reservation_unused_recurring_fee');
  const riArn = ix.slot('reservation_reservation_a_r_n');
  const d = (slot: Slot, v: readonly string[]) => optDecimal(slot.cell(v));
  return (v: readonly string[], type: string | null, billed: string): string => {
    switch (type) {
      case 'SavingsPlanCoveredUsage':
        return optDecimalText(spEffective.cell(v)) ?? billed;
      case 'SavingsPlanRecurringFee': {
        const total = d(spTotal, v);
        const used = d(spUsed, v);
        return total !== null && used !== null ? decimalToString(total.minus(used)) : billed;
      }
      case 'SavingsPlanNegation':
      case 'SavingsPlanUpfrontFee':
        return '0';
      case 'DiscountedUsage':
        return optDecimalText(riEffective.cell(v)) ?? billed;
      case 'RIFee': {
        const upfront = d(riUpfront, v);
        const recurring = d(riRecurring, v);
        if (upfront === null && recurring === null) return billed;
        return decimalToString((upfront ?? new Decimal(0)).plus(recurring ?? new Decimal(0)));
      }
      case 'Fee':
        // An RI upfront fee is amortized into DiscountedUsage / RIFee rows.
        return riArn.str(v) !== null ? '0' : billed;
      default:
        return billed;
    }
  };
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
