import avro from 'avsc';
import { AvroTypes, type UsageRecord } from '../../schemas';
import { SINGLE_OBJECT_HEADER_BYTES } from '../../schemas/single-object';
import { recordReader, type RecordReader, type ScannedRecord } from '../../schemas/usage-record-batch';
import { RATED_FIELDS, RATING_INPUT_FIELDS, type RatedFields } from './rate';

/*
 * The price stage's way to write a rated record without decoding and encoding the whole record.
 *
 * A rated record is the deduped record with its last five fields (RATED_FIELDS) set. Avro writes a
 * record as its fields one after the other, so when a record arrives in the current schema with
 * those five null (one 0x00 byte each: branch 0 of ["null", "string"]), its rated encoding is its
 * own bytes without the last five, then the five rated fields encoded. The stage reads only the
 * fields rating and dead letters need (RATED_RECORD_READER); avsc skips the other ~45.
 *
 * The result is byte for byte what AvroTypes.usageRecord.toBuffer writes for the rated record
 * (test/unit/processors/price/rated-bytes.test.ts, and every fixture through both paths in the
 * offline/streaming agreement test). Anything else (a single-record message, an earlier schema
 * version, a record whose rated fields are already set) is decoded whole, as before.
 */

const schema = AvroTypes.usageRecord.type.schema() as avro.schema.RecordType;
const tailFields = schema.fields.slice(-RATED_FIELDS.length);
// The splice below rests on this layout: fail at load, not with wrong bytes, if the schema moves them.
if (tailFields.map((f) => f.name).join() !== RATED_FIELDS.join())
  throw new Error(`usage-record.avsc must end with ${RATED_FIELDS.join(', ')}`);
for (const f of tailFields)
  if (JSON.stringify(f.type) !== JSON.stringify(['null', 'string']))
    throw new Error(`usage-record.avsc: ${f.name} must be ["null", "string"]`);

/** The five rated fields alone, encoded exactly as inside a UsageRecord. */
const ratedTail = avro.Type.forSchema(
  { type: 'record', name: 'RatedTail', fields: tailFields.map((f) => ({ name: f.name, type: f.type })) },
  { wrapUnions: false },
);

/** What the price stage reads of each record of a batch: what rating and a dead letter need. */
const PRICED_FIELDS = [
  ...RATING_INPUT_FIELDS,
  ...RATED_FIELDS,
  'ProviderName',
  'x_RecordId',
  'x_Scope',
  'x_Revision',
  'x_SourceObject',
  'x_SourceLine',
] as const;
export type PricedFields = Pick<UsageRecord, (typeof PRICED_FIELDS)[number]>;
export const RATED_RECORD_READER: RecordReader<PricedFields> = recordReader(PRICED_FIELDS);

/** Whether the record's rated fields are unset, so that ratedRecordBytes applies. */
export function unrated(fields: PricedFields): boolean {
  return RATED_FIELDS.every((f) => fields[f] === null);
}

/** The framed rated record: the record's bytes without its five null rated fields, then `rated`. */
export function ratedRecordBytes(value: Buffer, record: ScannedRecord<unknown>, rated: RatedFields): Buffer {
  const tail = ratedTail.toBuffer(rated);
  const kept = record.end - RATED_FIELDS.length - record.start;
  const out = Buffer.allocUnsafe(SINGLE_OBJECT_HEADER_BYTES + kept + tail.length);
  AvroTypes.usageRecord.writeHeader(out);
  value.copy(out, SINGLE_OBJECT_HEADER_BYTES, record.start, record.start + kept);
  tail.copy(out, SINGLE_OBJECT_HEADER_BYTES + kept);
  return out;
}

/** The record framed on its own, as AvroTypes.usageRecord.toBuffer writes it (a dead letter's payload). */
export function recordBytes(value: Buffer, record: ScannedRecord<unknown>): Buffer {
  const out = Buffer.allocUnsafe(SINGLE_OBJECT_HEADER_BYTES + record.end - record.start);
  AvroTypes.usageRecord.writeHeader(out);
  value.copy(out, SINGLE_OBJECT_HEADER_BYTES, record.start, record.end);
  return out;
}

/** The whole record, decoded from its span (the fallback for a record whose rated fields are set). */
export function decodeRecord(value: Buffer, record: ScannedRecord<unknown>): UsageRecord {
  return AvroTypes.usageRecord.type.fromBuffer(value.subarray(record.start, record.end)) as UsageRecord;
}
