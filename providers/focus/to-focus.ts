import {
  FOCUS_SERVICE_SUBCATEGORIES,
  isServiceCategory,
  serviceCategory,
  serviceSubcategory,
} from '../../processors/normalize/service-categories';
import { CHARGE_CATEGORIES, CHARGE_FREQUENCIES, type MapperCompiler } from '../../processors/normalize/types';
import {
  ColumnIndex,
  FieldError,
  type Slot,
  decimalTextOf,
  formatIso,
  monthBounds,
  optDecimalText,
  parseTagObject,
  requireCell,
  timestampOf,
} from '../../processors/normalize/values';
import { DeadLetterReasons } from '../../runtime/errors';

// FOCUS files written by spreadsheet tools (the specification's own examples) use month/day/year.
const US_DATES = 'iso-or-us' as const;

/**
 * FOCUS 1.0-1.2 input (`focus`, the AWS FOCUS export `aws-focus`, Azure FocusCost `azure-focus`).
 * Column ids are matched case-insensitively (the spec examples carry a `SkuPriceid` typo); `x_`
 * provider columns are ignored except the Azure MCA billing account / profile, which feed
 * attribution. The literal `null`, in any case, means null in every FOCUS input: SQL engines write
 * `NULL`, the spec examples `null`, and no FOCUS column takes the word as a value. With
 * `lenient_focus` money may also be written as spreadsheet text (`"$10,000.00 "`).
 *
 * azure-focus also gets the FinOps hubs fix-ups: ContractedCost := EffectiveCost and
 * ListCost := ContractedCost when missing, ResourceName and CommitmentDiscountId lower-cased.
 */

const LEADING_BOM = /^\uFEFF/;

export function focusKey(header: string): string {
  return header.replace(LEADING_BOM, '').trim().toLowerCase();
}

const CHARGE_CLASSES = ['Correction'] as const;

const PROVIDER_NAMES: Record<string, string> = { aws: 'AWS', gcp: 'Google Cloud', azure: 'Microsoft' };

function enumValue<T extends string>(allowed: readonly T[], value: string | null, field: string): T | null {
  if (value === null) return null;
  const found = allowed.find((a) => a.toLowerCase() === value.toLowerCase());
  if (found === undefined) {
    throw new FieldError(
      field,
      `${field}: "${value}" is not one of ${allowed.join(', ')}`,
      DeadLetterReasons.SCHEMA_VIOLATION,
    );
  }
  return found;
}

