import type { Producer, TopicMessages } from 'kafkajs';
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

const control = (tm: TopicMessages[]) =>
  tm
    .filter((t) => t.topic === 'p.control')
    .flatMap((t) => t.messages)
    .map((m) => AvroTypes.revisionControl.fromBuffer(m.value as Buffer) as RevisionControl);

describe('SealWriter', () => {
  it('commits the events of concurrent requests in one transaction: a whole revision per period, with control totals', async () => {
    const { producer, transactions } = fakeProducer();
    let clock = 1_796_000_000_000;
    const writer = new SealWriter({
      producer,
      topics: { raw: 'p.raw.platform', control: 'p.control' },
      instanceId: 'i0',
      currency: 'EUR',
      maxEvents: 100,
      lingerMs: 5,
      now: () => clock,
    });
    await Promise.all([
      writer.add([ev('a', '2026-11-02T00:00:00Z'), ev('b', '2026-10-31T23:00:00Z')]),
      writer.add([ev('c', '2026-11-03T00:00:00Z')]),
    ]);
    expect(transactions).toHaveLength(1);
    const records = control(transactions[0]);
    expect(records.map((r) => [r.type, r.scope, r.revision_id])).toEqual([
      ['REVISION_STARTED', 'platform/i0/2026-10', sealId(clock)],
      ['REVISION_STARTED', 'platform/i0/2026-11', sealId(clock)],
      ['REVISION_COMPLETED', 'platform/i0/2026-10', sealId(clock)],
      ['REVISION_COMPLETED', 'platform/i0/2026-11', sealId(clock)],
    ]);
    const nov = records.find((r) => r.type === 'REVISION_COMPLETED' && r.billing_period === '2026-11')!;
    expect(nov.row_count).toBe(2);
    expect(nov.control_totals).toEqual([{ currency: 'EUR', billed_cost: '0', rows: 2 }]);
    const raw = transactions[0].filter((t) => t.topic === 'p.raw.platform').flatMap((t) => t.messages);
    const batches = raw.map((m) => decodeRawBatch(m.value as Buffer));
    expect(batches.map((b) => [b.scope, b.rows.length])).toEqual([
      ['platform/i0/2026-10', 1],
      ['platform/i0/2026-11', 2],
    ]);

    // A later seal in the same millisecond still gets a larger id: text order is commit order.
    await writer.add([ev('d', '2026-11-04T00:00:00Z')]);
    const second = control(transactions[1]);
    expect(second[0].revision_id > sealId(clock)).toBe(true);
    clock += 1000;
    await writer.add([ev('e', '2026-11-04T00:00:00Z')]);
    expect(control(transactions[2])[0].revision_id).toBe(sealId(clock));
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
      topics: { raw: 'r', control: 'c' },
      instanceId: 'i0',
      currency: 'EUR',
      maxEvents: 100,
      lingerMs: 0,
    });
    await expect(writer.add([ev('a', '2026-11-02T00:00:00Z')])).rejects.toThrow('not enough replicas');
  });
});
