import { Decimal, decimalToString } from '../../runtime/decimal';
import type { RawUsageRow } from '../../schemas/types.generated';
import { columnsOf } from '../../collectors/formats/rows';
import type { NormalizeOptions } from './config';
import { isServiceCategory, serviceCategory } from './service-categories';
import { type ChargeCategory, type Mapped, type MapperCompiler, NULL_FIELDS } from './types';
import {
  Columns,
  DAY_MS,
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

/** `10 Hours` -> block 10, unit Hours; `10K` -> block 10000; `1 /Month` -> 1, /Month. */
export function splitUnitOfMeasure(uom: string): { block: Decimal; unit: string | null } {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMB](?![A-Za-z]))?\s*(.*?)\s*$/.exec(uom);
  if (!m) return { block: new Decimal(1), unit: uom.trim() || null };
  const scale = m[2] === 'K' ? 1e3 : m[2] === 'M' ? 1e6 : m[2] === 'B' ? 1e9 : 1;
  const block = new Decimal(m[1]).times(scale);
  return { block: block.isZero() ? new Decimal(1) : block, unit: m[3] === '' ? null : m[3] };
}

export function mapAzure(row: RawUsageRow, options: NormalizeOptions): Mapped {
  const cols = new Columns(row.columns, azureKey);
  const cell = (f: AzureField) => cols.cell(...AZURE_ALIASES[f]);
  const str = (f: AzureField) => cols.str(...AZURE_ALIASES[f]);
  const required = (f: AzureField, what: string) => requireCell(cell(f), CANONICAL_NAME[f] ?? f, what);

  const cost = decimalOf(required('cost', 'cost in billing currency'));
  const currency =
    str('currency') ??
    options.default_currency ??
    (() => {
      throw new FieldError('BillingCurrency', 'BillingCurrency: no currency column and no default_currency');
    })();

  const day = timestampOf(required('date', 'usage date'));
  const bpStartCell = cell('billingPeriodStart');
  const bpEndCell = cell('billingPeriodEnd');
  const fallback = monthBounds(row.billing_period, 'billing_period');
  const billingStart = bpStartCell === undefined ? fallback.start : timestampOf(bpStartCell);
  // Azure's BillingPeriodEndDate is the last day, inclusive: FOCUS wants the next instant.
  const billingEnd = bpEndCell === undefined ? fallback.end : timestampOf(bpEndCell) + DAY_MS;

  const chargeType = str('chargeType');
  const { category, correction } = azureChargeCategory(chargeType);
  const ct = (chargeType ?? '').toLowerCase();
  const pricingModel = (str('pricingModel') ?? '').toLowerCase();

  // Quantities: Quantity is consumed; pricing quantity is Quantity / block size of UnitOfMeasure.
  const quantity = cell('quantity') === undefined ? null : decimalOf(cell('quantity')!);
  const uomText = str('unitOfMeasure');
  const uom = uomText === null ? null : splitUnitOfMeasure(uomText);
  const pricingQuantity = quantity === null ? null : uom === null ? quantity : quantity.div(uom.block);

  // Commitment discounts (reservations, savings plans)
  const commitmentId = str('benefitId') ?? str('reservationId');
  const commitmentRow =
    pricingModel === 'reservation' ||
    pricingModel === 'savingsplan' ||
    ct === 'unusedreservation' ||
    ct === 'unusedsavingsplan' ||
    ((ct === 'purchase' || ct === 'refund') && str('benefitId') !== null);
  let commitmentType: string | null = null;
  let commitmentCategory: string | null = null;
  if (commitmentRow && commitmentId !== null) {
    const id = commitmentId.toLowerCase();
    if (
      id.includes('/microsoft.billingbenefits/') ||
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
  const rawBillingAccount = str('billingAccountId');
  const billingProfile = str('billingProfileId');
  const isEa = rawBillingAccount !== null && /^\d+$/.test(rawBillingAccount);
  const billingAccountId = isEa ? rawBillingAccount : (billingProfile ?? rawBillingAccount);
  const billingAccountName = isEa
    ? str('billingAccountName')
    : billingProfile !== null
      ? (str('billingProfileName') ?? str('billingAccountName'))
      : str('billingAccountName');

  const consumedService = str('consumedService');
  let category2 = serviceCategory('azure', consumedService);
  const family = str('serviceFamily');
  if (category2 === 'Other' && family !== null && isServiceCategory(family)) category2 = family;

  const location = str('resourceLocation');
  const tagsCell = cell('tags');
  const frequency = str('frequency');

  return {
    fields: {
      ...NULL_FIELDS,
      BillingAccountId: billingAccountId,
      BillingAccountName: billingAccountName,
      SubAccountId: str('subscriptionId'),
      SubAccountName: str('subscriptionName'),
      ProviderName: 'Microsoft',
      PublisherName: str('publisherName') ?? 'Microsoft',
      InvoiceIssuerName: str('partnerName') ?? 'Microsoft',
      ServiceName: str('meterCategory') ?? str('serviceName'),
      ServiceCategory: category2,
      SkuId: str('productId') ?? str('partNumber'),
      RegionId: location !== null && /^[A-Za-z0-9]+$/.test(location) ? location.toLowerCase() : null,
      RegionName: str('location') ?? (location !== null && /\s/.test(location) ? location : null),
      AvailabilityZone: str('availabilityZone'),
      ResourceId: str('resourceId'),
      ResourceName: str('resourceName'),
      ResourceType: str('resourceType'),
      ChargeCategory: category,
      ChargeClass: correction || str('previousInvoiceId') !== null ? 'Correction' : null,
      ChargeDescription: str('productName'),
      ChargeFrequency:
        (frequency !== null ? FREQUENCY[frequency.toLowerCase()] : undefined) ??
        (category === 'Usage' ? 'Usage-Based' : null),
      ChargePeriodStart: formatIso(day),
      ChargePeriodEnd: formatIso(day + DAY_MS),
      BillingPeriodStart: formatIso(billingStart),
      BillingPeriodEnd: formatIso(billingEnd),
      ConsumedQuantity: category === 'Usage' && quantity !== null ? decimalToString(quantity) : null,
      ConsumedUnit: category === 'Usage' && quantity !== null ? (uom?.unit ?? null) : null,
      PricingQuantity: pricingQuantity === null ? null : decimalToString(pricingQuantity),
      PricingUnit: pricingQuantity === null ? null : (uom?.unit ?? null),
      ListUnitPrice: optDecimalText(cell('payGPrice')),
      ContractedUnitPrice: optDecimalText(cell('unitPrice')),
      ListCost: optDecimalText(cell('listCost')),
      BilledCost: decimalToString(cost),
      EffectiveCost: decimalToString(cost),
      BillingCurrency: currency,
      CommitmentDiscountId: commitmentType === null ? null : commitmentId!.toLowerCase(),
      CommitmentDiscountType: commitmentType,
      CommitmentDiscountCategory: commitmentCategory,
      CommitmentDiscountStatus: commitmentStatus,
      Tags: tagsCell === undefined ? {} : parseTagObject(tagsCell),
    },
    billingAccountIds: [billingAccountId, rawBillingAccount, billingProfile],
  };
}

/** Interim: the map-based mapper behind the compiled-plan interface. */
export const compileAzure: MapperCompiler = (header) => (values, ctx, options) =>
  mapAzure({ ...ctx, line: 0, columns: columnsOf(header, values) }, options);
