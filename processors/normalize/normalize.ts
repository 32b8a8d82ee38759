import { recordIdOf } from '../../runtime/record-id';
import type { RawUsageRow, UsageRecord } from '../../schemas/types.generated';
import { attributeCustomer } from './attribution';
import { mapAws } from './aws';
import { mapAzure } from './azure';
import type { NormalizeOptions } from './config';
import { mapFocus } from './focus';
import { mapGcp } from './gcp';
import { CHARGE_CATEGORIES, CHARGE_FREQUENCIES, type Mapper } from './types';
import { FieldError } from './values';

/**
 * RawUsageRow (one line of a provider export, text as read) -> UsageRecord (FOCUS 1.2 + x_).
 *
 * One mapper per `format`; every mapper keeps the provider's billed total exact
 * (sum of BilledCost == sum of the provider's billed-cost column):
 *   aws-cur-legacy, aws-cur2  lineItem/UnblendedCost (line_item_unblended_cost)
 *   azure-actual/-amortized   CostInBillingCurrency (EA `Cost`, legacy `PreTaxCost`)
 *   gcp-standard/-detailed    cost + sum(credits[].amount)
 *   focus, aws-focus, azure-focus  BilledCost
 *
 * A value that cannot be parsed (money, quantity, timestamp, tags JSON) fails the row with
 * `malformed` naming the source column; a row no attribution rule matches fails with
 * `unknown_customer` only when attribution is required; a record that breaks the UsageRecord
 * contract (e.g. a FOCUS ChargeCategory outside the enum) fails with `schema_violation`.
 */

export type NormalizeFailureReason = 'malformed' | 'unknown_customer' | 'schema_violation';

export type NormalizeResult =
  | { ok: true; record: UsageRecord }
  | { ok: false; reason: NormalizeFailureReason; field?: string; message: string };

export const MAPPERS: Readonly<Record<string, Mapper>> = {
  'aws-cur-legacy': mapAws,
  'aws-cur2': mapAws,
  'aws-focus': mapFocus,
  focus: mapFocus,
  'azure-actual': mapAzure,
  'azure-amortized': mapAzure,
  'azure-focus': mapFocus,
  'gcp-standard': mapGcp,
  'gcp-detailed': mapGcp,
};

export const SUPPORTED_FORMATS: readonly string[] = Object.keys(MAPPERS);

const FOCUS_FORMATS = new Set(['focus', 'aws-focus', 'azure-focus']);
const GCP_FORMATS = new Set(['gcp-standard', 'gcp-detailed']);

/** Deterministic record id: sha256 of scope, revision, object and line (NUL-separated), 32 hex chars. */
// One definition of the record id for the whole pipeline (collectors key raw rows with it too).
export const recordId = recordIdOf;

export function normalizeRow(row: RawUsageRow, options: NormalizeOptions): NormalizeResult {
  const mapper = MAPPERS[row.format];
  if (mapper === undefined) {
    return {
      ok: false,
      reason: 'malformed',
      field: 'format',
      message: `unsupported export format "${row.format}" (supported: ${SUPPORTED_FORMATS.join(', ')})`,
    };
  }

  let mapped;
  try {
    mapped = mapper(row, options);
  } catch (e) {
    if (e instanceof FieldError) return { ok: false, reason: e.reason, field: e.field, message: e.message };
    throw e;
  }
  const fields = mapped.fields;

  // A credit or adjustment booked for a charge period that ended before this billing period
  // corrects a previous invoice (FOCUS ChargeClass = Correction). FOCUS input says so itself; GCP
  // says so in adjustment_info (its invoice month is a US/Pacific month, so the first UTC hours of
  // a month legitimately precede BillingPeriodStart).
  if (
    !FOCUS_FORMATS.has(row.format) &&
    !GCP_FORMATS.has(row.format) &&
    fields.ChargeClass === null &&
    (fields.ChargeCategory === 'Credit' || fields.ChargeCategory === 'Adjustment') &&
    fields.ChargePeriodEnd <= fields.BillingPeriodStart
  ) {
    fields.ChargeClass = 'Correction';
  }

  const attribution = attributeCustomer(
    {
      provider: row.provider,
      tags: fields.Tags,
      subAccountId: fields.SubAccountId,
      billingAccountIds: mapped.billingAccountIds,
    },
    options.attribution,
  );
  if (!attribution.ok) return { ok: false, reason: 'unknown_customer', message: attribution.message };

  const record: UsageRecord = {
    ...fields,
    x_RecordId: recordId(row.scope, row.revision_id, row.object, row.line),
    x_Scope: row.scope,
    x_Revision: row.revision_id,
    x_BillingPeriod: row.billing_period,
    x_SourceFormat: row.format,
    x_SourceObject: row.object,
    x_SourceLine: row.line,
    x_CustomerId: attribution.customerId,
    x_AttributionRule: attribution.rule,
    x_RatedCost: null,
    x_RatedCurrency: null,
    x_PriceRuleId: null,
    x_PriceBookVersion: null,
    x_ExchangeRate: null,
  };

  const violation = checkRecord(record);
  if (violation !== null) return { ok: false, reason: 'schema_violation', ...violation };
  return { ok: true, record };
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;

const DECIMAL_FIELDS = [
  'ConsumedQuantity',
  'PricingQuantity',
  'ListUnitPrice',
  'ContractedUnitPrice',
  'BilledCost',
  'EffectiveCost',
  'ListCost',
  'ContractedCost',
] as const;

/** The UsageRecord contract beyond TypeScript types; null when the record satisfies it. */
export function checkRecord(r: UsageRecord): { field: string; message: string } | null {
  const fail = (field: string, message: string) => ({ field, message: `${field}: ${message}` });
  if (!(CHARGE_CATEGORIES as readonly string[]).includes(r.ChargeCategory)) {
    return fail('ChargeCategory', `"${r.ChargeCategory}" is not a FOCUS ChargeCategory`);
  }
  if (r.ChargeClass !== null && r.ChargeClass !== 'Correction') {
    return fail('ChargeClass', `"${r.ChargeClass}" must be null or Correction`);
  }
  if (r.ChargeFrequency !== null && !(CHARGE_FREQUENCIES as readonly string[]).includes(r.ChargeFrequency)) {
    return fail('ChargeFrequency', `"${r.ChargeFrequency}" is not a FOCUS ChargeFrequency`);
  }
  for (const f of [
    'ChargePeriodStart',
    'ChargePeriodEnd',
    'BillingPeriodStart',
    'BillingPeriodEnd',
  ] as const) {
    if (!ISO_UTC.test(r[f])) return fail(f, `"${r[f]}" is not ISO-8601 UTC`);
  }
  if (r.ChargePeriodEnd < r.ChargePeriodStart)
    return fail('ChargePeriodEnd', 'ends before ChargePeriodStart');
  if (r.BillingPeriodEnd <= r.BillingPeriodStart)
    return fail('BillingPeriodEnd', 'not after BillingPeriodStart');
  for (const f of DECIMAL_FIELDS) {
    const v = r[f];
    if (v !== null && !DECIMAL.test(v)) return fail(f, `"${v}" is not canonical decimal text`);
  }
  if (r.BillingCurrency.trim() === '') return fail('BillingCurrency', 'empty');
  if (r.ProviderName.trim() === '') return fail('ProviderName', 'empty');
  if (!/^\d{4}-\d{2}$/.test(r.x_BillingPeriod))
    return fail('x_BillingPeriod', `"${r.x_BillingPeriod}" is not YYYY-MM`);
  return null;
}
