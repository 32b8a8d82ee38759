import type { Processor } from '../../schemas/stages';
import type { KafkaMessage, Message } from 'kafkajs';
import type { StageMetrics } from '../../runtime/metrics';
import { AvroTypes, type UsageRecord } from '../../schemas';
import { DeadLetterReasons } from '../../runtime/errors';
import { deadLetterMessage, isSentinel, undecodableMessage, decodeFailureReason } from '../core/dead-letter';
import type { StageOutput } from '../core/transactional-stage';
import type { PriceBook } from './price-book';
import { rateRecord } from './rate';
import {
  decodeUsageRecords,
  isUsageRecordBatch,
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
    for (const m of messages) {
      if (isSentinel(m.key)) continue;
      let records: UsageRecord[];
      try {
        records = decodeUsageRecords(m.value!, m.headers);
      } catch (err) {
        metrics.failed(decodeFailureReason(err, DeadLetterReasons.SCHEMA_VIOLATION));
        dead.push(undecodableMessage('processor.price', usageRecordFormatOf(m.headers), m, err));
        continue;
      }
      const single = !isUsageRecordBatch(m.headers);
      for (const record of records) {
        const result = rateRecord(record, book);
        if (result.ok) {
          // The rated topic is read by other services: one record per message, keyed by its id.
          out.push({ key: record.x_RecordId, value: AvroTypes.usageRecord.toBuffer(result.record) });
          continue;
        }
        metrics.failed(result.reason);
        dead.push(
          deadLetterMessage({
            stage: 'processor.price',
            reason: result.reason,
            message: `${record.x_SourceObject} line ${record.x_SourceLine}: ${result.message} (price book ${book.version})`,
            provider: record.ProviderName,
            scope: record.x_Scope,
            revision_id: record.x_Revision,
            object: record.x_SourceObject,
            line: record.x_SourceLine,
            field: result.field ?? null,
            record_id: record.x_RecordId,
            // Always one record (`meterflow replay` writes it back to the deduped topic as such).
            payload: single ? m.value! : AvroTypes.usageRecord.toBuffer(record),
            payload_format: 'avro:UsageRecord',
          }),
        );
      }
    }
    metrics.sent(out.length);
    return [
      { topic: topics.rated, messages: out },
      { topic: topics.deadLetter, messages: dead },
    ];
  };
}
