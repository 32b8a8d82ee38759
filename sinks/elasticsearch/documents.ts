import crypto from 'node:crypto';
import { billedCostOf, currencyOf } from '../../collectors/formats/columns';
import type { ExportFormat } from '../../providers/registry';
import { decimalToString } from '../../schemas/decimal';
import { recordIdOf } from '../../schemas/record-id';
import {
  AvroTypes,
  type DeadLetter,
  type RawUsageRow,
  type RevisionControl,
  type UsageRecord,
} from '../../schemas';
import {
  type DeadLetterDocument,
  type IndexNames,
  type RevisionDocument,
  revisionDocId,
  usageDocumentJson,
} from './indices';
import { usageDocumentFromAvro } from './usage-json';

/** What one consumed message becomes in Elasticsearch. */
export type SinkWrite =
  | {
      kind: 'usage';
      index: string;
      id: string;
      billingPeriod: string;
      /** The document's JSON text (UTF-8 bytes when written straight from the Avro bytes). */
      json: string | Buffer;
      /** The decoded record, when it was decoded (usageWriteFromAvro does not). */
      record: UsageRecord | undefined;
    }
  | { kind: 'revision'; id: string; partial: Partial<RevisionDocument>; upsert: RevisionDocument }
  | { kind: 'dead-letter'; id: string; doc: DeadLetterDocument };

export function usageWrite(names: IndexNames, record: UsageRecord): SinkWrite {
  return {
    kind: 'usage',
    record,
    index: names.usageIndex(record.x_BillingPeriod),
    id: record.x_RecordId,
    billingPeriod: record.x_BillingPeriod,
    json: usageDocumentJson(record),
  };
}

/**
 * The same write, its JSON made from the rated record's Avro bytes without decoding the record
 * (usage-json.ts); undefined when that reader leaves the value to `usageWrite`.
 */
export function usageWriteFromAvro(names: IndexNames, value: Buffer): SinkWrite | undefined {
  const document = usageDocumentFromAvro(value);
  if (!document) return undefined;
  return {
    kind: 'usage',
    record: undefined,
    index: names.usageIndex(document.billingPeriod),
    id: document.recordId,
    billingPeriod: document.billingPeriod,
    json: document.json,
  };
}

/**
 * A control record becomes a partial update of the revision document, with an upsert for the
 * first time. The partial never carries `state` (the publisher's field): a control record
 * redelivered after a crash must not move a published revision back to pending. STARTED carries
 * no completion fields, so a redelivered STARTED cannot undo a COMPLETED either.
 */
export function revisionWrite(c: RevisionControl, offset: string): SinkWrite {
  const base = {
    scope: c.scope,
    revision_id: c.revision_id,
    provider: c.provider,
    format: c.format,
    billing_period: c.billing_period,
  };
  let partial: Partial<RevisionDocument>;
  if (c.type === 'REVISION_COMPLETED') {
    partial = {
      ...base,
      files: c.files,
      row_count: c.row_count,
      collector_dead_letters: c.dead_letter_count,
      control_totals: c.control_totals.map((t) => ({ ...t, rows: Number(t.rows) })),
      completed_offset: Number(offset),
    };
  } else if (c.type === 'REVISION_FAILED') {
    partial = { ...base, failed: true };
  } else {
    partial = { ...base, files: c.files };
  }
  const upsert: RevisionDocument = {
    files: [],
    row_count: null,
    collector_dead_letters: null,
    control_totals: [],
    completed_offset: null,
    failed: false,
    state: 'collecting',
    indexed_rows: 0,
    dead_lettered_rows: 0,
    indexed_totals: [],
    problems: [],
    published_at: null,
    updated_at: new Date().toISOString(),
    ...base,
    ...partial,
  } as RevisionDocument;
  return { kind: 'revision', id: revisionDocId(c.scope, c.revision_id), partial, upsert };
}

/**
 * Dead letters are indexed for the API's summary and for reconciliation: a row a processor (or
 * this sink) dead-lettered is accounted for in its revision, with its billed cost when the payload
 * carries one. The id makes a redelivered or re-failed dead letter one document.
 */
export function deadLetterWrite(d: DeadLetter): SinkWrite {
  // Normalize dead letters carry no record id (the row never became a record), but the id is a
  // function of the row's place: derive it, so a row that is replayed and then indexed is
  // recognised as the same row and counted once by the publisher.
  const recordId =
    d.record_id ??
    (d.scope && d.revision_id && d.object && d.line !== null
      ? recordIdOf(d.scope, d.revision_id, d.object, Number(d.line))
      : null);
  const subject = recordId ?? `${d.object ?? ''}#${d.line ?? ''}`;
  const id = crypto
    .createHash('sha256')
    .update([d.stage, d.reason, d.scope ?? '', d.revision_id ?? '', subject].join('\u0000'))
    .digest('hex')
    .slice(0, 40);
  const extracted = payloadFacts(d);
  return {
    kind: 'dead-letter',
    id,
    doc: {
      stage: d.stage,
      reason: d.reason,
      message: d.message,
      provider: d.provider,
      scope: d.scope,
      revision_id: d.revision_id,
      object: d.object,
      line: d.line === null ? null : Number(d.line),
      field: d.field,
      record_id: recordId,
      payload_text: d.payload_format === 'text' ? d.payload.toString('utf8').slice(0, 32_768) : null,
      payload_format: d.payload_format,
      occurred_at: d.occurred_at,
      ...extracted,
    },
  };
}

function payloadFacts(
  d: DeadLetter,
): Pick<DeadLetterDocument, 'billed_cost' | 'billed_currency' | 'customer'> {
  const none = { billed_cost: null, billed_currency: null, customer: null };
  try {
    if (d.payload_format === 'avro:UsageRecord') {
      const r = AvroTypes.usageRecord.fromBuffer(d.payload) as UsageRecord;
      return { billed_cost: r.BilledCost, billed_currency: r.BillingCurrency, customer: r.x_CustomerId };
    }
    if (d.payload_format === 'avro:RawUsageRow') {
      const row = AvroTypes.rawUsageRow.fromBuffer(d.payload) as RawUsageRow;
      const cost = billedCostOf(row.format as ExportFormat, row.columns);
      const currency = currencyOf(row.format as ExportFormat, row.columns);
      return {
        billed_cost: cost === undefined ? null : decimalToString(cost),
        billed_currency: currency ?? null,
        customer: null,
      };
    }
  } catch {
    // A payload we cannot read has no facts to offer; the dead letter itself is still indexed.
  }
  return none;
}
