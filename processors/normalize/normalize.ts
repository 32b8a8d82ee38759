import { SOURCE_DECIMAL_FIELDS } from '../../schemas/money';
import { recordIdOf } from '../../schemas/record-id';
import type { RowBatch } from '../../schemas/raw-batch-codec';
import type { RawUsageRow, UsageRecord } from '../../schemas/types.generated';
import { EXPORT_FORMATS, findFormat, formatDefinition } from '../../providers/registry';
import { attributeCustomer } from './attribution';
import type { Header } from '../../collectors/formats/rows';
import type { NormalizeOptions } from './config';
import {
  CHARGE_CATEGORIES,
  CHARGE_FREQUENCIES,
  type MapperCompiler,
  type RowContext,
  type RowMapper,
} from './types';
import { FieldError } from './values';
import { DeadLetterReasons } from '../../runtime/errors';

/**
 * RawUsageRow (one line of a provider export, text as read) -> UsageRecord (FOCUS 1.2 + x_).
 *
 * One mapping per `format`, compiled per header (planFor); every mapper keeps the provider's billed total exact
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

/** The dead-letter reasons normalize produces (runtime/errors.ts DeadLetterReasons). */
export type NormalizeFailureReason =
  | typeof DeadLetterReasons.MALFORMED_INPUT
  | typeof DeadLetterReasons.UNKNOWN_CUSTOMER
  | typeof DeadLetterReasons.ATTRIBUTION_CONFLICT
  | typeof DeadLetterReasons.SCHEMA_VIOLATION;

export type NormalizeResult =
  | { ok: true; record: UsageRecord }
  | { ok: false; reason: NormalizeFailureReason; field?: string; message: string };

/** The FOCUS mapping of every export format, from each provider's definition (providers/registry.ts). */
export const COMPILERS: Readonly<Record<string, MapperCompiler>> = Object.fromEntries(
  EXPORT_FORMATS.map((f) => [f, formatDefinition(f).toFocus]),
);

export const SUPPORTED_FORMATS: readonly string[] = EXPORT_FORMATS;

/** Deterministic record id: sha256 of scope, revision, object and line (NUL-separated), 32 hex chars. */
// One definition of the record id for the whole pipeline (collectors key raw rows with it too).
export const recordId = recordIdOf;

/**
 * Compiled plans, one per (options, format, header). A header read from a file is one array for
 * the whole object, so the identity lookup hits; a header decoded from a raw-topic message is a new
 * array per message, found by its names (joined once per message, not per row).
 */
interface FormatPlans {
  byHeader: WeakMap<Header, RowMapper>;
  byNames: Map<string, RowMapper>;
}
const PLAN_NAMES_LIMIT = 1_000;
const plans = new WeakMap<NormalizeOptions, Map<string, FormatPlans>>();

/** The compiled mapper for rows of `format` under `header`, or undefined for an unknown format. */
export function planFor(format: string, header: Header, options: NormalizeOptions): RowMapper | undefined {
  let byFormat = plans.get(options);
  if (byFormat === undefined) plans.set(options, (byFormat = new Map()));
  let fp = byFormat.get(format);
  if (fp === undefined) {
    const compile = COMPILERS[format];
    if (compile === undefined) return undefined;
    byFormat.set(format, (fp = { byHeader: new WeakMap(), byNames: new Map() }));
  }
  let plan = fp.byHeader.get(header);
  if (plan !== undefined) return plan;
  const names = header.join('\u0001');
  plan = fp.byNames.get(names);
  if (plan === undefined) {
    plan = COMPILERS[format](header, options);
    // Headers are few (one per export layout); the bound only guards against a pathological input.
    if (fp.byNames.size >= PLAN_NAMES_LIMIT) fp.byNames.clear();
    fp.byNames.set(names, plan);
  }
  fp.byHeader.set(header, plan);
  return plan;
}

