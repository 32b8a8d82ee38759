import avro from 'avsc';
import { AvroTypes, previousVersions, type UsageRecord } from '../../../schemas';
import { crc64Avro, fingerprintOf, TopicSchema, UnknownSchemaError } from '../../../schemas/single-object';
import { decodeUsageRecords, usageRecordBatchMessage } from '../../../schemas/usage-record-batch';
import { usageRecord } from '../../support/usage-record';

const type = (schema: unknown) => avro.Type.forSchema(schema as avro.Schema, { wrapUnions: false });

const v1 = type({ type: 'record', name: 'R', namespace: 'x', fields: [{ name: 'a', type: 'string' }] });
const v2 = type({
  type: 'record',
  name: 'R',
  namespace: 'x',
  doc: 'docs are not part of the canonical form',
  fields: [
    { name: 'a', type: 'string' },
    { name: 'b', type: ['null', 'string'], default: null },
  ],
});

describe('CRC-64-AVRO fingerprints', () => {
  it('matches the Avro specification test vectors', () => {
    // From the Avro project's own fingerprint tests (Java, Ruby, Go implementations agree).
    expect(crc64Avro('"int"')).toBe(0x7275d51a3f395c8fn);
    expect(crc64Avro('"string"')).toBe(0x8f014872634503c7n);
    expect(fingerprintOf(type('int')).toString('hex')).toBe('8f5c393f1ad57572');
  });

  it('frames a value as C3 01, the little-endian fingerprint, then the Avro binary', () => {
    const ints = new TopicSchema('int', type('int'));
    expect(ints.toBuffer(1).toString('hex')).toBe('c3018f5c393f1ad5757202');
  });

  it('ignores what the canonical form leaves out (docs, defaults)', () => {
    const documented = type({
      type: 'record',
      name: 'R',
      namespace: 'x',
      doc: 'd',
      fields: [{ name: 'a', type: 'string', doc: 'e' }],
    });
    expect(fingerprintOf(documented)).toEqual(fingerprintOf(v1));
    expect(fingerprintOf(v2)).not.toEqual(fingerprintOf(v1));
  });
});

describe('TopicSchema', () => {
  const current = new TopicSchema('R', v2, [v1]);

  it('reads values written with an earlier version through schema resolution', () => {
    const old = new TopicSchema('R', v1);
    expect(current.fromBuffer(old.toBuffer({ a: 'x' }))).toEqual({ a: 'x', b: null });
  });

  it('reads bare values (written before framing) as the first version', () => {
    expect(current.fromBuffer(v1.toBuffer({ a: 'x' }))).toEqual({ a: 'x', b: null });
    // Without the resolver, the same bytes would not decode as v2 at all.
    expect(() => v2.fromBuffer(v1.toBuffer({ a: 'x' }))).toThrow();
  });

  it('refuses a fingerprint it does not know with a typed error, instead of misreading the bytes', () => {
    const newer = type({
      type: 'record',
      name: 'R',
      namespace: 'x',
      fields: [
        { name: 'a', type: 'string' },
        { name: 'b', type: ['null', 'string'], default: null },
        { name: 'c', type: 'long', default: 0 },
      ],
    });
    const bytes = new TopicSchema('R', newer).toBuffer({ a: 'x', b: 'y', c: 3 });
    expect(() => current.fromBuffer(bytes)).toThrow(UnknownSchemaError);
    expect(() => current.fromBuffer(bytes)).toThrow(fingerprintOf(newer).toString('hex'));
  });

  it('frames every topic, and no bare value of a topic schema starts like a framed one', () => {
    const record = usageRecord();
    const framed = AvroTypes.usageRecord.toBuffer(record);
    expect(framed.subarray(0, 2).toString('hex')).toBe('c301');
    expect(AvroTypes.usageRecord.fromBuffer(framed)).toEqual(record);
    // Bare values are what releases before framing wrote: version 1, without the FOCUS 1.2 additions.
    const bare = previousVersions('usage-record')[0].toBuffer(record);
    expect(bare[0]).not.toBe(0xc3);
    const read = AvroTypes.usageRecord.fromBuffer(bare) as UsageRecord;
    expect(read.BilledCost).toBe(record.BilledCost);
    expect(read.x_RecordId).toBe(record.x_RecordId);
    expect(read.ServiceSubcategory).toBeNull();
  });

  it('frames the batches of the internal topics, built in place, and still reads unframed ones', () => {
    const records = [usageRecord({ x_SourceLine: 2 }), usageRecord({ x_SourceLine: 3 })];
    const message = usageRecordBatchMessage('k', records);
    expect((message.value as Buffer).subarray(0, 2).toString('hex')).toBe('c301');
    expect(decodeUsageRecords(message.value as Buffer, message.headers)).toEqual(records);
    const arrayType = type({ type: 'array', items: previousVersions('usage-record')[0].schema() });
    const read = decodeUsageRecords(arrayType.toBuffer(records), message.headers);
    expect(read.map((r) => r.x_SourceLine)).toEqual([2, 3]);
    expect(read.map((r) => r.ServiceProviderName)).toEqual([null, null]);
  });
});
