import { Decimal, decimalToString } from '../../schemas/decimal';
import { createElasticsearch } from '../../runtime/elasticsearch';
import { createKafka, ensureTopics, topicNames } from '../../runtime/kafka';
import { AvroTypes, type UsageRecord } from '../../schemas';
import { startSink } from '../../sinks/elasticsearch/command';
import { indexNames, revisionDocId, type RevisionDocument } from '../../sinks/elasticsearch/indices';
import { eventually, testConfig, uniqueName } from '../integration/helpers';
import {
  control,
  exactSum,
  produceRevision,
  ratedLine,
  testService,
} from '../integration/sinks/sink-fixture';
import { caughtUp, CommitWatcher } from './oracle';
import { recordFigure } from './results';
import { ES_TOO_MANY_REQUESTS, startHttpFaultProxy, type HttpFaultProxy } from './http-faults';
import { createProxy, type Proxy } from './toxiproxy';

/**
 * Elasticsearch faults under the running sink, through a real TCP proxy: connections reset
 * mid-bulk, the cluster unreachable, then answering nothing (a hang past the request timeout);
 * then, through an HTTP fault injector in front of that proxy, every other bulk request answered
 * 429 (the cluster's write queue full).
 * The oracle after the faults: every source row is one document, the exact sums per customer equal
 * the source's, the revision is published, and delivering the same revision again changes nothing.
 */
const ROWS = 6_000;
// The cluster's outage: 2 minutes in the full fault suite (`npm run test:faults`), 8 s in npm test.
// Through all of it the sink heartbeats its group, so its partitions are never reassigned.
const OUTAGE_MS = process.env.FAULTS_SLOW === '1' ? 120_000 : 8_000;

