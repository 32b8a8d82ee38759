import crypto from 'node:crypto';
import { AvroTypes, type UsageRecord } from '../../schemas';
import { exactParts, type ExactParts } from '../../schemas/exact-parts';
import { EXACT_SUM_FIELDS, USAGE_DECIMAL_FIELDS, type ExactSumField } from '../../schemas/money';

/**
 * The Elasticsearch layout meterflow owns. Everything is named from `elasticsearch.index_prefix`
 * (P below), so several deployments (or test runs) can share a cluster.
 *
 *   P-usage-YYYY-MM     one index per billing month (x_BillingPeriod), every revision the sink has
 *                       indexed, including ones not (yet) published and superseded ones still in
 *                       their history retention (history.ts). _id = x_RecordId.
 *   P-usage             filtered alias over every P-usage-* index that shows ONLY published
 *                       revisions: filter `terms x_PublishKey [published keys]`. Readers (analysts,
 *                       invoices, the API) query this alias and never see two revisions of a scope.
 *                       The publisher swaps the filter on all monthly indices in one _aliases call,
 *                       which Elasticsearch applies atomically.
 *   P-usage-all         unfiltered alias over every P-usage-* index (operators, the publisher).
 *   P-revisions         one document per (scope, revision): the collector's control records plus
 *                       the publisher's reconciliation state. _id = revisionDocId(scope, revision).
 *   P-dead-letters      one document per dead letter (every stage), for the API's summary and for
 *                       reconciliation (a processor dead letter accounts for a row of its revision).
 *   P-invoices          invoices (invoices/), _id = invoice_id.
 *
 * Money in _source is the exact decimal text of the Avro record. The money fields are ALSO mapped
 * as `double` so analysts can chart them; those aggregations are binary floating point and are
 * never used for an amount. The amounts people total (EXACT_SUM_FIELDS) are also indexed as
 * integer parts under `x_Exact.<field>` (schemas/exact-parts.ts): a `sum` of each part is exact,
 * so the API totals usage inside Elasticsearch. Reconciliation and invoices sum the _source text.
 */
export function indexNames(prefix: string) {
  return {
    usagePattern: `${prefix}-usage-*`,
    usageIndex: (billingPeriod: string) => `${prefix}-usage-${billingPeriod.toLowerCase()}`,
    usageAlias: `${prefix}-usage`,
    usageAllAlias: `${prefix}-usage-all`,
    usageTemplate: `${prefix}-usage`,
    revisions: `${prefix}-revisions`,
    deadLetters: `${prefix}-dead-letters`,
    invoices: `${prefix}-invoices`,
  };
}
export type IndexNames = ReturnType<typeof indexNames>;

/** The key the published-revisions alias filters on: one revision of one scope. */
export function publishKey(scope: string, revision: string): string {
  return `${scope}@${revision}`;
}

export function revisionDocId(scope: string, revision: string): string {
  return crypto.createHash('sha256').update(`${scope}\u0000${revision}`).digest('hex').slice(0, 40);
}

/** A usage document: the rated Avro record as JSON, plus fields for filtering. */
export type UsageDocument = UsageRecord & {
  /** publishKey(x_Scope, x_Revision): what the published alias filters on. */
  x_PublishKey: string;
  /** "key=value" for every tag (also searchable as Tags.<key> in indices created since Tags is `flattened`). */
  x_TagPairs: string[];
  /** Integer parts of the amounts Elasticsearch sums exactly; a field is absent when it has none. */
  x_Exact: Partial<Record<ExactSumField, ExactParts>>;
};

type DerivedFields = Pick<UsageDocument, 'x_PublishKey' | 'x_TagPairs' | 'x_Exact'>;

/** What the derived fields are computed from. */
type DerivedFrom = Pick<UsageRecord, 'x_Scope' | 'x_Revision' | 'Tags'> &
  Partial<Pick<UsageRecord, ExactSumField>>;

