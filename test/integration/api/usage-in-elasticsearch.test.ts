import type { Client } from '@elastic/elasticsearch';
import type { QueryContext } from '../../../api/queries/context';
import {
  usageSummary,
  usageSummaryFromSource,
  usageSummaryInElasticsearch,
} from '../../../api/queries/usage';
import type { GroupBy, UsageQuery } from '../../../api/params';
import { createElasticsearch } from '../../../runtime/elasticsearch';
import type { UsageRecord } from '../../../schemas';
import { indexNames, toUsageDocument, usageMappings } from '../../../sinks/elasticsearch/indices';
import { ensureLayout, ensureUsageIndex } from '../../../sinks/elasticsearch/layout';
import { usageRecord } from '../../support/usage-record';
import { testConfig, uniqueName } from '../helpers';

/**
 * The usage summary computed inside Elasticsearch (sums of the exact integer parts, page by page of
 * a composite aggregation) equals the one summed from the exact text in _source, for every
 * grouping; and wherever exactness cannot be shown (a document without parts, a sum beyond a
 * double's exact range) the aggregation declines and the summary comes from _source.
 */
const SKUS = 1_200; // more groups than one composite page (1,000)

function line(i: number, over: Partial<UsageRecord>): UsageRecord {
  return usageRecord({
    x_RecordId: `r-${i}`,
    x_Scope: 'aws/agg/2025-01',
    x_Revision: 'r1',
    x_BillingPeriod: '2025-01',
    x_CustomerId: 'c-exact',
    x_RatedCurrency: 'USD',
    ChargePeriodStart: `2025-01-${String((i % 28) + 1).padStart(2, '0')}T${String(i % 24).padStart(2, '0')}:30:00Z`,
    ...over,
  });
}

