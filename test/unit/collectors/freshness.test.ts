import { Registry } from 'prom-client';
import { CollectorFreshness } from '../../../collectors/core/freshness';

async function values(registry: Registry, name: string): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric(name)!.get();
  return Object.fromEntries(metric.values.map((v) => [String(v.labels.export), v.value]));
}

const rev = (scope: string, revision_id: string) => ({ scope, revision_id });

describe('collector freshness', () => {
  it('reports when the oldest revision still waiting was first seen, and 0 once none waits', async () => {
    const registry = new Registry();
    let now = 1_000_000;
    const f = new CollectorFreshness(registry, 'collector.aws', () => now);
    const pending = 'meterflow_collector_oldest_pending_revision_timestamp_seconds';

    f.discovered('cur', [rev('aws/a/2026-11', 'r1')]);
    expect(await values(registry, pending)).toEqual({ cur: 1000 });

    // Next pass, 60 s later: r1 is still there (it was interrupted), r2 is new. r1 keeps its age.
    now += 60_000;
    f.discovered('cur', [rev('aws/a/2026-11', 'r1'), rev('aws/b/2026-11', 'r2')]);
    expect(await values(registry, pending)).toEqual({ cur: 1000 });

    f.settled('cur', rev('aws/a/2026-11', 'r1'));
    expect(await values(registry, pending)).toEqual({ cur: 1060 });
    f.settled('cur', rev('aws/b/2026-11', 'r2'));
    expect(await values(registry, pending)).toEqual({ cur: 0 });
  });

  it('forgets a revision the export no longer lists (a newer one replaced it), keeping exports apart', async () => {
    const registry = new Registry();
    let now = 5_000_000;
    const f = new CollectorFreshness(registry, 'collector.gcp', () => now);
    f.discovered('billing', [rev('gcp/x/2026-11', 'old')]);
    f.discovered('other', [rev('gcp/y/2026-11', 'r')]);
    now += 30_000;
    f.discovered('billing', [rev('gcp/x/2026-11', 'new')]);
    expect(await values(registry, 'meterflow_collector_oldest_pending_revision_timestamp_seconds')).toEqual({
      billing: 5030,
      other: 5000,
    });
  });

  it('stamps the last success only for a pass that left nothing to resume', async () => {
    const registry = new Registry();
    let now = 2_000_000;
    const f = new CollectorFreshness(registry, 'collector.azure', () => now);
    const success = 'meterflow_collector_last_success_timestamp_seconds';
    f.passEnded('ea', false);
    expect(await values(registry, success)).toEqual({});
    f.passEnded('ea', true);
    expect(await values(registry, success)).toEqual({ ea: 2000 });
    now += 300_000;
    f.passEnded('ea', false);
    expect(await values(registry, success)).toEqual({ ea: 2000 });
    now += 300_000;
    f.passEnded('ea', true);
    expect(await values(registry, success)).toEqual({ ea: 2600 });
  });
});
