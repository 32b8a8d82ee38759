import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportPublishedUsage } from '../../../api/export';
import { createElasticsearch } from '../../../runtime/elasticsearch';
import { createKafka, topicNames } from '../../../runtime/kafka';
import { Decimal, decimalToString } from '../../../schemas/decimal';
import { startSink } from '../../../sinks/elasticsearch/command';
import { indexNames, revisionDocId, type RevisionDocument } from '../../../sinks/elasticsearch/indices';
import { eventually, testConfig, uniqueName } from '../helpers';
import { controlTotals, produceRevision, ratedLine, testService } from '../sinks/sink-fixture';

/**
 * `meterflow export` on the real stack: a period's published usage only (a restated scope's
 * superseded revision is not in it), exactly, as NDJSON, CSV and Parquet.
 */
describe('meterflow export (real Kafka and Elasticsearch)', () => {
  jest.setTimeout(180_000);

  it('writes the published revision of each scope, with exact totals, in every format', async () => {
    const config = testConfig();
    config.kafka.topic_prefix = uniqueName('it-export');
    config.elasticsearch.index_prefix = uniqueName('it-export');
    config.sink.publish_interval_ms = 300;
    const topics = topicNames(config);
    const names = indexNames(config.elasticsearch.index_prefix);
    const es = createElasticsearch(config);
    const producer = createKafka(config, 'it-export-producer').producer();
    await producer.connect();
    const service = testService();
    await startSink(config, service);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-export-'));
    const published = (scope: string, rev: string) =>
      eventually(async () => {
        const d = await es
          .get<RevisionDocument>({ index: names.revisions, id: revisionDocId(scope, rev) })
          .catch(() => undefined);
        return d?._source?.state === 'published' ? true : undefined;
      }, 90_000);
    try {
      const a = 'aws/main/2026-02';
      const b = 'gcp/main/2026-02';
      const a1 = Array.from({ length: 40 }, (_, i) => ratedLine(a, 'r1', i + 2));
      const a2 = Array.from({ length: 25 }, (_, i) => ratedLine(a, 'r2', i + 2, { BilledCost: `${i}.125` }));
      const b1 = Array.from({ length: 30 }, (_, i) => ratedLine(b, 'r1', i + 2));
      await produceRevision(producer, topics, a, 'r1', a1);
      await produceRevision(producer, topics, b, 'r1', b1);
      await published(a, 'r1');
      await published(b, 'r1');
      await produceRevision(producer, topics, a, 'r2', a2);
      await published(a, 'r2');

      const rows = [...a2, ...b1];
      const billed = controlTotals(rows)[0].billed_cost;
      const out = (f: string) => path.join(dir, `export.${f}`);
      const ndjson = await exportPublishedUsage(config, {
        period: '2026-02',
        format: 'ndjson',
        out: out('ndjson'),
      });
      expect(ndjson.rows).toBe(rows.length);
      expect(ndjson.billed_cost).toEqual({ USD: billed });
      const lines = fs
        .readFileSync(out('ndjson'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(new Set(lines.map((l) => l.x_RecordId))).toEqual(new Set(rows.map((r) => r.x_RecordId)));
      expect(lines.some((l) => l.x_Revision === 'r1' && l.x_Scope === a)).toBe(false);

      for (const format of ['csv', 'parquet'] as const) {
        const s = await exportPublishedUsage(config, { period: '2026-02', format, out: out(format) });
        expect(s).toEqual(ndjson);
        expect(fs.statSync(out(format)).size).toBeGreaterThan(0);
      }
      expect(fs.readFileSync(out('csv'), 'utf8').trim().split('\r\n')).toHaveLength(rows.length + 1);

      const acme = await exportPublishedUsage(config, {
        period: '2026-02',
        customer: 'acme',
        format: 'ndjson',
        out: out('acme.ndjson'),
      });
      const acmeRows = rows.filter((r) => r.x_CustomerId === 'acme');
      expect(acme.rows).toBe(acmeRows.length);
      expect(acme.rated_cost).toEqual({
        USD: decimalToString(acmeRows.reduce((s, r) => s.plus(r.x_RatedCost!), new Decimal(0))),
      });
      const none = await exportPublishedUsage(config, {
        period: '2026-03',
        format: 'ndjson',
        out: out('none.ndjson'),
      });
      expect(none.rows).toBe(0);
    } finally {
      await service.shutdown.run();
      await producer.disconnect();
      fs.rmSync(dir, { recursive: true, force: true });
      await es.indices.delete({ index: `${config.elasticsearch.index_prefix}-*` }).catch(() => undefined);
      await es.indices.deleteIndexTemplate({ name: names.usageTemplate }).catch(() => undefined);
    }
  });
});
