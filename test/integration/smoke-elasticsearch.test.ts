import { createElasticsearch } from '../../runtime/elasticsearch';
import { testConfig, uniqueName } from './helpers';

describe('Elasticsearch (real node, local stack)', () => {
  const es = createElasticsearch(testConfig());
  afterAll(() => es.close());

  it('bulk-indexes, refreshes and searches back with an aggregation', async () => {
    const index = uniqueName('smoke-usage');
    await es.indices.create({
      index,
      mappings: {
        properties: {
          customer: { type: 'keyword' },
          service: { type: 'keyword' },
          quantity: { type: 'long' },
        },
      },
    });
    const docs = [
      { customer: 'acme', service: 'compute', quantity: 3 },
      { customer: 'acme', service: 'storage', quantity: 5 },
      { customer: 'globex', service: 'compute', quantity: 7 },
    ];
    const bulk = await es.bulk({
      operations: docs.flatMap((d, i) => [{ index: { _index: index, _id: `doc-${i}` } }, d]),
    });
    expect(bulk.errors).toBe(false);
    expect(bulk.items).toHaveLength(3);
    await es.indices.refresh({ index });

    const result = await es.search<
      unknown,
      { by_customer: { buckets: Array<{ key: string; doc_count: number; quantity: { value: number } }> } }
    >({
      index,
      size: 0,
      aggs: {
        by_customer: { terms: { field: 'customer' }, aggs: { quantity: { sum: { field: 'quantity' } } } },
      },
    });
    const buckets = result.aggregations!.by_customer.buckets.map((b) => ({
      key: b.key,
      docs: b.doc_count,
      quantity: b.quantity.value,
    }));
    expect(buckets).toEqual([
      { key: 'acme', docs: 2, quantity: 8 },
      { key: 'globex', docs: 1, quantity: 7 },
    ]);
    await es.indices.delete({ index });
  });
});
