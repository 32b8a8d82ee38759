import avro from 'avsc';
import crypto from 'node:crypto';
import type { IHeaders, Message } from 'kafkajs';
import { AvroTypes, previousVersions, SCHEMA_HEADER, type UsageRecord } from './index';
import { SINGLE_OBJECT_HEADER_BYTES, TopicSchema } from './single-object';

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

const arrayOf = (items: avro.Type) =>
  avro.Type.forSchema({ type: 'array', items } as unknown as avro.Schema, { wrapUnions: false });

/** The batch schema, an array of UsageRecord, resolving from arrays of every earlier version. */
const batchSchema = new TopicSchema(
  USAGE_RECORD_BATCH,
  arrayOf(AvroTypes.usageRecord.type),
  previousVersions('usage-record').map(arrayOf),
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

/** The schema name of a message on the internal topics, as a dead letter's payload_format names it. */
export function usageRecordFormatOf(headers: IHeaders | undefined): string {
  return isUsageRecordBatch(headers) ? USAGE_RECORD_BATCH : 'UsageRecord';
}

/** The records of a message in either form; throws when the value does not decode. */
export function decodeUsageRecords(value: Buffer, headers: IHeaders | undefined): UsageRecord[] {
  if (isUsageRecordBatch(headers)) return batchSchema.fromBuffer(value) as UsageRecord[];
  return [AvroTypes.usageRecord.fromBuffer(value) as UsageRecord];
}

/** What dedupe reads of a record: the revision it belongs to and its id. */
export type RecordKey = Pick<UsageRecord, 'x_Scope' | 'x_Revision' | 'x_RecordId'>;

/** UsageRecord with only the RecordKey fields: avsc skips the other 70 when it reads with it. */
const recordKeyType = projectedUsageRecord(['x_Scope', 'x_Revision', 'x_RecordId']);
const readBatchKeys = batchSchema.projection(arrayOf(recordKeyType));
const readRecordKey = AvroTypes.usageRecord.projection(recordKeyType);

/**
 * The RecordKey of every record of a message in either form, in order, without decoding the rest
 * of each record (about a fifth of decodeUsageRecords' CPU). Throws when the value does not decode:
 * the whole value is still read, skipped fields included.
 */
export function decodeRecordKeys(value: Buffer, headers: IHeaders | undefined): RecordKey[] {
  if (isUsageRecordBatch(headers)) return readBatchKeys(value) as RecordKey[];
  return [readRecordKey(value) as RecordKey];
}

/** One record of a batch as scanBatch gives it: some of its fields, and where its encoding lies. */
export interface ScannedRecord<T> {
  fields: T;
  /** The record's Avro binary is value[start, end): the UsageRecord encoding, whole. */
  start: number;
  end: number;
}

/**
 * Reads a batch message written in the CURRENT UsageRecord schema record by record: the fields of
 * `reader` (UsageRecord with fields left out, see recordReader) and the byte span of each record,
 * so a stage can pass a record's bytes on without decoding and encoding it again. Undefined for a
 * message in any other form (a single record, an earlier version, unframed): the caller decodes
 * those whole. Throws when the value does not decode.
 */
export function scanBatch<T>(
  value: Buffer,
  headers: IHeaders | undefined,
  reader: RecordReader<T>,
): Array<ScannedRecord<T>> | undefined {
  if (!isUsageRecordBatch(headers) || !batchSchema.isCurrent(value)) return undefined;
  const out: Array<ScannedRecord<T>> = [];
  let pos = SINGLE_OBJECT_HEADER_BYTES;
  // An Avro array: blocks of (count, [byte size when the count is negative], items), then count 0.
  for (;;) {
    let block = LONG.decode(value, pos);
    if (block.offset < 0) throw new Error('UsageRecordBatch: truncated array block');
    pos = block.offset;
    let count = block.value as number;
    if (count === 0) break;
    if (count < 0) {
      count = -count;
      block = LONG.decode(value, pos);
      if (block.offset < 0) throw new Error('UsageRecordBatch: truncated array block size');
      pos = block.offset;
    }
    for (let i = 0; i < count; i++) {
      const item = reader.type.decode(value, pos, reader.resolver);
      if (item.offset < 0) throw new Error(`UsageRecordBatch: record ${out.length + 1} is truncated`);
      out.push({ fields: item.value as T, start: pos, end: item.offset });
      pos = item.offset;
    }
  }
  if (pos !== value.length) throw new Error('UsageRecordBatch: trailing data after the array');
  return out;
}

/** A reader of some UsageRecord fields from the current schema's encoding (scanBatch). */
export interface RecordReader<T> {
  type: avro.Type;
  resolver: avro.Resolver;
  /** Only to carry T. */
  readonly _fields?: T;
}

/** UsageRecord reduced to `fields`, and its resolver from the current schema. */
export function recordReader<K extends keyof UsageRecord>(
  fields: readonly K[],
): RecordReader<Pick<UsageRecord, K>> {
  const type = projectedUsageRecord(fields);
  return { type, resolver: type.createResolver(AvroTypes.usageRecord.type) };
}

function projectedUsageRecord(fields: readonly string[]): avro.Type {
  const schema = AvroTypes.usageRecord.type.schema() as avro.schema.RecordType;
  const keep = new Set(fields);
  return avro.Type.forSchema(
    { ...schema, fields: schema.fields.filter((f) => keep.has(f.name)) },
    { wrapUnions: false },
  );
}

/** One batch message of records that share `key`. */
export function usageRecordBatchMessage(key: string, records: readonly UsageRecord[]): Message {
  return { key, value: batchSchema.toBuffer(records), headers: { [SCHEMA_HEADER]: USAGE_RECORD_BATCH } };
}

/**
 * Groups records by batch key into batch messages of at most MAX_BATCH_BYTES each (a group that
 * grows past it is split: both parts keep the key, so the partitioning rule holds). Each record is
 * encoded straight into its group's growing buffer: no Buffer per record, no second copy.
 */
export class UsageRecordBatcher {
  private readonly groups = new Map<string, Group>();
  private readonly sealed: Message[] = [];
  // The last record's key inputs: consecutive records of one object share a key, hashed once.
  private last: { scope: string; revision: string; object: string; chunk: number; key: string } | undefined;

  add(record: UsageRecord): void {
    const key = this.keyOf(record);
    let group = this.groups.get(key);
    if (group === undefined) {
      group = { buffer: Buffer.allocUnsafe(64 * 1024), used: 0, count: 0 };
      this.groups.set(key, group);
    }
    for (;;) {
      // avsc's encode returns the end position, or minus the bytes missing when the buffer is short.
      const result = AvroTypes.usageRecord.type.encode(record, group.buffer, group.used);
      const end = result >= 0 ? result : group.buffer.length - result;
      if (end > MAX_BATCH_BYTES && group.count > 0) {
        // The record would take the message past the bound: seal what is there, start afresh.
        this.sealed.push(groupMessage(key, group));
        group.used = 0;
        group.count = 0;
        continue;
      }
      if (result >= 0) {
        group.used = end;
        group.count++;
        return;
      }
      const grown = Buffer.allocUnsafe(Math.max(group.buffer.length * 2, end));
      group.buffer.copy(grown, 0, 0, group.used);
      group.buffer = grown;
    }
  }

  /** Every batch, in the order their keys were first seen. */
  take(): Message[] {
    for (const [key, group] of this.groups) if (group.count > 0) this.sealed.push(groupMessage(key, group));
    this.groups.clear();
    return this.sealed.splice(0);
  }

  private keyOf(r: UsageRecord): string {
    const chunk = Math.floor(r.x_SourceLine / KEY_LINES);
    const l = this.last;
    if (
      l &&
      l.chunk === chunk &&
      l.object === r.x_SourceObject &&
      l.revision === r.x_Revision &&
      l.scope === r.x_Scope
    )
      return l.key;
    const key = batchKeyOf(r);
    this.last = { scope: r.x_Scope, revision: r.x_Revision, object: r.x_SourceObject, chunk, key };
    return key;
  }
}

interface Group {
  buffer: Buffer;
  used: number;
  count: number;
}

/**
 * A framed Avro array from items already encoded: the single-object header, one block (zig-zag
 * varint count, the items), then the empty block that ends the array. The same bytes
 * batchSchema.toBuffer writes.
 */
function groupMessage(key: string, group: Group): Message {
  const count = LONG.toBuffer(group.count);
  const start = SINGLE_OBJECT_HEADER_BYTES;
  const value = Buffer.allocUnsafe(start + count.length + group.used + 1);
  batchSchema.writeHeader(value);
  count.copy(value, start);
  group.buffer.copy(value, start + count.length, 0, group.used);
  value[value.length - 1] = 0;
  return { key, value, headers: { [SCHEMA_HEADER]: USAGE_RECORD_BATCH } };
}

const LONG = avro.Type.forSchema('long');
