import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Kafka } from 'kafkajs';
import { defaultCacheDir, loadConfig } from '../runtime/config';
import { createKafka, ensureTopics, topicNames } from '../runtime/kafka';
import { recordIdOf } from '../schemas/record-id';
import { columnsOf } from '../collectors/formats/rows';
import { type RawUsageRow } from '../schemas';
import { decodeRawBatch } from '../schemas/raw-batch-codec';
import { USAGE_MONEY, indexNames, type UsageDocument } from '../sinks/elasticsearch/indices';
import { ensureLayout, ensureUsageIndex } from '../sinks/elasticsearch/layout';
import { prepareCurExport, runCollectorAws } from './collector-aws';
import { sampleProcess } from './proc-sampler';
import { produceRatedRevision, runSinkUntilPublished } from './sink';
import { curHeader, curRows } from './workload/cur';

/**
 * The peer: the same two jobs done by a general-purpose streaming tool, on the same data, in the
 * same run. The peer is Benthos v4.60.0 (core: the pure and io component packages) plus the small
 * plugins in bench/peer/ (aws_s3 and kafka_franz inputs, kafka_franz output, avro processor), built
 * with `go build` into the cache directory; bench/peer/README.md says what it is and what a fair
 * reading of the figures needs.
 *
 * 1. Collector job. One generated CUR csv.gz of N rows (bench/workload/cur.ts) in the local S3
 *    server. `meterflow collect aws --once` collects it (as collector-aws does); then the peer's
 *    bench/peer/s3-to-kafka.yaml reads the same object into its own topic, one JSON record per row
 *    carrying what meterflow's raw row carries, keyed like meterflow's. Each timed spawn to exit.
 * 2. Sink job. N rated records (bench/workload/rated.ts, Avro) on a rated topic, as the sink
 *    scenario produces them. `meterflow sink elasticsearch` indexes them (timed to every document
 *    acknowledged, as the sink scenario does); then the peer's bench/peer/kafka-to-es.yaml reads
 *    the same topic with its own consumer group, decodes the Avro, maps each record to the document
 *    meterflow writes (same _id, fields and monthly index name, under another index prefix whose
 *    template is the one meterflow installs) and bulk-indexes it; timed to every document
 *    acknowledged (its docs counter, polled like meterflow's metrics).
 * 3. Checks: the peer topic holds N records; the peer's record with the key of meterflow's first raw
 *    row equals that raw row and its CSV line; the peer index holds N documents and documents read
 *    back from both indices are identical (money fields compared as exact text).
 *
 * CPU seconds and peak RSS come from bench/proc-sampler.ts on each child process. meterflow runs
 * first in each job, then the peer, never both at once.
 *
 *   npm run bench -- peer [rows]     (needs `meterflow stack up` and Go 1.26+)
 */

export const BENTHOS_VERSION = 'v4.60.0';
const PEER_DIR = path.join(__dirname, 'peer');
const PEER_HTTP_PORT = 19467;

/**
 * Builds bench/peer into `<cache>/peer-benthos-v4.60.0/benthos-<hash>` (hash of go.mod, go.sum,
 * the .go files and the Go version), or reuses that binary when it exists. Older builds are removed.
 */
