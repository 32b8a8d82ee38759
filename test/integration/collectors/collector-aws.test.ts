import { PutObjectCommand } from '@aws-sdk/client-s3';
import { Registry } from 'prom-client';
import { createS3 } from '../../../providers/aws/store';
import { createKafka } from '../../../runtime/kafka';
import { createLogger } from '../../../runtime/logger';
import type { MeterflowConfig } from '../../../runtime/config';
import { Collector } from '../../../collectors/core/collector';
import { sourcesFor } from '../../../collectors/command';
import { readFixture } from '../../support/fixtures';
import { testConfig, uniqueName } from '../helpers';
import { curCsv, ensureBucket, gz, putCurRevision, type CurLine } from './cur-fixture';
import { decodeControl, decodeDeadLetter, readRawRows, readTopic } from './kafka-read';

/**
 * The AWS collector against the real S3 server and Kafka broker: revisions arrive whole and
 * framed, restatements replace, bad input fails its revision or goes to the dead-letter topic, and
 * one broken export does not stop the others.
 */
function isolatedConfig(): MeterflowConfig {
  const config = testConfig();
  config.kafka.topic_prefix = uniqueName('it-aws');
  config.collector.transaction_rows = 2;
  return config;
}

async function collect(config: MeterflowConfig, registry = new Registry()) {
  const collector = new Collector({
    provider: 'aws',
    config,
    kafka: createKafka(config, 'it-collector'),
    logger: createLogger({ level: 'silent' }),
    registry,
    sources: sourcesFor('aws', config),
  });
  await collector.start();
  try {
    return await collector.pollOnce();
  } finally {
    await collector.stop();
  }
}

const rev1: CurLine[] = [
  { id: 'a', product: 'AmazonEC2', cost: '0.0000001' },
  { id: 'b', product: 'AmazonS3', cost: '12.345678901234' },
  {
    id: 'c',
    product: 'AmazonEC2',
    cost: '-1.5',
    type: 'Credit',
    description: 'credit, with "quotes"\nand a newline',
  },
];
// Restatement: b changed, c removed, d and e added.
const rev2: CurLine[] = [
  { id: 'a', product: 'AmazonEC2', cost: '0.0000001' },
  { id: 'b', product: 'AmazonS3', cost: '12.3' },
  { id: 'd', product: 'AmazonRDS', cost: '7' },
  { id: 'e', product: 'AWSDataTransfer', cost: '0.01' },
];
const rev3: CurLine[] = [{ id: 'z', product: 'AmazonEC2', cost: '100' }];

