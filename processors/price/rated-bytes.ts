import avro from 'avsc';
import { AvroTypes, type UsageRecord } from '../../schemas';
import { SINGLE_OBJECT_HEADER_BYTES } from '../../schemas/single-object';
import { recordReader, type RecordReader, type ScannedRecord } from '../../schemas/usage-record-batch';
import type { PriceBook } from './price-book';
import { RATED_FIELDS, ratingFieldsOf, type RatedFields, type RatingInput } from './rate';

/*
 * The price stage's way to write a rated record without decoding and encoding the whole record.
 *
 * A rated record is the deduped record with its last five fields (RATED_FIELDS) set. Avro writes a
 * record as its fields one after the other, so when a record arrives in the current schema with
 * those five null (one 0x00 byte each: branch 0 of ["null", "string"]), its rated encoding is its
 * own bytes without the last five, then the five rated fields encoded. The stage reads only the
 * fields rating with the current book needs (pricedFieldsReader); avsc skips the others.
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

/**
 * What the price stage reads of each record of a batch under `book`: what a successful rating
 * reads (ratingFieldsOf), the record id and the rated fields. A line that fails to rate is decoded
 * whole and rated again, for its dead letter. One reader per book, made when the book is first used.
 */
export function pricedFieldsReader(book: PriceBook): RecordReader<PricedFields> {
  let reader = readers.get(book);
  if (reader === undefined) {
    reader = recordReader([
      ...ratingFieldsOf(book),
      ...RATED_FIELDS,
      'x_RecordId',
    ]) as RecordReader<PricedFields>;
    readers.set(book, reader);
  }
  return reader;
}
const readers = new WeakMap<PriceBook, RecordReader<PricedFields>>();
/** At run time only the fields the book's reader names are there (see pricedFieldsReader). */
export type PricedFields = RatingInput & RatedFields & Pick<UsageRecord, 'x_RecordId'>;

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

/** The whole record, decoded from its span (for a line that failed to rate, or was rated already). */
export function decodeRecord(value: Buffer, record: ScannedRecord<unknown>): UsageRecord {
  return AvroTypes.usageRecord.type.fromBuffer(value.subarray(record.start, record.end)) as UsageRecord;
}
