import type { Processor } from '../../schemas/stages';
import type { KafkaMessage, Message } from 'kafkajs';
import { columnsOf } from '../../collectors/formats/rows';
import type { MeterflowConfig } from '../../runtime/config';
import type { StageMetrics } from '../../runtime/metrics';
import { AvroTypes, SCHEMA_HEADER, type RawUsageRow } from '../../schemas';
import { decodeRawBatch, type RowBatch } from '../../schemas/raw-batch-codec';
import { UsageRecordBatcher } from '../../schemas/usage-record-batch';
import { deadLetterMessage, undecodableMessage } from '../core/dead-letter';
import type { StageOutput } from '../core/transactional-stage';
import { normalizeBatch, normalizeRow, type NormalizeResult } from './normalize';

/**
 * normalize: raw provider rows -> FOCUS usage records, written to the normalized topic in batch
 * messages (schemas/usage-record-batch.ts) whose key keeps every copy of a record id on one
 * partition.
 *
 * The raw topics carry two contracts (schemas/README.md): v2 RawRowBatch messages (header
 * `meterflow.schema: RawRowBatch`), many positional rows of one object under one header, and v1
 * RawUsageRow messages (no header), one row as a name -> value map, still read so that a topic
 * written before the upgrade, and dead letters replayed to it, drain through the same stage.
 */
export function normalizeProcessor(
  config: MeterflowConfig,
  topics: { normalized: string; deadLetter: string },
  metrics: StageMetrics,
): Processor {
  const options = config.normalize;
  return async (messages: KafkaMessage[]): Promise<StageOutput[]> => {
    const out = new UsageRecordBatcher();
    let sent = 0;
    const dead: Message[] = [];
    const emit = (result: NormalizeResult, row: () => RawUsageRow): void => {
      if (result.ok) {
        out.add(result.record);
        sent++;
        return;
      }
      const r = row();
      dead.push(
        deadLetterMessage({
          stage: 'processor.normalize',
          reason: result.reason,
          message: `${r.object} line ${r.line}${result.field ? `, field ${result.field}` : ''}: ${result.message}`,
          provider: r.provider,
          scope: r.scope,
          revision_id: r.revision_id,
          object: r.object,
          line: r.line,
          field: result.field ?? null,
          // Always the v1 form of the one rejected row: `meterflow replay` writes it back to the
          // raw topic, where the v1 path reads it.
          payload: AvroTypes.rawUsageRow.toBuffer(r),
          payload_format: 'avro:RawUsageRow',
        }),
      );
    };
    const undecodable = (m: KafkaMessage, type: string, err: unknown): void => {
      dead.push(undecodableMessage('processor.normalize', type, m, err));
    };
    for (const m of messages) {
      if (m.headers?.[SCHEMA_HEADER]?.toString() === 'RawRowBatch') {
        let batch: RowBatch;
        try {
          batch = decodeRawBatch(m.value!);
        } catch (err) {
          undecodable(m, 'RawRowBatch', err);
          continue;
        }
        for (const { line, values, result } of normalizeBatch(batch, options)) {
          emit(result, () => v1Row(batch, line, values));
        }
        continue;
      }
      let row: RawUsageRow;
      try {
        row = AvroTypes.rawUsageRow.fromBuffer(m.value!) as RawUsageRow;
      } catch (err) {
        undecodable(m, 'RawUsageRow', err);
        continue;
      }
      emit(normalizeRow(row, options), () => row);
    }
    metrics.sent(sent);
    for (const d of dead) metrics.failed(String(d.headers!.reason));
    return [
      { topic: topics.normalized, messages: out.take() },
      { topic: topics.deadLetter, messages: dead },
    ];
  };
}

/** One row of a v2 batch in the v1 form (non-empty values by name). */
function v1Row(batch: RowBatch, line: number, values: readonly string[]): RawUsageRow {
  return {
    provider: batch.provider,
    format: batch.format,
    scope: batch.scope,
    revision_id: batch.revision_id,
    billing_period: batch.billing_period,
    object: batch.object,
    line,
    columns: columnsOf(batch.header, values),
  };
}