describe('AWS collector (legacy CUR on the local S3 server into Kafka)', () => {
  const base = testConfig();
  const { client: s3 } = createS3(base.aws);

  it('writes each restated revision whole, framed by control records with exact totals', async () => {
    const config = isolatedConfig();
    const bucket = uniqueName('cur');
    await ensureBucket(s3, bucket);
    config.aws.exports = [{ name: 'main', bucket, prefix: '', type: 'cur-legacy' }];
    const kafka = createKafka(config, 'it-reader');

    await putCurRevision(s3, bucket, 'report', 'assembly-1', [
      { name: 'report-1.csv.gz', body: gz(curCsv(rev1)) },
    ]);
    const pass1 = await collect(config);
    expect(pass1.completed.map((r) => r.revision_id)).toEqual(['assembly-1']);

    // Nothing new: a second pass writes nothing.
    const pass2 = await collect(config);
    expect(pass2.completed).toEqual([]);
    expect(pass2.skipped).toBe(1);

    // Two more revisions of the same month; the collector writes the current one (assembly-3
    // supersedes assembly-2 before the collector ever saw assembly-2, which is fine: the newest
    // complete revision wins).
    await putCurRevision(s3, bucket, 'report', 'assembly-2', [
      { name: 'report-1.csv.gz', body: gz(curCsv(rev2.slice(0, 2))) },
      { name: 'report-2.csv.gz', body: gz(curCsv(rev2.slice(2))) },
    ]);
    const pass3 = await collect(config);
    expect(pass3.completed.map((r) => r.revision_id)).toEqual(['assembly-2']);
    await putCurRevision(s3, bucket, 'report', 'assembly-3', [
      { name: 'report-1.csv.gz', body: gz(curCsv(rev3)) },
    ]);
    await collect(config);

    const raw = await readRawRows(kafka, `${config.kafka.topic_prefix}.raw.aws`);
    const byRevision = (id: string) =>
      raw
        .filter((r) => r.revision_id === id)
        .sort((a, b) => (a.object + a.line).localeCompare(b.object + b.line));
    expect(byRevision('assembly-1').map((r) => r.columns['identity/LineItemId'])).toEqual(['a', 'b', 'c']);
    expect(
      byRevision('assembly-2')
        .map((r) => r.columns['identity/LineItemId'])
        .sort(),
    ).toEqual(['a', 'b', 'd', 'e']);
    expect(byRevision('assembly-3').map((r) => r.columns['identity/LineItemId'])).toEqual(['z']);
    expect(raw).toHaveLength(8);

    // Lineage on every row; the quoted multi-line field kept whole, and its physical line numbers.
    const c = byRevision('assembly-1')[2];
    expect(c).toMatchObject({
      provider: 'aws',
      format: 'aws-cur-legacy',
      scope: `aws/${bucket}/report/2026-11`,
      billing_period: '2026-11',
      line: 4,
    });
    expect(c.object).toBe(`s3://${bucket}/report/20261101-20261201/assembly-1/report-1.csv.gz`);
    expect(c.columns['lineItem/LineItemDescription']).toBe('credit, with "quotes"\nand a newline');

    const control = await readTopic(kafka, `${config.kafka.topic_prefix}.control`, decodeControl);
    expect(control.map((m) => `${m.type}:${m.revision_id}`)).toEqual([
      'REVISION_STARTED:assembly-1',
      'REVISION_COMPLETED:assembly-1',
      'REVISION_STARTED:assembly-2',
      'REVISION_COMPLETED:assembly-2',
      'REVISION_STARTED:assembly-3',
      'REVISION_COMPLETED:assembly-3',
    ]);
    const completed1 = control[1];
    expect(completed1).toMatchObject({
      row_count: 3,
      dead_letter_count: 0,
      billed_cost_column: 'lineItem/UnblendedCost',
    });
    // 0.0000001 + 12.345678901234 - 1.5, exactly.
    expect(completed1.control_totals).toEqual([{ currency: 'USD', billed_cost: '10.845679001234', rows: 3 }]);
    expect(control[3].control_totals).toEqual([{ currency: 'USD', billed_cost: '19.3100001', rows: 4 }]);
    expect(control[2].files).toHaveLength(2);
  });

  it('fails a revision whose object is truncated or missing, and dead-letters malformed lines', async () => {
    const config = isolatedConfig();
    const bucket = uniqueName('cur-bad');
    await ensureBucket(s3, bucket);
    config.aws.exports = [{ name: 'bad', bucket, prefix: '', type: 'cur-legacy' }];
    const kafka = createKafka(config, 'it-reader');

    const full = gz(curCsv(rev1));
    await putCurRevision(s3, bucket, 'truncated', 'assembly-t', [
      { name: 'truncated-1.csv.gz', body: full.subarray(0, full.length - 12) },
    ]);
    await putCurRevision(
      s3,
      bucket,
      'missing',
      'assembly-m',
      [{ name: 'missing-1.csv.gz', body: gz(curCsv(rev1)) }],
      {
        extraManifestKeys: ['missing/20261101-20261201/assembly-m/missing-2.csv.gz'],
      },
    );
    // A row longer than the header is malformed; the rest of the file goes on.
    // and so is a line whose billed cost is not a number.
    const ragged = curCsv([...rev1, { id: 'bad-cost', product: 'AmazonEC2', cost: '12,50' }]).replace(
      '\nb,',
      '\nb,extra,',
    );
    await putCurRevision(s3, bucket, 'ragged', 'assembly-r', [{ name: 'ragged-1.csv.gz', body: gz(ragged) }]);

    const pass = await collect(config);
    const failed = Object.fromEntries(pass.failed.map((f) => [f.revision.revision_id, f.error]));
    expect(Object.keys(failed).sort()).toEqual(['assembly-m', 'assembly-t']);
    expect(failed['assembly-t']).toMatch(/truncated-1\.csv\.gz/);
    expect(failed['assembly-m']).toMatch(/missing-2\.csv\.gz/);
    expect(pass.completed.map((r) => r.revision_id)).toEqual(['assembly-r']);

    const control = await readTopic(kafka, `${config.kafka.topic_prefix}.control`, decodeControl);
    const failedControl = control
      .filter((m) => m.type === 'REVISION_FAILED')
      .map((m) => m.revision_id)
      .sort();
    expect(failedControl).toEqual(['assembly-m', 'assembly-t']);
    const raggedDone = control.find(
      (m) => m.type === 'REVISION_COMPLETED' && m.revision_id === 'assembly-r',
    )!;
    expect(raggedDone).toMatchObject({ row_count: 2, dead_letter_count: 2 });

    const dead = await readTopic(kafka, `${config.kafka.topic_prefix}.dead-letter`, decodeDeadLetter);
    dead.sort((a, b) => Number(a.line) - Number(b.line));
    expect(dead).toHaveLength(2);
    expect(dead[1]).toMatchObject({ reason: 'malformed', line: 6, field: 'lineItem/UnblendedCost' });
    expect(dead[1].message).toContain('12,50');
    expect(dead[0]).toMatchObject({
      stage: 'collector.aws',
      reason: 'malformed',
      revision_id: 'assembly-r',
      line: 3,
    });
    expect(dead[0].object).toContain('ragged-1.csv.gz');
    expect(dead[0].payload.toString()).toContain('extra');

    // A failed revision is not retried until a new one is delivered.
    const again = await collect(config);
    expect(again.completed).toEqual([]);
    expect(again.failed).toEqual([]);
  });

  it('reports a missing bucket by name and keeps serving the other exports', async () => {
    const config = isolatedConfig();
    const bucket = uniqueName('cur-ok');
    await ensureBucket(s3, bucket);
    await putCurRevision(s3, bucket, 'report', 'assembly-ok', [
      { name: 'report-1.csv.gz', body: gz(curCsv(rev3)) },
    ]);
    config.aws.exports = [
      { name: 'gone', bucket: 'no-such-bucket-meterflow', prefix: '', type: 'cur-legacy' },
      { name: 'ok', bucket, prefix: '', type: 'cur-legacy' },
    ];
    const pass = await collect(config);
    expect(pass.exportErrors).toHaveLength(1);
    expect(pass.exportErrors[0].export).toBe('gone');
    expect(pass.exportErrors[0].error).toMatch(
      /s3:\/\/no-such-bucket-meterflow.*does not exist.*credentials: access key meterflow from meterflow config/,
    );
    expect(pass.exportErrors[0].error).not.toContain(config.aws.secret_access_key!);
    expect(pass.completed.map((r) => r.revision_id)).toEqual(['assembly-ok']);
  });

  it('reads a CUR 2.0 Data Export in Parquet by ranged reads, from its execution manifest', async () => {
    const config = isolatedConfig();
    const bucket = uniqueName('cur2');
    await ensureBucket(s3, bucket);
    config.aws.exports = [{ name: 'cur2', bucket, prefix: 'de', type: 'data-exports' }];
    const data = 'de/cur2/data/BILLING_PERIOD=2026-11/exec-7/cur2-00001.snappy.parquet';
    const body = readFixture('parquet', 'cur2-sample.snappy.parquet');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: data, Body: body }));
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'de/cur2/metadata/BILLING_PERIOD=2026-11/cur2-Manifest.json',
        Body: JSON.stringify({
          executionId: 'exec-7',
          exportName: 'cur2',
          billingPeriod: { start: '2026-11-01T00:00:00.000Z', end: '2026-12-01T00:00:00.000Z' },
          columns: [{ name: 'identity_line_item_id' }, { name: 'line_item_unblended_cost' }],
          dataFiles: [`s3://${bucket}/${data}`],
        }),
      }),
    );
    const pass = await collect(config);
    expect(pass.completed.map((r) => [r.format, r.revision_id])).toEqual([['aws-cur2', 'exec-7']]);
    const kafka = createKafka(config, 'it-reader');
    const raw = await readRawRows(kafka, `${config.kafka.topic_prefix}.raw.aws`);
    expect(raw.map((r) => r.columns.identity_line_item_id).sort()).toEqual(['li-0001', 'li-0002', 'li-0003']);
    // Parquet doubles keep their shortest exact text: 1.385e-05 arrives as 0.00001385.
    expect(
      raw.find((r) => r.columns.identity_line_item_id === 'li-0001')!.columns.line_item_unblended_cost,
    ).toBe('0.00001385');
    const control = await readTopic(kafka, `${config.kafka.topic_prefix}.control`, decodeControl);
    const done = control.find((c) => c.type === 'REVISION_COMPLETED')!;
    expect(done.row_count).toBe(3);
    expect(done.control_totals.reduce((s, t) => s + Number(t.rows), 0)).toBe(3);
    expect(done.control_totals.map((t) => t.billed_cost)).toEqual(['-12.49998615']);
  });

  it('skips a corrupt checkpoint record and collects the scope again instead of stalling at start-up', async () => {
    const config = isolatedConfig();
    const bucket = uniqueName('cur-cp');
    await ensureBucket(s3, bucket);
    config.aws.exports = [{ name: 'main', bucket, prefix: '', type: 'cur-legacy' }];
    await putCurRevision(s3, bucket, 'report', 'assembly-1', [
      { name: 'report-1.csv.gz', body: gz(curCsv(rev1)) },
    ]);
    expect((await collect(config)).completed.map((r) => r.revision_id)).toEqual(['assembly-1']);

    // Someone (a tool, a bad restore) writes garbage as the scope's checkpoint.
    const kafka = createKafka(config, 'it-corrupt');
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: `${config.kafka.topic_prefix}.collector-checkpoints`,
      messages: [{ key: `aws/${bucket}/report/2026-11`, value: '{"scope": "truncated' }],
    });
    await producer.disconnect();

    // The collector starts (no 60 s time-out) and writes the revision again; its rows keep their
    // record ids, so downstream dedupe and the sink's document ids absorb the repeat.
    const pass = await collect(config);
    expect(pass.completed.map((r) => r.revision_id)).toEqual(['assembly-1']);
    const raw = await readRawRows(kafka, `${config.kafka.topic_prefix}.raw.aws`);
    expect(raw).toHaveLength(6);
    expect(new Set(raw.map((r) => `${r.object}:${r.line}`)).size).toBe(3);
    // And the checkpoint it wrote is sound again: the next pass has nothing to do.
    expect((await collect(config)).skipped).toBe(1);
  });
});
