import { Decimal, decimalToString } from '../../schemas/decimal';
import {
  isServiceCategory,
  serviceCategory,
  serviceSubcategory,
} from '../../processors/normalize/service-categories';
import { azurePricingUnit, azureService, resourceTypeOf } from './open-data';
import { type ChargeCategory, type MapperCompiler } from '../../processors/normalize/types';
import {
  ColumnIndex,
  DAY_MS,
  FieldError,
  decimalOf,
  decimalTextOf,
  formatIso,
  monthBounds,
  optDecimalText,
  parseTagObject,
  requireCell,
  timestampOf,
} from '../../processors/normalize/values';

// Azure's Actual and Amortized exports write `Date` month first (`09/21/2023`).
const US_DATES = 'iso-or-us' as const;

/**
 * Azure Cost Management ActualCost / AmortizedCost exports (and the legacy usage schema), parsed
 * by header name through one alias table. Headers are matched case-insensitively after
 * stripping a BOM, taking the English name in trailing parentheses of localized headers
 * (`Abonnement-GUID (SubscriptionGuid)`) and dropping non-alphanumerics, so EA PascalCase, MCA
 * camelCase, all-lower-case and German headers meet on one name.
 *
 * BilledCost = the dataset's cost in billing currency (CostInBillingCurrency, EA `Cost`, legacy
 * `PreTaxCost`) exactly. In an AmortizedCost export that column is the amortized view, so
 * BilledCost and EffectiveCost both carry it there (x_SourceFormat tells the two views apart; never
 * sum Actual and Amortized of one month). BillingPeriodEndDate is inclusive in Azure and becomes
 * exclusive (+1 day); ChargePeriod is the usage day [Date, Date + 1 day).
 */

