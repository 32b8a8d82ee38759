import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import { loadConfig, type MeterflowConfig } from '../runtime/config';
import { Decimal, decimalToString } from '../schemas/decimal';
import { createElasticsearch } from '../runtime/elasticsearch';
import { createKafka, ensureTopics, topicNames } from '../runtime/kafka';
import { AvroTypes, type RevisionControl, type UsageRecord } from '../schemas';
import {
  indexNames,
  type IndexNames,
  type RevisionDocument,
  revisionDocId,
  usageDocumentJson,
} from '../sinks/elasticsearch/indices';
import { ensureLayout } from '../sinks/elasticsearch/layout';
import { sampleProcess, treeCpuSeconds } from './proc-sampler';
import { stackContext, stackStatus } from '../deploy/stack/stack';
import { ratedWorkload } from './workload/rated';
import { summarizeProfile } from './profile-summary';

/**
 * The Elasticsearch sink against the machine's ceiling.
 *
 * 1. N rated records (bench/workload/rated.ts) are produced to a fresh rated topic in transactions
 *    of 2,000, as the price stage writes it, framed by the collector's STARTED / COMPLETED control
 *    records (not timed).
 * 2. `meterflow sink elasticsearch` (built, as deployed) runs until the revision is PUBLISHED: every
 *    document indexed, counts and exact totals reconciled, alias swapped. Timed, with CPU and RSS.
 * 3. Ceiling: the same documents, already serialized, bulk-loaded straight into an index with the
 *    same mappings by a minimal HTTP client, with refresh off, at a few bulk sizes and
 *    concurrencies; the best docs/s is the ceiling.
 *
 *   npm run bench -- sink [rows]
 */
const OPS_PORT = 19465;

async function metric(text: string, re: RegExp): Promise<number> {
  return [...text.matchAll(re)].reduce((s, m) => s + Number(m[1]), 0);
}

export interface RatedRevision {
  config: MeterflowConfig;
  /** kafka.topic_prefix and elasticsearch.index_prefix of the run. */
  prefix: string;
  topics: ReturnType<typeof topicNames>;
  names: IndexNames;
  es: Client;
  scope: string;
  revision: string;
  records: UsageRecord[];
  recordBytes: number;
}

/**
 * Produces N rated records (bench/workload/rated.ts) to a fresh `<prefix>.rated` topic, framed by
 * the collector's STARTED / COMPLETED control records, as one revision of scope aws/bench/2026-10.
 */
