import { createElasticsearch } from '../../../runtime/elasticsearch';
import { createKafka, ensureTopics, fetchTopicOffsets, topicNames } from '../../../runtime/kafka';
import { startSink } from '../../../sinks/elasticsearch/command';
import { indexNames, type RevisionDocument, revisionDocId } from '../../../sinks/elasticsearch/indices';
import { AvroTypes, type RevisionEvent } from '../../../schemas';
import { eventually, testConfig, uniqueName } from '../helpers';
import { decodeDeadLetter, readTopic } from '../collectors/kafka-read';
import { control, controlTotals, exactSum, produceRevision, ratedLine, testService } from './sink-fixture';

/**
 * The Elasticsearch sink and publisher on the real broker and node: documents land once, a revision
 * becomes visible only whole and reconciled, a restatement replaces it atomically, and a document
 * Elasticsearch refuses is dead-lettered with its reason while its revision still reconciles.
 */
describe('Elasticsearch sink (real Kafka and Elasticsearch)', () => {
  jest.setTimeout(180_000);

  it('publishes whole, reconciled revisions; restatements replace them; rejects are dead-lettered', async () => {
    const config = testConfig();
    config.kafka.topic_prefix = uniqueName('it-sink');
    config.elasticsearch.index_prefix = uniqueName('it-sink');
    config.sink.publish_interval_ms = 300;
    // No history: superseded documents are deleted in the pass that supersedes them (history.test.ts
    // covers keeping them).
    config.sink.history_retention_days = 0;
    config.sink.bulk_max_docs = 70; // several bulk requests per batch, in flight together
    const topics = topicNames(config);
    const names = indexNames(config.elasticsearch.index_prefix);
    const es = createElasticsearch(config);
    const kafka = createKafka(config, 'it-sink-producer');
    const producer = kafka.producer();
    await producer.connect();
    const service = testService();
    const { publisher } = await startSink(config, service);
    const revisionDoc = async (scope: string, rev: string) =>
      (await es.get<RevisionDocument>({ index: names.revisions, id: revisionDocId(scope, rev) }))._source!;
    try {
      // Revision r1: 300 rows, 2 dead-lettered by the price stage, one with a ChargePeriodStart
      // Elasticsearch cannot parse (its mapping says date): that one is dead-lettered by the sink.
      const scope = 'aws/main/2026-02';
      const r1 = Array.from({ length: 300 }, (_, i) =>
        ratedLine(scope, 'r1', i + 2, i === 7 ? { ChargePeriodStart: 'yesterday-ish' } : {}),
      );
      await produceRevision(producer, topics, scope, 'r1', r1, { deadLettered: new Set([3, 4]) });

      const published = await eventually(async () => {
        const doc = await revisionDoc(scope, 'r1').catch(() => undefined);
        return doc?.state === 'published' ? doc : undefined;
      }, 90_000);
      expect(published.indexed_rows).toBe(297);
      expect(published.dead_lettered_rows).toBe(3);
      expect(published.indexed_totals).toEqual(controlTotals(r1));

      const visible = await exactSum(es, names.usageAlias, 'BilledCost');
      expect(visible.count).toBe(297);
      const expected = controlTotals(r1.filter((_, i) => ![3, 4, 7].includes(i)))[0].billed_cost;
      expect(visible.sum).toBe(expected);

      const sinkLetters = (await readTopic(kafka, topics.deadLetter, decodeDeadLetter)).filter(
        (d) => d.stage === 'sink.elasticsearch',
      );
      expect(sinkLetters).toHaveLength(1);
      expect(sinkLetters[0].reason).toBe('mapping_error');
      expect(sinkLetters[0].record_id).toBe(r1[7].x_RecordId);
      expect(sinkLetters[0].message).toMatch(/ChargePeriodStart/);

      // Restatement r2 (different rows and costs) replaces r1 whole.
      const r2 = Array.from({ length: 120 }, (_, i) =>
        ratedLine(scope, 'r2', i + 2, { BilledCost: `${i}.25` }),
      );
      await produceRevision(producer, topics, scope, 'r2', r2);
      await eventually(
        async () => ((await revisionDoc(scope, 'r2')).state === 'published' ? true : undefined),
        90_000,
      );
      expect((await revisionDoc(scope, 'r1')).state).toBe('superseded');
      const after = await exactSum(es, names.usageAlias, 'BilledCost');
      expect(after.count).toBe(120);
      expect(after.sum).toBe(controlTotals(r2)[0].billed_cost);
      // r1's documents are deleted afterwards (core APIs only; retention 0).
      await eventually(async () => {
        await es.indices.refresh({ index: names.usagePattern });
        const n = (await es.count({ index: names.usagePattern, query: { term: { x_Revision: 'r1' } } }))
          .count;
        return n === 0 ? true : undefined;
      });

      // r3's COMPLETED totals disagree with its rows: reported, never published; r2 stays.
      const r3 = Array.from({ length: 50 }, (_, i) => ratedLine(scope, 'r3', i + 2));
      const wrong = controlTotals(r3).map((t) => ({ ...t, billed_cost: '1.00' }));
      await produceRevision(producer, topics, scope, 'r3', r3, { completed: { control_totals: wrong } });
      const r3doc = await eventually(async () => {
        const d = await revisionDoc(scope, 'r3').catch(() => undefined);
        return d?.state === 'unreconciled' ? d : undefined;
      }, 90_000);
      expect(r3doc.problems.join(' ')).toMatch(/USD: billed cost .* in Elasticsearch, 1 in the export/);
      await publisher!.pass();
      expect((await exactSum(es, names.usageAlias, 'BilledCost')).count).toBe(120);
      expect((await revisionDoc(scope, 'r2')).state).toBe('published');

      // The lifecycle on Kafka: r1 published, r2 published replacing r1, r1 superseded by r2, in
      // that order for the scope; the unreconciled r3 is never announced, and a pass with nothing
      // new announces nothing again.
      const lifecycle = async () =>
        (
          await readTopic(
            kafka,
            topics.revisionEvents,
            (v) => AvroTypes.revisionEvent.fromBuffer(v) as RevisionEvent,
          )
        )
          .filter((e) => e.scope === scope)
          .map((e) => [e.type, e.revision_id, e.related_revision_id, e.totals[0]?.billed_cost ?? null]);
      const announced = [
        ['PUBLISHED', 'r1', null, published.indexed_totals[0].billed_cost],
        ['PUBLISHED', 'r2', 'r1', controlTotals(r2)[0].billed_cost],
        ['SUPERSEDED', 'r1', 'r2', published.indexed_totals[0].billed_cost],
      ];
      await eventually(async () => ((await lifecycle()).length >= 3 ? true : undefined), 60_000);
      expect(await lifecycle()).toEqual(announced);
      await publisher!.pass();
      expect(await lifecycle()).toEqual(announced);
    } finally {
      await service.shutdown.run();
      await producer.disconnect();
      await es.indices.delete({ index: `${config.elasticsearch.index_prefix}-*` }).catch(() => undefined);
      await es.indices.deleteIndexTemplate({ name: names.usageTemplate }).catch(() => undefined);
    }
  });
  it('indexes each message of a transactional topic once and commits past its transaction markers', async () => {
    // The price stage writes the rated topic in Kafka transactions: every transaction leaves a
    // commit marker the sink's read_committed consumer is never given. Ten transactions sit in one
    // partition before the sink starts, so its first fetch holds several of them.
    const config = testConfig();
    config.kafka.topic_prefix = uniqueName('it-sink-tx');
    config.elasticsearch.index_prefix = uniqueName('it-sink-tx');
    config.sink.publish_interval_ms = 300;
    config.sink.bulk_max_docs = 70; // several bulk requests per fetched batch, in flight together
    const topics = topicNames(config);
    const names = indexNames(config.elasticsearch.index_prefix);
    const es = createElasticsearch(config);
    const kafka = createKafka(config, 'it-sink-tx-producer');
    await ensureTopics(kafka, config, [{ topic: topics.rated }, { topic: topics.control }]);
    const producer = kafka.producer({
      transactionalId: uniqueName('it-sink-tx'),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    const scope = 'aws/tx/2026-02';
    const rows = Array.from({ length: 400 }, (_, i) => ratedLine(scope, 'r1', i + 2));
    const send = async (topic: string, messages: Array<{ key: string; value: Buffer }>) => {
      const tx = await producer.transaction();
      await tx.send({ topic, messages: messages.map((m) => ({ ...m, partition: 0 })) });
      await tx.commit();
    };
    const service = testService();
    try {
      await send(topics.control, [
        { key: scope, value: AvroTypes.revisionControl.toBuffer(control('REVISION_STARTED', scope, 'r1')) },
      ]);
      for (let i = 0; i < rows.length; i += 40)
        await send(
          topics.rated,
          rows.slice(i, i + 40).map((r) => ({ key: r.x_RecordId, value: AvroTypes.usageRecord.toBuffer(r) })),
        );
      await send(topics.control, [
        {
          key: scope,
          value: AvroTypes.revisionControl.toBuffer(control('REVISION_COMPLETED', scope, 'r1', rows)),
        },
      ]);
      const end = (await fetchTopicOffsets(kafka, topics.rated)).find((p) => p.partition === 0)!.high;
      expect(end).toBe('410'); // 400 records and 10 commit markers

      await startSink(config, service);
      const published = await eventually(async () => {
        const doc = await es
          .get<RevisionDocument>({ index: names.revisions, id: revisionDocId(scope, 'r1') })
          .catch(() => undefined);
        return doc?._source?.state === 'published' ? doc._source : undefined;
      }, 90_000);
      expect(published.indexed_rows).toBe(400);
      expect((await exactSum(es, names.usageAlias, 'BilledCost')).sum).toBe(
        controlTotals(rows)[0].billed_cost,
      );

      // Each document went to Elasticsearch once: no part of a fetch was read and indexed again.
      const stats = await es.indices.stats({ index: names.usagePattern, metric: 'indexing' });
      expect(stats._all.primaries?.indexing?.index_total).toBe(400);
      // The group's position is the end of the partition, past the last marker (no lag left behind).
      const admin = kafka.admin();
      await admin.connect();
      try {
        const committed = await eventually(async () => {
          const [t] = await admin.fetchOffsets({
            groupId: `${config.kafka.topic_prefix}-sink-elasticsearch`,
            topics: [topics.rated],
          });
          const p0 = t.partitions.find((p) => p.partition === 0)!.offset;
          return p0 === end ? p0 : undefined;
        }, 30_000);
        expect(committed).toBe('410');
      } finally {
        await admin.disconnect();
      }
    } finally {
      await service.shutdown.run();
      await producer.disconnect();
      await es.indices.delete({ index: `${config.elasticsearch.index_prefix}-*` }).catch(() => undefined);
      await es.indices.deleteIndexTemplate({ name: names.usageTemplate }).catch(() => undefined);
    }
  });
});
