import type { KafkaMessage, Message } from 'kafkajs';
import { Registry } from 'prom-client';
import { DedupeState } from '../../../processors/dedupe/dedupe';
import { dedupeProcessor } from '../../../processors/dedupe/stage';
import { atCostPriceBook } from '../../../processors/price';
import { priceProcessor } from '../../../processors/price/stage';
import { createStageMetrics } from '../../../runtime/metrics';
import avro from 'avsc';
import {
  AvroTypes,
  previousVersions,
  SCHEMA_HEADER,
  type DeadLetter,
  type UsageRecord,
} from '../../../schemas';
import { UnknownSchemaError } from '../../../schemas/single-object';
import {
  batchKeyOf,
  decodeRecordKeys,
  decodeUsageRecords,
  UsageRecordBatcher,
  usageRecordBatchMessage,
} from '../../../schemas/usage-record-batch';
import { usageRecord } from '../../support/usage-record';

const OBJECT = 's3://bucket/cur/part-1.csv.gz';
const line = (n: number, overrides: Partial<UsageRecord> = {}): UsageRecord =>
  usageRecord({ x_SourceObject: OBJECT, x_SourceLine: n, x_RecordId: `id-${n}`, ...overrides });

function delivered(m: Message, offset = 0): KafkaMessage {
  return {
    key: Buffer.from(String(m.key)),
    value: m.value as Buffer,
    headers: m.headers ?? {},
    offset: String(offset),
    timestamp: '0',
    attributes: 0,
  } as KafkaMessage;
}

describe('UsageRecordBatch messages', () => {
  it('decode to the records added, in order, marked by the schema header', () => {
    const batcher = new UsageRecordBatcher();
    const records = [2, 3, 4].map((n) => line(n, { Tags: { team: `t${n}` } }));
    records.forEach((r) => batcher.add(r));
    const [message, ...rest] = batcher.take();
    expect(rest).toEqual([]);
    expect(message.headers).toEqual({ [SCHEMA_HEADER]: 'UsageRecordBatch' });
    expect(decodeUsageRecords(message.value as Buffer, message.headers)).toEqual(records);
    // The batcher's hand-assembled array is byte for byte what avsc writes for the same records.
    expect(message.value).toEqual(usageRecordBatchMessage(String(message.key), records).value);
  });

  it('give the record keys dedupe reads, in every form a reader decodes', () => {
    const records = [2, 3, 4].map((n) =>
      line(n, { x_Scope: `aws/s${n}`, x_Revision: `r${n}`, Tags: { team: `t${n}` } }),
    );
    const keys = records.map((r) => ({
      x_Scope: r.x_Scope,
      x_Revision: r.x_Revision,
      x_RecordId: r.x_RecordId,
    }));
    const batch = usageRecordBatchMessage('k', records);
    expect(decodeRecordKeys(batch.value as Buffer, batch.headers)).toEqual(keys);
    expect(decodeRecordKeys(AvroTypes.usageRecord.toBuffer(records[1]), {})).toEqual([keys[1]]);
    // Unframed values of the first version (written before framing), single and batched.
    const v1 = previousVersions('usage-record')[0];
    expect(decodeRecordKeys(v1.toBuffer(records[2]), {})).toEqual([keys[2]]);
    const v1Batch = avro.Type.forSchema({ type: 'array', items: v1.schema() } as avro.Schema, {
      wrapUnions: false,
    });
    expect(decodeRecordKeys(v1Batch.toBuffer(records), batch.headers)).toEqual(keys);
  });

  it('refuse to read keys from a value that does not decode whole', () => {
    const batch = usageRecordBatchMessage('k', [line(2), line(3)]);
    const value = batch.value as Buffer;
    // Cut inside the second record's skipped fields: skipping still reads them.
    expect(() => decodeRecordKeys(value.subarray(0, value.length - 200), batch.headers)).toThrow();
    const unknown = Buffer.from(value);
    unknown.fill(0xab, 2, 10); // a fingerprint no release wrote
    expect(() => decodeRecordKeys(unknown, batch.headers)).toThrow(UnknownSchemaError);
  });

  it('reads a message without the header as one UsageRecord (the v1 form)', () => {
    const r = line(9);
    expect(decodeUsageRecords(AvroTypes.usageRecord.toBuffer(r), {})).toEqual([r]);
  });

  it('key every copy of a record id alike, and chunks of one object apart', () => {
    expect(batchKeyOf(line(10))).toBe(batchKeyOf(line(10, { BilledCost: '99' })));
    expect(batchKeyOf(line(10))).toBe(batchKeyOf(line(499)));
    expect(batchKeyOf(line(10))).not.toBe(batchKeyOf(line(500)));
    expect(batchKeyOf(line(10))).not.toBe(batchKeyOf(line(10, { x_Revision: 'other' })));
    expect(batchKeyOf(line(10))).not.toBe(batchKeyOf(line(10, { x_SourceObject: `${OBJECT}.2` })));
  });

  it('split a chunk that outgrows the message bound, every part under the chunk key', () => {
    const batcher = new UsageRecordBatcher();
    const wide = 'x'.repeat(4000);
    const records = Array.from({ length: 400 }, (_, i) => line(i, { ChargeDescription: wide }));
    records.forEach((r) => batcher.add(r));
    const messages = batcher.take();
    expect(messages.length).toBeGreaterThan(2);
    expect(new Set(messages.map((m) => m.key)).size).toBe(1);
    for (const m of messages) expect((m.value as Buffer).length).toBeLessThanOrEqual(512 * 1024 + 16);
    expect(messages.flatMap((m) => decodeUsageRecords(m.value as Buffer, m.headers))).toEqual(records);
  });

  it('hold a record larger than the first buffer, and one larger than the bound alone', () => {
    const batcher = new UsageRecordBatcher();
    const records = [
      line(1),
      line(2, { ChargeDescription: 'y'.repeat(200_000) }),
      line(3, { ChargeDescription: 'z'.repeat(600_000) }),
      line(4),
    ];
    records.forEach((r) => batcher.add(r));
    const messages = batcher.take();
    expect(messages.map((m) => decodeUsageRecords(m.value as Buffer, m.headers).length)).toEqual([2, 1, 1]);
    expect(messages.flatMap((m) => decodeUsageRecords(m.value as Buffer, m.headers))).toEqual(records);
  });
});

