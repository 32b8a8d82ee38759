import type { KafkaMessage, Message } from 'kafkajs';
import type { MeterflowConfig } from '../../runtime/config';
import type { StageMetrics } from '../../runtime/metrics';
import { AvroTypes, type RawUsageRow } from '../../schemas';
import { deadLetterMessage } from '../core/dead-letter';
import type { StageOutput } from '../core/transactional-stage';
import { normalizeRow } from './normalize';

/** normalize: raw provider rows -> FOCUS usage records keyed by x_RecordId. */
export function normalizeProcessor(
  config: MeterflowConfig,
  topics: { normalized: string; deadLetter: string },
  metrics: StageMetrics,
) {
  return async (messages: KafkaMessage[]): Promise<StageOutput[]> => {
    const out: Message[] = [];
    const dead: Message[] = [];
    for (const m of messages) {
      let row: RawUsageRow;
      try {
        row = AvroTypes.rawUsageRow.fromBuffer(m.value!) as RawUsageRow;
      } catch (err) {
        dead.push(
          deadLetterMessage({
            stage: 'processor.normalize',
            reason: 'schema_violation',
            message: `not a RawUsageRow: ${(err as Error).message}`,
            payload: m.value ?? Buffer.alloc(0),
            payload_format: 'avro:RawUsageRow',
          }),
        );
        continue;
      }
      const result = normalizeRow(row, config.normalize);
      if (result.ok) {
        out.push({ key: result.record.x_RecordId, value: AvroTypes.usageRecord.toBuffer(result.record) });
      } else {
        dead.push(
          deadLetterMessage({
            stage: 'processor.normalize',
            reason: result.reason,
            message: `${row.object} line ${row.line}${result.field ? `, field ${result.field}` : ''}: ${result.message}`,
            provider: row.provider,
            scope: row.scope,
            revision_id: row.revision_id,
            object: row.object,
            line: row.line,
            field: result.field ?? null,
            payload: m.value!,
            payload_format: 'avro:RawUsageRow',
          }),
        );
      }
    }
    metrics.sent(out.length);
    for (const d of dead) metrics.failed(String(d.headers!.reason));
    return [
      { topic: topics.normalized, messages: out },
      { topic: topics.deadLetter, messages: dead },
    ];
  };
}