export function buildPeer(): string {
  const inputs = fs
    .readdirSync(PEER_DIR)
    .filter((f) => f === 'go.mod' || f === 'go.sum' || f.endsWith('.go'))
    .sort();
  const goVersion = execFileSync('go', ['env', 'GOVERSION']).toString().trim();
  const hash = crypto.createHash('sha256').update(goVersion);
  for (const f of inputs) hash.update(`\u0000${f}\u0000`).update(fs.readFileSync(path.join(PEER_DIR, f)));
  const dir = path.join(defaultCacheDir(), `peer-benthos-${BENTHOS_VERSION}`);
  const bin = path.join(dir, `benthos-${hash.digest('hex').slice(0, 16)}`);
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${bin}.tmp-${process.pid}`;
  try {
    execFileSync('go', ['build', '-trimpath', '-buildvcs=false', '-o', tmp, '.'], {
      cwd: PEER_DIR,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const e = err as { stderr?: Buffer };
    throw new Error(`go build of bench/peer failed:\n${e.stderr?.toString() ?? String(err)}`);
  }
  fs.renameSync(tmp, bin);
  for (const f of fs.readdirSync(dir))
    if (f.startsWith('benthos-') && path.join(dir, f) !== bin) fs.rmSync(path.join(dir, f), { force: true });
  return bin;
}

interface PeerRun {
  seconds: number;
  cpuSeconds: number;
  peakRssMb: number;
  /** Lines the peer logged at level error (retries, failed bulks); 0 in a clean run. */
  errorLines: number;
}

/** Runs one peer stream (`benthos run <yaml>`) with PEER_* variables in its environment. */
function startPeer(bin: string, yaml: string, env: Record<string, string>) {
  const started = Date.now();
  const child = spawn(bin, ['run', path.join(PEER_DIR, yaml)], {
    cwd: PEER_DIR,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const sampler = sampleProcess(child);
  let output = '';
  child.stdout!.on('data', (c) => (output += String(c)));
  child.stderr!.on('data', (c) => (output += String(c)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const errorLines = () => output.split('\n').filter((l) => /level=error/.test(l)).length;
  return { child, sampler, started, exited, output: () => output, errorLines };
}

async function settle(): Promise<void> {
  // Let the previous run's background work (Kafka log flushes, Elasticsearch refreshes and merges)
  // die down before the next timed run.
  await new Promise((r) => setTimeout(r, 5000));
}

/** The first record of partition 0 of a topic (read_committed), through a throwaway group. */
async function firstRecord(kafka: Kafka, topic: string): Promise<{ key: string; value: Buffer }> {
  const consumer = kafka.consumer({ groupId: `bench-peer-check-${crypto.randomUUID()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no record on ${topic} within 60 s`)), 60_000);
      void consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            if (partition !== 0 || !message.value) return;
            clearTimeout(timer);
            resolve({ key: String(message.key), value: message.value });
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
}

/** The record with `key` on a topic (read_committed), scanning it from the start; and its partition. */
async function findRecord(
  kafka: Kafka,
  topic: string,
  key: string,
  total: number,
): Promise<{ partition: number; value: Buffer }> {
  const consumer = kafka.consumer({ groupId: `bench-peer-check-${crypto.randomUUID()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let seen = 0;
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${key} not found on ${topic} within 5 min`)), 300_000);
      void consumer
        .run({
          eachBatch: async ({ batch }) => {
            for (const m of batch.messages) {
              seen++;
              if (String(m.key) === key && m.value) {
                clearTimeout(timer);
                resolve({ partition: batch.partition, value: m.value });
                return;
              }
            }
            if (seen >= total) {
              clearTimeout(timer);
              reject(new Error(`${key} is not on ${topic}`));
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
}

async function topicRecords(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((s, o) => s + Number(o.high) - Number(o.low), 0);
  } finally {
    await admin.disconnect();
  }
}

/** The non-empty columns of generated CUR line `line` (the header is line 1), as the generator wrote them. */
function sourceColumns(rows: number, line: number): Record<string, string> {
  const header = curHeader();
  let i = 0;
  for (const row of curRows(rows)) {
    if (i++ !== line - 2) continue;
    const values = row.split(',');
    return Object.fromEntries(header.map((h, j) => [h, values[j]]).filter(([, v]) => v !== ''));
  }
  throw new Error(`line ${line} is not in the export`);
}

function sameJson(a: unknown, b: unknown): boolean {
  const canon = (v: unknown): unknown =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>)
            .sort(([x], [y]) => (x < y ? -1 : 1))
            .map(([k, x]) => [k, canon(x)]),
        )
      : Array.isArray(v)
        ? v.map(canon)
        : v;
  return JSON.stringify(canon(a)) === JSON.stringify(canon(b));
}

const perMillion = (cpuSeconds: number, rows: number) => +((cpuSeconds / rows) * 1e6).toFixed(1);
const ratio = (a: number, b: number) => +(a / b).toFixed(2);

export async function benchPeer(rows: number): Promise<Record<string, string | number>> {
  const root = path.resolve(__dirname, '..');
  const { config } = loadConfig({ env: {}, cwd: os.tmpdir() });
  const kafka = createKafka(config, 'bench-peer');
  const brokers = config.kafka.brokers.join(',');

  // Not timed: the export, meterflow's build, the peer's build (or cached binary).
  const exp = await prepareCurExport(rows);
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'ignore' });
  const bin = buildPeer();
  const goVersion = execFileSync('go', ['env', 'GOVERSION']).toString().trim();

  // ---- 1. S3 CUR export -> Kafka ----
  const mfCollector = await runCollectorAws(exp.configFile);
  const mfRaw = topicNames({ ...config, kafka: { ...config.kafka, topic_prefix: exp.bucket } }).raw('aws');
  const mfFirst = await firstRecord(kafka, mfRaw);
  // meterflow's raw topic carries v2 batches: compare the batch's first row, in the v1 form the
  // peer writes (one JSON row per record, keyed by its record id).
  const mfBatch = decodeRawBatch(mfFirst.value);
  const { header: mfHeader, rows: mfRows, ...mfConstants } = mfBatch;
  const mfRow: RawUsageRow = {
    ...mfConstants,
    line: mfRows[0].line,
    columns: columnsOf(mfHeader, mfRows[0].values),
  };

  const peerTopic = `${exp.bucket}.peer.raw.aws`;
  await ensureTopics(kafka, config, [{ topic: peerTopic }]);
  await settle();
  const s3 = startPeer(bin, 's3-to-kafka.yaml', {
    PEER_S3_BUCKET: exp.bucket,
    PEER_S3_PREFIX: `${path.posix.dirname(exp.key)}/`,
    PEER_S3_ENDPOINT: config.aws.endpoint ?? '',
    PEER_S3_ACCESS_KEY: config.aws.access_key_id ?? '',
    PEER_S3_SECRET_KEY: config.aws.secret_access_key ?? '',
    // The revision's coordinates as meterflow's collector named them (its first raw row).
    PEER_SCOPE: mfRow.scope,
    PEER_REVISION: mfRow.revision_id,
    PEER_BILLING_PERIOD: mfRow.billing_period,
    PEER_KAFKA_BROKERS: brokers,
    PEER_TOPIC: peerTopic,
  });
  const s3Code = await s3.exited;
  const s3Usage = s3.sampler.stop();
  const peerCollector: PeerRun = {
    seconds: (Date.now() - s3.started) / 1000,
    ...s3Usage,
    errorLines: s3.errorLines(),
  };
  if (s3Code !== 0) throw new Error(`peer s3-to-kafka exited ${s3Code}: ${s3.output().slice(-2000)}`);

  const peerTopicRecords = await topicRecords(kafka, peerTopic);
  if (peerTopicRecords !== rows)
    throw new Error(`the peer topic ${peerTopic} holds ${peerTopicRecords} records, not ${rows}`);
  // meterflow's first raw row on partition 0, and the peer's record with the same key.
  const peerFound = await findRecord(kafka, peerTopic, mfFirst.key, rows);
  const peerRow = JSON.parse(peerFound.value.toString('utf8')) as Omit<RawUsageRow, 'line'> & {
    line: number;
  };
  const problems: string[] = [];
  if (mfFirst.key !== recordIdOf(peerRow.scope, peerRow.revision_id, peerRow.object, peerRow.line))
    problems.push('its key is not the record id of its line');
  if (!sameJson({ ...mfRow, line: Number(mfRow.line) }, peerRow))
    problems.push(`it differs from meterflow’s raw row of line ${mfRow.line}`);
  if (!sameJson(peerRow.columns, sourceColumns(rows, peerRow.line)))
    problems.push(`its columns differ from line ${peerRow.line} of the CSV`);
  if (problems.length) throw new Error(`peer topic record check failed: ${problems.join('; ')}`);
  fs.rmSync(exp.dir, { recursive: true, force: true });

  // ---- 2. Kafka (rated, Avro) -> Elasticsearch ----
  const prefix = `bench-peer-${Date.now().toString(36)}`;
  const rev = await produceRatedRevision(rows, prefix);
  const { es, records } = rev;
  const mfSink = await runSinkUntilPublished(rev);

  const peerPrefix = `${prefix}-peer`;
  const peerNames = indexNames(peerPrefix);
  await ensureLayout(es, peerNames); // the usage index template meterflow installs, for the peer's prefix
  await ensureUsageIndex(es, peerNames, records[0].x_BillingPeriod);
  await settle();
  const sink = startPeer(bin, 'kafka-to-es.yaml', {
    PEER_HTTP_PORT: String(PEER_HTTP_PORT),
    PEER_KAFKA_BROKERS: brokers,
    PEER_TOPIC: rev.topics.rated,
    PEER_GROUP: `${peerPrefix}-sink`,
    PEER_THREADS: '6',
    PEER_AVRO_SCHEMA: path.join(root, 'schemas/usage-record.avsc'),
    PEER_INDEX_PREFIX: peerPrefix,
    PEER_ES_NODE: config.elasticsearch.node ?? '',
  });
  let indexedAt = 0;
  let cpuSecondsIndexed = 0;
  const deadline = Date.now() + 60 * 60_000;
  while (!indexedAt && Date.now() < deadline && sink.child.exitCode === null) {
    await new Promise((r) => setTimeout(r, 250));
    const counters = (await fetch(`http://127.0.0.1:${PEER_HTTP_PORT}/metrics`)
      .then((r) => r.json())
      .catch(() => ({}))) as Record<string, unknown>;
    const docs = Object.entries(counters)
      .filter(([k]) => k.startsWith('peer_docs_indexed'))
      .reduce((s, [, v]) => s + Number(v), 0);
    if (docs >= rows) {
      indexedAt = Date.now();
      cpuSecondsIndexed = sink.sampler.read().cpuSeconds;
    }
  }
  const sinkUsage = sink.sampler.stop();
  sink.child.kill('SIGTERM');
  const sinkCode = await sink.exited;
  if (!indexedAt)
    throw new Error(
      `the peer did not index ${rows} documents (exit ${sinkCode}): ${sink.output().slice(-2000)}`,
    );
  const peerSink: PeerRun = {
    seconds: (indexedAt - sink.started) / 1000,
    cpuSeconds: cpuSecondsIndexed,
    peakRssMb: sinkUsage.peakRssMb,
    errorLines: sink.errorLines(),
  };

  const mfIndex = rev.names.usageIndex(records[0].x_BillingPeriod);
  const peerIndex = peerNames.usageIndex(records[0].x_BillingPeriod);
  await es.indices.refresh({ index: [mfIndex, peerIndex] });
  const peerDocs = (await es.count({ index: peerIndex })).count;
  if (peerDocs !== rows)
    throw new Error(`the peer index ${peerIndex} holds ${peerDocs} documents, not ${rows}`);
  const ids = [0, Math.floor(rows / 2), rows - 1].map((i) => records[i].x_RecordId);
  const read = async (index: string) =>
    (await es.mget<UsageDocument>({ index, ids })).docs.map((d) => ('_source' in d ? d._source : undefined));
  const [mfDocs, peerDocsRead] = [await read(mfIndex), await read(peerIndex)];
  for (const [i, id] of ids.entries()) {
    const a = mfDocs[i];
    const b = peerDocsRead[i];
    if (!a || !b) throw new Error(`document ${id} is missing (meterflow: ${!!a}, peer: ${!!b})`);
    for (const f of USAGE_MONEY)
      if (a[f] !== b[f]) throw new Error(`document ${id}: ${f} is ${a[f]} (meterflow) but ${b[f]} (peer)`);
    // Tag pairs come out of an unordered map on the peer side: compare them as a set.
    const norm = (d: UsageDocument) => ({ ...d, x_TagPairs: [...d.x_TagPairs].sort() });
    if (!sameJson(norm(a), norm(b))) throw new Error(`document ${id} differs between meterflow and the peer`);
  }
  await es.indices.delete({ index: `${prefix}-*` }).catch(() => undefined);
  for (const name of [rev.names.usageTemplate, peerNames.usageTemplate])
    await es.indices.deleteIndexTemplate({ name }).catch(() => undefined);

  const mfCollectorRate = rows / mfCollector.seconds;
  const peerCollectorRate = rows / peerCollector.seconds;
  const mfSinkRate = rows / mfSink.indexedSeconds;
  const peerSinkRate = rows / peerSink.seconds;
  return {
    rows,
    peer: `Benthos ${BENTHOS_VERSION} core + bench/peer plugins (${goVersion}); see bench/peer/README.md`,
    'input csv.gz MB': +(exp.bytes / 1e6).toFixed(1),
    'collector: meterflow rows/s': Math.round(mfCollectorRate),
    'collector: meterflow CPU s per 1M rows': perMillion(mfCollector.cpuSeconds, rows),
    'collector: meterflow peak RSS MB': mfCollector.peakRssMb,
    'collector: peer rows/s': Math.round(peerCollectorRate),
    'collector: peer CPU s per 1M rows': perMillion(peerCollector.cpuSeconds, rows),
    'collector: peer peak RSS MB': peerCollector.peakRssMb,
    'collector: rows/s, meterflow / peer': ratio(mfCollectorRate, peerCollectorRate),
    'collector: CPU s per row, meterflow / peer': ratio(mfCollector.cpuSeconds, peerCollector.cpuSeconds),
    'collector check: records on the peer topic': peerTopicRecords,
    'collector check: one row on both topics': `line ${peerRow.line} (key ${mfFirst.key}): the peer's record equals meterflow's raw row and the CSV row; ${peerFound.partition === 0 ? 'partition 0 on both topics' : `partition 0 on meterflow's topic, ${peerFound.partition} on the peer's`}`,
    'collector: bytes of that row on the topic, meterflow (Avro) / peer (JSON)': `${mfFirst.value.length} / ${peerFound.value.length}`,
    'collector: peer error log lines': peerCollector.errorLines,
    'sink: meterflow docs/s (start to every document acknowledged)': Math.round(mfSinkRate),
    'sink: meterflow CPU s per 1M docs (at every document acknowledged)': perMillion(
      mfSink.cpuSecondsIndexed,
      rows,
    ),
    'sink: meterflow s to revision published (reconciled, alias swapped)': +mfSink.publishSeconds.toFixed(1),
    'sink: meterflow peak RSS MB': mfSink.peakRssMb,
    'sink: peer docs/s (start to every document acknowledged)': Math.round(peerSinkRate),
    'sink: peer CPU s per 1M docs': perMillion(peerSink.cpuSeconds, rows),
    'sink: peer peak RSS MB': peerSink.peakRssMb,
    'sink: docs/s, meterflow / peer': ratio(mfSinkRate, peerSinkRate),
    'sink: CPU s per doc, meterflow / peer': ratio(mfSink.cpuSecondsIndexed, peerSink.cpuSeconds),
    'sink check: documents in the peer index': peerDocs,
    'sink check: documents read back from both indices': `${ids.length} (first, middle, last _id): money fields equal as exact text, _source identical`,
    'sink: peer error log lines': peerSink.errorLines,
    caveats:
      'meterflow collector: transactions, checkpoints, control totals, Avro; peer: none of these, JSON rows. ' +
      'meterflow sink: also reads control and dead-letter topics and publishes the revision; peer: documents only. ' +
      'Both sinks decode the same Avro. Sequential runs (meterflow first), 2 cores shared with Kafka, Elasticsearch and MinIO.',
  };
}
