import { Registry } from 'prom-client';
import { Collector } from '../../collectors/core/collector';
import { sourcesFor } from '../../collectors/command';
import { createS3 } from '../../providers/aws/store';
import { createKafka } from '../../runtime/kafka';
import { createLogger } from '../../runtime/logger';
import { testConfig, uniqueName } from '../integration/helpers';
import {
  curCsv,
  ensureBucket,
  gz,
  putCurRevision,
  type CurLine,
} from '../integration/collectors/cur-fixture';
import { decodeControl, readRawRows, readTopic } from '../integration/collectors/kafka-read';
import { createProxy, type Proxy } from './toxiproxy';

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

  afterAll(async () => {
    await proxy?.remove();
  });

  it('a download cut short mid-object is retried, and every row arrives once', async () => {
    const upstream = new URL(base.aws.endpoint ?? `http://127.0.0.1:${base.stack.ports.s3}`);
    proxy = await createProxy(base, prefix, `${upstream.hostname}:${upstream.port}`);
    const bucket = uniqueName('faults3');
    const config = {
      ...base,
      kafka: { ...base.kafka, topic_prefix: prefix },
      aws: {
        ...base.aws,
        endpoint: `http://${proxy.listen}`,
        exports: [{ name: 'cut', bucket, prefix: '', type: 'cur-legacy' as const }],
      },
    };
    const { client: s3 } = createS3(base.aws);
    await ensureBucket(s3, bucket);
    const lines: CurLine[] = Array.from({ length: ROWS }, (_, i) => ({
      id: `l${i}`,
      product: i % 2 ? 'AmazonEC2' : 'AmazonS3',
      cost: `0.${String(i).padStart(6, '0')}1`,
      description: `usage line ${i} with a description long enough to make the file worth cutting`,
    }));
    const body = gz(curCsv(lines));
    await putCurRevision(s3, bucket, 'report', 'assembly-cut', [{ name: 'report-1.csv.gz', body }]);

    const kafka = createKafka(config, 'fault-s3');
    const collector = new Collector({
      provider: 'aws',
      config: config as never,
      kafka,
      logger: createLogger({ level: 'warn', component: 'fault-s3' }),
      registry: new Registry(),
      sources: sourcesFor('aws', config as never),
    });
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

    const rows = await readRawRows(kafka, `${prefix}.raw.aws`);
    expect(new Set(rows.map((r) => r.line)).size).toBe(ROWS);
    expect(rows).toHaveLength(ROWS);
    const control = await readTopic(kafka, `${prefix}.control`, decodeControl);
    const completed = control.filter((c) => c.type === 'REVISION_COMPLETED');
    expect(completed).toHaveLength(1);
    expect(completed[0].row_count).toBe(ROWS);
    expect(control.some((c) => c.type === 'REVISION_FAILED')).toBe(false);
  });
});
