import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { Collector } from '../../collectors/core/collector';
import { sourcesFor } from '../../collectors/command';
import { createS3 } from '../../providers/aws/store';
import { createKafka } from '../../runtime/kafka';
import { createLogger } from '../../runtime/logger';
import { curCsv, curLines, ensureBucket, putCurRevision } from '../integration/collectors/cur-fixture';
import { decodeControl, readRawRows, readTopic } from '../integration/collectors/kafka-read';
import { testConfig, uniqueName } from '../integration/helpers';
import { makeZip } from '../support/zip';
import { recordFigure } from './results';

/**
 * The zip spool's disk full: a legacy CUR `.csv.zip` must be spooled to local disk (a zip keeps its
 * directory at the end), and here the spool folder is a 1 MiB tmpfs, smaller than the object. The
 * collector must take it as the operational fault it is: the revision neither fails (last month's
 * numbers would stay in force) nor completes; once there is space the next pass resumes it, and
 * every row arrives once. Slow-suite only: it mounts a tmpfs, which needs root (the CI machine
 * runs as root; `npm run test:faults` fails loudly where it cannot).
 */
const ROWS = 20_000;

describe('faults: the zip spool disk full', () => {
  jest.setTimeout(240_000);

  it('the revision waits for space, then every row arrives once', async () => {
    const base = testConfig();
    const mount = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-small-disk-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mount]);
    const prefix = uniqueName('fault-disk');
    const bucket = uniqueName('diskfull');
    const config = {
      ...base,
      kafka: { ...base.kafka, topic_prefix: prefix },
      aws: { ...base.aws, exports: [{ name: 'zipped', bucket, prefix: '', type: 'cur-legacy' as const }] },
    };
    const { client: s3 } = createS3(base.aws);
    await ensureBucket(s3, bucket);
    // Random descriptions keep the deflated object well above the 1 MiB disk.
    const lines = curLines(ROWS, { description: () => crypto.randomBytes(48).toString('base64') });
    const body = makeZip([{ name: 'report-1.csv', data: Buffer.from(curCsv(lines)) }]);
    expect(body.length).toBeGreaterThan(1024 * 1024);
    await putCurRevision(s3, bucket, 'report', 'assembly-zip', [{ name: 'report-1.csv.zip', body }]);

    const kafka = createKafka(config, 'fault-disk');
    const collectorWith = (spoolDir: string) =>
      new Collector({
        provider: 'aws',
        config: config as never,
        kafka,
        logger: createLogger({ level: 'error', component: 'fault-disk' }),
        registry: new Registry(),
        sources: sourcesFor('aws', {
          ...config,
          collector: { ...config.collector, spool_dir: spoolDir },
        } as never),
      });
    try {
      // Pass 1: the spool folder is the 1 MiB disk.
      const small = collectorWith(mount);
      await small.start();
      try {
        const first = await small.pollOnce();
        expect(first.completed).toHaveLength(0);
        expect(first.failed).toEqual([]);
        // Nothing of the spool is left behind on the full disk.
        expect(fs.readdirSync(mount)).toEqual([]);
      } finally {
        await small.stop();
      }

      // The operator gives the collector a roomy spool folder and restarts it: the revision
      // resumes from its checkpoint and completes.
      const roomy = collectorWith(os.tmpdir());
      await roomy.start();
      try {
        const started = Date.now();
        const second = await roomy.pollOnce();
        expect(second.failed).toEqual([]);
        expect(second.completed.map((r) => r.revision_id)).toEqual(['assembly-zip']);
        recordFigure('s to complete once there was space', ((Date.now() - started) / 1000).toFixed(1));
        recordFigure('zip object MiB', (body.length / 2 ** 20).toFixed(2));
        const third = await roomy.pollOnce();
        expect(third.completed).toHaveLength(0);
      } finally {
        await roomy.stop();
      }
    } finally {
      execFileSync('umount', [mount]);
      fs.rmSync(mount, { recursive: true, force: true });
    }

    const rows = await readRawRows(kafka, `${prefix}.raw.aws`);
    expect(rows).toHaveLength(ROWS);
    expect(new Set(rows.map((r) => r.line)).size).toBe(ROWS);
    const control = await readTopic(kafka, `${prefix}.control`, decodeControl);
    expect(control.filter((c) => c.type === 'REVISION_COMPLETED').map((c) => c.row_count)).toEqual([ROWS]);
    expect(control.some((c) => c.type === 'REVISION_FAILED')).toBe(false);
  });
});
