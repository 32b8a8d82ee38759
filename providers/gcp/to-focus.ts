import { Decimal, decimalToString } from '../../schemas/decimal';
import { serviceCategory, serviceSubcategory } from '../../processors/normalize/service-categories';
import { type ChargeCategory, type MapperCompiler } from '../../processors/normalize/types';
import {
  type Cell,
  ColumnIndex,
  FieldError,
  decimalOf,
  decimalTextOf,
  formatIso,
  monthBounds,
  optDecimalText,
  parseJsonCell,
  parseKeyValueArray,
  requireCell,
  scalarText,
  timestampOf,
  zonedMonthStart,
} from '../../processors/normalize/values';

/**
 * GCP BigQuery billing export (standard and detailed), flattened: struct fields as dot-path
 * columns (`service.description`, `usage.amount_in_pricing_units`), repeated fields (`credits`,
 * `labels`, `project.labels`) as JSON text or koku's Python-repr text.
 *
 * BilledCost = cost + sum(credits[].amount), exactly (credits are negative); EffectiveCost is the
 * same net amount (the FOCUS converter floors it at 0; we do not). BillingPeriod is
 * `invoice.month` read as a US/Pacific month, converted to UTC. Tags = project.labels overlaid by
 * the resource labels (a resource label wins over a project label of the same key).
 */

const BOM = /^\uFEFF/;

export function gcpKey(header: string): string {
  return header.replace(BOM, '').trim().toLowerCase();
}

// The correction marker may sit in either adjustment_info field, as part of a longer value.
const CORRECTION_MARKER = /CORRECTION|NEGATION/;

/**
 * cost_type -> FOCUS 1.2 ChargeCategory: regular -> Usage, tax -> Tax, adjustment and
 * rounding_error -> Adjustment (missing -> Usage). Adjustments whose adjustment_info marks a
 * correction / negation of earlier usage get ChargeClass Correction.
 */
export function gcpChargeCategory(
  costType: string | null,
  adjustmentMode: string | null,
  adjustmentType: string | null,
): { category: ChargeCategory; correction: boolean } {
  switch ((costType ?? 'regular').toLowerCase()) {
    case 'regular':
      return { category: 'Usage', correction: false };
    case 'tax':
      return { category: 'Tax', correction: false };
    case 'adjustment': {
      const marker = `${adjustmentMode ?? ''} ${adjustmentType ?? ''}`.toUpperCase();
      return { category: 'Adjustment', correction: CORRECTION_MARKER.test(marker) };
    }
    default:
      return { category: 'Adjustment', correction: false };
  }
}

interface Credit {
  amount: Decimal;
  id: string | null;
  type: string | null;
}

function creditText(v: unknown): string | null {
  return v === null || v === undefined || scalarText(v) === '' ? null : scalarText(v);
}

function parseCredits(cell: Cell): Credit[] {
  const parsed = parseJsonCell(cell);
  if (!Array.isArray(parsed)) throw new FieldError(cell.key, `${cell.key}: expected an array of credits`);
  return parsed.map((item, i) => {
    if (item === null || typeof item !== 'object' || !('amount' in item)) {
      throw new FieldError(cell.key, `${cell.key}: credit ${i} has no amount`);
    }
    const rec = item as Record<string, unknown>;
    const amount = decimalOf({ key: cell.key, value: scalarText(rec.amount) });
    return { amount, id: creditText(rec.id), type: creditText(rec.type) };
  });
}

const INVOICE_MONTH = /^(\d{4})-?(\d{2})$/;
const INVOICE_TZ = 'America/Los_Angeles';

// Every row of an export repeats the same one or two invoice.month values, and the zone conversion
// goes through Intl: bounds are cached by the raw text (errors are not cached, so each row's
// FieldError still names its own column). Bounded, since the texts come from the data.
const invoiceMonthCache = new Map<string, { readonly start: number; readonly end: number }>();
const INVOICE_MONTH_CACHE_MAX = 256;

