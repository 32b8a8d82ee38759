import { serviceCategory, serviceSubcategory } from '../../processors/normalize/service-categories';
import type { MapperCompiler } from '../../processors/normalize/types';
import {
  ColumnIndex,
  decimalTextOf,
  FieldError,
  formatIso,
  monthBounds,
  parseTagObject,
  requireCell,
  timestampOf,
} from '../../processors/normalize/values';
import { eventRecordIdOf } from '../../schemas/record-id';

/**
 * A first-party usage event (one raw row of providers/platform/columns.ts) as a FOCUS row whose
 * provider is the platform itself: ProviderName / PublisherName / InvoiceIssuerName are the
 * configured platform name, the charge is Usage, BilledCost 0 (no cloud cost behind it; the
 * price book prices PricingQuantity), and the charge period is the event's own time.
 *
 * Two things differ from a cloud export's line, both because the event says them itself:
 *   - the record id is the event's idempotency key (source + id), not its position in a revision,
 *     so the same event is the same record wherever it arrives (schemas/record-id.ts);
 *   - the customer is the event's `customer`, already authorized for the sending API key at
 *     ingest (ingest/authorization.ts), so it is not inferred from tags or account maps.
 */
export const compilePlatformEvents: MapperCompiler = (header) => {
  const ix = new ColumnIndex(header, (h) => h);
  const col = {
    id: ix.slot('ce_id'),
    source: ix.slot('ce_source'),
    type: ix.slot('ce_type'),
    subject: ix.slot('ce_subject'),
    time: ix.slot('ce_time'),
    endTime: ix.slot('end_time'),
    customer: ix.slot('customer'),
    service: ix.slot('service'),
    sku: ix.slot('sku'),
    unit: ix.slot('unit'),
    quantity: ix.slot('quantity'),
    region: ix.slot('region'),
    resourceId: ix.slot('resource_id'),
    tags: ix.slot('tags'),
    currency: ix.slot('currency'),
    billedCost: ix.slot('billed_cost'),
    providerName: ix.slot('provider_name'),
  };
  const required = (slot: typeof col.id, name: string, v: readonly string[]) =>
    requireCell(slot.cell(v), name, name).value.trim();

  return (v, ctx) => {
    const id = required(col.id, 'ce_id', v);
    const source = required(col.source, 'ce_source', v);
    const start = timestampOf(requireCell(col.time.cell(v), 'ce_time', 'ce_time'));
    const endCell = col.endTime.cell(v);
    const end = endCell === undefined ? start : timestampOf(endCell);
    if (end < start) throw new FieldError('end_time', `end_time is before the event's time`);
    const quantity = decimalTextOf(requireCell(col.quantity.cell(v), 'quantity', 'quantity'));
    const billed = decimalTextOf(requireCell(col.billedCost.cell(v), 'billed_cost', 'billed_cost'));
    const currency = required(col.currency, 'currency', v);
    const serviceName = required(col.service, 'service', v);
    const unit = required(col.unit, 'unit', v);
    const providerName = col.providerName.str(v) ?? ctx.provider;
    const category = serviceCategory(ctx.provider, serviceName);
    const period = monthBounds(ctx.billing_period, 'billing_period');
    const tagsCell = col.tags.cell(v);
    return {
      recordId: eventRecordIdOf(source, id),
      customerId: required(col.customer, 'customer', v),
      fields: {
        BillingAccountId: null,
        BillingAccountName: null,
        SubAccountId: null,
        SubAccountName: null,
        ProviderName: providerName,
        PublisherName: providerName,
        InvoiceIssuerName: providerName,
        ServiceName: serviceName,
        ServiceCategory: category,
        SkuId: col.sku.str(v),
        SkuPriceId: null,
        RegionId: col.region.str(v),
        RegionName: col.region.str(v),
        AvailabilityZone: null,
        ResourceId: col.resourceId.str(v),
        ResourceName: null,
        ResourceType: null,
        ChargeCategory: 'Usage',
        ChargeClass: null,
        ChargeDescription: col.type.str(v),
        ChargeFrequency: 'Usage-Based',
        ChargePeriodStart: formatIso(start),
        ChargePeriodEnd: formatIso(end),
        BillingPeriodStart: formatIso(period.start),
        BillingPeriodEnd: formatIso(period.end),
        ConsumedQuantity: quantity,
        ConsumedUnit: unit,
        PricingQuantity: quantity,
        PricingUnit: unit,
        ListUnitPrice: null,
        ContractedUnitPrice: null,
        BilledCost: billed,
        EffectiveCost: billed,
        ListCost: billed,
        ContractedCost: billed,
        BillingCurrency: currency,
        CommitmentDiscountId: null,
        CommitmentDiscountType: null,
        CommitmentDiscountCategory: null,
        CommitmentDiscountStatus: null,
        Tags: tagsCell === undefined ? {} : parseTagObject(tagsCell),
        BillingAccountType: null,
        SubAccountType: null,
        InvoiceId: null,
        ServiceSubcategory: serviceSubcategory(ctx.provider, serviceName, category),
        PricingCategory: 'Standard',
        PricingCurrency: null,
        PricingCurrencyListUnitPrice: null,
        PricingCurrencyContractedUnitPrice: null,
        PricingCurrencyEffectiveCost: null,
        SkuMeter: null,
        SkuPriceDetails: null,
        CommitmentDiscountName: null,
        CommitmentDiscountQuantity: null,
        CommitmentDiscountUnit: null,
        CapacityReservationId: null,
        CapacityReservationStatus: null,
        ServiceProviderName: providerName,
        HostProviderName: null,
      },
      billingAccountIds: [],
    };
  };
};
