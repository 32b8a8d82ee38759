import { decimalToString } from '../../runtime/decimal';
import type { RawUsageRow } from '../../schemas/types.generated';
import { columnsOf } from '../../collectors/formats/rows';
import type { NormalizeOptions } from './config';
import { isServiceCategory, serviceCategory } from './service-categories';
import {
  CHARGE_CATEGORIES,
  CHARGE_FREQUENCIES,
  type Mapped,
  type MapperCompiler,
  NULL_FIELDS,
} from './types';
import {
  Columns,
  FieldError,
  decimalOf,
  formatIso,
  monthBounds,
  optDecimalText,
  parseTagObject,
  requireCell,
  timestampOf,
} from './values';

/**
 * FOCUS 1.0-1.2 input (`focus`, the AWS FOCUS export `aws-focus`, Azure FocusCost `azure-focus`).
 * Column ids are matched case-insensitively (the spec examples carry a `SkuPriceid` typo); `x_`
 * provider columns are ignored except the Azure MCA billing account / profile, which feed
 * attribution. With `lenient_focus` the literal `null` means null and money may be written as
 * spreadsheet text (`"$10,000.00 "`).
 *
 * azure-focus also gets the FinOps hubs fix-ups: ContractedCost := EffectiveCost and
 * ListCost := ContractedCost when missing, ResourceName and CommitmentDiscountId lower-cased.
 */

export function focusKey(header: string): string {
  return header
    .replace(/^\uFEFF/, '')
    .trim()
    .toLowerCase();
}

const PROVIDER_NAMES: Record<string, string> = { aws: 'AWS', gcp: 'Google Cloud', azure: 'Microsoft' };

function enumValue<T extends string>(allowed: readonly T[], value: string | null, field: string): T | null {
  if (value === null) return null;
  const found = allowed.find((a) => a.toLowerCase() === value.toLowerCase());
  if (found === undefined) {
    throw new FieldError(
      field,
      `${field}: "${value}" is not one of ${allowed.join(', ')}`,
      'schema_violation',
    );
  }
  return found;
}

export function mapFocus(row: RawUsageRow, options: NormalizeOptions): Mapped {
  const lenient = options.lenient_focus;
  const cols = new Columns(row.columns, focusKey, new Set(lenient ? ['null'] : []));
  const k = (name: string) => name.toLowerCase();
  const str = (name: string) => cols.str(k(name));
  const cell = (name: string) => cols.cell(k(name));
  const money = (name: string) => optDecimalText(cell(name), { lenient });
  const isAzure = row.format === 'azure-focus';

  const billed = decimalOf(requireCell(cell('BilledCost'), 'BilledCost', 'BilledCost'), { lenient });
  const effectiveCell = cell('EffectiveCost');
  const effective = effectiveCell === undefined ? billed : decimalOf(effectiveCell, { lenient });
  let contractedCost = money('ContractedCost');
  let listCost = money('ListCost');
  if (isAzure) {
    contractedCost ??= decimalToString(effective);
    listCost ??= contractedCost;
  }

  const currency =
    str('BillingCurrency') ??
    options.default_currency ??
    (() => {
      throw new FieldError('BillingCurrency', 'BillingCurrency: missing and no default_currency configured');
    })();

  const chargeStart = timestampOf(
    requireCell(cell('ChargePeriodStart'), 'ChargePeriodStart', 'ChargePeriodStart'),
  );
  const chargeEnd = timestampOf(requireCell(cell('ChargePeriodEnd'), 'ChargePeriodEnd', 'ChargePeriodEnd'));
  const fallback = monthBounds(row.billing_period, 'billing_period');
  const bpStart = cell('BillingPeriodStart');
  const bpEnd = cell('BillingPeriodEnd');

  const chargeCategory = enumValue(
    CHARGE_CATEGORIES,
    requireCell(cell('ChargeCategory'), 'ChargeCategory', 'ChargeCategory').value.trim(),
    'ChargeCategory',
  )!;
  const chargeClass = enumValue(['Correction'] as const, str('ChargeClass'), 'ChargeClass');
  const chargeFrequency = enumValue(CHARGE_FREQUENCIES, str('ChargeFrequency'), 'ChargeFrequency');

  const serviceName = str('ServiceName');
  const declaredCategory = str('ServiceCategory');
  const provider = row.provider.toLowerCase();
  const tagsCell = cell('Tags');
  const billingAccountId = str('BillingAccountId');
  const resourceName = str('ResourceName');
  const commitmentId = str('CommitmentDiscountId');

  return {
    fields: {
      ...NULL_FIELDS,
      BillingAccountId: billingAccountId,
      BillingAccountName: str('BillingAccountName'),
      SubAccountId: str('SubAccountId'),
      SubAccountName: str('SubAccountName'),
      ProviderName:
        str('ProviderName') ?? str('ServiceProviderName') ?? PROVIDER_NAMES[provider] ?? row.provider,
      PublisherName: str('PublisherName') ?? str('HostProviderName'),
      InvoiceIssuerName: str('InvoiceIssuerName'),
      ServiceName: serviceName,
      ServiceCategory:
        declaredCategory !== null && isServiceCategory(declaredCategory)
          ? declaredCategory
          : serviceCategory(provider, serviceName),
      SkuId: str('SkuId'),
      SkuPriceId: str('SkuPriceId'),
      RegionId: str('RegionId'),
      RegionName: str('RegionName'),
      AvailabilityZone: str('AvailabilityZone'),
      ResourceId: str('ResourceId'),
      ResourceName: isAzure && resourceName !== null ? resourceName.toLowerCase() : resourceName,
      ResourceType: str('ResourceType'),
      ChargeCategory: chargeCategory,
      ChargeClass: chargeClass,
      ChargeDescription: str('ChargeDescription'),
      ChargeFrequency: chargeFrequency,
      ChargePeriodStart: formatIso(chargeStart),
      ChargePeriodEnd: formatIso(chargeEnd),
      BillingPeriodStart: formatIso(bpStart === undefined ? fallback.start : timestampOf(bpStart)),
      BillingPeriodEnd: formatIso(bpEnd === undefined ? fallback.end : timestampOf(bpEnd)),
      ConsumedQuantity: money('ConsumedQuantity'),
      ConsumedUnit: str('ConsumedUnit'),
      PricingQuantity: money('PricingQuantity'),
      PricingUnit: str('PricingUnit'),
      ListUnitPrice: money('ListUnitPrice'),
      ContractedUnitPrice: money('ContractedUnitPrice'),
      BilledCost: decimalToString(billed),
      EffectiveCost: decimalToString(effective),
      ListCost: listCost,
      ContractedCost: contractedCost,
      BillingCurrency: currency,
      CommitmentDiscountId: isAzure && commitmentId !== null ? commitmentId.toLowerCase() : commitmentId,
      CommitmentDiscountType: str('CommitmentDiscountType'),
      CommitmentDiscountCategory: str('CommitmentDiscountCategory'),
      CommitmentDiscountStatus: str('CommitmentDiscountStatus'),
      Tags: tagsCell === undefined ? {} : parseTagObject(tagsCell),
    },
    billingAccountIds: [billingAccountId, str('x_BillingAccountId'), str('x_BillingProfileId')],
  };
}

/** Interim: the map-based mapper behind the compiled-plan interface. */
export const compileFocus: MapperCompiler = (header) => (values, ctx, options) =>
  mapFocus({ ...ctx, line: 0, columns: columnsOf(header, values) }, options);