describe('usage summary inside Elasticsearch, exact', () => {
  jest.setTimeout(120_000);
  const config = testConfig();
  const prefix = uniqueName('it-usage-agg');
  const names = indexNames(prefix);
  let es: Client;
  let ctx: QueryContext;
  const january = (groupBy: GroupBy): UsageQuery => ({ from: '2025-01-01', to: '2025-02-01', groupBy });

  beforeAll(async () => {
    es = createElasticsearch(config);
    await ensureLayout(es, names);
    const records: UsageRecord[] = [];
    // c-exact: credits, 18 decimal places, two currencies, null keys, an unrated line, many SKUs.
    for (let i = 0; i < SKUS; i++)
      records.push(
        line(i, {
          SkuId: i % 50 === 0 ? null : `SKU-${i}`,
          ServiceName: i % 7 === 0 ? null : `svc-${i % 5}`,
          RegionId: i % 3 ? 'us-east-1' : 'eu-west-1',
          x_RatedCost: i % 11 === 0 ? `-${i}.000000000000000001` : `${i}.${String(i).padStart(18, '0')}`,
          x_RatedCurrency: i % 4 === 0 ? 'EUR' : 'USD',
        }),
      );
    records.push(line(SKUS, { x_RatedCost: null, x_RatedCurrency: null }));
    records.push(line(SKUS + 1, { x_RatedCost: '4503599627.5' }));
    // c-places: one amount with 19 decimal places has no parts.
    records.push(line(SKUS + 2, { x_CustomerId: 'c-places', x_RatedCost: '0.1' }));
    records.push(line(SKUS + 3, { x_CustomerId: 'c-places', x_RatedCost: '0.1234567890123456789' }));
    // c-large: each amount has parts, but their sum can leave a double's exact range.
    for (const i of [SKUS + 4, SKUS + 5])
      records.push(line(i, { x_CustomerId: 'c-large', x_RatedCost: '5000000000000000.25' }));
    const index = await ensureUsageIndex(es, names, '2025-01');
    const body = records.flatMap((r) => [
      { index: { _index: index, _id: r.x_RecordId } },
      toUsageDocument(r),
    ]);
    const res = await es.bulk({ operations: body, refresh: 'wait_for' });
    expect(res.errors).toBe(false);
    // Read through the unfiltered alias: publication is not what this test is about.
    ctx = { es, names: { ...names, usageAlias: names.usageAllAlias }, pageSize: 500, timeoutMs: 0 };
  });

  afterAll(async () => {
    await es.indices.delete({ index: names.usagePattern, ignore_unavailable: true }).catch(() => undefined);
    await es.indices.deleteIndexTemplate({ name: names.usageTemplate }).catch(() => undefined);
    await es.close();
  });

  it.each(['service', 'sku', 'region', 'day'] as GroupBy[])(
    'by %s: the aggregation answers, and equals the sum of the exact text',
    async (groupBy) => {
      const inEs = await usageSummaryInElasticsearch(ctx, 'c-exact', january(groupBy));
      const fromSource = await usageSummaryFromSource(ctx, 'c-exact', january(groupBy));
      expect(inEs).toBeDefined();
      expect(inEs).toEqual(fromSource);
      expect(fromSource.record_count).toBe(SKUS + 2);
      expect(fromSource.unrated_record_count).toBe(1);
      if (groupBy === 'sku') expect(fromSource.groups.length).toBeGreaterThan(1_000);
    },
  );

  it('declines where it cannot be exact, and the summary comes from the text', async () => {
    for (const customer of ['c-places', 'c-large']) {
      expect(await usageSummaryInElasticsearch(ctx, customer, january('service'))).toBeUndefined();
      expect(await usageSummary(ctx, customer, january('service'))).toEqual(
        await usageSummaryFromSource(ctx, customer, january('service')),
      );
    }
    expect((await usageSummary(ctx, 'c-places', january('service'))).totals).toEqual([
      { currency: 'USD', amount: '0.2234567890123456789', record_count: 2 },
    ]);
    expect((await usageSummary(ctx, 'c-large', january('service'))).totals).toEqual([
      { currency: 'USD', amount: '10000000000000000.5', record_count: 2 },
    ]);
  });

  it('adds fields introduced since an index was created to its mapping', async () => {
    // A monthly index created before x_Exact existed, by the layout of that time (an upgrade).
    const index = names.usageIndex('2024-12');
    const { x_Exact: _added, ...before } = usageMappings().properties;
    await es.indices.deleteIndexTemplate({ name: names.usageTemplate });
    await es.indices.create({ index, mappings: { dynamic: 'strict', properties: before as never } });
    const fields = async () =>
      Object.keys((await es.indices.getMapping({ index }))[index].mappings.properties!);
    expect(await fields()).not.toContain('x_Exact');
    await ensureLayout(es, names);
    expect(await fields()).toContain('x_Exact');
    const doc = toUsageDocument(line(0, { x_BillingPeriod: '2024-12' }));
    await expect(es.index({ index, id: 'x', document: doc, refresh: true })).resolves.toBeDefined();
  });

  it('splits by tag key in months created since Tags is flattened, and leaves older months working', async () => {
    // An older month: Tags stored, not indexed, as layouts before `flattened` made it.
    const old = names.usageIndex('2024-11');
    await es.indices.create({
      index: old,
      mappings: {
        dynamic: 'strict',
        properties: { ...usageMappings().properties, Tags: { type: 'object', enabled: false } } as never,
      },
    });
    await ensureLayout(es, names); // must not try to change Tags there
    const fresh = await ensureUsageIndex(es, names, '2024-10');
    const tagged = (i: number, period: string, team: string) =>
      toUsageDocument(line(i, { x_BillingPeriod: period, Tags: { team, 'cost-center': `cc-${i}` } }));
    await es.index({ index: old, id: 'o1', document: tagged(1, '2024-11', 'core') });
    await es.index({ index: fresh, id: 'f1', document: tagged(2, '2024-10', 'core') });
    await es.index({ index: fresh, id: 'f2', document: tagged(3, '2024-10', 'edge') });
    await es.indices.refresh({ index: [old, fresh] });
    const byTeam = await es.search({
      index: fresh,
      size: 0,
      aggs: { team: { terms: { field: 'Tags.team' } } },
    });
    const buckets = (byTeam.aggregations!.team as { buckets: Array<{ key: string; doc_count: number }> })
      .buckets;
    expect(buckets.map((b) => [b.key, b.doc_count])).toEqual([
      ['core', 1],
      ['edge', 1],
    ]);
    expect((await es.count({ index: old, query: { term: { x_TagPairs: 'team=core' } } })).count).toBe(1);
  });
});
