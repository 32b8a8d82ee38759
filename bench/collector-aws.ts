import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { loadConfig } from '../runtime/config';
import { createS3 } from '../providers/aws/store';
import { type CurRowOptions, writeCurCsvGz } from './workload/cur';
import { sampleProcess } from './proc-sampler';
import { recordResult } from './results';

/**
 * Collector throughput: a generated ~150-column CUR csv.gz of N rows in the local S3 server, read by
 * `meterflow collect aws --once` (the built CLI, as a user runs it). Reports rows/s, CPU seconds per
 * million rows and peak RSS (sampled from /proc every 100 ms).
 *
 *   npm run bench -- collector-aws [rows]      (default 1,000,000; needs `meterflow stack up`)
 */
export interface PreparedExport {
  dir: string;
  bucket: string;
  configFile: string;
  /** Key of the export's one data object (csv.gz) in the bucket. */
  key: string;
  bytes: number;
  /** Uncompressed CSV bytes of the export. */
  csvBytes: number;
  genSeconds: number;
}

/** Generates the CUR export, uploads it with its manifest, writes a config pointing at it. */
export async function prepareCurExport(rows: number, opts: CurRowOptions = {}): Promise<PreparedExport> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-bench-'));
  const file = path.join(dir, 'bench-1.csv.gz');
  const t0 = Date.now();
  const bytes = await writeCurCsvGz(file, rows, 42, opts);
  const genSeconds = (Date.now() - t0) / 1000;

  const { config } = loadConfig();
  const { client: s3 } = createS3(config.aws);
  const bucket = `bench-${Date.now().toString(36)}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const period = '20261101-20261201';
  const key = `bench/${period}/assembly-1/bench-1.csv.gz`;
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: fs.createReadStream(file), ContentLength: bytes }),
  );
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: `bench/${period}/bench-Manifest.json`,
      Body: JSON.stringify({
        assemblyId: 'assembly-1',
        reportName: 'bench',
        billingPeriod: { start: '20261101T000000.000Z', end: '20261201T000000.000Z' },
        reportKeys: [key],
        compression: 'GZIP',
        contentType: 'text/csv',
      }),
    }),
  );
  const configFile = path.join(dir, 'meterflow.yaml');
  fs.writeFileSync(
    configFile,
    `kafka:\n  topic_prefix: ${bucket}\nlog:\n  level: warn\naws:\n  exports:\n    - { name: bench, bucket: ${bucket}, prefix: '', type: cur-legacy }\n`,
  );

  return { dir, bucket, configFile, key, bytes, csvBytes: opts.csvBytes ?? 0, genSeconds };
}

export interface CollectorRun {
  seconds: number;
  cpuSeconds: number;
  peakRssMb: number;
}

/**
 * Runs `meterflow collect aws --once` (the built CLI; run `npm run build` first) on a config and
 * times it from spawn to exit, with its CPU time and peak RSS (bench/proc-sampler.ts).
 */
export async function runCollectorAws(configFile: string): Promise<CollectorRun> {
  const root = path.resolve(__dirname, '..');
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [path.join(root, 'dist/cli/main.js'), '--config', configFile, 'collect', 'aws', '--once'],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const sampler = sampleProcess(child);
  let stderr = '';
  child.stdout!.resume();
  child.stderr!.on('data', (c) => (stderr += String(c)));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const { peakRssMb, cpuSeconds } = sampler.stop();
  const seconds = (Date.now() - started) / 1000;
  if (code !== 0) throw new Error(`collector exited ${code}: ${stderr.slice(-2000)}`);
  return { seconds, cpuSeconds, peakRssMb };
}

export async function benchCollectorAws(rows: number): Promise<Record<string, string | number>> {
  const root = path.resolve(__dirname, '..');
  const { dir, configFile, bytes, genSeconds } = await prepareCurExport(rows);
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'ignore' });
  const { seconds, cpuSeconds, peakRssMb } = await runCollectorAws(configFile);
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    rows,
    'input csv.gz MB': +(bytes / 1e6).toFixed(1),
    'generate s': +genSeconds.toFixed(1),
    'wall s': +seconds.toFixed(1),
    'rows/s': Math.round(rows / seconds),
    'CPU s per 1M rows': +((cpuSeconds / rows) * 1e6).toFixed(1),
    'peak RSS MB': peakRssMb,
  };
}

if (require.main === module) {
  const rows = Number(process.argv[2] ?? 1_000_000);
  void benchCollectorAws(rows).then((r) => {
    recordResult('collector-aws', `npm run bench -- collector-aws ${rows}`, r);
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  });
}
