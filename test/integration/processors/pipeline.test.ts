import { Registry } from 'prom-client';
import { Decimal, decimalToString } from '../../../schemas/decimal';
import { createKafka, fetchTopicOffsets } from '../../../runtime/kafka';
import { createLogger } from '../../../runtime/logger';
import { createS3 } from '../../../providers/aws/store';
import type { MeterflowConfig } from '../../../runtime/config';
import { Collector } from '../../../collectors/core/collector';
import { sourcesFor } from '../../../collectors/command';
import { spawn } from 'node:child_process';
import { consumeTotals } from '../../../processors/rated-consumer/example';
import { publishPriceBook } from '../../../processors/price/distribution';
import { runReplay } from '../../../processors/replay';
import { AvroTypes, type UsageRecord } from '../../../schemas';
import { eventually, testConfig, uniqueName } from '../helpers';
import { curCsv, ensureBucket, gz, putCurRevision, type CurLine } from '../collectors/cur-fixture';
import { decodeControl, decodeDeadLetter, readTopic } from '../collectors/kafka-read';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// Marks up EC2 and S3 by 10%; RDS has no rule, so its lines must reach the dead-letter topic as
// unpriced (never rated at zero).
const PRICE_BOOK = `
version: it-1
rules:
  - id: compute-storage-10
    match: { ProviderName: AWS, ServiceName: [AmazonEC2, AmazonS3] }
    model: cost_plus
    basis: BilledCost
    markup_percent: 10
`;

/**
 * Collector -> normalize -> dedupe -> price on the real broker: every produced line is rated once,
 * BilledCost sums to the collector's control totals exactly, and the price book decides x_RatedCost.
 */
const decodeUsage = (v: Buffer) => AvroTypes.usageRecord.fromBuffer(v) as UsageRecord;