function invoiceMonthBounds(cell: Cell): { readonly start: number; readonly end: number } {
  const cached = invoiceMonthCache.get(cell.value);
  if (cached !== undefined) return cached;
  const m = INVOICE_MONTH.exec(cell.value.trim());
  const month = m ? Number(m[2]) : 0;
  if (!m || month < 1 || month > 12) {
    throw new FieldError(cell.key, `${cell.key}: "${cell.value}" is not a YYYYMM month`);
  }
  const year = Number(m[1]);
  const bounds = Object.freeze({
    start: zonedMonthStart(year, month, INVOICE_TZ),
    end:
      month === 12 ? zonedMonthStart(year + 1, 1, INVOICE_TZ) : zonedMonthStart(year, month + 1, INVOICE_TZ),
  });
  if (invoiceMonthCache.size >= INVOICE_MONTH_CACHE_MAX) invoiceMonthCache.clear();
  invoiceMonthCache.set(cell.value, bounds);
  return bounds;
}

const CUD_PREFIX = 'COMMITTED_USAGE_DISCOUNT';

function isCud(c: Credit): boolean {
  return c.type !== null && c.type.toUpperCase().startsWith(CUD_PREFIX);
}

/** The GCP mapping compiled for one header (standard and detailed exports). */
export const compileGcp: MapperCompiler = (header) => {
  const ix = new ColumnIndex(header, gcpKey);
  const col = {
    cost: ix.slot('cost'),
    credits: ix.slot('credits'),
    currency: ix.slot('currency'),
    usageStart: ix.slot('usage_start_time'),
    usageEnd: ix.slot('usage_end_time'),
    invoiceMonth: ix.slot('invoice.month'),
    costType: ix.slot('cost_type'),
    adjustmentMode: ix.slot('adjustment_info.mode'),
    adjustmentType: ix.slot('adjustment_info.type'),
    projectLabels: ix.slot('project.labels'),
    labels: ix.slot('labels'),
    service: ix.slot('service.description'),
    usageAmount: ix.slot('usage.amount'),
    usageUnit: ix.slot('usage.unit'),
    pricingAmount: ix.slot('usage.amount_in_pricing_units'),
    pricingUnit: ix.slot('usage.pricing_unit'),
    effectivePrice: ix.slot('price.effective_price'),
    costAtList: ix.slot('cost_at_list'),
    billingAccount: ix.slot('billing_account_id'),
    projectId: ix.slot('project.id'),
    projectName: ix.slot('project.name'),
    seller: ix.slot('seller_name'),
    sku: ix.slot('sku.id'),
    skuDescription: ix.slot('sku.description'),
    region: ix.slot('location.region', 'location.location'),
    location: ix.slot('location.location'),
    zone: ix.slot('location.zone'),
    resourceGlobalName: ix.slot('resource.global_name'),
    resourceName: ix.slot('resource.name'),
    skuMeter: ix.slot('sku.description'),
  };

  return (v, ctx, options) => {
    // Money: without credits the net is the cost's exact text; with credits, Decimal arithmetic
    // (koku's Python-repr amounts such as -5e-06 must not go through a JS number).
    const costCell = requireCell(col.cost.cell(v), 'cost', 'cost');
    const creditsCell = col.credits.cell(v);
    let net: string;
    let cud: Credit | undefined;
    if (creditsCell === undefined) {
      net = decimalTextOf(costCell);
    } else {
      const cost = decimalOf(costCell);
      const credits = parseCredits(creditsCell);
      net = decimalToString(credits.reduce((acc, c) => acc.plus(c.amount), cost));
      cud = credits.find(isCud);
    }

    const currency =
      col.currency.str(v) ??
      options.default_currency ??
      (() => {
        throw new FieldError('currency', 'currency: missing currency');
      })();

    const chargeStart = timestampOf(requireCell(col.usageStart.cell(v), 'usage_start_time', 'usage start'));
    const chargeEnd = timestampOf(requireCell(col.usageEnd.cell(v), 'usage_end_time', 'usage end'));
    const invoiceMonth = col.invoiceMonth.cell(v);
    const billing =
      invoiceMonth === undefined
        ? monthBounds(ctx.billing_period, 'billing_period')
        : invoiceMonthBounds(invoiceMonth);

    const { category, correction } = gcpChargeCategory(
      col.costType.str(v),
      col.adjustmentMode.str(v),
      col.adjustmentType.str(v),
    );

    const projectLabels = col.projectLabels.cell(v);
    const labels = col.labels.cell(v);
    // Resource labels overlay project labels. Each parse returns a fresh object, so the project
    // one is extended in place rather than both being spread into a third.
    const tags = projectLabels === undefined ? {} : parseKeyValueArray(projectLabels);
    if (labels !== undefined) Object.assign(tags, parseKeyValueArray(labels));

    const service = col.service.str(v);
    const usageAmount = optDecimalText(col.usageAmount.cell(v));
    const billingAccount = col.billingAccount.str(v);
    const category2 = serviceCategory('gcp', service);

    // One literal with every field, in schema order, and no spread: a spread into a literal this
    // size drops V8 into its slow copy path.
    return {
      fields: {
        BillingAccountId: billingAccount,
        BillingAccountName: null,
        SubAccountId: col.projectId.str(v),
        SubAccountName: col.projectName.str(v),
        ProviderName: 'Google Cloud',
        PublisherName: col.seller.str(v) ?? 'Google Cloud',
        // The same name as ProviderName: Google itself issues the invoice (FOCUS reads another
        // issuer as a third party that is paid instead).
        InvoiceIssuerName: 'Google Cloud',
        ServiceName: service,
        ServiceCategory: category2,
        SkuId: col.sku.str(v),
        SkuPriceId: null,
        RegionId: col.region.str(v),
        RegionName: col.location.str(v),
        AvailabilityZone: col.zone.str(v),
        ResourceId: col.resourceGlobalName.str(v),
        ResourceName: col.resourceName.str(v),
        ResourceType: null,
        ChargeCategory: category,
        ChargeClass: correction ? 'Correction' : null,
        ChargeDescription: col.skuDescription.str(v),
        ChargeFrequency: category === 'Usage' ? 'Usage-Based' : null,
        ChargePeriodStart: formatIso(chargeStart),
        ChargePeriodEnd: formatIso(chargeEnd),
        BillingPeriodStart: formatIso(billing.start),
        BillingPeriodEnd: formatIso(billing.end),
        ConsumedQuantity: category === 'Usage' ? usageAmount : null,
        ConsumedUnit: category === 'Usage' && usageAmount !== null ? col.usageUnit.str(v) : null,
        PricingQuantity: optDecimalText(col.pricingAmount.cell(v)),
        PricingUnit: col.pricingUnit.str(v),
        ListUnitPrice: null,
        ContractedUnitPrice: optDecimalText(col.effectivePrice.cell(v)),
        BilledCost: net,
        EffectiveCost: net,
        // FOCUS: never null; without a list price, a charge's list cost is its billed cost.
        ListCost: optDecimalText(col.costAtList.cell(v)) ?? net,
        // The cost at the account's effective (negotiated) price, before credits.
        ContractedCost: decimalTextOf(costCell),
        BillingCurrency: currency,
        CommitmentDiscountId: cud?.id ?? null,
        CommitmentDiscountType: cud === undefined ? null : 'Committed Use Discount',
        CommitmentDiscountCategory:
          cud === undefined ? null : cud.type!.toUpperCase().includes('DOLLAR_BASE') ? 'Spend' : 'Usage',
        CommitmentDiscountStatus: cud === undefined ? null : 'Used',
        Tags: tags,
        BillingAccountType: 'Billing Account',
        SubAccountType: 'Project',
        // The standard and detailed exports carry the invoice month, not the invoice's number.
        InvoiceId: null,
        ServiceSubcategory: serviceSubcategory('gcp', service, category2),
        PricingCategory:
          category !== 'Usage' && category !== 'Purchase'
            ? null
            : cud === undefined
              ? 'Standard'
              : 'Committed',
        PricingCurrency: null,
        PricingCurrencyListUnitPrice: null,
        PricingCurrencyContractedUnitPrice: null,
        PricingCurrencyEffectiveCost: null,
        SkuMeter: col.skuMeter.str(v),
        SkuPriceDetails: null,
        CommitmentDiscountName: null,
        CommitmentDiscountQuantity: null,
        CommitmentDiscountUnit: null,
        CapacityReservationId: null,
        CapacityReservationStatus: null,
        ServiceProviderName: 'Google Cloud',
        HostProviderName: 'Google Cloud',
      },
      billingAccountIds: [billingAccount],
    };
  };
};
