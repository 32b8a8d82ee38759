import type { Client } from '@elastic/elasticsearch';
import type { FastifyInstance } from 'fastify';
import { buildApi, generateApiKey, hashApiKey, parseApiOptions } from '../../../api';
import { EventIngestor } from '../../../ingest/ingestor';
import { parseEventsOptions } from '../../../ingest/config';
import type { ValidEvent } from '../../../ingest/cloudevents';
import { createLogger } from '../../../runtime/logger';
import type { IndexNames } from '../../../sinks/elasticsearch/indices';

const ingestKey = generateApiKey();
const customerKey = generateApiKey();
const event = (id: string, quantity: unknown = '1') => ({
  specversion: '1.0',
  id,
  source: '//deploy/c1',
  type: 't',
  time: new Date(Date.now() - 60_000).toISOString(),
  data: { customer: 'acme', service: 'Deployments', unit: 'Hours', quantity },
});

describe('POST /v1/events', () => {
  let app: FastifyInstance;
  let base: string;
  const written: ValidEvent[] = [];
  beforeAll(async () => {
    const writer = { add: async (events: ValidEvent[]) => void written.push(...events) };
    app = buildApi({
      es: {} as Client,
      names: {} as IndexNames,
      options: parseApiOptions({
        keys: [
          {
            id: 'deployer',
            role: 'ingest',
            key_sha256: hashApiKey(ingestKey),
            sources: ['//deploy/*'],
            customers: ['acme'],
            events_per_second: 100,
          },
          { id: 'acme', role: 'customer', customer: 'acme', key_sha256: hashApiKey(customerKey) },
        ],
      }),
      logger: createLogger({ level: 'silent' }),
      events: new EventIngestor(parseEventsOptions({}), writer),
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(() => app.close());

  const post = async (body: unknown, contentType: string, key = ingestKey) => {
    const res = await fetch(`${base}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': contentType },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { statusCode: res.status, json: () => JSON.parse(text) as Record<string, unknown> };
  };

  it('accepts a batch, reporting each rejected event by index and field (202), then a re-sent one as a duplicate (200)', async () => {
    const res = await post([event('a'), event('b', 'x'), event('a')], 'application/cloudevents-batch+json');
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({
      accepted: 1,
      duplicates: 1,
      rejected: 1,
      results: [
        { index: 0, status: 'accepted' },
        { index: 1, status: 'rejected', field: 'data.quantity' },
        { index: 2, status: 'duplicate' },
      ],
    });
    const again = await post(event('a'), 'application/cloudevents+json');
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ accepted: 0, duplicates: 1 });
    expect(written.map((e) => e.id)).toEqual(['a']);
  });

  it('answers 400 when every event is rejected, and for a batch media type without an array', async () => {
    const bad = await post(event('z', 'x'), 'application/cloudevents+json');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ rejected: 1, results: [{ field: 'data.quantity' }] });
    expect((await post(event('y'), 'application/cloudevents-batch+json')).statusCode).toBe(400);
    expect((await post('{not json', 'application/cloudevents+json')).statusCode).toBe(400);
  });

  it('lets only ingest keys send, and ingest keys do nothing else', async () => {
    expect((await post(event('c'), 'application/cloudevents+json', customerKey)).statusCode).toBe(403);
    const read = await fetch(`${base}/v1/customers/acme/invoices`, {
      headers: { authorization: `Bearer ${ingestKey}` },
    });
    expect(read.status).toBe(403);
    expect((await post(event('c'), 'application/xml')).statusCode).toBe(415);
    // text/plain is parsed as text, which is not an event: 400.
    expect((await post(event('c'), 'text/plain')).statusCode).toBe(400);
  });
});

describe('ingest keys in api.keys', () => {
  const hash = hashApiKey('k');
  it('need sources and customers, and only ingest keys may carry them', () => {
    expect(() => parseApiOptions({ keys: [{ id: 'i', role: 'ingest', key_sha256: hash }] })).toThrow(
      /sources[\s\S]*required when role is ingest|required when role is ingest/,
    );
    expect(() =>
      parseApiOptions({ keys: [{ id: 'i', role: 'ingest', key_sha256: hash, sources: ['s'] }] }),
    ).toThrow(/customers/);
    expect(() =>
      parseApiOptions({ keys: [{ id: 'a', role: 'admin', key_sha256: hash, sources: ['s'] }] }),
    ).toThrow(/only for role ingest, not admin/);
    expect(
      parseApiOptions({
        keys: [{ id: 'i', role: 'ingest', key_sha256: hash, sources: ['s'], customers: ['*'] }],
      }).keys[0].role,
    ).toBe('ingest');
  });
});
