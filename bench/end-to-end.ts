import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../runtime/config';
import { createElasticsearch } from '../runtime/elasticsearch';
import { createKafka } from '../runtime/kafka';
import { indexNames, type RevisionDocument } from '../sinks/elasticsearch/indices';
import { prepareCurExport } from './collector-aws';
import { putAzureExport, putGcpExport } from './collector-clouds';
import { sampleProcess, treeCpuSeconds } from './proc-sampler';
import { stackContext, stackStatus } from '../deploy/stack/stack';
import { summarizeProfile } from './profile-summary';
import { azureRows, gcpRows, writeGzLines } from './workload/clouds';

/**
 * End to end: N rows per cloud (AWS CUR, Azure EA, GCP) in the local buckets, then the deployed
 * pipeline as separate processes (three collectors, `process all`, `sink elasticsearch`), timed from
 * the first collector start until every revision is published in Elasticsearch and the invoices of
 * both periods are generated. Consumer-group lag of every stage is sampled every 2 s.
 *
 *   npm run bench -- end-to-end [rows per cloud]
 */
export async function benchEndToEnd(rows: number): Promise<Record<string, string | number>> {
  const root = path.resolve(__dirname, '..');
  const cli = path.join(root, 'dist/cli/main.js');
  const aws = await prepareCurExport(rows); // bucket, its config file (topic prefix = bucket)
  const prefix = aws.bucket;
  const { config } = loadConfig({ env: {}, cwd: os.tmpdir() });

  const gcpFile = path.join(aws.dir, 'gcp.jsonl.gz');
  await writeGzLines(gcpFile, gcpRows(rows));
  await putGcpExport(config, `${prefix}-gcp`, gcpFile);

  const azureFile = path.join(aws.dir, 'azure.csv.gz');
  const azureBytes = await writeGzLines(azureFile, azureRows(rows));
  await putAzureExport(config, `${prefix}-azure`, azureFile, azureBytes);
  fs.appendFileSync(
    aws.configFile,
    [
      `gcp:\n  exports:\n    - { name: billing, bucket: ${prefix}-gcp, prefix: exports }`,
      `azure:\n  exports:\n    - { name: actual, container: ${prefix}-azure, prefix: exports }`,
      `elasticsearch:\n  index_prefix: ${prefix}`,
      `processor:\n  session_timeout_ms: 6000`,
      '',
    ].join('\n'),
  );
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'ignore' });

  const es = createElasticsearch(config);
  const names = indexNames(prefix);
  const kafka = createKafka(config, 'bench-e2e-lag');
  const admin = kafka.admin();
  await admin.connect();
  const groups = ['normalize', 'dedupe', 'price', 'sink-elasticsearch'].map((g) => `${prefix}-${g}`);
  const maxLag = new Map<string, number>();
  const lagSamples: string[] = [];
  const sampleLag = async () => {
    const parts: string[] = [];
    for (const groupId of groups) {
      try {
        let lag = 0;
        for (const t of await admin.fetchOffsets({ groupId })) {
          const ends = await admin.fetchTopicOffsets(t.topic);
          for (const p of t.partitions) {
            const end = Number(ends.find((e) => e.partition === p.partition)?.high ?? 0);
            lag += Math.max(0, end - Math.max(0, Number(p.offset)));
          }
        }
        maxLag.set(groupId, Math.max(maxLag.get(groupId) ?? 0, lag));
        parts.push(`${groupId.slice(prefix.length + 1)} ${lag}`);
      } catch {
        /* group not there yet */
      }
    }
    return parts.join(', ');
  };

  // The local stack's servers share the two cores with meterflow: their CPU over the same window
  // says where the rest of the machine went (a server the stack did not start is not measured).
  const servers = (await stackStatus(stackContext(loadConfig().config))).filter((s) => s.pid !== undefined);
  const serverCpuAtStart = servers.map((s) => treeCpuSeconds(s.pid!));

  const started = Date.now();
  const children: ChildProcess[] = [];
  const samplers: Array<ReturnType<typeof sampleProcess>> = [];
  // BENCH_CPU_PROF=<dir>: V8 CPU profiles of `process all` and the sink, summarized into the figures.
  const profRoot = process.env.BENCH_CPU_PROF;
  const start = (args: string[], profName?: string) => {
    const prof = profRoot && profName ? ['--cpu-prof', '--cpu-prof-dir', path.join(profRoot, profName)] : [];
    const child = spawn(process.execPath, [...prof, cli, '--config', aws.configFile, ...args], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    children.push(child);
    samplers.push(sampleProcess(child));
    return child;
  };
  start(['process', 'all', '--instance', 'bench', '--ops-port', '0'], 'process-all');
  start(['sink', 'elasticsearch', '--ops-port', '0'], 'sink');
  for (const provider of ['aws', 'gcp', 'azure']) start(['collect', provider, '--once']);

  let published = 0;
  const deadline = Date.now() + 90 * 60_000;
  let tick = 0;
  while (published < 3 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 2000));
    const lag = await sampleLag();
    if (tick++ % 5 === 0) lagSamples.push(`t+${Math.round((Date.now() - started) / 1000)}s: ${lag}`);
    const res = await es
      .search<RevisionDocument>({ index: names.revisions, size: 100, ignore_unavailable: true })
      .catch(() => undefined);
    published = (res?.hits.hits ?? []).filter((h) => h._source?.state === 'published').length;
  }
  const pipelineSeconds = (Date.now() - started) / 1000;
  for (const period of ['2026-10', '2026-11'])
    execFileSync(
      process.execPath,
      [cli, '--config', aws.configFile, 'invoice', 'generate', '--period', period],
      {
        cwd: root,
        stdio: 'ignore',
      },
    );
  const totalSeconds = (Date.now() - started) / 1000;
  const usage = samplers.map((s) => s.stop());
  const serverCpu = servers.map((s, i) => ({
    name: s.name,
    seconds: treeCpuSeconds(s.pid!) - serverCpuAtStart[i],
  }));
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await Promise.all(
    children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))),
  );
  await admin.disconnect();
  // Index operations Elasticsearch performed per usage document: 1.0 when every document is sent
  // once; above it, the sink re-sent documents (a redelivered fetch, retried bulk items).
  const indexing = await es.indices.stats({ index: names.usagePattern, metric: ['indexing', 'docs'] });
  const indexOps = indexing._all.primaries?.indexing?.index_total ?? 0;
  const usageDocs = indexing._all.primaries?.docs?.count ?? 0;
  await es.indices.delete({ index: `${prefix}-*` }).catch(() => undefined);
  await es.indices.deleteIndexTemplate({ name: names.usageTemplate }).catch(() => undefined);
  fs.rmSync(aws.dir, { recursive: true, force: true });
  if (published < 3) throw new Error(`only ${published} of 3 revisions were published within the time limit`);
  const cpu = usage.reduce((s, u) => s + u.cpuSeconds, 0);
  const profiles: Record<string, string> = {};
  for (const name of profRoot ? ['process-all', 'sink'] : []) {
    const dir = path.join(profRoot!, name);
    const file = fs.existsSync(dir) ? fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile')) : undefined;
    if (file === undefined) continue;
    const summary = summarizeProfile(path.join(dir, file), 10);
    profiles[`${name}: profile by package (self time)`] = summary.packages.join('; ');
    profiles[`${name}: profile hot spots (self time)`] = summary.functions.join('; ');
  }
  return {
    'rows per cloud': rows,
    'rows in all': 3 * rows,
    'wall s: first collector start to 3 revisions published': +pipelineSeconds.toFixed(1),
    'wall s: ... to invoices generated': +totalSeconds.toFixed(1),
    'rows/s end to end': Math.round((3 * rows) / totalSeconds),
    'CPU s per 1M rows (all meterflow processes)': +((cpu / (3 * rows)) * 1e6).toFixed(1),
    // Where the CPU goes: the processors (normalize, dedupe, price in one process), the sink, and
    // the three collectors together.
    'CPU s per 1M rows (process all / sink / collectors)': [
      usage[0].cpuSeconds,
      usage[1].cpuSeconds,
      usage.slice(2).reduce((s, u) => s + u.cpuSeconds, 0),
    ]
      .map((c) => ((c / (3 * rows)) * 1e6).toFixed(1))
      .join(' / '),
    // The machine's core-seconds over the run (cores x wall), and who used them.
    'core-seconds of the run (cores x wall): meterflow / stack servers / left': (() => {
      const available = os.cpus().length * totalSeconds;
      const stack = serverCpu.reduce((sum, s) => sum + s.seconds, 0);
      return [cpu, stack, available - cpu - stack].map((x) => x.toFixed(0)).join(' / ');
    })(),
    'stack servers: CPU s per 1M rows': serverCpu
      .map((s) => `${s.name} ${((s.seconds / (3 * rows)) * 1e6).toFixed(1)}`)
      .join(', '),
    'Elasticsearch index operations per usage document': `${(indexOps / Math.max(1, usageDocs)).toFixed(2)} (${indexOps} for ${usageDocs})`,
    'peak RSS MB (process all / sink)': `${usage[0].peakRssMb} / ${usage[1].peakRssMb}`,
    'max consumer lag (normalize, dedupe, price, sink)': groups.map((g) => maxLag.get(g) ?? 0).join(', '),
    'lag samples (every 10 s)': lagSamples.join('; '),
    ...profiles,
  };
}
