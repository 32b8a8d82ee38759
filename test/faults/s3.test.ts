import { Registry } from 'prom-client';
import { Collector } from '../../collectors/core/collector';
import { sourcesFor } from '../../collectors/command';
import { createS3 } from '../../providers/aws/store';
import { createKafka } from '../../runtime/kafka';
import { createLogger } from '../../runtime/logger';
import { testConfig, uniqueName } from '../integration/helpers';
import { curCsv, ensureBucket, gz, putCurRevision, curLines } from '../integration/collectors/cur-fixture';
import { decodeControl, readRawRows, readTopic } from '../integration/collectors/kafka-read';
import { recordFigure } from './results';
import { createProxy, type Proxy } from './toxiproxy';
import { S3_SLOW_DOWN, startHttpFaultProxy, type HttpFaultProxy } from './http-faults';

/**
 * The object store cutting a download short, through a real TCP proxy in front of the S3 server:
 * the connection is closed after part of a gzipped export file. The collector must treat it as
 * the transient fault it is (the revision resumes on the next pass), never as a corrupt export
 * (which would fail the revision and keep last month's numbers in force). The oracle: every row
 * exactly once on the raw topic, one completed revision whose row count is the file's, and a third
 * pass over the same export writes nothing.
 */
const ROWS = 4_000;

describe('faults: S3 behind a TCP fault proxy, under the collector', () => {
  jest.setTimeout(240_000);
  const base = testConfig();
  const prefix = uniqueName('fault-s3');
  let proxy: Proxy;
  let slow: HttpFaultProxy | undefined;

  afterAll(async () => {
    await proxy?.remove();
    await slow?.close();
  });

  /** A collector of one CUR export of ROWS lines in a fresh bucket, reaching S3 through `endpoint`. */
  async function exportBehind(endpoint: string, name: string) {
    const bucket = uniqueName(name);
    const topicPrefix = uniqueName(`fault-s3-${name}`);
    const config = {
      ...base,
      kafka: { ...base.kafka, topic_prefix: topicPrefix },
      aws: {
        ...base.aws,
        endpoint,
        exports: [{ name, bucket, prefix: '', type: 'cur-legacy' as const }],
      },
    };
    const { client: s3 } = createS3(base.aws);
    await ensureBucket(s3, bucket);
    const lines = curLines(ROWS, {
      description: (i) => `usage line ${i} with a description long enough to make the file worth cutting`,
    });
    const body = gz(curCsv(lines));
    await putCurRevision(s3, bucket, 'report', `assembly-${name}`, [{ name: 'report-1.csv.gz', body }]);
    const kafka = createKafka(config, `fault-s3-${name}`);
    const collector = new Collector({
      provider: 'aws',
      config: config as never,
      kafka,
      logger: createLogger({ level: 'error', component: `fault-s3-${name}` }),
      registry: new Registry(),
      sources: sourcesFor('aws', config as never),
    });
    return { kafka, collector, body, topicPrefix };
  }

  /** The oracle: every row once on the raw topic, one completed revision of ROWS rows, none failed. */
  async function expectEveryRowOnce(kafka: ReturnType<typeof createKafka>, topicPrefix: string) {
    const rows = await readRawRows(kafka, `${topicPrefix}.raw.aws`);
    expect(new Set(rows.map((r) => r.line)).size).toBe(ROWS);
    expect(rows).toHaveLength(ROWS);
    const control = await readTopic(kafka, `${topicPrefix}.control`, decodeControl);
    const completed = control.filter((c) => c.type === 'REVISION_COMPLETED');
    expect(completed).toHaveLength(1);
    expect(completed[0].row_count).toBe(ROWS);
    expect(control.some((c) => c.type === 'REVISION_FAILED')).toBe(false);
  }

  it('a download cut short mid-object is retried, and every row arrives once', async () => {
    const upstream = new URL(base.aws.endpoint ?? `http://127.0.0.1:${base.stack.ports.s3}`);
    proxy = await createProxy(base, prefix, `${upstream.hostname}:${upstream.port}`);
    const { kafka, collector, body, topicPrefix } = await exportBehind(`http://${proxy.listen}`, 'cut');
    await collector.start();
    try {
      // Pass 1: every connection is closed after half the object's bytes (listing and manifest
      // are far smaller and go through).
      const cut = await proxy.toxic('limit_data', { bytes: Math.floor(body.length / 2) });
      const first = await collector.pollOnce();
      await proxy.removeToxic(cut);
      expect(first.completed).toHaveLength(0);
      expect(first.failed).toEqual([]);

      // Pass 2: the store is whole again; the revision resumes and completes.
      const second = await collector.pollOnce();
      expect(second.failed).toEqual([]);
      expect(second.completed.map((r) => r.revision_id)).toEqual(['assembly-cut']);

      // Pass 3: the same export again changes nothing.
      const third = await collector.pollOnce();
      expect(third.completed).toHaveLength(0);
      expect(third.skipped).toBe(1);
    } finally {
      await collector.stop();
    }
    await expectEveryRowOnce(kafka, topicPrefix);
  });

  it("503 SlowDown, past the client's retries and then on every other request, loses and doubles nothing", async () => {
    slow = await startHttpFaultProxy(base.aws.endpoint ?? `http://127.0.0.1:${base.stack.ports.s3}`);
    const { kafka, collector, topicPrefix } = await exportBehind(slow.url, 'slowdown');
    await collector.start();
    try {
      // Pass 1: the export file answers SlowDown on every attempt, more than the S3 client retries:
      // a transient fault; the revision neither completes nor fails.
      slow.setRule(({ method, url }) =>
        method === 'GET' && url.includes('report-1.csv.gz') ? S3_SLOW_DOWN : undefined,
      );
      const first = await collector.pollOnce();
      const refused = slow.faulted;
      expect(refused).toBeGreaterThan(1);
      expect(first.completed).toHaveLength(0);
      expect(first.failed).toEqual([]);

      // Pass 2: every other request of any kind (listing, manifest, object) is refused once.
      slow.setRule(({ seq }) => (seq % 2 === 0 ? S3_SLOW_DOWN : undefined));
      const second = await collector.pollOnce();
      expect(slow.faulted).toBeGreaterThan(refused);
      expect(second.failed).toEqual([]);
      expect(second.completed.map((r) => r.revision_id)).toEqual(['assembly-slowdown']);

      // Pass 3: the same export again changes nothing.
      recordFigure('requests answered SlowDown', slow.faulted);
      slow.setRule(undefined);
      const third = await collector.pollOnce();
      expect(third.completed).toHaveLength(0);
    } finally {
      await collector.stop();
    }
    await expectEveryRowOnce(kafka, topicPrefix);
  });
});
