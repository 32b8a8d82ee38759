import type { RowBatch } from '../../schemas/raw-batch-codec';
import type { UsageRecord } from '../../schemas/types.generated';
import type { NormalizeOptions } from './config';

/** The UsageRecord fields a format mapper fills: FOCUS columns (the x_ lineage, attribution and
 * rating fields are set by normalizeRow). */
export type FocusFields = Omit<
  UsageRecord,
  | 'x_RecordId'
  | 'x_Scope'
  | 'x_Revision'
  | 'x_BillingPeriod'
  | 'x_SourceFormat'
  | 'x_SourceObject'
  | 'x_SourceLine'
  | 'x_CustomerId'
  | 'x_AttributionRule'
  | 'x_RatedCost'
  | 'x_RatedCurrency'
  | 'x_PriceRuleId'
  | 'x_PriceBookVersion'
  | 'x_ExchangeRate'
>;

export interface Mapped {
  fields: FocusFields;
  /** Billing account ids to try for attribution, most specific first (FOCUS BillingAccountId first). */
  billingAccountIds: Array<string | null>;
  /**
   * The record's own id where the source gives every line a stable key (a first-party event's
   * CloudEvents source + id); absent: the id of the line's position in its revision (record-id.ts).
   */
  recordId?: string;
  /**
   * The customer where the source states it under the operator's authority (a first-party event,
   * whose customer the ingest endpoint checked against the sending key); absent: attribution rules.
   */
  customerId?: string;
}

/**
 * What a mapper knows of a row besides its values: the constants of the object it was read from,
 * exactly as a raw-topic v2 batch carries them (billing_period is the revision's YYYY-MM, the
 * fallback where a row states none).
 */
export type RowContext = Omit<RowBatch, 'header' | 'rows'>;

/** Maps one row's positional values (see collectors/formats/rows.ts) to FOCUS fields. */
export type RowMapper = (values: readonly string[], ctx: RowContext, options: NormalizeOptions) => Mapped;

/**
 * Compiles a format's mapping for one header: every column the mapping reads is resolved to its
 * position here, once, so the returned RowMapper does no header lookups, maps or regexes on names.
 * `options` is fixed for the plan (plans are cached per options object).
 */
export type MapperCompiler = (header: readonly string[], options: NormalizeOptions) => RowMapper;

/** FOCUS 1.2 ChargeCategory values. */
export const CHARGE_CATEGORIES = ['Usage', 'Purchase', 'Tax', 'Credit', 'Adjustment'] as const;
export type ChargeCategory = (typeof CHARGE_CATEGORIES)[number];

export const CHARGE_FREQUENCIES = ['One-Time', 'Recurring', 'Usage-Based'] as const;
