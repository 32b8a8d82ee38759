import { EventIngestor, IngestRefused, latenessOf } from '../../../ingest/ingestor';
import { parseEventsOptions } from '../../../ingest/config';
import type { ValidEvent } from '../../../ingest/cloudevents';

const grant = { sources: ['*'], customers: ['*'], eventsPerSecond: 100, eventsBurst: 50 };
const NOW = Date.parse('2026-12-01T06:00:00Z');
const ev = (id: string, source = 's1') => ({
  specversion: '1.0',
  id,
  source,
  type: 't',
  time: '2026-11-20T00:00:00Z',
  data: { customer: 'acme', service: 'Deployments', unit: 'Hours', quantity: '1' },
});

/** A writer that records what it was given and commits when told to. */
function fakeWriter() {
  const written: ValidEvent[][] = [];
  let fail: Error | undefined;
  return {
    written,
    failNext(err: Error) {
      fail = err;
    },
    add: async (events: ValidEvent[]) => {
      await Promise.resolve();
      if (fail) {
        const err = fail;
        fail = undefined;
        throw err;
      }
      if (events.length) written.push(events);
    },
  };
}

describe('EventIngestor', () => {
  it('writes each source + id once: duplicates in a batch and in later requests are dropped', async () => {
    const writer = fakeWriter();
    const ingestor = new EventIngestor(parseEventsOptions({}), writer, () => NOW);
    const first = await ingestor.ingest('k', grant, [ev('a'), ev('b'), ev('a'), ev('a', 's2')]);
    expect(first).toMatchObject({ accepted: 3, duplicates: 1, rejected: 0 });
    const second = await ingestor.ingest('k', grant, [ev('b'), ev('c')]);
    expect(second).toMatchObject({ accepted: 1, duplicates: 1 });
    expect(writer.written.flat().map((e) => `${e.source}/${e.id}`)).toEqual(['s1/a', 's1/b', 's2/a', 's1/c']);
  });

  it('forgets the keys of a failed write, so the retry is accepted', async () => {
    const writer = fakeWriter();
    const ingestor = new EventIngestor(parseEventsOptions({}), writer, () => NOW);
    writer.failNext(new Error('broker down'));
    await expect(ingestor.ingest('k', grant, [ev('a')])).rejects.toMatchObject({ status: 503 });
    expect(await ingestor.ingest('k', grant, [ev('a')])).toMatchObject({ accepted: 1, duplicates: 0 });
    expect(writer.written.flat()).toHaveLength(1);
  });

  it('refuses a batch above max_batch_events (413) and a key over its event rate (429 with a wait)', async () => {
    const ingestor = new EventIngestor(parseEventsOptions({ max_batch_events: 40 }), fakeWriter(), () => NOW);
    await expect(
      ingestor.ingest(
        'k',
        grant,
        Array.from({ length: 41 }, (_, i) => ev(String(i))),
      ),
    ).rejects.toMatchObject({
      status: 413,
    });
    await ingestor.ingest(
      'k',
      grant,
      Array.from({ length: 40 }, (_, i) => ev(`x${i}`)),
    );
    const refused = await ingestor
      .ingest(
        'k',
        grant,
        Array.from({ length: 20 }, (_, i) => ev(`y${i}`)),
      )
      .catch((e) => e);
    expect(refused).toBeInstanceOf(IngestRefused);
    expect(refused.status).toBe(429);
    // 10 tokens left, 20 needed at 100/s: 0.1 s.
    expect(refused.retryAfterSeconds).toBeCloseTo(0.1, 5);
  });

  it('evicts the oldest committed keys beyond dedupe_max_keys', async () => {
    const ingestor = new EventIngestor(parseEventsOptions({ dedupe_max_keys: 2 }), fakeWriter(), () => NOW);
    await ingestor.ingest('k', grant, [ev('a'), ev('b'), ev('c')]);
    expect(ingestor.rememberedKeys).toBe(2);
    // The oldest (a) was forgotten, c is remembered.
    expect(await ingestor.ingest('k', grant, [ev('a'), ev('c')])).toMatchObject({
      accepted: 1,
      duplicates: 1,
    });
  });
});

describe('latenessOf', () => {
  it('is on_time inside the period, late inside the window after it, adjustment later', () => {
    expect(latenessOf('2026-12', NOW, 96)).toBe('on_time');
    expect(latenessOf('2026-11', NOW, 96)).toBe('late');
    expect(latenessOf('2026-11', NOW, 6)).toBe('adjustment');
    expect(latenessOf('2026-11', Date.parse('2026-12-05T00:00:00Z'), 96)).toBe('adjustment');
    expect(latenessOf('2026-11', Date.parse('2026-12-04T23:59:59Z'), 96)).toBe('late');
  });
});
