import type { Message } from 'kafkajs';
import type { DeadLetterReason } from '../../runtime/errors';
import { AvroTypes, type DeadLetter } from '../../schemas';

/**
 * Builds the one dead-letter envelope every processor stage writes. The reason is one of
 * runtime/errors.ts DeadLetterReasons (the Avro field is a plain string); it is also the `reason`
 * header.
 */
export function deadLetterMessage(
  fields: Omit<
    DeadLetter,
    | 'reason'
    | 'occurred_at'
    | 'provider'
    | 'scope'
    | 'revision_id'
    | 'object'
    | 'line'
    | 'field'
    | 'record_id'
  > & { reason: DeadLetterReason } & Partial<
      Pick<DeadLetter, 'provider' | 'scope' | 'revision_id' | 'object' | 'line' | 'field' | 'record_id'>
    >,
): Message {
  const envelope: DeadLetter = {
    provider: null,
    scope: null,
    revision_id: null,
    object: null,
    line: null,
    field: null,
    record_id: null,
    ...fields,
    occurred_at: new Date().toISOString(),
  };
  return {
    key: envelope.record_id ?? envelope.scope ?? envelope.stage,
    value: AvroTypes.deadLetter.toBuffer(envelope),
    headers: { reason: envelope.reason, stage: envelope.stage },
  };
}

export { SENTINEL_PREFIX, isSentinel } from '../../runtime/kafka';
