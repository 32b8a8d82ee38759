import { Registry } from 'prom-client';
import {
  indexingFreshness,
  lastPublishedByProvider,
  publicationFreshness,
} from '../../../../sinks/elasticsearch/freshness';

describe('publication freshness', () => {
  const revisions = [
    { provider: 'aws', published_at: '2026-11-30T10:00:00.000Z' },
    { provider: 'aws', published_at: '2026-11-30T12:30:00.000Z' }, // superseded later; still counts
    { provider: 'aws', published_at: null }, // pending
    { provider: 'gcp', published_at: '2026-11-29T08:00:00.000Z' },
    { provider: 'azure', published_at: null },
  ];

  it('is the newest published_at per provider; a provider never published has none', () => {
    expect(Object.fromEntries(lastPublishedByProvider(revisions))).toEqual({
      aws: Date.UTC(2026, 10, 30, 12, 30) / 1000,
      gcp: Date.UTC(2026, 10, 29, 8) / 1000,
    });
  });

  it('sets the gauge from each pass, moving forward when a newer revision is published', async () => {
    const registry = new Registry();
    const update = publicationFreshness(registry);
    update(revisions);
    update([...revisions, { provider: 'gcp', published_at: '2026-11-30T13:00:00.000Z' }]);
    const metric = await registry
      .getSingleMetric('meterflow_last_published_revision_timestamp_seconds')!
      .get();
    expect(Object.fromEntries(metric.values.map((v) => [v.labels.provider, v.value]))).toEqual({
      aws: Date.UTC(2026, 10, 30, 12, 30) / 1000,
      gcp: Date.UTC(2026, 10, 30, 13) / 1000,
    });
  });

  it('the sink stamps the time it last indexed usage', async () => {
    const registry = new Registry();
    let now = 7_000_000;
    const indexed = indexingFreshness(registry, () => now);
    const read = async () =>
      (await registry.getSingleMetric('meterflow_sink_last_indexed_timestamp_seconds')!.get()).values[0]
        .value;
    expect(await read()).toBe(0);
    indexed();
    expect(await read()).toBe(7000);
    now += 5_000;
    indexed();
    expect(await read()).toBe(7005);
  });
});
