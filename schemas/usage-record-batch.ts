import avro from 'avsc';
import crypto from 'node:crypto';
import type { IHeaders, Message } from 'kafkajs';
import { AvroTypes, SCHEMA_HEADER, type UsageRecord } from './index';

/*
 * The internal topics' batch form (`<prefix>.normalized` and `<prefix>.deduped`, see README.md):
 * one Kafka message holds many UsageRecords as an Avro array of usage-record.avsc, marked by the
 * header `meterflow.schema: UsageRecordBatch`. A message without the header is one UsageRecord
 * (the form of the rated topic, of `meterflow replay`, and of what older versions wrote).
 *
 * Why: a Kafka message costs kafkajs about as much CPU as the record it carries (key hashing,
 * varints, buffer copies, CRC framing); one message per ~500 records removes that cost from the
 * two internal hops. The rated topic, which other services read, stays one record per message.
 *
 * Partitioning rule the dedupe stage relies on: the same x_RecordId must always land in the same
 * partition. A batch is keyed by (scope, revision, object, line / KEY_LINES), and a record id is a
 * function of (scope, revision, object, line), so every copy of a record (a redelivery, a re-read
 * after a crash) travels under the same key, whatever batch it happens to be in.
 */

export const USAGE_RECORD_BATCH = 'UsageRecordBatch';

/** Lines of one object that share a batch key (and so a partition). */
const KEY_LINES = 500;
/** Encoded bytes per message; well under Kafka's default 1 MB message limit. */
const MAX_BATCH_BYTES = 512 * 1024;

const batchType = avro.Type.forSchema(
  { type: 'array', items: AvroTypes.usageRecord } as unknown as avro.Schema,
  {
    wrapUnions: false,
  },
);

/** The batch key of a record: its object's line chunk, hashed. */
export function batchKeyOf(record: UsageRecord): string {
  const chunk = Math.floor(record.x_SourceLine / KEY_LINES);
  return crypto
    .hash(
      'sha256',
      `batch\u0000${record.x_Scope}\u0000${record.x_Revision}\u0000${record.x_SourceObject}\u0000${chunk}`,
      'hex',
    )
    .slice(0, 32);
}

export function isUsageRecordBatch(headers: IHeaders | undefined): boolean {
  return headers?.[SCHEMA_HEADER]?.toString() === USAGE_RECORD_BATCH;
}

/** The records of a message in either form; throws when the value does not decode. */
export function decodeUsageRecords(value: Buffer, headers: IHeaders | undefined): UsageRecord[] {
  if (isUsageRecordBatch(headers)) return batchType.fromBuffer(value) as UsageRecord[];
  return [AvroTypes.usageRecord.fromBuffer(value) as UsageRecord];
}

/** One batch message of records that share `key`. */
export function usageRecordBatchMessage(key: string, records: readonly UsageRecord[]): Message {
  return { key, value: batchType.toBuffer(records), headers: { [SCHEMA_HEADER]: USAGE_RECORD_BATCH } };
}

/**
 * Groups records by batch key into batch messages of at most MAX_BATCH_BYTES each (a group that
 * grows past it is split: both parts keep the key, so the partitioning rule holds).
 */
export class UsageRecordBatcher {
  private readonly groups = new Map<string, { items: Buffer[]; bytes: number }>();
  private readonly sealed: Message[] = [];

  add(record: UsageRecord): void {
    const key = batchKeyOf(record);
    const encoded = AvroTypes.usageRecord.toBuffer(record);
    let group = this.groups.get(key);
    if (group === undefined) {
      group = { items: [], bytes: 0 };
      this.groups.set(key, group);
    } else if (group.bytes + encoded.length > MAX_BATCH_BYTES) {
      this.sealed.push(encodedBatchMessage(key, group.items));
      group.items = [];
      group.bytes = 0;
    }
    group.items.push(encoded);
    group.bytes += encoded.length;
  }

  /** Every batch, in the order their keys were first seen. */
  take(): Message[] {
    for (const [key, group] of this.groups) this.sealed.push(encodedBatchMessage(key, group.items));
    this.groups.clear();
    return this.sealed.splice(0);
  }
}

/**
 * An Avro array from items already encoded: one block (zig-zag varint count, the items), then
 * the empty block that ends the array. The same bytes batchType.toBuffer writes, without decoding
 * and re-encoding each record.
 */
function encodedBatchMessage(key: string, items: Buffer[]): Message {
  const count = LONG.toBuffer(items.length);
  return {
    key,
    value: Buffer.concat([count, ...items, END_OF_ARRAY]),
    headers: { [SCHEMA_HEADER]: USAGE_RECORD_BATCH },
  };
}

const LONG = avro.Type.forSchema('long');
const END_OF_ARRAY = Buffer.from([0]);
