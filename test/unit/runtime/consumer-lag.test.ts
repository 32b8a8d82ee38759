import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import {
  computeLag,
  ConsumerLagMonitor,
  type OffsetsSource,
  type PartitionCommit,
  type PartitionEnd,
} from '../../../runtime/consumer-lag';
import { createLogger } from '../../../runtime/logger';

function quietLogger(lines: string[] = []) {
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return createLogger({ level: 'info', destination });
}

/** Offsets as a broker would answer them; `fail` makes the next reads throw. */
class FakeOffsets implements OffsetsSource {
  ends_ = new Map<string, PartitionEnd[]>();
  commits = new Map<string, PartitionCommit[]>();
  fail: Error | undefined;
  closed = false;
  async committed(_groupId: string, topics: string[]) {
    if (this.fail) throw this.fail;
    return topics.map((topic) => ({ topic, partitions: this.commits.get(topic) ?? [] }));
  }
  async ends(topic: string) {
    if (this.fail) throw this.fail;
    return this.ends_.get(topic) ?? [];
  }
  async close() {
    this.closed = true;
  }
}

async function sample(registry: Registry, name: string): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric(name)!.get();
  return Object.fromEntries(
    metric.values.map((v) => [
      Object.entries(v.labels)
        .map(([k, x]) => `${k}=${x}`)
        .join(','),
      v.value,
    ]),
  );
}

describe('consumer lag', () => {
  it('is the end offset minus the committed offset, per partition', () => {
    expect(
      computeLag(
        [
          { partition: 1, low: '0', high: '250' },
          { partition: 0, low: '0', high: '1000' },
        ],
        [
          { partition: 0, offset: '400' },
          { partition: 1, offset: '250' },
        ],
      ),
    ).toEqual([
      { partition: 0, lag: 600 },
      { partition: 1, lag: 0 },
    ]);
  });

  it('counts everything retained for a group that never committed or whose offset was deleted by retention', () => {
    expect(
      computeLag(
        [
          { partition: 0, low: '100', high: '130' },
          { partition: 1, low: '500', high: '520' },
          { partition: 2, low: '0', high: '7' },
        ],
        [
          { partition: 0, offset: '-1' },
          { partition: 1, offset: '20' },
        ],
      ),
    ).toEqual([
      { partition: 0, lag: 30 },
      { partition: 1, lag: 20 },
      { partition: 2, lag: 7 },
    ]);
  });

  it('is exact beyond 2^32 and never negative (an end read before a commit landed)', () => {
    expect(
      computeLag([{ partition: 0, low: '0', high: '5000000000' }], [{ partition: 0, offset: '4999999990' }]),
    ).toEqual([{ partition: 0, lag: 10 }]);
    expect(computeLag([{ partition: 0, low: '0', high: '10' }], [{ partition: 0, offset: '12' }])).toEqual([
      { partition: 0, lag: 0 },
    ]);
  });

  it('a poll sets the gauge per group, topic and partition, and the next poll follows the offsets', async () => {
    const registry = new Registry();
    const offsets = new FakeOffsets();
    offsets.ends_.set('p.rated', [
      { partition: 0, low: '0', high: '10' },
      { partition: 1, low: '0', high: '4' },
    ]);
    offsets.ends_.set('p.control', [{ partition: 0, low: '0', high: '3' }]);
    offsets.commits.set('p.rated', [{ partition: 0, offset: '6' }]);
    const monitor = new ConsumerLagMonitor({
      registry,
      component: 'sink.elasticsearch',
      groupId: 'p-sink',
      topics: ['p.rated', 'p.control'],
      source: offsets,
      logger: quietLogger(),
    });
    await monitor.poll();
    const base = 'component=sink.elasticsearch,group=p-sink';
    expect(await sample(registry, 'meterflow_consumer_lag_messages')).toEqual({
      [`${base},topic=p.rated,partition=0`]: 4,
      [`${base},topic=p.rated,partition=1`]: 4,
      [`${base},topic=p.control,partition=0`]: 3,
    });

    offsets.commits.set('p.rated', [
      { partition: 0, offset: '10' },
      { partition: 1, offset: '4' },
    ]);
    offsets.ends_.set('p.control', [{ partition: 0, low: '0', high: '9' }]);
    await monitor.poll();
    expect(await sample(registry, 'meterflow_consumer_lag_messages')).toEqual({
      [`${base},topic=p.rated,partition=0`]: 0,
      [`${base},topic=p.rated,partition=1`]: 0,
      [`${base},topic=p.control,partition=0`]: 9,
    });
  });

  it('a failing read is counted and logged once per run of failures, never thrown, and polling goes on', async () => {
    const registry = new Registry();
    const offsets = new FakeOffsets();
    offsets.ends_.set('t', [{ partition: 0, low: '0', high: '5' }]);
    const lines: string[] = [];
    const monitor = new ConsumerLagMonitor({
      registry,
      component: 'processor.dedupe',
      groupId: 'g',
      topics: ['t'],
      source: offsets,
      logger: quietLogger(lines),
      intervalMs: 5,
    });
    // The error counter exists before any failure, so an alert on its increase sees the first one.
    expect(await sample(registry, 'meterflow_consumer_lag_poll_errors_total')).toEqual({
      'component=processor.dedupe': 0,
    });
    offsets.fail = new Error('broker away');
    monitor.start();
    const errors = async () =>
      (await sample(registry, 'meterflow_consumer_lag_poll_errors_total'))['component=processor.dedupe'];
    while ((await errors()) < 3) await new Promise((r) => setTimeout(r, 5));
    expect(lines.filter((l) => l.includes('could not read the consumer lag'))).toHaveLength(1);
    expect(lines.join('')).toContain('broker away');

    offsets.fail = undefined;
    const lagOf = async () =>
      (await sample(registry, 'meterflow_consumer_lag_messages'))[
        'component=processor.dedupe,group=g,topic=t,partition=0'
      ];
    while ((await lagOf()) === undefined) await new Promise((r) => setTimeout(r, 5));
    expect(await lagOf()).toBe(5);
    await monitor.stop();
    expect(offsets.closed).toBe(true);
    expect(lines.some((l) => l.includes('consumer lag readable again'))).toBe(true);
  });
});