export function azureKey(header: string): string {
  let h = header.replace(/^\uFEFF/, '').trim();
  const localized = /\(([^()]+)\)\s*$/.exec(h);
  if (localized) h = localized[1];
  return h.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** Canonical field -> accepted header names (normalized with azureKey), first found wins. */
export const AZURE_ALIASES = {
  cost: ['costinbillingcurrency', 'cost', 'pretaxcost'],
  listCost: ['paygcostinbillingcurrency'],
  currency: ['billingcurrency', 'billingcurrencycode', 'currency'],
  date: ['date', 'usagedatetime', 'usagedate'],
  billingPeriodStart: ['billingperiodstartdate'],
  billingPeriodEnd: ['billingperiodenddate'],
  billingAccountId: ['billingaccountid'],
  billingAccountName: ['billingaccountname'],
  billingProfileId: ['billingprofileid'],
  billingProfileName: ['billingprofilename'],
  subscriptionId: ['subscriptionid', 'subscriptionguid'],
  subscriptionName: ['subscriptionname'],
  resourceId: ['resourceid', 'instanceid', 'instancename'],
  resourceName: ['resourcename'],
  resourceType: ['resourcetype'],
  resourceLocation: ['resourcelocation'],
  location: ['location'],
  meterCategory: ['metercategory'],
  serviceName: ['servicename'],
  serviceFamily: ['servicefamily'],
  consumedService: ['consumedservice'],
  productName: ['productname', 'product'],
  productId: ['productid'],
  partNumber: ['partnumber'],
  quantity: ['quantity', 'usagequantity'],
  unitOfMeasure: ['unitofmeasure'],
  unitPrice: ['unitprice'],
  payGPrice: ['paygprice'],
  chargeType: ['chargetype'],
  frequency: ['frequency'],
  pricingModel: ['pricingmodel'],
  benefitId: ['benefitid'],
  reservationId: ['reservationid'],
  tags: ['tags'],
  publisherName: ['publishername'],
  partnerName: ['partnername'],
  availabilityZone: ['availabilityzone'],
  previousInvoiceId: ['previousinvoiceid'],
  invoiceId: ['invoiceid'],
  meterId: ['meterid'],
  meterName: ['metername'],
  benefitName: ['benefitname', 'reservationname'],
} as const;

type AzureField = keyof typeof AZURE_ALIASES;

/** Column name to report when a required field is missing. */
const CANONICAL_NAME: Partial<Record<AzureField, string>> = {
  cost: 'CostInBillingCurrency',
  currency: 'BillingCurrency',
  date: 'Date',
};

/**
 * ChargeType -> FOCUS 1.2 ChargeCategory (+ ChargeClass):
 *   Usage -> Usage; Purchase -> Purchase; Tax -> Tax; Credit -> Credit;
 *   UnusedReservation / UnusedSavingsPlan -> Usage (CommitmentDiscountStatus Unused);
 *   Refund (reservation / savings plan refunds) -> Purchase, ChargeClass Correction;
 *   RoundingAdjustment and anything else -> Adjustment; no ChargeType (legacy usage) -> Usage.
 */
export function azureChargeCategory(chargeType: string | null): {
  category: ChargeCategory;
  correction: boolean;
} {
  switch ((chargeType ?? 'usage').toLowerCase()) {
    case 'usage':
    case 'unusedreservation':
    case 'unusedsavingsplan':
      return { category: 'Usage', correction: false };
    case 'purchase':
      return { category: 'Purchase', correction: false };
    case 'tax':
      return { category: 'Tax', correction: false };
    case 'credit':
      return { category: 'Credit', correction: false };
    case 'refund':
      return { category: 'Purchase', correction: true };
    default:
      return { category: 'Adjustment', correction: false };
  }
}

const FREQUENCY: Record<string, string> = {
  onetime: 'One-Time',
  recurring: 'Recurring',
  usagebased: 'Usage-Based',
};

const UNIT_OF_MEASURE = /^\s*(\d+(?:\.\d+)?)\s*([KMB](?![A-Za-z]))?\s*(.*?)\s*$/;

/** `10 Hours` -> block 10, unit Hours; `10K` -> block 10000; `1 /Month` -> 1, /Month. */
export function splitUnitOfMeasure(uom: string): { block: Decimal; unit: string | null } {
  const listed = azurePricingUnit(uom);
  if (listed !== undefined) return listed;
  const m = UNIT_OF_MEASURE.exec(uom);
  if (!m) return { block: new Decimal(1), unit: uom.trim() || null };
  const scale = m[2] === 'K' ? 1e3 : m[2] === 'M' ? 1e6 : m[2] === 'B' ? 1e9 : 1;
  const block = new Decimal(m[1]).times(scale);
  return { block: block.isZero() ? new Decimal(1) : block, unit: m[3] === '' ? null : m[3] };
}

// EA billing account ids are the numeric enrollment number; MCA ids never are.
const EA_ACCOUNT = /^\d+$/;
// ResourceLocation holds either an ARM region name (`westeurope`) or a display name
// (`West Europe`): only the former is a RegionId, only a spaced one a RegionName.
const ARM_REGION = /^[A-Za-z0-9]+$/;
const WHITESPACE = /\s/;

/**
 * FOCUS ListCost, never null: the export's pay-as-you-go cost; else its pay-as-you-go price times
 * the pricing quantity; else, for a charge with no list price (tax, credits, rounding), the cost.
 */
function listCostOf(
  paygCost: string | null,
  paygPrice: string | null,
  pricingQuantity: string | null,
  cost: string,
): string {
  if (paygCost !== null) return paygCost;
  if (paygPrice !== null && pricingQuantity !== null)
    return decimalToString(new Decimal(paygPrice).times(pricingQuantity));
  return cost;
}

/** The Azure mapping compiled for one header (EA, MCA, legacy usage, localized headers). */
export const compileAzure: MapperCompiler = (header) => {
  const ix = new ColumnIndex(header, azureKey);
  const slot = (f: AzureField) => ix.slot(...AZURE_ALIASES[f]);
  const col = {
    cost: slot('cost'),
    listCost: slot('listCost'),
    currency: slot('currency'),
    date: slot('date'),
    billingPeriodStart: slot('billingPeriodStart'),
    billingPeriodEnd: slot('billingPeriodEnd'),
    billingAccountId: slot('billingAccountId'),
    billingAccountName: slot('billingAccountName'),
    billingProfileId: slot('billingProfileId'),
    billingProfileName: slot('billingProfileName'),
    subscriptionId: slot('subscriptionId'),
    subscriptionName: slot('subscriptionName'),
    resourceId: slot('resourceId'),
    resourceName: slot('resourceName'),
    resourceType: slot('resourceType'),
    resourceLocation: slot('resourceLocation'),
    location: slot('location'),
    meterCategory: slot('meterCategory'),
    serviceName: slot('serviceName'),
    serviceFamily: slot('serviceFamily'),
    consumedService: slot('consumedService'),
    productName: slot('productName'),
    productId: slot('productId'),
    partNumber: slot('partNumber'),
    quantity: slot('quantity'),
    unitOfMeasure: slot('unitOfMeasure'),
    unitPrice: slot('unitPrice'),
    payGPrice: slot('payGPrice'),
    chargeType: slot('chargeType'),
    frequency: slot('frequency'),
    pricingModel: slot('pricingModel'),
    benefitId: slot('benefitId'),
    reservationId: slot('reservationId'),
    tags: slot('tags'),
    publisherName: slot('publisherName'),
    partnerName: slot('partnerName'),
    availabilityZone: slot('availabilityZone'),
    previousInvoiceId: slot('previousInvoiceId'),
    invoiceId: slot('invoiceId'),
    meterId: slot('meterId'),
    meterName: slot('meterName'),
    benefitName: slot('benefitName'),
  };
  const costName = CANONICAL_NAME.cost ?? 'cost';
  const dateName = CANONICAL_NAME.date ?? 'date';

  // An export has a handful of distinct UnitOfMeasure texts; Decimal is immutable, so share them.
  const uoms = new Map<string, ReturnType<typeof splitUnitOfMeasure>>();
  const uomOf = (text: string) => {
    let u = uoms.get(text);
    if (u === undefined) {
      u = splitUnitOfMeasure(text);
      if (uoms.size < 1_000) uoms.set(text, u);
    }
    return u;
  };

  return (v, ctx, options) => {
    // Money: the export's exact text in canonical form; AmortizedCost exports carry the amortized
    // view in this same column, so it is both BilledCost and EffectiveCost.
    const cost = decimalTextOf(requireCell(col.cost.cell(v), costName, 'cost in billing currency'));
    const currency =
      col.currency.str(v) ??
      options.default_currency ??
      (() => {
        throw new FieldError(
          'BillingCurrency',
          'BillingCurrency: no currency column and no default_currency',
        );
      })();

    const day = timestampOf(requireCell(col.date.cell(v), dateName, 'usage date'), US_DATES);
    const bpStartCell = col.billingPeriodStart.cell(v);
    const bpEndCell = col.billingPeriodEnd.cell(v);
    const fallback = monthBounds(ctx.billing_period, 'billing_period');
    const billingStart = bpStartCell === undefined ? fallback.start : timestampOf(bpStartCell, US_DATES);
    // Azure's BillingPeriodEndDate is the last day, inclusive: FOCUS wants the next instant.
    const billingEnd = bpEndCell === undefined ? fallback.end : timestampOf(bpEndCell, US_DATES) + DAY_MS;

    const chargeType = col.chargeType.str(v);
    const { category, correction } = azureChargeCategory(chargeType);
    const ct = (chargeType ?? '').toLowerCase();
    const pricingModel = (col.pricingModel.str(v) ?? '').toLowerCase();

    // Quantities: Quantity is consumed; pricing quantity is Quantity / block size of UnitOfMeasure
    // (`10 Hours`, `10K`), so a Decimal is built only where there is a block to divide by.
    const quantityCell = col.quantity.cell(v);
    const uomText = col.unitOfMeasure.str(v);
    const uom = uomText === null ? null : uomOf(uomText);
    let quantity: string | null = null;
    let pricingQuantity: string | null = null;
    if (quantityCell !== undefined) {
      if (uom === null) {
        quantity = pricingQuantity = decimalTextOf(quantityCell);
      } else {
        const q = decimalOf(quantityCell);
        quantity = decimalToString(q);
        pricingQuantity = decimalToString(q.div(uom.block));
      }
    }

    // Commitment discounts (reservations, savings plans)
    const benefitId = col.benefitId.str(v);
    const commitmentId = benefitId ?? col.reservationId.str(v);
    const commitmentRow =
      pricingModel === 'reservation' ||
      pricingModel === 'savingsplan' ||
      ct === 'unusedreservation' ||
      ct === 'unusedsavingsplan' ||
      ((ct === 'purchase' || ct === 'refund') && benefitId !== null);
    let commitmentKey: string | null = null;
    let commitmentType: string | null = null;
    let commitmentCategory: string | null = null;
    if (commitmentRow && commitmentId !== null) {
      commitmentKey = commitmentId.toLowerCase();
      if (
        commitmentKey.includes('/microsoft.billingbenefits/') ||
        pricingModel === 'savingsplan' ||
        ct === 'unusedsavingsplan'
      ) {
        commitmentType = 'Savings Plan';
        commitmentCategory = 'Spend';
      } else {
        commitmentType = 'Reservation';
        commitmentCategory = 'Usage';
      }
    }
    const commitmentStatus =
      commitmentType === null
        ? null
        : ct === 'unusedreservation' || ct === 'unusedsavingsplan'
          ? 'Unused'
          : category === 'Usage'
            ? 'Used'
            : null;

    // Accounts: FOCUS BillingAccountId is the EA enrollment (numeric) but the MCA billing profile.
    const rawBillingAccount = col.billingAccountId.str(v);
    const billingProfile = col.billingProfileId.str(v);
    const isEa = rawBillingAccount !== null && EA_ACCOUNT.test(rawBillingAccount);
    const billingAccountId = isEa ? rawBillingAccount : (billingProfile ?? rawBillingAccount);
    const billingAccountName = isEa
      ? col.billingAccountName.str(v)
      : billingProfile !== null
        ? (col.billingProfileName.str(v) ?? col.billingAccountName.str(v))
        : col.billingAccountName.str(v);

    // Services as the FinOps toolkit maps them, so that one ServiceName has one category; a row
    // it does not know keeps the meter category as its name and the consumed service's category.
    const consumedService = col.consumedService.str(v);
    const known = azureService(
      consumedService,
      col.resourceType.str(v) ?? resourceTypeOf(col.resourceId.str(v)),
    );
    let category2 = known?.ServiceCategory ?? serviceCategory('azure', consumedService);
    const family = col.serviceFamily.str(v);
    if (known === undefined && category2 === 'Other' && family !== null && isServiceCategory(family))
      category2 = family;

    const location = col.resourceLocation.str(v);
    const tagsCell = col.tags.cell(v);
    const frequency = col.frequency.str(v);

    // One literal with every field, in schema order, and no spread: a spread into a literal this
    // size drops V8 into its slow copy path.
    return {
      fields: {
        BillingAccountId: billingAccountId,
        BillingAccountName: billingAccountName,
        SubAccountId: col.subscriptionId.str(v),
        SubAccountName: col.subscriptionName.str(v),
        ProviderName: 'Microsoft',
        PublisherName: col.publisherName.str(v) ?? known?.PublisherName ?? 'Microsoft',
        InvoiceIssuerName: col.partnerName.str(v) ?? 'Microsoft',
        ServiceName: known?.ServiceName ?? col.meterCategory.str(v) ?? col.serviceName.str(v),
        ServiceCategory: category2,
        SkuId: col.productId.str(v) ?? col.partNumber.str(v),
        SkuPriceId: null,
        RegionId: location !== null && ARM_REGION.test(location) ? location.toLowerCase() : null,
        RegionName: col.location.str(v) ?? (location !== null && WHITESPACE.test(location) ? location : null),
        AvailabilityZone: col.availabilityZone.str(v),
        ResourceId: col.resourceId.str(v),
        ResourceName: col.resourceName.str(v),
        ResourceType: col.resourceType.str(v),
        ChargeCategory: category,
        ChargeClass: correction || col.previousInvoiceId.str(v) !== null ? 'Correction' : null,
        ChargeDescription: col.productName.str(v),
        ChargeFrequency:
          (frequency !== null ? FREQUENCY[frequency.toLowerCase()] : undefined) ??
          (category === 'Usage' ? 'Usage-Based' : null),
        ChargePeriodStart: formatIso(day),
        ChargePeriodEnd: formatIso(day + DAY_MS),
        BillingPeriodStart: formatIso(billingStart),
        BillingPeriodEnd: formatIso(billingEnd),
        ConsumedQuantity: category === 'Usage' ? quantity : null,
        ConsumedUnit: category === 'Usage' && quantity !== null ? (uom?.unit ?? null) : null,
        PricingQuantity: pricingQuantity,
        PricingUnit: pricingQuantity === null ? null : (uom?.unit ?? null),
        ListUnitPrice: optDecimalText(col.payGPrice.cell(v)),
        ContractedUnitPrice: optDecimalText(col.unitPrice.cell(v)),
        BilledCost: cost,
        // A commitment bought for future usage is amortized onto that usage (FOCUS: 0 here).
        EffectiveCost: category === 'Purchase' && commitmentType !== null ? '0' : cost,
        ListCost: listCostOf(
          optDecimalText(col.listCost.cell(v)),
          optDecimalText(col.payGPrice.cell(v)),
          pricingQuantity,
          cost,
        ),
        // Cost at the negotiated price before commitment discounts: Azure's CostInBillingCurrency of
        // an actual-cost export; amortized exports carry no separate column, so the same cost.
        ContractedCost: cost,
        BillingCurrency: currency,
        CommitmentDiscountId: commitmentKey,
        CommitmentDiscountType: commitmentType,
        CommitmentDiscountCategory: commitmentCategory,
        CommitmentDiscountStatus: commitmentStatus,
        Tags: tagsCell === undefined ? {} : parseTagObject(tagsCell),
        BillingAccountType: isEa
          ? 'Enrollment'
          : billingProfile !== null
            ? 'Billing Profile'
            : 'Billing Account',
        SubAccountType: 'Subscription',
        InvoiceId: col.invoiceId.str(v),
        ServiceSubcategory:
          known?.ServiceSubcategory ?? serviceSubcategory('azure', consumedService, category2),
        PricingCategory:
          category !== 'Usage' && category !== 'Purchase'
            ? null
            : commitmentType !== null
              ? 'Committed'
              : pricingModel === 'spot'
                ? 'Dynamic'
                : 'Standard',
        PricingCurrency: null,
        PricingCurrencyListUnitPrice: null,
        PricingCurrencyContractedUnitPrice: null,
        PricingCurrencyEffectiveCost: null,
        SkuMeter: col.meterName.str(v),
        SkuPriceDetails: null,
        CommitmentDiscountName: commitmentType === null ? null : col.benefitName.str(v),
        CommitmentDiscountQuantity: null,
        CommitmentDiscountUnit: null,
        CapacityReservationId: null,
        CapacityReservationStatus: null,
        ServiceProviderName: 'Microsoft',
        HostProviderName: 'Microsoft',
      },
      billingAccountIds: [billingAccountId, rawBillingAccount, billingProfile],
    };
  };
};
