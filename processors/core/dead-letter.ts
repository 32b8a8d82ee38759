import type { KafkaMessage, Message } from 'kafkajs';
import { DeadLetterReasons, type DeadLetterReason } from '../../runtime/errors';
import { AvroTypes, UnknownSchemaError, type DeadLetter } from '../../schemas';

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

/**
 * The dead letter of a message that does not decode as the stage's input type. It must not stop
 * the stage: a batch that throws is aborted and delivered again, forever, and the partition stalls.
 * The original bytes travel in the payload so nothing is lost.
 */
export function undecodableMessage(stage: string, type: string, m: KafkaMessage, err: unknown): Message {
  return deadLetterMessage({
    stage,
    reason: decodeFailureReason(err, DeadLetterReasons.SCHEMA_VIOLATION),
    message: `offset ${m.offset}: not a ${type}: ${(err as Error).message}`,
    payload: m.value ?? Buffer.alloc(0),
    payload_format: `avro:${type}`,
  });
}

/**
 * Why a message did not decode: `unknown_schema` when it names a writer schema this release does
 * not know (it is intact, and `meterflow replay` re-drives it after the upgrade), else `otherwise`.
 */
export function decodeFailureReason(err: unknown, otherwise: DeadLetterReason): DeadLetterReason {
  return err instanceof UnknownSchemaError ? DeadLetterReasons.UNKNOWN_SCHEMA : otherwise;
}

export { SENTINEL_PREFIX, isSentinel } from '../../runtime/kafka';
