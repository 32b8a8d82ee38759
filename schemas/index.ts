import fs from 'node:fs';
import path from 'node:path';
import avro from 'avsc';
import { TopicSchema } from './single-object';

export * from './types.generated';
export { TopicSchema, UnknownSchemaError } from './single-object';

/**
 * The schema of every topic, loaded from the .avsc files beside this module, with each schema's
 * released earlier versions from `history/<schema>/<n>.avsc`. Values on the wire are framed in
 * Avro's single-object encoding (see single-object.ts): each names its writer schema, and readers
 * resolve it into the current one.
 */
function schemaDir(): string {
  // The .avsc files ship next to the compiled module too (see package.json "files" and build).
  const candidates = [__dirname, path.join(__dirname, '..', '..', 'schemas')];
  const dir = candidates.find((d) => fs.existsSync(path.join(d, 'usage-record.avsc')));
  if (!dir) throw new Error('the topic schemas (usage-record.avsc, ...) were not found');
  return dir;
}

function parse(file: string): avro.Type {
  return avro.Type.forSchema(JSON.parse(fs.readFileSync(file, 'utf8')), { wrapUnions: false });
}

/** The released versions of a schema before the current one, oldest first. */
export function previousVersions(name: string): avro.Type[] {
  const dir = path.join(schemaDir(), 'history', name);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => /^\d+\.avsc$/.test(f))
    .sort((a, b) => parseInt(a, 10) - parseInt(b, 10))
    .map((f) => parse(path.join(dir, f)));
}

function load(name: string): TopicSchema {
  const type = parse(path.join(schemaDir(), `${name}.avsc`));
  return new TopicSchema(name, type, previousVersions(name));
}

export const AvroTypes = {
  rawUsageRow: load('raw-usage-row'),
  rawRowBatch: load('raw-row-batch'),
  revisionControl: load('revision-control'),
  deadLetter: load('dead-letter'),
  usageRecord: load('usage-record'),
  auditEvent: load('audit-event'),
  revisionEvent: load('revision-event'),
  invoiceEvent: load('invoice-event'),
};

/**
 * Kafka header naming the value's schema on topics that carry more than one (the raw topics: v2
 * RawRowBatch messages say so; a message without it is a v1 RawUsageRow).
 */
export const SCHEMA_HEADER = 'meterflow.schema';
