import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { loadConfig } from '../runtime/config';
import { createKafka, ensureTopics } from '../runtime/kafka';
import { stackPaths } from '../deploy/stack/stack';
import { STACK_VERSIONS } from '../deploy/stack/versions';
import { AvroTypes } from '../schemas';
import { curHeader, curRows } from './workload/cur';
import { ratedWorkload } from './workload/rated';

/**
 * Kafka's own ceiling on this machine, with the broker's perf-test tools from the Kafka jars the
 * local stack installed (ProducerPerformance, ConsumerPerformance), at the pipeline's record
 * sizes: a raw CUR row (151 columns, Avro) and a rated record (Avro). acks=all like our producers,
 * same partition count as our topics.
 *
 *   npm run bench -- kafka-ceiling [records]
 */
function recordSizes(): { raw: number; rated: number } {
  const header = curHeader();
  const line = curRows(1).next().value as string;
  const values = (parse(line) as string[][])[0];
  const columns = Object.fromEntries(header.map((h, i) => [h, values[i] ?? '']));
  const raw = AvroTypes.rawUsageRow.toBuffer({
    provider: 'aws',
    format: 'aws-cur-legacy',
    scope: 'aws/bench/report/2026-10',
    revision_id: '16e57707-f9e3-49be-8be6-b84e684b5194',
    billing_period: '2026-10',
    object: 's3://bench/report/20261001-20261101/16e57707/report-1.csv.gz',
    line: 2,
    columns,
  }).length;
  const rated = AvroTypes.usageRecord.toBuffer(ratedWorkload(1, 'aws/bench/2026-10', 'r1')[0]).length;
  return { raw, rated };
}

/**
 * Kafka's ProducerPerformance tool (from the local stack's Kafka jars): records/s of `records`
 * records of `size` bytes to `topic`, acks=all, the way our producers send.
 */
export function producerPerformance(
  libs: string,
  broker: string,
  topic: string,
  records: number,
  size: number,
): number {
  const produced = execFileSync(
    'java',
    [
      '-cp',
      libs,
      'org.apache.kafka.tools.ProducerPerformance',
      '--topic',
      topic,
      '--num-records',
      String(records),
      '--record-size',
      String(size),
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${broker}`,
      'acks=all',
      'linger.ms=5',
      'batch.size=262144',
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  // "N records sent, R records/sec (M MB/sec), ..." is the summary line.
  const summary = produced.trim().split('\n').pop()!;
  return Number(/records sent, ([\d.]+) records\/sec/.exec(summary)?.[1]);
}

export async function benchKafkaCeiling(records: number): Promise<Record<string, string | number>> {
  const { config } = loadConfig({ env: {}, cwd: os.tmpdir() });
  const libs = path.join(stackPaths(config).cacheDir, `kafka-${STACK_VERSIONS.kafka}`, 'libs', '*');
  const broker = config.kafka.brokers.join(',');
  const kafka = createKafka(config, 'bench-kafka-ceiling');
  const sizes = recordSizes();
  const figures: Record<string, string | number> = {
    records,
    partitions: config.kafka.topic_partitions,
    'raw row bytes (Avro, 151-column CUR)': sizes.raw,
    'rated record bytes (Avro)': sizes.rated,
  };
  for (const [label, size] of [
    ['raw row', sizes.raw],
    ['rated record', sizes.rated],
  ] as const) {
    const topic = `bench-kafka-ceiling-${Date.now().toString(36)}`;
    await ensureTopics(kafka, config, [{ topic }]);
    const produceRate = producerPerformance(libs, broker, topic, records, size);
    const consumed = execFileSync(
      'java',
      [
        '-cp',
        libs,
        'org.apache.kafka.tools.ConsumerPerformance',
        '--bootstrap-server',
        broker,
        '--topic',
        topic,
        '--messages',
        String(records),
        '--timeout',
        '120000',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    // CSV: start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, ...
    const row = consumed
      .trim()
      .split('\n')
      .pop()!
      .split(',')
      .map((s) => s.trim());
    figures[`${label}: produced records/s (acks=all)`] = Math.round(produceRate);
    figures[`${label}: consumed records/s`] = Math.round(Number(row[5]));
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
  return figures;
}