function derivedFields(record: DerivedFrom): DerivedFields {
  const exact: UsageDocument['x_Exact'] = {};
  for (const field of EXACT_SUM_FIELDS) {
    const text = record[field];
    const parts = text === null || text === undefined ? undefined : exactParts(text);
    if (parts) exact[field] = parts;
  }
  return {
    x_PublishKey: publishKey(record.x_Scope, record.x_Revision),
    x_TagPairs: Object.entries(record.Tags ?? {}).map(([k, v]) => `${k}=${v}`),
    x_Exact: exact,
  };
}

/** The derived fields' JSON object, which the usage document's JSON ends with. */
export function derivedFieldsJson(record: DerivedFrom): string {
  return JSON.stringify(derivedFields(record));
}

export function toUsageDocument(record: UsageRecord): UsageDocument {
  return { ...record, ...derivedFields(record) };
}

/**
 * The JSON text of `toUsageDocument(record)`, byte for byte, built without copying the record:
 * the record's own JSON with the derived fields appended. The sink builds one per document, and
 * spreading a 70-field record makes a dictionary-mode object that JSON.stringify then walks about
 * twice as slowly as the decoded record itself (`npm run bench -- sink-documents`).
 */
export function usageDocumentJson(record: UsageRecord): string {
  const own = JSON.stringify(record);
  const derived = derivedFieldsJson(record);
  // Both are non-empty objects ("{...}"): join them as one object's members.
  return `${own.slice(0, -1)},${derived.slice(1)}`;
}

/**
 * Where a revision stands for readers:
 *   pending       COMPLETED seen, not all rows indexed yet (or no COMPLETED yet: `collecting`)
 *   published     every row indexed or dead-lettered and the totals reconcile; visible in P-usage
 *   superseded    a newer revision of the scope was published; its documents are kept as history
 *                 for sink.history_retention_days after superseded_at, then deleted
 *   unreconciled  every row accounted for, but the counts or exact totals disagree with the
 *                 collector's COMPLETED record; NOT published (the previous revision stays in force)
 *   failed        the collector abandoned it (REVISION_FAILED); never published, documents deleted at once
 */
export type PublicationState =
  'collecting' | 'pending' | 'published' | 'superseded' | 'unreconciled' | 'failed';

export interface RevisionDocument {
  scope: string;
  revision_id: string;
  provider: string;
  format: string;
  billing_period: string;
  files: string[];
  /** From REVISION_COMPLETED: rows the collector produced, and its exact per-currency totals. */
  row_count: number | null;
  collector_dead_letters: number | null;
  control_totals: { currency: string; billed_cost: string; rows: number }[];
  /** Kafka offset of the COMPLETED record on the control topic: orders revisions of a scope. */
  completed_offset: number | null;
  /** The collector abandoned the revision (REVISION_FAILED). */
  failed: boolean;
  /** Written by the publisher only (the sink never overwrites it when a control record is redelivered). */
  state: PublicationState;
  /** What the publisher found the last time it looked (exact decimal text). */
  indexed_rows: number;
  dead_lettered_rows: number;
  indexed_totals: { currency: string; billed_cost: string; rows: number }[];
  problems: string[];
  published_at: string | null;
  /**
   * When the publisher recorded the revision superseded (the replacing revision's published_at).
   * Absent on revisions superseded before history was kept (their documents are gone).
   */
  superseded_at?: string | null;
  updated_at: string;
  /** The last lifecycle event the publisher sent for this revision (absent: none yet). */
  announced?: 'PUBLISHED' | 'SUPERSEDED' | null;
}

/** A dead letter as indexed (the payload is kept as text only when it is text). */
export interface DeadLetterDocument {
  stage: string;
  reason: string;
  message: string;
  provider: string | null;
  scope: string | null;
  revision_id: string | null;
  object: string | null;
  line: number | null;
  field: string | null;
  record_id: string | null;
  payload_text: string | null;
  payload_format: string;
  occurred_at: string;
  /** The row's billed cost when the payload carries one (exact text), for reconciliation. */
  billed_cost: string | null;
  billed_currency: string | null;
  /** Customer of the record when the payload is a usage record (the API scopes customers by it). */
  customer: string | null;
}

