import avro from 'avsc';

/**
 * Backward compatibility of a topic schema: a consumer built with the NEW schema must read every
 * record written with the OLD one (records already on the topics, or written by producers not yet
 * upgraded). avsc's resolver implements Avro's schema-resolution rules: a field added without a
 * default, a removed enum symbol or an incompatible type change makes it throw.
 */
export function backwardIncompatibilities(newSchema: unknown, oldSchema: unknown): string[] {
  try {
    const reader = avro.Type.forSchema(newSchema as avro.Schema, { wrapUnions: false });
    const writer = avro.Type.forSchema(oldSchema as avro.Schema, { wrapUnions: false });
    reader.createResolver(writer);
    return [];
  } catch (err) {
    return [(err as Error).message];
  }
}
