import type { KafkaMessage } from 'kafkajs';
import { Registry } from 'prom-client';
import { DedupeState, revisionKeyOf } from '../../../processors/dedupe/dedupe';
import { dedupeProcessor } from '../../../processors/dedupe/stage';
import { createStageMetrics } from '../../../runtime/metrics';
import { atCostPriceBook } from '../../../processors/price';
import { priceProcessor } from '../../../processors/price/stage';
import avro from 'avsc';
import { AvroTypes, SCHEMA_HEADER, TopicSchema, type DeadLetter } from '../../../schemas';
import { USAGE_RECORD_BATCH } from '../../../schemas/usage-record-batch';
import { usageRecord } from '../../support/usage-record';

describe('DedupeState', () => {
  it('emits each record id once per revision, whatever is redelivered', () => {
    const state = new DedupeState({ max_ids: 100 });
    const r1 = revisionKeyOf('aws/b/report/2026-11', 'assembly-1');
    expect(state.observe(r1, 'id-1')).toBe('first');
    expect(state.observe(r1, 'id-2')).toBe('first');
    // A duplicate inside the batch being processed is caught before it commits...
    expect(state.observe(r1, 'id-1')).toBe('duplicate');
    state.commit();
    // ...and after, against the committed state.
    expect(state.observe(r1, 'id-2')).toBe('duplicate');
    // The same id under another revision is another line: revisions never merge.
    expect(state.observe(revisionKeyOf('aws/b/report/2026-11', 'assembly-2'), 'id-1')).toBe('first');
    state.commit();
    expect(state.trackedIds).toBe(3);
  });

  it('forgets the ids of a batch whose transaction aborted, so its redelivery is emitted', () => {
    const state = new DedupeState({ max_ids: 100 });
    expect(state.observe('r', 'id-1')).toBe('first');
    expect(state.observe('r', 'id-2')).toBe('first');
    state.rollback();
    expect(state.pendingIds).toBe(0);
    expect(state.has('r', 'id-1')).toBe(false);
    expect(state.observe('r', 'id-1')).toBe('first');
    expect(state.observe('r', 'id-2')).toBe('first');
    state.commit();
    expect(state.observe('r', 'id-1')).toBe('duplicate');
  });

  it('stays within max_ids by forgetting the least recently seen revisions whole', () => {
    const state = new DedupeState({ max_ids: 6 });
    for (let i = 0; i < 3; i++) state.observe('old', `o${i}`);
    for (let i = 0; i < 2; i++) state.observe('mid', `m${i}`);
    state.observe('old', 'o3'); // "old" is now the most recently used
    state.commit();
    expect(state.trackedIds).toBe(6);
    state.observe('new', 'n0'); // over the bound: "mid" goes, "old" stays
    state.commit();
    expect(state.trackedIds).toBe(5);
    expect(state.has('mid', 'm0')).toBe(false);
    expect(state.has('old', 'o0')).toBe(true);
    expect(state.evictedRevisions).toBe(1);
  });

  it('never evicts the revision being written', () => {
    const state = new DedupeState({ max_ids: 2 });
    for (let i = 0; i < 10; i++) {
      expect(state.observe('only', `id${i}`)).toBe('first');
      state.commit();
    }
    expect(state.observe('only', 'id3')).toBe('duplicate');
  });
});

describe('the dedupe processor under an aborted transaction', () => {
  it('emits a redelivered batch whole when the first delivery did not commit', async () => {
    const state = new DedupeState({ max_ids: 1_000 });
    const metrics = createStageMetrics(new Registry(), 'processor.dedupe');
    const process = dedupeProcessor(state, { deduped: 'deduped', deadLetter: 'dead-letter' }, metrics);
    const batch: KafkaMessage[] = ['a', 'b', 'c'].map((id, i) => ({
      key: Buffer.from(id),
      value: AvroTypes.usageRecord.toBuffer(usageRecord({ x_RecordId: id })),
      offset: String(i),
      timestamp: '0',
      attributes: 0,
      headers: {},
    }));
    const ids = async () => (await process(batch, 'normalized', 0))[0].messages.map((m) => String(m.key));
    expect(await ids()).toEqual(['a', 'b', 'c']);
    // The transaction aborts (TransactionalStage calls onAborted): Kafka redelivers the batch.
    state.rollback();
    expect(await ids()).toEqual(['a', 'b', 'c']);
    // This time it commits: a later redelivery (a replay, a zombie) is all duplicates.
    state.commit();
    expect(await ids()).toEqual([]);
  });
});