const keyword = { type: 'keyword' } as const;
const money = { type: 'double' } as const;
const date = { type: 'date', format: 'strict_date_optional_time||epoch_millis' } as const;

/** Decimal-text fields of a usage document: indexed as double for analysts; exact sums read `_source`. */
export const USAGE_MONEY = USAGE_DECIMAL_FIELDS;
const USAGE_DATES = [
  'ChargePeriodStart',
  'ChargePeriodEnd',
  'BillingPeriodStart',
  'BillingPeriodEnd',
] as const;

/**
 * Every other text field of the record is a keyword: derived from the Avro schema, so a field a new
 * schema version adds is mapped (and put on existing monthly indices by ensureLayout) instead of
 * being refused by the strict mapping; plus the document's own filter fields.
 */
const NOT_KEYWORDS: ReadonlySet<string> = new Set([...USAGE_MONEY, ...USAGE_DATES, 'Tags', 'x_SourceLine']);
const USAGE_KEYWORDS = [
  ...(AvroTypes.usageRecord.type as unknown as { fields: Array<{ name: string }> }).fields
    .map((f) => f.name)
    .filter((f) => !NOT_KEYWORDS.has(f)),
  'x_PublishKey',
  'x_TagPairs',
];
/** Explicit mapping of usage documents; `dynamic: strict` turns an unknown field into a mapping error. */
export function usageMappings() {
  const properties: Record<string, unknown> = {};
  for (const f of USAGE_KEYWORDS) properties[f] = keyword;
  for (const f of USAGE_MONEY) properties[f] = money;
  for (const f of USAGE_DATES) properties[f] = date;
  properties.x_SourceLine = { type: 'long' };
  const long = { type: 'long' } as const;
  properties.x_Exact = {
    properties: Object.fromEntries(
      EXACT_SUM_FIELDS.map((f) => [f, { properties: { units: long, nano: long, atto: long } }]),
    ),
  };
  // One `flattened` field holds every tag, whatever its key (tag keys are unbounded, so one field
  // per key could exhaust the mapping): `Tags.<key>` filters and splits charts by a tag's value.
  properties.Tags = { type: 'flattened' };
  return { dynamic: 'strict' as const, properties };
}

export function revisionMappings() {
  const totals = {
    type: 'object',
    properties: { currency: keyword, billed_cost: keyword, rows: { type: 'long' } },
  };
  return {
    dynamic: 'strict' as const,
    properties: {
      scope: keyword,
      revision_id: keyword,
      provider: keyword,
      format: keyword,
      billing_period: keyword,
      files: keyword,
      row_count: { type: 'long' },
      collector_dead_letters: { type: 'long' },
      control_totals: totals,
      completed_offset: { type: 'long' },
      failed: { type: 'boolean' },
      state: keyword,
      indexed_rows: { type: 'long' },
      dead_lettered_rows: { type: 'long' },
      indexed_totals: totals,
      problems: { type: 'text' },
      published_at: date,
      superseded_at: date,
      updated_at: date,
      announced: keyword,
    },
  };
}

export function deadLetterMappings() {
  return {
    dynamic: 'strict' as const,
    properties: {
      stage: keyword,
      reason: keyword,
      message: { type: 'text' },
      provider: keyword,
      scope: keyword,
      revision_id: keyword,
      object: keyword,
      line: { type: 'long' },
      field: keyword,
      record_id: keyword,
      payload_text: { type: 'text', index: false },
      payload_format: keyword,
      occurred_at: date,
      billed_cost: keyword,
      billed_currency: keyword,
      customer: keyword,
    },
  };
}
