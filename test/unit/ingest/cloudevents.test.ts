import { validateEvent, sourceAllowed, type ValidEvent } from '../../../ingest/cloudevents';
import { EVENT_COLUMN } from '../../../providers/platform/columns';
import { eventRecordIdOf } from '../../../schemas/record-id';

const grant = {
  sources: ['//deploy.example/*', 'urn:billing'],
  customers: ['acme'],
  eventsPerSecond: 10,
  eventsBurst: 10,
};
const ctx = {
  grant,
  nowMs: Date.parse('2026-12-01T06:00:00Z'),
  maxFutureMs: 900_000,
  currency: 'USD',
  providerName: 'Platform',
};
const good = () => ({
  specversion: '1.0',
  id: 'e-1',
  source: '//deploy.example/c1',
  type: 'com.example.capacity',
  time: '2026-11-30T23:00:00+02:00',
  data: { customer: 'acme', service: 'Deployments', unit: 'Hours', quantity: '2.50', sku: 'std' },
});
const run = (e: unknown) => validateEvent(e, 7, ctx, eventRecordIdOf);

describe('validateEvent', () => {
  it('turns a valid event into its raw row, period (UTC) and idempotency key', () => {
    const v = run(good()) as ValidEvent;
    expect(v.key).toBe(eventRecordIdOf('//deploy.example/c1', 'e-1'));
    // 23:00 at +02:00 is 21:00 UTC, still November.
    expect(v.period).toBe('2026-11');
    expect(v.values[EVENT_COLUMN.ce_time]).toBe('2026-11-30T21:00:00.000Z');
    // Decimal text is kept exactly (normalized, never through a float).
    expect(v.values[EVENT_COLUMN.quantity]).toBe('2.5');
    expect(v.values[EVENT_COLUMN.billed_cost]).toBe('0');
    expect(v.values[EVENT_COLUMN.currency]).toBe('USD');
    expect(v.values[EVENT_COLUMN.customer]).toBe('acme');
  });

  it.each([
    [{ specversion: '0.3' }, 'specversion'],
    [{ id: '' }, 'id'],
    [{ source: undefined }, 'source'],
    [{ time: '30/11/2026' }, 'time'],
    [{ time: '2026-12-01T07:00:00Z' }, 'time'], // an hour ahead of the server's clock
    [{ datacontenttype: 'text/plain' }, 'datacontenttype'],
    [{ data: 'x' }, 'data'],
    [{ data: { customer: 'acme', service: 'D', unit: 'Hours', quantity: 'two' } }, 'data.quantity'],
    [
      { data: { customer: 'acme', service: 'D', unit: 'Hours', quantity: 0.1234567890123456 } },
      'data.quantity',
    ],
    [{ data: { customer: 'acme', unit: 'Hours', quantity: '1' } }, 'data.service'],
    [{ data: { customer: 'acme', service: 'D', unit: 'Hours', quantity: '1', tags: { a: 1 } } }, 'data.tags'],
    [{ source: '//other.example/c1' }, 'source'],
    [{ data: { customer: 'globex', service: 'D', unit: 'Hours', quantity: '1' } }, 'data.customer'],
  ])('rejects %j naming the field %s', (patch, field) => {
    const r = run({ ...good(), ...patch });
    expect(r).toMatchObject({ index: 7, field });
    expect('key' in r).toBe(false);
  });

  it('accepts a JSON number quantity that is exactly its text', () => {
    const v = run({ ...good(), data: { ...good().data, quantity: 0.25 } }) as ValidEvent;
    expect(v.values[EVENT_COLUMN.quantity]).toBe('0.25');
  });

  it('rejects a non-object event', () => {
    expect(run([1])).toMatchObject({ field: 'event' });
  });
});

describe('sourceAllowed', () => {
  it('matches exact sources and prefixes ending in *', () => {
    expect(sourceAllowed(grant.sources, 'urn:billing')).toBe(true);
    expect(sourceAllowed(grant.sources, 'urn:billing2')).toBe(false);
    expect(sourceAllowed(grant.sources, '//deploy.example/x/y')).toBe(true);
    expect(sourceAllowed(grant.sources, '//deploy.example')).toBe(false);
  });
});
