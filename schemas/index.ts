import fs from 'node:fs';
import path from 'node:path';
import avro from 'avsc';

export * from './types.generated';

/**
 * Avro types of every topic, loaded from the .avsc files beside this module. Records on the wire
 * are the plain Avro binary encoding of these schemas (no registry framing): the topic fixes the
 * schema, and schema evolution is kept backward compatible by the compatibility test.
 */
function load(name: string): avro.Type {
  // The .avsc files ship next to the compiled module too (see package.json "files" and build).
  const candidates = [
    path.join(__dirname, `${name}.avsc`),
    path.join(__dirname, '..', '..', 'schemas', `${name}.avsc`),
  ];
  const file = candidates.find((f) => fs.existsSync(f));
  if (!file) throw new Error(`schema ${name}.avsc not found`);
  return avro.Type.forSchema(JSON.parse(fs.readFileSync(file, 'utf8')), { wrapUnions: false });
}

export const AvroTypes = {
  rawUsageRow: load('raw-usage-row'),
  rawRowBatch: load('raw-row-batch'),
  revisionControl: load('revision-control'),
  deadLetter: load('dead-letter'),
  usageRecord: load('usage-record'),
  auditEvent: load('audit-event'),
};

/**
 * Kafka header naming the value's schema on topics that carry more than one (the raw topics: v2
 * RawRowBatch messages say so; a message without it is a v1 RawUsageRow).
 */
export const SCHEMA_HEADER = 'meterflow.schema';