/** The FOCUS mapping compiled for one header (focus, aws-focus, azure-focus). */
export const compileFocus: MapperCompiler = (header, { lenient_focus: lenient }) => {
  const ix = new ColumnIndex(header, focusKey, ['null']);
  const slot = (...ids: string[]) => ix.slot(...ids.map(focusKey));
  const col = {
    billedCost: slot('BilledCost'),
    effectiveCost: slot('EffectiveCost'),
    contractedCost: slot('ContractedCost'),
    listCost: slot('ListCost'),
    currency: slot('BillingCurrency'),
    chargeStart: slot('ChargePeriodStart'),
    chargeEnd: slot('ChargePeriodEnd'),
    billingStart: slot('BillingPeriodStart'),
    billingEnd: slot('BillingPeriodEnd'),
    chargeCategory: slot('ChargeCategory'),
    chargeClass: slot('ChargeClass'),
    chargeFrequency: slot('ChargeFrequency'),
    serviceName: slot('ServiceName'),
    serviceCategory: slot('ServiceCategory'),
    tags: slot('Tags'),
    billingAccountId: slot('BillingAccountId'),
    billingAccountName: slot('BillingAccountName'),
    subAccountId: slot('SubAccountId'),
    subAccountName: slot('SubAccountName'),
    // Later FOCUS versions rename these ServiceProviderName / HostProviderName: either spelling may come.
    providerName: slot('ProviderName', 'ServiceProviderName'),
    publisherName: slot('PublisherName', 'HostProviderName'),
    invoiceIssuer: slot('InvoiceIssuerName'),
    skuId: slot('SkuId'),
    skuPriceId: slot('SkuPriceId'),
    // FOCUS 1.0-preview: one Region column, UsageQuantity / UsageUnit, ChargeSubcategory.
    regionId: slot('RegionId', 'Region'),
    regionName: slot('RegionName', 'Region'),
    availabilityZone: slot('AvailabilityZone'),
    resourceId: slot('ResourceId'),
    resourceName: slot('ResourceName'),
    resourceType: slot('ResourceType'),
    chargeDescription: slot('ChargeDescription'),
    consumedQuantity: slot('ConsumedQuantity', 'UsageQuantity'),
    consumedUnit: slot('ConsumedUnit', 'UsageUnit'),
    chargeSubcategory: slot('ChargeSubcategory'),
    pricingQuantity: slot('PricingQuantity'),
    pricingUnit: slot('PricingUnit'),
    listUnitPrice: slot('ListUnitPrice'),
    contractedUnitPrice: slot('ContractedUnitPrice'),
    commitmentId: slot('CommitmentDiscountId'),
    commitmentType: slot('CommitmentDiscountType'),
    commitmentCategory: slot('CommitmentDiscountCategory'),
    commitmentStatus: slot('CommitmentDiscountStatus'),
    serviceProviderName: slot('ServiceProviderName', 'ProviderName'),
    hostProviderName: slot('HostProviderName'),
    billingAccountType: slot('BillingAccountType'),
    subAccountType: slot('SubAccountType'),
    invoiceId: slot('InvoiceId'),
    serviceSubcategory: slot('ServiceSubcategory'),
    pricingCategory: slot('PricingCategory'),
    pricingCurrency: slot('PricingCurrency'),
    pricingCurrencyListUnitPrice: slot('PricingCurrencyListUnitPrice'),
    pricingCurrencyContractedUnitPrice: slot('PricingCurrencyContractedUnitPrice'),
    pricingCurrencyEffectiveCost: slot('PricingCurrencyEffectiveCost'),
    skuMeter: slot('SkuMeter'),
    skuPriceDetails: slot('SkuPriceDetails'),
    commitmentName: slot('CommitmentDiscountName'),
    commitmentQuantity: slot('CommitmentDiscountQuantity'),
    commitmentUnit: slot('CommitmentDiscountUnit'),
    capacityReservationId: slot('CapacityReservationId'),
    capacityReservationStatus: slot('CapacityReservationStatus'),
    xBillingAccountId: slot('x_BillingAccountId'),
    xBillingProfileId: slot('x_BillingProfileId'),
  };
  // Lenient money (spreadsheet text) is a property of the source, so fixed for the plan.
  const money = { lenient };
  const moneyOf = (s: Slot, v: readonly string[]) => optDecimalText(s.cell(v), money);

  return (v, ctx, options) => {
    const isAzure = ctx.format === 'azure-focus';

    const billed = decimalTextOf(requireCell(col.billedCost.cell(v), 'BilledCost', 'BilledCost'), money);
    const effective = moneyOf(col.effectiveCost, v) ?? billed;
    let contractedCost = moneyOf(col.contractedCost, v);
    let listCost = moneyOf(col.listCost, v);
    if (isAzure) {
      contractedCost ??= effective;
      listCost ??= contractedCost;
    }

    const currency =
      col.currency.str(v) ??
      options.default_currency ??
      (() => {
        throw new FieldError(
          'BillingCurrency',
          'BillingCurrency: missing and no default_currency configured',
        );
      })();

    const chargeStart = timestampOf(
      requireCell(col.chargeStart.cell(v), 'ChargePeriodStart', 'ChargePeriodStart'),
      US_DATES,
    );
    const chargeEnd = timestampOf(
      requireCell(col.chargeEnd.cell(v), 'ChargePeriodEnd', 'ChargePeriodEnd'),
      US_DATES,
    );
    const fallback = monthBounds(ctx.billing_period, 'billing_period');
    const bpStart = col.billingStart.cell(v);
    const bpEnd = col.billingEnd.cell(v);

    const chargeCategory = enumValue(
      CHARGE_CATEGORIES,
      requireCell(col.chargeCategory.cell(v), 'ChargeCategory', 'ChargeCategory').value.trim(),
      'ChargeCategory',
    )!;
    // 1.0-preview says with ChargeSubcategory what later versions say with ChargeClass and
    // CommitmentDiscountStatus.
    const subcategory = col.chargeSubcategory.str(v);
    const chargeClass =
      enumValue(CHARGE_CLASSES, col.chargeClass.str(v), 'ChargeClass') ??
      (subcategory === 'Refund' ? 'Correction' : null);
    const chargeFrequency = enumValue(CHARGE_FREQUENCIES, col.chargeFrequency.str(v), 'ChargeFrequency');

    const serviceName = col.serviceName.str(v);
    const declaredCategory = col.serviceCategory.str(v);
    const provider = ctx.provider.toLowerCase();
    const tagsCell = col.tags.cell(v);
    const billingAccountId = col.billingAccountId.str(v);
    const resourceName = col.resourceName.str(v);
    const commitmentId = col.commitmentId.str(v);
    const category2 =
      declaredCategory !== null && isServiceCategory(declaredCategory)
        ? declaredCategory
        : serviceCategory(provider, serviceName);
    const declaredSubcategory = col.serviceSubcategory.str(v);
    const providerName = col.providerName.str(v) ?? PROVIDER_NAMES[provider] ?? ctx.provider;

    // One literal with every field, in schema order, and no spread: a spread into a literal this
    // size drops V8 into its slow copy path.
    return {
      fields: {
        BillingAccountId: billingAccountId,
        BillingAccountName: col.billingAccountName.str(v),
        SubAccountId: col.subAccountId.str(v),
        SubAccountName: col.subAccountName.str(v),
        ProviderName: providerName,
        // FOCUS 1.2 wants both; a file that leaves them out (1.0-preview) is its provider's own.
        PublisherName: col.publisherName.str(v) ?? providerName,
        InvoiceIssuerName: col.invoiceIssuer.str(v) ?? providerName,
        ServiceName: serviceName,
        ServiceCategory: category2,
        SkuId: col.skuId.str(v),
        SkuPriceId: col.skuPriceId.str(v),
        RegionId: col.regionId.str(v),
        RegionName: col.regionName.str(v),
        AvailabilityZone: col.availabilityZone.str(v),
        ResourceId: col.resourceId.str(v),
        ResourceName: isAzure && resourceName !== null ? resourceName.toLowerCase() : resourceName,
        ResourceType: col.resourceType.str(v),
        ChargeCategory: chargeCategory,
        ChargeClass: chargeClass,
        ChargeDescription: col.chargeDescription.str(v),
        ChargeFrequency: chargeFrequency,
        ChargePeriodStart: formatIso(chargeStart),
        ChargePeriodEnd: formatIso(chargeEnd),
        BillingPeriodStart: formatIso(
          bpStart === undefined ? fallback.start : timestampOf(bpStart, US_DATES),
        ),
        BillingPeriodEnd: formatIso(bpEnd === undefined ? fallback.end : timestampOf(bpEnd, US_DATES)),
        ConsumedQuantity: moneyOf(col.consumedQuantity, v),
        ConsumedUnit: col.consumedUnit.str(v),
        PricingQuantity: moneyOf(col.pricingQuantity, v),
        PricingUnit: col.pricingUnit.str(v),
        ListUnitPrice: moneyOf(col.listUnitPrice, v),
        ContractedUnitPrice: moneyOf(col.contractedUnitPrice, v),
        BilledCost: billed,
        EffectiveCost: effective,
        ListCost: listCost,
        // FOCUS 1.2: never null; a charge the file gives none for is at its billed cost.
        ContractedCost: contractedCost ?? billed,
        BillingCurrency: currency,
        CommitmentDiscountId: isAzure && commitmentId !== null ? commitmentId.toLowerCase() : commitmentId,
        CommitmentDiscountType: col.commitmentType.str(v),
        CommitmentDiscountCategory: col.commitmentCategory.str(v),
        CommitmentDiscountStatus:
          col.commitmentStatus.str(v) ??
          (subcategory === 'Used Commitment'
            ? 'Used'
            : subcategory === 'Unused Commitment'
              ? 'Unused'
              : null),
        Tags: tagsCell === undefined ? {} : parseTagObject(tagsCell),
        BillingAccountType: col.billingAccountType.str(v),
        SubAccountType: col.subAccountType.str(v),
        InvoiceId: col.invoiceId.str(v),
        ServiceSubcategory:
          declaredSubcategory !== null && FOCUS_SERVICE_SUBCATEGORIES[category2].includes(declaredSubcategory)
            ? declaredSubcategory
            : serviceSubcategory(provider, serviceName, category2),
        PricingCategory: col.pricingCategory.str(v),
        PricingCurrency: col.pricingCurrency.str(v),
        PricingCurrencyListUnitPrice: moneyOf(col.pricingCurrencyListUnitPrice, v),
        PricingCurrencyContractedUnitPrice: moneyOf(col.pricingCurrencyContractedUnitPrice, v),
        PricingCurrencyEffectiveCost: moneyOf(col.pricingCurrencyEffectiveCost, v),
        SkuMeter: col.skuMeter.str(v),
        SkuPriceDetails: col.skuPriceDetails.str(v),
        CommitmentDiscountName: col.commitmentName.str(v),
        CommitmentDiscountQuantity: moneyOf(col.commitmentQuantity, v),
        CommitmentDiscountUnit: col.commitmentUnit.str(v),
        CapacityReservationId: col.capacityReservationId.str(v),
        CapacityReservationStatus: col.capacityReservationStatus.str(v),
        ServiceProviderName: col.serviceProviderName.str(v) ?? providerName,
        HostProviderName: col.hostProviderName.str(v),
      },
      billingAccountIds: [billingAccountId, col.xBillingAccountId.str(v), col.xBillingProfileId.str(v)],
    };
  };
};
