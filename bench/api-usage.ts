import type { QueryContext } from '../api/queries/context';
import { usageSummaryFromSource, usageSummaryInElasticsearch } from '../api/queries/usage';
import type { GroupBy } from '../api/params';
import { loadConfig } from '../runtime/config';
import { createElasticsearch } from '../runtime/elasticsearch';
import { indexNames, toUsageDocument } from '../sinks/elasticsearch/indices';
import { ensureLayout, ensureUsageIndex } from '../sinks/elasticsearch/layout';
import { ratedWorkload } from './workload/rated';

/**
 * The API's usage summary (GET /v1/customers/{c}/usage) over one customer's month, both ways: the
 * sums inside Elasticsearch (the exact integer parts, a composite aggregation) and, as before,
 * every document's exact text read into the API process. N rated records as the sink indexes them
 * (bench/workload/rated.ts: 3 customers, 25 services, 28 days), in the local stack's
 * Elasticsearch. Best of 3 per path and grouping; the two answers must be equal.
 *
 *   npm run bench -- api-usage [rows]
 */
export async function benchApiUsage(rows: number): Promise<Record<string, string | number>> {
  const config = loadConfig().config;
  const es = createElasticsearch(config);
  const names = indexNames(`bench-api-usage-${Date.now().toString(36)}`);
  try {
    await ensureLayout(es, names, { replicas: 0, refreshInterval: '30s' });
    const index = await ensureUsageIndex(es, names, '2026-10');
    const records = ratedWorkload(rows, 'aws/bench/report/2026-10', 'r1');
    for (let i = 0; i < records.length; i += 5_000) {
      const operations = records
        .slice(i, i + 5_000)
        .flatMap((r) => [{ index: { _index: index, _id: r.x_RecordId } }, toUsageDocument(r)]);
      const res = await es.bulk({ operations });
      if (res.errors) throw new Error('bulk indexing the workload failed');
    }
    await es.indices.refresh({ index });
    await es.indices.forcemerge({ index, max_num_segments: 1 });
    const ctx: QueryContext = {
      es,
      names: { ...names, usageAlias: names.usageAllAlias },
      pageSize: 5_000,
      timeoutMs: 0,
    };
    const figures: Record<string, string | number> = {
      rows,
      'documents of the customer': Math.ceil(rows / 3),
    };
    for (const groupBy of ['service', 'day'] as GroupBy[]) {
      const q = { from: '2026-10-01', to: '2026-11-01', groupBy };
      const time = async (fn: () => Promise<unknown>) => {
        let best = { wall: Infinity, cpu: Infinity, value: undefined as unknown };
        for (let round = 0; round < 3; round++) {
          const cpu0 = process.cpuUsage();
          const t0 = process.hrtime.bigint();
          const value = await fn();
          const wall = Number(process.hrtime.bigint() - t0) / 1e6;
          const used = process.cpuUsage(cpu0);
          if (wall < best.wall) best = { wall, cpu: (used.user + used.system) / 1000, value };
        }
        return best;
      };
      const source = await time(() => usageSummaryFromSource(ctx, 'acme', q));
      const inEs = await time(() => usageSummaryInElasticsearch(ctx, 'acme', q));
      if (JSON.stringify(inEs.value) !== JSON.stringify(source.value))
        throw new Error(`by ${groupBy}: the two summaries differ`);
      const groups = (source.value as { groups: unknown[] }).groups.length;
      figures[`by ${groupBy}: groups`] = groups;
      figures[`by ${groupBy}: from _source, wall ms / API CPU ms`] =
        `${Math.round(source.wall)} / ${Math.round(source.cpu)}`;
      figures[`by ${groupBy}: in Elasticsearch, wall ms / API CPU ms`] =
        `${Math.round(inEs.wall)} / ${Math.round(inEs.cpu)}`;
      figures[`by ${groupBy}: wall speed-up`] = +(source.wall / inEs.wall).toFixed(1);
    }
    return figures;
  } finally {
    await es.indices.delete({ index: names.usagePattern, ignore_unavailable: true }).catch(() => undefined);
    await es.indices.deleteIndexTemplate({ name: names.usageTemplate }).catch(() => undefined);
    await es.close();
  }
}
