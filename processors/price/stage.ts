import type { Processor } from '../../schemas/stages';
import type { KafkaMessage, Message } from 'kafkajs';
import type { StageMetrics } from '../../runtime/metrics';
import { AvroTypes, type UsageRecord } from '../../schemas';
import { DeadLetterReasons } from '../../runtime/errors';
import { deadLetterMessage, isSentinel, undecodableMessage, decodeFailureReason } from '../core/dead-letter';
import type { StageOutput } from '../core/transactional-stage';
import type { PriceBook } from './price-book';
import { rateLine, rateRecord, type RatingResult } from './rate';
import { decodeRecord, pricedFieldsReader, ratedRecordBytes, unrated } from './rated-bytes';
import {
  decodeUsageRecords,
  isUsageRecordBatch,
  scanBatch,
  usageRecordFormatOf,
} from '../../schemas/usage-record-batch';

/** price: deduped usage -> rated usage (x_RatedCost, x_RatedCurrency, x_PriceRuleId, x_PriceBookVersion). */
export function priceProcessor(
  // The live book: a PriceBookHolder following the price-book topic, or any fixed book.
  books: { readonly current: PriceBook },
  topics: { rated: string; deadLetter: string },
  metrics: StageMetrics,
): Processor {
  return async (messages: KafkaMessage[]): Promise<StageOutput[]> => {
    const book = books.current;
    const out: Message[] = [];
    const dead: Message[] = [];
    const unpriced = (
      record: UsageRecord,
      failure: Extract<RatingResult, { ok: false }>,
      payload: Buffer,
    ): void => {
      metrics.failed(failure.reason);
      dead.push(
        deadLetterMessage({
          stage: 'processor.price',
          reason: failure.reason,
          message: `${record.x_SourceObject} line ${record.x_SourceLine}: ${failure.message} (price book ${book.version})`,
          provider: record.ProviderName,
          scope: record.x_Scope,
          revision_id: record.x_Revision,
          object: record.x_SourceObject,
          line: record.x_SourceLine,
          field: failure.field ?? null,
          record_id: record.x_RecordId,
          // Always one record (`meterflow replay` writes it back to the deduped topic as such).
          payload,
          payload_format: 'avro:UsageRecord',
        }),
      );
    };
    // The rated topic is read by other services: one record per message, keyed by its id.
    const rated = (record: Pick<UsageRecord, 'x_RecordId'>, value: Buffer) =>
      out.push({ key: record.x_RecordId, value });

    for (const m of messages) {
      if (isSentinel(m.key)) continue;
      const value = m.value!;
      let scanned;
      let records: UsageRecord[] | undefined;
      try {
        scanned = scanBatch(value, m.headers, pricedFieldsReader(book));
        if (scanned === undefined) records = decodeUsageRecords(value, m.headers);
      } catch (err) {
        metrics.failed(decodeFailureReason(err, DeadLetterReasons.SCHEMA_VIOLATION));
        dead.push(undecodableMessage('processor.price', usageRecordFormatOf(m.headers), m, err));
        continue;
      }
      // A batch in the current schema: each record's bytes go on, only its rated fields are new.
      for (const r of scanned ?? []) {
        const result = unrated(r.fields) ? rateLine(r.fields, book) : undefined;
        if (result?.ok) rated(r.fields, ratedRecordBytes(value, r, result.rated));
        // Failed (its dead letter describes the line, from fields not read) or already rated once
        // (not what the deduped topic carries): decoded and rated whole, below.
        else (records ??= []).push(decodeRecord(value, r));
      }
      // Any other form, decoded whole.
      const single = !isUsageRecordBatch(m.headers);
      for (const record of records ?? []) {
        const result = rateRecord(record, book);
        if (result.ok) rated(record, AvroTypes.usageRecord.toBuffer(result.record));
        else unpriced(record, result, single ? value : AvroTypes.usageRecord.toBuffer(record));
      }
    }
    metrics.sent(out.length);
    return [
      { topic: topics.rated, messages: out },
      { topic: topics.deadLetter, messages: dead },
    ];
  };
}
