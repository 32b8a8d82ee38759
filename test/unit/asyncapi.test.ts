import path from 'node:path';
import { Parser, fromFile } from '@asyncapi/parser';
import { AvroSchemaParser } from '@asyncapi/avro-schema-parser';
import type { MeterflowConfig } from '../../runtime/config';
import { topicNames } from '../../runtime/kafka';
import { AvroTypes } from '../../schemas';

/**
 * docs/asyncapi.yaml, read by the AsyncAPI initiative's own parser with its Avro schema parser:
 * a valid AsyncAPI document whose Avro payloads are the .avsc files the code uses, with a channel
 * for every topic runtime/kafka.ts names.
 */
const DOC = path.join(__dirname, '..', '..', 'docs', 'asyncapi.yaml');

async function parse() {
  const parser = new Parser();
  parser.registerSchemaParser(AvroSchemaParser());
  return fromFile(parser, DOC).parse();
}

describe('docs/asyncapi.yaml', () => {
  it('is a valid AsyncAPI document, Avro payloads included', async () => {
    const { document, diagnostics } = await parse();
    // Severity 0 is an error and 1 a warning (2 and 3 are information and hints).
    expect(diagnostics.filter((d) => d.severity <= 1).map((d) => `${d.code}: ${d.message}`)).toEqual([]);
    expect(document).toBeDefined();
  });

  it('has a channel for every topic meterflow writes, at its address', async () => {
    const { document } = await parse();
    const addresses = document!
      .channels()
      .all()
      .map((c) => c.address());
    // Names depend on the prefix only; the document uses the default one.
    const topics = topicNames({ kafka: { topic_prefix: 'meterflow' } } as MeterflowConfig);
    const expected = Object.entries(topics).map(([, t]) => (typeof t === 'function' ? t('{provider}') : t));
    expect([...addresses].sort()).toEqual([...expected].sort());
  });

  it('describes each Avro message with the schema the code reads and writes', async () => {
    const { document } = await parse();
    const fieldsOf = (name: keyof typeof AvroTypes) =>
      (AvroTypes[name].type as unknown as { fields: Array<{ name: string }> }).fields.map((f) => f.name);
    const payloadFields = (message: string) => {
      const m = document!.components().messages().get(message)!;
      return Object.keys(m.payload()!.properties() ?? {});
    };
    expect(payloadFields('UsageRecord')).toEqual(fieldsOf('usageRecord'));
    expect(payloadFields('RevisionEvent')).toEqual(fieldsOf('revisionEvent'));
    expect(payloadFields('RawRowBatch')).toEqual(fieldsOf('rawRowBatch'));
    expect(payloadFields('DeadLetter')).toEqual(fieldsOf('deadLetter'));
    expect(payloadFields('RevisionControl')).toEqual(fieldsOf('revisionControl'));
    expect(payloadFields('AuditEvent')).toEqual(fieldsOf('auditEvent'));
    expect(payloadFields('InvoiceEvent')).toEqual(fieldsOf('invoiceEvent'));
  });
});
