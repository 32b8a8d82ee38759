import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createKafka } from '../../runtime/kafka';
import { createS3 } from '../../providers/aws/store';
import { AvroTypes, type UsageRecord } from '../../schemas';
import { eventually, exitOf, meterflowProcess, testConfig, uniqueName } from './helpers';
import { prng } from '../support/random';
import { curCsv, curLines, ensureBucket, gz, putCurRevision } from './collectors/cur-fixture';
import { decodeControl, readRawRows, readTopic } from './collectors/kafka-read';

/**
 * kill -9 at an arbitrary instant, then restart: a read_committed consumer sees every row once.
 * The processes are the real CLI (`meterflow collect`, `meterflow process all`), killed with SIGKILL
 * while they are mid-revision / mid-stream, as a crash in production would.
 */
// Enough rows that the collector is still mid-revision when the kill lands: at ~30k rows/s it
// writes 20,000 rows in well under a second, and a kill at ~3,000 rows could arrive too late.
const ROWS = 60_000;

const cli = (args: string[], configFile: string) => meterflowProcess(args, configFile);

async function highWatermarkSum(kafka: ReturnType<typeof createKafka>, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((s, o) => s + Number(o.high), 0);
  } catch {
    return 0;
  } finally {
    await admin.disconnect();
  }
}

describe('crash recovery (kill -9, real processes, real Kafka)', () => {
  // The kill points are drawn from a seed, printed so that a failing run can be replayed with
  // FAULTS_SEED=<seed> (not a METERFLOW_ variable: those are configuration overrides).
  const seed = Number(process.env.FAULTS_SEED ?? Date.now() % 1_000_000);
  const random = prng(seed);
  process.stderr.write(`crash test: kill points from seed ${seed} (FAULTS_SEED=${seed} replays them)\n`);
  const base = testConfig();
  const prefix = uniqueName('it-crash');
  const bucket = uniqueName('crash');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-crash-'));
  const configFile = path.join(dir, 'meterflow.yaml');
  fs.writeFileSync(
    configFile,
    [
      'kafka:',
      `  topic_prefix: ${prefix}`,
      'collector:',
      '  transaction_rows: 500',
      'processor:',
      '  session_timeout_ms: 6000',
      'ops:',
      '  port: 0',
      'aws:',
      '  exports:',
      `    - { name: crash, bucket: ${bucket}, prefix: '', type: cur-legacy }`,
      '',
    ].join('\n'),
  );
  const kafka = createKafka(base, 'it-crash-reader');
  const rawTopic = `${prefix}.raw.aws`;

  it('collector: killed mid-revision, restarted, every row exactly once', async () => {
    const { client: s3 } = createS3(base.aws);
    await ensureBucket(s3, bucket);
    const lines = curLines(ROWS);
    await putCurRevision(s3, bucket, 'report', 'assembly-crash', [
      { name: 'report-1.csv.gz', body: gz(curCsv(lines.slice(0, ROWS / 2))) },
      { name: 'report-2.csv.gz', body: gz(curCsv(lines.slice(ROWS / 2))) },
    ]);

    const first = cli(['collect', 'aws', '--once'], configFile);
    const firstExit = exitOf(first);
    // Raw messages are v2 batches of up to 500 rows, one per 500-row transaction here, and each
    // transaction also leaves a commit marker: the kill lands after 2 to 20 transactions (1,000 to
    // 10,000 of the 60,000 rows), at a point drawn from the seed.
    const collectorKillAt = 4 + Math.floor(random() * 36);
    await eventually(
      async () => ((await highWatermarkSum(kafka, rawTopic)) > collectorKillAt ? true : undefined),
      120_000,
      50,
    );
    first.kill('SIGKILL');
    expect(await firstExit).toBeNull(); // killed, not finished

    // The killed collector's open transaction holds back read_committed readers until the broker
    // aborts it on its transaction timeout (kafkajs' default, 60 s, checked every 10 s), so this read
    // can legitimately take over a minute.
    const partial = await readRawRows(kafka, rawTopic, 150_000);
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.length).toBeLessThan(ROWS);

    const second = cli(['collect', 'aws', '--once'], configFile);
    let stderr = '';
    second.stderr!.on('data', (c) => (stderr += String(c)));
    expect(await exitOf(second)).toBe(0);

    const rows = await readRawRows(kafka, rawTopic);
    const keys = new Set(rows.map((r) => `${r.object}#${r.line}`));
    expect(keys.size).toBe(ROWS);
    expect(rows).toHaveLength(ROWS);
    const control = await readTopic(kafka, `${prefix}.control`, decodeControl);
    expect(control.map((c) => c.type)).toEqual(['REVISION_STARTED', 'REVISION_COMPLETED']);
    expect(control[1].row_count).toBe(ROWS);
    expect(stderr).not.toMatch(/"level":"(error|fatal)"/);
  }, 300_000);

  it('processors: the chain killed mid-stream, restarted, every record rated exactly once', async () => {
    const ratedTopic = `${prefix}.rated`;
    const first = cli(['process', 'all', '--instance', 'crash'], configFile);
    const firstExit = exitOf(first);
    // Killed after 500 to 20,000 of the 60,000 records are rated, at a point drawn from the seed.
    const processorKillAt = 500 + Math.floor(random() * 19_500);
    await eventually(
      async () => ((await highWatermarkSum(kafka, ratedTopic)) > processorKillAt ? true : undefined),
      120_000,
      50,
    );
    first.kill('SIGKILL');
    expect(await firstExit).toBeNull();

    const second = cli(['process', 'all', '--instance', 'crash'], configFile);
    try {
      const rated = await eventually(
        async () => {
          const records = await readTopic(
            kafka,
            ratedTopic,
            (v) => AvroTypes.usageRecord.fromBuffer(v) as UsageRecord,
          );
          return records.length >= ROWS ? records : undefined;
        },
        180_000,
        3000,
      );
      // Give a duplicate, if there were one, time to arrive.
      await new Promise((r) => setTimeout(r, 3000));
      const final = await readTopic(
        kafka,
        ratedTopic,
        (v) => AvroTypes.usageRecord.fromBuffer(v) as UsageRecord,
      );
      expect(final.length).toBe(rated.length);
      expect(new Set(final.map((r) => r.x_RecordId)).size).toBe(ROWS);
      expect(final).toHaveLength(ROWS);
    } finally {
      second.kill('SIGTERM');
      await exitOf(second);
    }
  }, 300_000);
});
