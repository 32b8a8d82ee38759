import { validateEvent, type ValidEvent } from '../../../../ingest/cloudevents';
import { normalizeBatch } from '../../../../processors/normalize/normalize';
import { DEFAULT_NORMALIZE_OPTIONS } from '../../../../processors/normalize/config';
import { EVENT_COLUMNS } from '../../../../providers/platform/columns';
import { eventRecordIdOf } from '../../../../schemas/record-id';

const grant = { sources: ['*'], customers: ['*'], eventsPerSecond: 1, eventsBurst: 1 };
const ctx = {
  grant,
  nowMs: Date.parse('2026-12-01T00:00:00Z'),
  maxFutureMs: 0,
  currency: 'USD',
  providerName: 'Acme Cloud',
};

function rowOf(data: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const v = validateEvent(
    {
      specversion: '1.0',
      id: 'ev-9',
      source: '//deploy/c1',
      type: 'deploy.capacity',
      time: '2026-11-05T10:00:00Z',
      data,
      ...extra,
    },
    0,
    ctx,
    eventRecordIdOf,
  ) as ValidEvent;
  return v.values;
}

const normalize = (values: string[], revision = 's1') =>
  normalizeBatch(
    {
      provider: 'platform',
      format: 'platform-events',
      scope: 'platform/i0/2026-11',
      revision_id: revision,
      billing_period: '2026-11',
      object: `events://i0/${revision}`,
      header: [...EVENT_COLUMNS],
      rows: [{ line: 1, values }],
    },
    DEFAULT_NORMALIZE_OPTIONS,
  )[0].result;

describe('platform-events to FOCUS', () => {
  it('is a Usage row of the platform itself, for the event customer, keyed by the idempotency key', () => {
    const result = normalize(
      rowOf({
        customer: 'acme',
        service: 'Deployments',
        unit: 'Hours',
        quantity: '2.5',
        sku: 'std',
        region: 'eu-1',
        tags: { team: 'web' },
        end_time: '2026-11-05T12:30:00Z',
      }),
    );
    if (!result.ok) throw new Error(result.message);
    const r = result.record;
    expect(r.x_RecordId).toBe(eventRecordIdOf('//deploy/c1', 'ev-9'));
    expect([r.x_CustomerId, r.x_AttributionRule]).toEqual(['acme', 'event']);
    expect([r.ProviderName, r.PublisherName, r.InvoiceIssuerName, r.ServiceProviderName]).toEqual([
      'Acme Cloud',
      'Acme Cloud',
      'Acme Cloud',
      'Acme Cloud',
    ]);
    expect([r.ChargeCategory, r.ChargeFrequency, r.ServiceName, r.SkuId, r.RegionId]).toEqual([
      'Usage',
      'Usage-Based',
      'Deployments',
      'std',
      'eu-1',
    ]);
    expect([r.PricingQuantity, r.PricingUnit, r.ConsumedQuantity, r.BilledCost, r.BillingCurrency]).toEqual([
      '2.5',
      'Hours',
      '2.5',
      '0',
      'USD',
    ]);
    expect([r.ChargePeriodStart, r.ChargePeriodEnd]).toEqual([
      '2026-11-05T10:00:00Z',
      '2026-11-05T12:30:00Z',
    ]);
    expect([r.BillingPeriodStart, r.BillingPeriodEnd]).toEqual([
      '2026-11-01T00:00:00Z',
      '2026-12-01T00:00:00Z',
    ]);
    expect(r.Tags).toEqual({ team: 'web' });
    expect(r.ChargeDescription).toBe('deploy.capacity');
  });

  it('gives the same event the same record id in any revision (what makes a re-sent event one document)', () => {
    const values = rowOf({ customer: 'acme', service: 'D', unit: 'Hours', quantity: '1' });
    const a = normalize(values, 's1');
    const b = normalize(values, 's2');
    expect(a.ok && b.ok && a.record.x_RecordId === b.record.x_RecordId).toBe(true);
  });
});