describe('the stages on batch messages', () => {
  const topics = { deduped: 'deduped', rated: 'rated', deadLetter: 'dead-letter' };
  const metrics = () => createStageMetrics(new Registry(), 'processor.test');
  const batchOf = (...lines: number[]) => {
    const batcher = new UsageRecordBatcher();
    lines.forEach((n) => batcher.add(line(n)));
    return batcher.take()[0];
  };

  it('dedupe passes a batch without duplicates on unchanged, and drops only the duplicates of one with some', async () => {
    const state = new DedupeState({ max_ids: 1_000 });
    const dedupe = dedupeProcessor(state, topics, metrics());
    const first = batchOf(1, 2, 3);
    const [out1] = await dedupe([delivered(first)], 'normalized', 0);
    expect(out1.messages).toHaveLength(1);
    expect(out1.messages[0].value).toBe(first.value);
    state.commit();

    const second = batchOf(2, 4, 3, 5);
    const [out2] = await dedupe([delivered(second, 1)], 'normalized', 0);
    expect(out2.messages).toHaveLength(1);
    expect(String(out2.messages[0].key)).toBe(String(second.key));
    const kept = decodeUsageRecords(out2.messages[0].value as Buffer, out2.messages[0].headers);
    expect(kept.map((r) => r.x_RecordId)).toEqual(['id-4', 'id-5']);
    state.commit();

    const [out3] = await dedupe([delivered(batchOf(4, 5), 2)], 'normalized', 0);
    expect(out3.messages).toEqual([]);
  });

  it('price rates each record of a batch into its own rated message, and dead-letters one record alone', async () => {
    const batcher = new UsageRecordBatcher();
    batcher.add(line(1));
    batcher.add(line(2, { BillingCurrency: 'XX' }));
    batcher.add(line(3));
    const [message] = batcher.take();
    const book = { ...atCostPriceBook(), currency: 'USD' };
    const [rated, dead] = await priceProcessor({ current: book }, topics, metrics())(
      [delivered(message)],
      'deduped',
      0,
    );
    expect(rated.messages.map((m) => String(m.key))).toEqual(['id-1', 'id-3']);
    for (const m of rated.messages) {
      expect(m.headers).toBeUndefined();
      expect(
        (AvroTypes.usageRecord.fromBuffer(m.value as Buffer) as UsageRecord).x_PriceRuleId,
      ).not.toBeNull();
    }
    expect(dead.messages).toHaveLength(1);
    const letter = AvroTypes.deadLetter.fromBuffer(dead.messages[0].value as Buffer) as DeadLetter;
    expect(letter).toMatchObject({ line: 2, record_id: 'id-2', payload_format: 'avro:UsageRecord' });
    expect(AvroTypes.usageRecord.fromBuffer(Buffer.from(letter.payload))).toEqual(
      line(2, { BillingCurrency: 'XX' }),
    );
  });
});