function unsupported(format: string): NormalizeResult {
  return {
    ok: false,
    reason: DeadLetterReasons.MALFORMED_INPUT,
    field: 'format',
    message: `unsupported export format "${format}" (supported: ${SUPPORTED_FORMATS.join(', ')})`,
  };
}

/**
 * Normalizes one positional row (collectors/formats/rows.ts) read from the object `ctx` names.
 * `plan` is planFor(ctx.format, header, options), looked up once per header by the caller.
 */
export function normalizeValues(
  plan: RowMapper,
  ctx: RowContext,
  line: number,
  values: readonly string[],
  options: NormalizeOptions,
): NormalizeResult {
  let mapped;
  try {
    mapped = plan(values, ctx, options);
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
    findFormat(ctx.format)?.infersCorrections === true &&
    fields.ChargeClass === null &&
    (fields.ChargeCategory === 'Credit' || fields.ChargeCategory === 'Adjustment') &&
    fields.ChargePeriodEnd <= fields.BillingPeriodStart
  ) {
    fields.ChargeClass = 'Correction';
  }

  const attribution =
    mapped.customerId !== undefined
      ? { ok: true as const, customerId: mapped.customerId, rule: 'event' }
      : attributeCustomer(
          {
            provider: ctx.provider,
            tags: fields.Tags,
            subAccountId: fields.SubAccountId,
            billingAccountIds: mapped.billingAccountIds,
          },
          options.attribution,
        );
  if (!attribution.ok) return { ok: false, reason: attribution.reason, message: attribution.message };

  // Lineage, attribution and rating fields are added to the mapper's object in place, always in
  // the same order (one hidden class), instead of spreading ~45 fields into a new literal.
  const record: UsageRecord = Object.assign(fields, {
    x_RecordId: mapped.recordId ?? recordId(ctx.scope, ctx.revision_id, ctx.object, line),
    x_Scope: ctx.scope,
    x_Revision: ctx.revision_id,
    x_BillingPeriod: ctx.billing_period,
    x_SourceFormat: ctx.format,
    x_SourceObject: ctx.object,
    x_SourceLine: line,
    x_CustomerId: attribution.customerId,
    x_AttributionRule: attribution.rule,
    x_RatedCost: null,
    x_RatedCurrency: null,
    x_PriceRuleId: null,
    x_PriceBookVersion: null,
    x_ExchangeRate: null,
  });

  const violation = checkRecord(record);
  if (violation !== null) return { ok: false, reason: DeadLetterReasons.SCHEMA_VIOLATION, ...violation };
  return { ok: true, record };
}

/** One row of a batch and what normalize made of it. */
export interface RowOutcome {
  line: number;
  values: readonly string[];
  result: NormalizeResult;
}

/**
 * Normalizes a raw-topic v2 batch: the processor both the streaming normalize stage and
 * `meterflow rate` run. One plan lookup per batch; rows keep their order.
 */
export function normalizeBatch(batch: RowBatch, options: NormalizeOptions): RowOutcome[] {
  const plan = planFor(batch.format, batch.header, options);
  return batch.rows.map((row) => ({
    line: row.line,
    values: row.values,
    result:
      plan === undefined
        ? unsupported(batch.format)
        : normalizeValues(plan, batch, row.line, row.values, options),
  }));
}

/**
 * Normalizes one row given as a name -> value map (the v1 raw-topic contract, tests, tools). The
 * map's keys are its header; rows with the same keys share a compiled plan.
 */
export function normalizeRow(row: RawUsageRow, options: NormalizeOptions): NormalizeResult {
  const header = Object.keys(row.columns);
  const plan = planFor(row.format, header, options);
  if (plan === undefined) return unsupported(row.format);
  const values = header.map((h) => row.columns[h]);
  return normalizeValues(plan, row, row.line, values, options);
}

export { unsupported as unsupportedFormat };

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;

const DECIMAL_FIELDS = SOURCE_DECIMAL_FIELDS;

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