export async function produceRatedRevision(rows: number, prefix: string): Promise<RatedRevision> {
  const { config } = loadConfig({ env: {}, cwd: os.tmpdir() });
  config.kafka.topic_prefix = prefix;
  config.elasticsearch.index_prefix = prefix;
  const topics = topicNames(config);
  const names = indexNames(prefix);
  const es = createElasticsearch(config);
  const kafka = createKafka(config, 'bench-sink');
  await ensureTopics(kafka, config, [
    { topic: topics.rated },
    { topic: topics.control },
    { topic: topics.deadLetter },
  ]);

  const scope = 'aws/bench/2026-10';
  const records = ratedWorkload(rows, scope, 'r1');
  let total = new Decimal(0);
  for (const r of records) total = total.plus(r.BilledCost);
  const control = (type: RevisionControl['type']): RevisionControl => ({
    type,
    provider: 'aws',
    format: 'aws-cur-legacy',
    scope,
    revision_id: 'r1',
    billing_period: '2026-10',
    files: [],
    expected_rows: null,
    row_count: type === 'REVISION_COMPLETED' ? rows : null,
    dead_letter_count: type === 'REVISION_COMPLETED' ? 0 : null,
    control_totals:
      type === 'REVISION_COMPLETED' ? [{ currency: 'USD', billed_cost: decimalToString(total), rows }] : [],
    billed_cost_column: null,
    error: null,
    produced_at: new Date().toISOString(),
  });
  // In transactions, as the price stage writes the rated topic (one per batch it consumed): every
  // transaction leaves a commit marker in each partition it wrote, which the sink must step over.
  const producer = kafka.producer({
    transactionalId: `${prefix}-bench-rated`,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  const inTransaction = async (topic: string, messages: Array<{ key: string; value: Buffer }>) => {
    const tx = await producer.transaction();
    await tx.send({ topic, messages });
    await tx.commit();
  };
  await inTransaction(topics.control, [
    { key: scope, value: AvroTypes.revisionControl.toBuffer(control('REVISION_STARTED')) },
  ]);
  let recordBytes = 0;
  for (let i = 0; i < rows; i += 2000) {
    const messages = records.slice(i, i + 2000).map((r) => {
      const value = AvroTypes.usageRecord.toBuffer(r);
      recordBytes += value.length;
      return { key: r.x_RecordId, value };
    });
    await inTransaction(topics.rated, messages);
  }
  await inTransaction(topics.control, [
    { key: scope, value: AvroTypes.revisionControl.toBuffer(control('REVISION_COMPLETED')) },
  ]);
  await producer.disconnect();
  return { config, prefix, topics, names, es, scope, revision: 'r1', records, recordBytes };
}

export interface SinkRun {
  /** From spawn until the sink's metrics count every document (and both control records) sent. */
  indexedSeconds: number;
  /** From spawn until the revision document says `published`. */
  publishSeconds: number;
  /** CPU time of the sink process when every document was acknowledged, and when published. */
  cpuSecondsIndexed: number;
  cpuSeconds: number;
  peakRssMb: number;
  /** CPU time of the Elasticsearch server (its process tree) from spawn until published; null when
   * the stack did not start it (an external cluster is not measured). */
  elasticsearchCpuSeconds: number | null;
}

/**
 * BENCH_SINK_REFRESH_INTERVAL=<interval>: the sink's `refresh_interval` for the usage indices of
 * the run (the default otherwise), to compare what periodic refreshes cost Elasticsearch.
 */
const refreshInterval = (): string | undefined => process.env.BENCH_SINK_REFRESH_INTERVAL || undefined;

/**
 * `meterflow sink elasticsearch` (built, as deployed; run `npm run build` first) on a produced
 * revision, until the revision is PUBLISHED: every document indexed, counts and exact totals
 * reconciled, alias swapped. Timed, with CPU and RSS; the process is stopped afterwards.
 */
export async function runSinkUntilPublished(rev: RatedRevision): Promise<SinkRun> {
  const root = path.resolve(__dirname, '..');
  const rows = rev.records.length;
  const { prefix, es, names, scope } = rev;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-bench-sink-'));
  const configFile = path.join(dir, 'meterflow.yaml');
  fs.writeFileSync(
    configFile,
    `kafka:\n  topic_prefix: ${prefix}\nelasticsearch:\n  index_prefix: ${prefix}\nops:\n  port: ${OPS_PORT}\nsink:\n  publish_interval_ms: 1000\n` +
      (refreshInterval() ? `  refresh_interval: ${refreshInterval()}\n` : ''),
  );
  const esPid = (await stackStatus(stackContext(loadConfig().config))).find(
    (s) => s.name === 'elasticsearch',
  )?.pid;
  const esCpuAtStart = esPid === undefined ? 0 : treeCpuSeconds(esPid);
  const started = Date.now();
  // BENCH_CPU_PROF=<dir>: write a V8 CPU profile of the sink process there (`--cpu-prof`).
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
  const child = spawn(
    process.execPath,
    [...prof, path.join(root, 'dist/cli/main.js'), '--config', configFile, 'sink', 'elasticsearch'],
    {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const sampler = sampleProcess(child);
  let indexedAt = 0;
  let cpuSecondsIndexed = 0;
  let publishedAt = 0;
  const deadline = Date.now() + 60 * 60_000;
  while (!publishedAt && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    if (!indexedAt) {
      const text = await fetch(`http://127.0.0.1:${OPS_PORT}/metrics`)
        .then((r) => r.text())
        .catch(() => '');
      const sent = await metric(
        text,
        /meterflow_records_sent_total\{component="sink.elasticsearch"\} (\d+)/g,
      );
      if (sent >= rows + 2) {
        indexedAt = Date.now();
        cpuSecondsIndexed = sampler.read().cpuSeconds;
      }
    }
    const doc = await es
      .get<RevisionDocument>({ index: names.revisions, id: revisionDocId(scope, rev.revision) })
      .catch(() => undefined);
    if (doc?._source?.state === 'published') publishedAt = Date.now();
  }
  const elasticsearchCpuSeconds = esPid === undefined ? null : treeCpuSeconds(esPid) - esCpuAtStart;
  const { peakRssMb, cpuSeconds } = sampler.stop();
  child.kill('SIGTERM');
  const exit = await new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  if ((exit as { code: number | null }).code !== 0)
    process.stderr.write(`sink exited ${JSON.stringify(exit)}\n`);
  fs.rmSync(dir, { recursive: true, force: true });
  if (!publishedAt) throw new Error('the revision was not published within the time limit');
  return {
    indexedSeconds: (indexedAt - started) / 1000,
    publishSeconds: (publishedAt - started) / 1000,
    cpuSecondsIndexed,
    cpuSeconds,
    peakRssMb,
    elasticsearchCpuSeconds,
  };
}

export async function benchSink(rows: number): Promise<Record<string, string | number>> {
  const root = path.resolve(__dirname, '..');
  const prefix = `bench-sink-${Date.now().toString(36)}`;
  // 1. the rated revision (not timed)
  const rev = await produceRatedRevision(rows, prefix);
  const { config, names, es, records, recordBytes } = rev;

  // 2. the sink, as deployed
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'ignore' });
  const {
    indexedSeconds: sinkSeconds,
    publishSeconds,
    cpuSeconds,
    peakRssMb,
    elasticsearchCpuSeconds,
  } = await runSinkUntilPublished(rev);
  // 1.0 when the sink sent every document once (before the ceiling's indices exist).
  const indexing = await es.indices.stats({ index: names.usagePattern, metric: 'indexing' });
  const indexOps = indexing._all.primaries?.indexing?.index_total ?? 0;

  // 3. the ceiling: pre-serialized bulk bodies, one plain HTTP client, refresh off
  await ensureLayout(es, names);
  const ndjson = records.map((r) => `{"index":{"_id":"${r.x_RecordId}"}}\n${usageDocumentJson(r)}\n`);
  const docBytes = ndjson.reduce((s, l) => s + Buffer.byteLength(l), 0);
  const trials: Array<{ batch: number; concurrency: number; docsPerSecond: number }> = [];
  for (const [batch, concurrency] of [
    [1000, 2],
    [5000, 2],
    [5000, 4],
  ]) {
    const index = `${prefix}-usage-ceiling-${batch}-${concurrency}`;
    await es.indices.create({ index, settings: { refresh_interval: '-1', number_of_replicas: 0 } });
    const bodies: string[] = [];
    for (let i = 0; i < ndjson.length; i += batch) bodies.push(ndjson.slice(i, i + batch).join(''));
    const t0 = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < bodies.length) {
          const body = bodies[next++];
          // The answer the sink asks for (status and error per item), as the sink gets it.
          const res = await fetch(
            `${config.elasticsearch.node}/${index}/_bulk?filter_path=errors,items.*.status,items.*.error`,
            {
              method: 'POST',
              headers: { 'content-type': 'application/x-ndjson' },
              body,
            },
          );
          const json = (await res.json()) as { errors: boolean };
          if (!res.ok || json.errors) throw new Error(`ceiling bulk failed (${res.status})`);
        }
      }),
    );
    trials.push({ batch, concurrency, docsPerSecond: Math.round(rows / ((Date.now() - t0) / 1000)) });
  }
  await es.indices.delete({ index: `${prefix}-*` }).catch(() => undefined);
  await es.indices.deleteIndexTemplate({ name: names.usageTemplate }).catch(() => undefined);
  let hotSpots: Record<string, string> = {};
  if (process.env.BENCH_CPU_PROF) {
    const dirProf = process.env.BENCH_CPU_PROF;
    const newest = fs
      .readdirSync(dirProf)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => path.join(dirProf, f))
      .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
    if (newest) {
      const summary = summarizeProfile(newest, 8);
      hotSpots = {
        'profile: self time by package (sink process)': summary.packages.join('; '),
        'profile: hot spots (self time)': summary.functions.join('; '),
      };
    }
  }
  const best = trials.reduce((a, b) => (b.docsPerSecond > a.docsPerSecond ? b : a));
  const sinkRate = Math.round(rows / sinkSeconds);
  return {
    rows,
    'avro bytes per record': Math.round(recordBytes / rows),
    'JSON bytes per document': Math.round(docBytes / rows),
    'sink: docs/s (start to every document acknowledged)': sinkRate,
    'sink: s to revision published (reconciled, alias swapped)': +publishSeconds.toFixed(1),
    'sink: CPU s per 1M docs (sink process)': +((cpuSeconds / rows) * 1e6).toFixed(1),
    'sink: peak RSS MB': peakRssMb,
    'sink: refresh_interval of the usage index':
      refreshInterval() ?? `${config.sink.refresh_interval} (default)`,
    // Polling the revision document every 250 ms is included; it is a few hundred gets.
    'Elasticsearch: CPU s per 1M docs (spawn to published)':
      elasticsearchCpuSeconds === null
        ? 'not measured'
        : +((elasticsearchCpuSeconds / rows) * 1e6).toFixed(1),
    'sink: Elasticsearch index operations per document': +(indexOps / rows).toFixed(2),
    'ceiling trials (docs per bulk x concurrency: docs/s)': trials
      .map((t) => `${t.batch}x${t.concurrency}: ${t.docsPerSecond}`)
      .join(', '),
    'ceiling: direct bulk docs/s (best)': best.docsPerSecond,
    'sink / ceiling': +(sinkRate / best.docsPerSecond).toFixed(2),
    ...hotSpots,
  };
}
