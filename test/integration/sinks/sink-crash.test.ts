import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Decimal, decimalToString } from '../../../schemas/decimal';
import { createElasticsearch } from '../../../runtime/elasticsearch';
import { createKafka, ensureTopics, topicNames } from '../../../runtime/kafka';
import { selectComponents, stackContext, stackUp } from '../../../deploy/stack/stack';
import { readPidFile, stopProcessGroup } from '../../../deploy/stack/processes';
import { indexNames, type RevisionDocument, revisionDocId } from '../../../sinks/elasticsearch/indices';
import type { UsageRecord } from '../../../schemas';
import { eventually, testConfig, uniqueName } from '../helpers';
import { exactSum, produceRevision, ratedLine } from './sink-fixture';

/**
 * The sink as a real process (`meterflow sink elasticsearch`): killed with SIGKILL mid-bulk and
 * restarted, then Elasticsearch itself stopped and restarted under it. Totals in the published
 * alias must equal the produced rows exactly: nothing lost, nothing counted twice.
 */
const root = path.resolve(__dirname, '../../..');
const ROWS = 20_000;

function sinkProcess(configFile: string, log: string[]): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      // One process (no tsx wrapper): a SIGKILL must reach the process doing the work.
      '--import',
      'tsx',
      path.join(root, 'cli/main.ts'),
      '--config',
      configFile,
      'sink',
      'elasticsearch',
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, METERFLOW_LOG__LEVEL: 'warn' } },
  );
  child.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
  child.stdout!.on('data', (d: Buffer) => log.push(d.toString()));
  return child;
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((r) => child.once('exit', (code) => r(code)));

function expectedByCustomer(rows: UsageRecord[]): Record<string, string> {
  const by = new Map<string, Decimal>();
  for (const r of rows)
    by.set(r.x_CustomerId, (by.get(r.x_CustomerId) ?? new Decimal(0)).plus(r.x_RatedCost!));
  return Object.fromEntries([...by].sort().map(([k, v]) => [k, decimalToString(v)]));
}

describe('sink crash and Elasticsearch restart (real processes)', () => {
  jest.setTimeout(300_000);

  it('kill -9 mid-bulk, then an Elasticsearch restart: published totals stay exact', async () => {
    const config = testConfig();
    const prefix = uniqueName('it-sinkcrash');
    config.kafka.topic_prefix = prefix;
    config.elasticsearch.index_prefix = prefix;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-sinkcrash-'));
    const configFile = path.join(dir, 'meterflow.yaml');
    fs.writeFileSync(
      configFile,
      [
        'kafka:',
        `  topic_prefix: ${prefix}`,
        'elasticsearch:',
        `  index_prefix: ${prefix}`,
        '  request_timeout_ms: 5000',
        'sink:',
        '  bulk_max_docs: 250',
        '  publish_interval_ms: 500',
        '  session_timeout_ms: 10000',
        '  retry_max_delay_ms: 2000',
        'ops:',
        '  port: 0',
        '',
      ].join('\n'),
    );
    const topics = topicNames(config);
    const names = indexNames(prefix);
    const es = createElasticsearch(config);
    const kafka = createKafka(config, 'it-sinkcrash-producer');
    await ensureTopics(kafka, config, [
      { topic: topics.rated },
      { topic: topics.control },
      { topic: topics.deadLetter },
    ]);
    const producer = kafka.producer();
    await producer.connect();
    const log: string[] = [];
    const indexedCount = async () => {
      try {
        await es.indices.refresh({
          index: names.usagePattern,
          ignore_unavailable: true,
          allow_no_indices: true,
        });
        return (
          await es.count({ index: names.usagePattern, ignore_unavailable: true, allow_no_indices: true })
        ).count;
      } catch {
        return -1;
      }
    };
    let sink: ChildProcess | undefined;
    const ctx = stackContext(testConfig());
    try {
      const a = Array.from({ length: ROWS }, (_, i) => ratedLine('aws/crash/2026-02', 'a1', i + 2));
      await produceRevision(producer, topics, 'aws/crash/2026-02', 'a1', a);

      // 1. kill -9 while documents are flowing
      sink = sinkProcess(configFile, log);
      const firstExit = exited(sink);
      await eventually(async () => ((await indexedCount()) >= 2000 ? true : undefined), 120_000, 50);
      sink.kill('SIGKILL');
      expect(await firstExit).toBeNull();
      const atKill = await indexedCount();
      expect(atKill).toBeLessThan(ROWS); // it really died mid-run

      // 2. restart; then stop Elasticsearch under it while a second revision arrives
      sink = sinkProcess(configFile, log);
      await eventually(async () => {
        const d = await es
          .get<RevisionDocument>({ index: names.revisions, id: revisionDocId('aws/crash/2026-02', 'a1') })
          .catch(() => undefined);
        return d?._source?.state === 'published' ? true : undefined;
      }, 180_000);
      const record = readPidFile(path.join(ctx.paths.runDir, 'elasticsearch.pid'));
      if (!record) throw new Error('Elasticsearch was not started by this stack; cannot restart it');
      await stopProcessGroup(record);
      const b = Array.from({ length: 3000 }, (_, i) => ratedLine('gcp/crash/2026-02', 'b1', i + 2));
      await produceRevision(producer, topics, 'gcp/crash/2026-02', 'b1', b);
      await new Promise((r) => setTimeout(r, 8000)); // the sink meets a dead cluster and waits
      expect(sink.exitCode).toBeNull();
      await stackUp(ctx, selectComponents(['elasticsearch']));

      await eventually(async () => {
        const d = await es
          .get<RevisionDocument>({ index: names.revisions, id: revisionDocId('gcp/crash/2026-02', 'b1') })
          .catch(() => undefined);
        return d?._source?.state === 'published' ? true : undefined;
      }, 180_000);
      expect(sink.exitCode).toBeNull(); // it paused and resumed; it never gave up

      const visible = await exactSum(es, names.usageAlias, 'x_RatedCost');
      expect(visible.count).toBe(ROWS + 3000);
      expect(visible.byCustomer).toEqual(expectedByCustomer([...a, ...b]));
      expect(log.join('')).not.toMatch(/Crash: /);
    } catch (err) {
      process.stderr.write(`sink output:\n${log.join('').slice(-4000)}\n`);
      throw err;
    } finally {
      sink?.kill('SIGKILL');
      await producer.disconnect();
      await stackUp(ctx, selectComponents(['elasticsearch'])).catch(() => undefined);
      await es.indices.delete({ index: `${prefix}-*` }).catch(() => undefined);
      await es.indices.deleteIndexTemplate({ name: names.usageTemplate }).catch(() => undefined);
    }
  });
});
