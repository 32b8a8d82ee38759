import type { Producer, TopicMessages } from 'kafkajs';
import type { Checkpoint } from '../../../collectors/core/checkpoints';
import { validateEvent, type ValidEvent } from '../../../ingest/cloudevents';
import { SealWriter, sealId } from '../../../ingest/seal-writer';
import { AvroTypes, type RevisionControl } from '../../../schemas';
import { decodeRawBatch } from '../../../schemas/raw-batch-codec';
import { eventRecordIdOf } from '../../../schemas/record-id';

const grant = { sources: ['*'], customers: ['*'], eventsPerSecond: 1, eventsBurst: 1 };
const ctx = {
  grant,
  nowMs: Date.parse('2026-12-01T06:00:00Z'),
  maxFutureMs: 0,
  currency: 'EUR',
  providerName: 'P',
};
const topics = { raw: 'p.raw.platform', control: 'p.control', checkpoints: 'p.collector-checkpoints' };
const ev = (id: string, time: string) =>
  validateEvent(
    {
      specversion: '1.0',
      id,
      source: 's',
      type: 't',
      time,
      data: { customer: 'acme', service: 'D', unit: 'Hours', quantity: '1' },
    },
    0,
    ctx,
    eventRecordIdOf,
  ) as ValidEvent;

function fakeProducer() {
  const transactions: TopicMessages[][] = [];
  const producer = {
    transaction: async () => {
      const sent: TopicMessages[] = [];
      return {
        sendBatch: async ({ topicMessages }: { topicMessages: TopicMessages[] }) => {
          sent.push(...topicMessages);
        },
        commit: async () => {
          transactions.push(sent);
        },
        abort: async () => undefined,
      };
    },
  };
  return { producer: producer as unknown as Producer, transactions };
}

const messagesOf = (tm: TopicMessages[], topic: string) =>
  tm.filter((t) => t.topic === topic).flatMap((t) => t.messages);
const control = (tm: TopicMessages[]) =>
  messagesOf(tm, topics.control).map(
    (m) => AvroTypes.revisionControl.fromBuffer(m.value as Buffer) as RevisionControl,
  );
const checkpoints = (tm: TopicMessages[]) =>
  messagesOf(tm, topics.checkpoints).map((m) => JSON.parse(String(m.value)) as Checkpoint);

describe('SealWriter', () => {
  it('group-commits requests, keeps a revision per period open across transactions, and seals it after the interval', async () => {
    const { producer, transactions } = fakeProducer();
    let clock = 1_796_000_000_000;
    const t0 = clock;
    const writer = new SealWriter({
      producer,
      topics,
      instanceId: 'i0',
      currency: 'EUR',
      maxEvents: 100,
      lingerMs: 5,
      sealIntervalMs: 60_000,
      now: () => clock,
    });
    // Two concurrent requests: one transaction, a revision opened for each period.
    await Promise.all([
      writer.add([ev('a', '2026-11-02T00:00:00Z'), ev('b', '2026-10-31T23:00:00Z')]),
      writer.add([ev('c', '2026-11-03T00:00:00Z')]),
    ]);
    expect(transactions).toHaveLength(1);
    expect(control(transactions[0]).map((r) => [r.type, r.scope, r.revision_id])).toEqual([
      ['REVISION_STARTED', 'platform/i0/2026-10', sealId(t0)],
      ['REVISION_STARTED', 'platform/i0/2026-11', sealId(t0 + 1)],
    ]);
    const raw = messagesOf(transactions[0], topics.raw).map((m) => decodeRawBatch(m.value as Buffer));
    expect(raw.map((b) => [b.scope, b.rows.map((r) => r.line)])).toEqual([
      ['platform/i0/2026-10', [1]],
      ['platform/i0/2026-11', [1, 2]],
    ]);
    // A later request inside the interval: rows and checkpoint only, the revision continues.
    clock += 1000;
    await writer.add([ev('d', '2026-11-04T00:00:00Z')]);
    expect(control(transactions[1])).toEqual([]);
    expect(checkpoints(transactions[1]).map((c) => [c.scope, c.rows, c.line, c.state])).toEqual([
      ['platform/i0/2026-11', 3, 3, 'in_progress'],
    ]);
    // After the interval the next transaction seals both (COMPLETED with the counts and exact
    // totals), then opens a new November revision with a larger id.
    clock += 60_000;
    await writer.add([ev('e', '2026-11-05T00:00:00Z')]);
    const third = control(transactions[2]);
    expect(third.map((r) => [r.type, r.scope, r.row_count])).toEqual([
      ['REVISION_COMPLETED', 'platform/i0/2026-10', 1],
      ['REVISION_COMPLETED', 'platform/i0/2026-11', 3],
      ['REVISION_STARTED', 'platform/i0/2026-11', null],
    ]);
    expect(third[1].control_totals).toEqual([{ currency: 'EUR', billed_cost: '0', rows: 3 }]);
    expect(third[2].revision_id > sealId(t0 + 1)).toBe(true);
    // With no more requests, the open revision is sealed by the writer's own timer.
    await writer.sealAll();
    expect(control(transactions[3]).map((r) => [r.type, r.row_count])).toEqual([['REVISION_COMPLETED', 1]]);
    writer.close();
  });

  it('continues and seals a revision a previous process left open', async () => {
    const { producer, transactions } = fakeProducer();
    const left: Checkpoint = {
      scope: 'platform/i0/2026-11',
      revision_id: sealId(1_796_000_000_000),
      state: 'in_progress',
      file_index: 0,
      line: 7,
      rows: 7,
      dead_letters: 0,
      totals: { EUR: { billed_cost: '0', rows: 7 } },
      started_at: '2026-12-01T00:00:00Z',
      updated_at: '2026-12-01T00:00:00Z',
    };
    const writer = new SealWriter({
      producer,
      topics,
      instanceId: 'i0',
      currency: 'EUR',
      maxEvents: 100,
      lingerMs: 5,
      sealIntervalMs: 60_000,
      resume: [left],
    });
    for (let i = 0; i < 100 && transactions.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const records = control(transactions[0]);
    expect(records.map((r) => [r.type, r.revision_id, r.row_count])).toEqual([
      ['REVISION_COMPLETED', left.revision_id, 7],
    ]);
    expect(checkpoints(transactions[0])[0].state).toBe('completed');
    writer.close();
  });

  it('fails the waiting requests when the transaction fails', async () => {
    const producer = {
      transaction: async () => ({
        sendBatch: async () => {
          throw new Error('not enough replicas');
        },
        commit: async () => undefined,
        abort: async () => undefined,
      }),
    } as unknown as Producer;
    const writer = new SealWriter({
      producer,
      topics,
      instanceId: 'i0',
      currency: 'EUR',
      maxEvents: 100,
      lingerMs: 0,
      sealIntervalMs: 60_000,
    });
    await expect(writer.add([ev('a', '2026-11-02T00:00:00Z')])).rejects.toThrow('not enough replicas');
    writer.close();
  });
});