describe('processor chain (real Kafka)', () => {
  jest.setTimeout(240_000);
  it('rates every line exactly once, with totals equal to the control totals', async () => {
    const config: MeterflowConfig = testConfig();
    config.kafka.topic_prefix = uniqueName('it-chain');
    config.collector.transaction_rows = 50;
    config.processor.session_timeout_ms = 6000;
    const bookFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-book-')), 'pricebook.yaml');
    fs.writeFileSync(bookFile, PRICE_BOOK);
    config.processor.price_book_file = bookFile;
    const { client: s3 } = createS3(config.aws);
    const bucket = uniqueName('chain');
    await ensureBucket(s3, bucket);
    config.aws.exports = [{ name: 'main', bucket, prefix: '', type: 'cur-legacy' }];

    const lines: CurLine[] = Array.from({ length: 240 }, (_, i) => ({
      id: `line-${i}`,
      product: ['AmazonEC2', 'AmazonS3', 'AmazonRDS'][i % 3],
      cost: `${i % 7}.${String(i).padStart(4, '0')}000001`,
    }));
    await putCurRevision(s3, bucket, 'report', 'assembly-1', [
      { name: 'report-1.csv.gz', body: gz(curCsv(lines)) },
    ]);

    const logger = createLogger({ level: (process.env.IT_LOG as 'warn') ?? 'silent' });
    const registry = new Registry();
    const collector = new Collector({
      provider: 'aws',
      config,
      kafka: createKafka(config, 'it'),
      logger,
      registry,
      sources: sourcesFor('aws', config),
    });
    await collector.start();
    const pass = await collector.pollOnce();
    await collector.stop();
    expect(pass.completed).toHaveLength(1);

    // The chain runs as the real CLI process (`meterflow process all`), as it is deployed.
    const configFile = path.join(
      fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-chain-')),
      'meterflow.yaml',
    );
    fs.writeFileSync(
      configFile,
      `kafka:\n  topic_prefix: ${config.kafka.topic_prefix}\nprocessor:\n  session_timeout_ms: 6000\n  price_book_file: ${bookFile}\nops:\n  port: 0\nlog:\n  level: info\n`,
    );
    const chain = spawn(
      process.execPath,
      [
        // One process (no tsx wrapper): a SIGKILL must reach the process doing the work.
        '--import',
        'tsx',
        path.join(__dirname, '../../../cli/main.ts'),
        '--config',
        configFile,
        'process',
        'all',
        '--instance',
        'it',
      ],
      {
        cwd: path.join(__dirname, '../../..'),
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let chainErr = '';
    chain.stderr!.on('data', (c) => {
      chainErr += String(c);
      if (process.env.IT_CHAIN_LOG) fs.appendFileSync(process.env.IT_CHAIN_LOG, String(c));
    });
    const chainExit = new Promise((resolve) => chain.once('exit', resolve));
    const kafka = createKafka(config, 'it-reader');
    const rated = await eventually(
      async () => {
        const records = await readTopic(kafka, `${config.kafka.topic_prefix}.rated`, decodeUsage);
        const dead = await readTopic(kafka, `${config.kafka.topic_prefix}.dead-letter`, decodeDeadLetter);
        return records.length + dead.length >= 240 ? { records, dead } : undefined;
      },
      90_000,
      2000,
    );

    const control = (await readTopic(kafka, `${config.kafka.topic_prefix}.control`, decodeControl)).find(
      (c) => c.type === 'REVISION_COMPLETED',
    )!;
    const ids = new Set(rated.records.map((r) => r.x_RecordId));
    expect(ids.size).toBe(rated.records.length);
    expect(rated.records).toHaveLength(160);
    const unpriced = rated.dead.filter((d) => d.stage === 'processor.price');
    expect(unpriced).toHaveLength(80);
    expect(new Set(unpriced.map((d) => d.reason))).toEqual(new Set(['unpriced']));
    expect(rated.dead).toHaveLength(80);
    const billed = rated.records.reduce((s, r) => s.plus(r.BilledCost), new Decimal(0));
    const deadBilled = rated.dead
      .map((d) => decodeUsage(d.payload))
      .reduce((s, r) => s.plus(r.BilledCost), new Decimal(0));
    expect(decimalToString(billed.plus(deadBilled))).toBe(control.control_totals[0].billed_cost);
    // The example downstream consumer arrives at the same exact totals, independently computed
    // here from the source lines: EC2 and S3 lines marked up 10%, RDS unpriced.
    const expected = lines
      .filter((l) => l.product !== 'AmazonRDS')
      .reduce((s, l) => s.plus(new Decimal(l.cost).times('1.1')), new Decimal(0));
    let seen: Array<{ customer: string; currency: string; rated: string }> = [];
    await consumeTotals(
      kafka,
      {
        control: `${config.kafka.topic_prefix}.control`,
        rated: `${config.kafka.topic_prefix}.rated`,
        deadLetter: `${config.kafka.topic_prefix}.dead-letter`,
      },
      uniqueName('example-consumer'),
      (totals) => {
        seen = totals;
        return totals.length > 0;
      },
    );
    expect(seen).toEqual([{ customer: 'unallocated', currency: 'USD', rated: decimalToString(expected) }]);
    for (const r of rated.records) {
      expect(r).toMatchObject({
        x_PriceBookVersion: 'it-1',
        x_PriceRuleId: 'compute-storage-10',
        x_RatedCurrency: 'USD',
        x_CustomerId: 'unallocated',
      });
      expect(r.x_RatedCost).toBe(decimalToString(new Decimal(r.BilledCost).times('1.1')));
    }

    // The missing price rule is added and the unpriced letters are replayed, exactly once.
    fs.writeFileSync(
      bookFile,
      `${PRICE_BOOK}  - id: rds-5\n    match: { ServiceName: AmazonRDS }\n    model: cost_plus\n    basis: BilledCost\n    markup_percent: 5\n`.replace(
        'version: it-1',
        'version: it-2',
      ),
    );
    await publishPriceBook(kafka, `${config.kafka.topic_prefix}.price-book`, bookFile);
    // Replay only once the running price stage has loaded the new book (it follows the topic).
    await eventually(
      async () => (/"version":"it-2"[^\n]*price book loaded/.test(chainErr) ? true : undefined),
      60_000,
      200,
    );
    const first = await runReplay(config, 'unpriced');
    expect(first).toMatchObject({ replayed: 80, byStage: { 'processor.price': 80 } });
    const second = await runReplay(config, 'unpriced');
    expect(second.replayed).toBe(0);
    const all = await eventually(
      async () => {
        const records = await readTopic(kafka, `${config.kafka.topic_prefix}.rated`, decodeUsage);
        return records.length >= 240 ? records : undefined;
      },
      60_000,
      1000,
    );
    // Every stage's group ends at the end of its input, past the commit marker of the transaction
    // that wrote it last: no lag is left behind on an idle pipeline.
    const prefix = config.kafka.topic_prefix;
    const admin = kafka.admin();
    await admin.connect();
    const lagOf = async (stage: string, topic: string) => {
      const ends = await fetchTopicOffsets(kafka, topic);
      const [committed] = await admin.fetchOffsets({ groupId: `${prefix}-${stage}`, topics: [topic] });
      return ends.reduce((lag, e) => {
        const at = Number(committed.partitions.find((p) => p.partition === e.partition)?.offset ?? -1);
        return lag + Number(e.high) - Math.max(at, Number(e.low));
      }, 0);
    };
    try {
      const lags = await eventually(async () => {
        const l = [
          await lagOf('normalize', `${prefix}.raw.aws`),
          await lagOf('dedupe', `${prefix}.normalized`),
          await lagOf('price', `${prefix}.deduped`),
        ];
        return l.every((x) => x === 0) ? l : undefined;
      }, 30_000);
      expect(lags).toEqual([0, 0, 0]);
    } finally {
      await admin.disconnect();
    }
    chain.kill('SIGTERM');
    await chainExit;
    expect(chainErr).not.toMatch(/"level":"(error|fatal)"/);
    expect(all).toHaveLength(240);
    const rds = all.filter((r) => r.ServiceName === 'AmazonRDS');
    expect(rds).toHaveLength(80);
    for (const r of rds) {
      expect(r).toMatchObject({ x_PriceRuleId: 'rds-5', x_PriceBookVersion: 'it-2' });
      expect(r.x_RatedCost).toBe(decimalToString(new Decimal(r.BilledCost).times('1.05')));
    }
  });
});