describe('faults: Elasticsearch behind a TCP fault proxy, under the sink', () => {
  jest.setTimeout(OUTAGE_MS + 240_000);
  const base = testConfig();
  const prefix = uniqueName('fault-es');
  let proxy: Proxy;
  let throttle: HttpFaultProxy | undefined;
  let stop: (() => Promise<unknown>) | undefined;

  afterAll(async () => {
    await stop?.();
    await proxy?.remove();
    await throttle?.close();
  });

  it('resets, an outage, a hang and 429s lose nothing and count nothing twice', async () => {
    proxy = await createProxy(base, prefix, `127.0.0.1:${base.stack.ports.elasticsearch}`);
    throttle = await startHttpFaultProxy(`http://${proxy.listen}`);
    const config = {
      ...base,
      kafka: { ...base.kafka, topic_prefix: prefix },
      elasticsearch: {
        ...base.elasticsearch,
        node: throttle.url,
        index_prefix: prefix,
        request_timeout_ms: 3_000,
      },
      sink: { ...base.sink, bulk_max_docs: 200, publish_interval_ms: 500, retry_max_delay_ms: 1_000 },
    };
    // The test's own view of Elasticsearch and Kafka goes around the proxy.
    const es = createElasticsearch(base);
    const names = indexNames(prefix);
    const kafka = createKafka(config, 'fault-es-producer');
    const topics = topicNames(config);
    await ensureTopics(kafka, config, [
      { topic: topics.rated },
      { topic: topics.control },
      { topic: topics.deadLetter },
    ]);

    const scope = 'aws/fault/2026-02';
    const rows: UsageRecord[] = Array.from({ length: ROWS }, (_, i) => ratedLine(scope, 'r1', i + 2));
    const producer = kafka.producer();
    await producer.connect();
    const send = async (topic: string, messages: Array<{ key: string; value: Buffer }>) =>
      void (await producer.send({ topic, messages }));
    const controlMessage = (type: 'REVISION_STARTED' | 'REVISION_COMPLETED') => ({
      key: scope,
      value: AvroTypes.revisionControl.toBuffer(control(type, scope, 'r1', rows)),
    });
    const sendRows = (part: UsageRecord[]) =>
      send(
        topics.rated,
        part.map((r) => ({ key: r.x_RecordId, value: AvroTypes.usageRecord.toBuffer(r) })),
      );
    // Row 0 first, with no fault, so the period's index exists; then quarters of the rest.
    const wave = (n: number) =>
      sendRows(rows.slice(1 + Math.floor((n * (ROWS - 1)) / 4), 1 + Math.floor(((n + 1) * (ROWS - 1)) / 4)));

    const service = testService();
    await startSink(config, service);
    stop = () => service.shutdown.run();
    const commits = new CommitWatcher(
      kafka,
      es,
      `${prefix}-sink-elasticsearch`,
      topics.rated,
      names.usagePattern,
    );
    await commits.start();
    await send(topics.control, [controlMessage('REVISION_STARTED')]);
    await sendRows(rows.slice(0, 1));
    await eventually(async () => {
      const n = await es.count({
        index: names.usagePattern,
        ignore_unavailable: true,
        allow_no_indices: true,
      });
      return n.count > 0 ? true : undefined;
    }, 60_000);

    // A quarter of the other rows arrives under each fault, so each one is met by bulks in flight.
    // 1. Connections reset.
    const reset = await proxy.toxic('reset_peer', { timeout: 0 });
    await wave(0);
    await new Promise((r) => setTimeout(r, 3_000));
    await proxy.removeToxic(reset);
    // 2. The cluster unreachable for OUTAGE_MS.
    await proxy.disable();
    await wave(1);
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    recordFigure('s Elasticsearch was unreachable', OUTAGE_MS / 1000);
    await proxy.enable();
    // 3. The cluster answering nothing: each request hangs past its 3 s timeout.
    const hang = await proxy.toxic('timeout', { timeout: 0 });
    await wave(2);
    await new Promise((r) => setTimeout(r, 5_000));
    await proxy.removeToxic(hang);
    // 4. Every other bulk request refused with 429.
    throttle.setRule(({ url, seq }) =>
      url.includes('_bulk') && seq % 2 === 0 ? ES_TOO_MANY_REQUESTS : undefined,
    );
    await wave(3);
    await new Promise((r) => setTimeout(r, 4_000));
    throttle.setRule(undefined);
    expect(throttle.faulted).toBeGreaterThan(0);
    recordFigure('bulk requests answered 429', throttle.faulted);
    await send(topics.control, [controlMessage('REVISION_COMPLETED')]);

    const published = await eventually(async () => {
      const doc = await es
        .get<RevisionDocument>({ index: names.revisions, id: revisionDocId(scope, 'r1') })
        .catch(() => undefined);
      return doc?._source?.state === 'published' ? doc._source : undefined;
    }, 180_000);
    expect(published.row_count).toBe(ROWS);
    // The faults were felt: the sink had to send items again (without the proxy in the path it
    // would not have).
    const retried = (await service.registry.getSingleMetric('meterflow_sink_retried_items_total')!.get())
      .values;
    const retriedItems = retried.reduce((n, v) => n + v.value, 0);
    expect(retriedItems).toBeGreaterThan(0);
    recordFigure('bulk items sent again', retriedItems);

    const expectByCustomer = new Map<string, Decimal>();
    for (const r of rows)
      expectByCustomer.set(
        r.x_CustomerId,
        (expectByCustomer.get(r.x_CustomerId) ?? new Decimal(0)).plus(r.x_RatedCost!),
      );
    const expected = Object.fromEntries(
      [...expectByCustomer].sort().map(([k, v]) => [k, decimalToString(v)]),
    );
    const check = async () => {
      await es.indices.refresh({ index: names.usagePattern });
      const totals = await exactSum(es, names.usageAlias, 'x_RatedCost');
      expect(totals.count).toBe(ROWS);
      expect(totals.byCustomer).toEqual(expected);
    };
    await check();

    // The same revision delivered again (a re-collected export): no total moves.
    await produceRevision(producer, topics, scope, 'r1', rows);
    await caughtUp(kafka, `${prefix}-sink-elasticsearch`, [topics.rated, topics.control], 120_000);
    await check();
    await producer.disconnect();
    // Through every fault, no committed offset was ahead of what Elasticsearch had acknowledged.
    const samples = await commits.verify();
    expect(samples).toBeGreaterThan(1);
    recordFigure('commit samples checked against Elasticsearch', samples);
  });
});
