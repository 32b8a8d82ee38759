import { Decimal, decimalToString } from '../../runtime/decimal';
import type { RawUsageRow } from '../../schemas/types.generated';
import { columnsOf } from '../../collectors/formats/rows';
import type { NormalizeOptions } from './config';
import { serviceCategory } from './service-categories';
import { type ChargeCategory, type Mapped, type MapperCompiler, NULL_FIELDS } from './types';
import {
  type Cell,
  Columns,
  FieldError,
  decimalOf,
  formatIso,
  monthBounds,
  optDecimalText,
  parseJsonCell,
  parseKeyValueArray,
  requireCell,
  scalarText,
  timestampOf,
  zonedMonthStart,
} from './values';

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

export function gcpKey(header: string): string {
  return header
    .replace(/^\uFEFF/, '')
    .trim()
    .toLowerCase();
}

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
      return { category: 'Adjustment', correction: /CORRECTION|NEGATION/.test(marker) };
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

function parseCredits(cell: Cell | undefined): Credit[] {
  if (cell === undefined) return [];
  const parsed = parseJsonCell(cell);
  if (!Array.isArray(parsed)) throw new FieldError(cell.key, `${cell.key}: expected an array of credits`);
  return parsed.map((item, i) => {
    if (item === null || typeof item !== 'object' || !('amount' in item)) {
      throw new FieldError(cell.key, `${cell.key}: credit ${i} has no amount`);
    }
    const rec = item as Record<string, unknown>;
    const amount = decimalOf({ key: cell.key, value: scalarText(rec.amount) });
    const text = (v: unknown) =>
      v === null || v === undefined || scalarText(v) === '' ? null : scalarText(v);
    return { amount, id: text(rec.id), type: text(rec.type) };
  });
}

function invoiceMonthBounds(cell: Cell): { start: number; end: number } {
  const m = /^(\d{4})-?(\d{2})$/.exec(cell.value.trim());
  const month = m ? Number(m[2]) : 0;
  if (!m || month < 1 || month > 12) {
    throw new FieldError(cell.key, `${cell.key}: "${cell.value}" is not a YYYYMM month`);
  }
  const year = Number(m[1]);
  const tz = 'America/Los_Angeles';
  return {
    start: zonedMonthStart(year, month, tz),
    end: month === 12 ? zonedMonthStart(year + 1, 1, tz) : zonedMonthStart(year, month + 1, tz),
  };
}

export function mapGcp(row: RawUsageRow, options: NormalizeOptions): Mapped {
  const cols = new Columns(row.columns, gcpKey);

  const cost = decimalOf(requireCell(cols.cell('cost'), 'cost', 'cost'));
  const credits = parseCredits(cols.cell('credits'));
  const net = credits.reduce((acc, c) => acc.plus(c.amount), cost);

  const currency =
    cols.str('currency') ??
    options.default_currency ??
    (() => {
      throw new FieldError('currency', 'currency: missing currency');
    })();

  const chargeStart = timestampOf(
    requireCell(cols.cell('usage_start_time'), 'usage_start_time', 'usage start'),
  );
  const chargeEnd = timestampOf(requireCell(cols.cell('usage_end_time'), 'usage_end_time', 'usage end'));
  const invoiceMonth = cols.cell('invoice.month');
  const billing =
    invoiceMonth === undefined
      ? monthBounds(row.billing_period, 'billing_period')
      : invoiceMonthBounds(invoiceMonth);

  const { category, correction } = gcpChargeCategory(
    cols.str('cost_type'),
    cols.str('adjustment_info.mode'),
    cols.str('adjustment_info.type'),
  );

  const cud = credits.find(
    (c) => c.type !== null && c.type.toUpperCase().startsWith('COMMITTED_USAGE_DISCOUNT'),
  );

  const projectLabels = cols.cell('project.labels');
  const labels = cols.cell('labels');
  const tags = {
    ...(projectLabels === undefined ? {} : parseKeyValueArray(projectLabels)),
    ...(labels === undefined ? {} : parseKeyValueArray(labels)),
  };

  const service = cols.str('service.description');
  const usageAmount = optDecimalText(cols.cell('usage.amount'));
  const billingAccount = cols.str('billing_account_id');

  return {
    fields: {
      ...NULL_FIELDS,
      BillingAccountId: billingAccount,
      SubAccountId: cols.str('project.id'),
      SubAccountName: cols.str('project.name'),
      ProviderName: 'Google Cloud',
      PublisherName: cols.str('seller_name') ?? 'Google Cloud',
      InvoiceIssuerName: 'Google',
      ServiceName: service,
      ServiceCategory: serviceCategory('gcp', service),
      SkuId: cols.str('sku.id'),
      RegionId: cols.str('location.region', 'location.location'),
      RegionName: cols.str('location.location'),
      AvailabilityZone: cols.str('location.zone'),
      ResourceId: cols.str('resource.global_name'),
      ResourceName: cols.str('resource.name'),
      ChargeCategory: category,
      ChargeClass: correction ? 'Correction' : null,
      ChargeDescription: cols.str('sku.description'),
      ChargeFrequency: category === 'Usage' ? 'Usage-Based' : null,
      ChargePeriodStart: formatIso(chargeStart),
      ChargePeriodEnd: formatIso(chargeEnd),
      BillingPeriodStart: formatIso(billing.start),
      BillingPeriodEnd: formatIso(billing.end),
      ConsumedQuantity: category === 'Usage' ? usageAmount : null,
      ConsumedUnit: category === 'Usage' && usageAmount !== null ? cols.str('usage.unit') : null,
      PricingQuantity: optDecimalText(cols.cell('usage.amount_in_pricing_units')),
      PricingUnit: cols.str('usage.pricing_unit'),
      ContractedUnitPrice: optDecimalText(cols.cell('price.effective_price')),
      ListCost: optDecimalText(cols.cell('cost_at_list')),
      BilledCost: decimalToString(net),
      EffectiveCost: decimalToString(net),
      BillingCurrency: currency,
      CommitmentDiscountId: cud?.id ?? null,
      CommitmentDiscountType: cud === undefined ? null : 'Committed Use Discount',
      CommitmentDiscountCategory:
        cud === undefined ? null : cud.type!.toUpperCase().includes('DOLLAR_BASE') ? 'Spend' : 'Usage',
      CommitmentDiscountStatus: cud === undefined ? null : 'Used',
      Tags: tags,
    },
    billingAccountIds: [billingAccount],
  };
}

/** Interim: the map-based mapper behind the compiled-plan interface. */
export const compileGcp: MapperCompiler = (header) => (values, ctx, options) =>
  mapGcp({ ...ctx, line: 0, columns: columnsOf(header, values) }, options);