describe('a message that does not decode', () => {
  const garbage: KafkaMessage = {
    key: Buffer.from('x'),
    value: Buffer.from('not avro at all'),
    offset: '7',
    timestamp: '0',
    attributes: 0,
    headers: {},
  };
  const good = (id: string): KafkaMessage => ({
    ...garbage,
    key: Buffer.from(id),
    value: AvroTypes.usageRecord.toBuffer(usageRecord({ x_RecordId: id })),
  });
  const topics = { deduped: 'deduped', rated: 'rated', deadLetter: 'dead-letter' };

  it.each([
    ['dedupe', () => dedupeProcessor(new DedupeState({ max_ids: 10 }), topics, metricsFor('dedupe'))],
    ['price', () => priceProcessor({ current: atCostPriceBook() }, topics, metricsFor('price'))],
  ])('is dead-lettered by %s, and the rest of the batch goes on', async (stage, make) => {
    const outputs = await make()([good('a'), garbage, good('b')], 'in', 0);
    const byTopic = Object.fromEntries(outputs.map((o) => [o.topic, o.messages]));
    expect(byTopic[stage === 'dedupe' ? 'deduped' : 'rated'].map((m) => String(m.key))).toEqual(['a', 'b']);
    const [letter] = byTopic['dead-letter'];
    const d = AvroTypes.deadLetter.fromBuffer(letter.value as Buffer) as DeadLetter;
    expect(d).toMatchObject({
      stage: `processor.${stage}`,
      reason: 'schema_violation',
      payload_format: 'avro:UsageRecord',
    });
    expect(d.message).toContain('offset 7');
    expect(Buffer.from(d.payload).toString()).toBe('not avro at all');
  });

  it.each([
    ['dedupe', () => dedupeProcessor(new DedupeState({ max_ids: 10 }), topics, metricsFor('dedupe'))],
    ['price', () => priceProcessor({ current: atCostPriceBook() }, topics, metricsFor('price'))],
  ])('written by a newer schema is dead-lettered by %s as unknown_schema, intact', async (stage, make) => {
    // A batch from a release whose UsageRecord has one more field: this reader has no resolver for it.
    const newer = avro.Type.forSchema(
      {
        type: 'array',
        items: {
          ...(AvroTypes.usageRecord.type.schema() as object),
          fields: [
            ...(AvroTypes.usageRecord.type.schema() as { fields: object[] }).fields,
            { name: 'x_Added', type: ['null', 'string'], default: null },
          ],
        },
      } as avro.Schema,
      { wrapUnions: false },
    );
    const value = new TopicSchema(USAGE_RECORD_BATCH, newer).toBuffer([{ ...usageRecord(), x_Added: 'n' }]);
    const batch = { ...garbage, value, headers: { [SCHEMA_HEADER]: USAGE_RECORD_BATCH } };
    const outputs = await make()([batch], 'in', 0);
    const [letter] = outputs.find((o) => o.topic === 'dead-letter')!.messages;
    const d = AvroTypes.deadLetter.fromBuffer(letter.value as Buffer) as DeadLetter;
    expect(d).toMatchObject({
      stage: `processor.${stage}`,
      reason: 'unknown_schema',
      payload_format: 'avro:UsageRecordBatch',
    });
    expect(Buffer.compare(Buffer.from(d.payload), value)).toBe(0);
  });
});

function metricsFor(stage: string) {
  return createStageMetrics(new Registry(), `processor.${stage}`);
}
