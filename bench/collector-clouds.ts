import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type MeterflowConfig } from '../runtime/config';
import { createAzureBlob } from '../providers/azure/store';
import { createGcs } from '../providers/gcp/store';
import { sampleProcess } from './proc-sampler';
import { azureRows, gcpRows, writeGzLines } from './workload/clouds';

/**
 * The GCP and Azure collectors on generated exports of N rows (bench/workload/clouds.ts) in the
 * local GCS and Azure Blob servers, read by `meterflow collect gcp|azure --once` (the built CLI).
 * Generation and upload are not timed.
 *
 *   npm run bench -- collector-gcp [rows]
 *   npm run bench -- collector-azure [rows]
 */
async function runCollector(provider: 'gcp' | 'azure', configFile: string, rows: number, bytes: number) {
  const root = path.resolve(__dirname, '..');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'ignore' });
  // BENCH_CPU_PROF=<dir>: write a V8 CPU profile of the collector there (`--cpu-prof`).
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [...prof, path.join(root, 'dist/cli/main.js'), '--config', configFile, 'collect', provider, '--once'],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const sampler = sampleProcess(child);
  let output = '';
  child.stdout!.on('data', (c) => (output += String(c)));
  child.stderr!.on('data', (c) => (output += String(c)));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const seconds = (Date.now() - started) / 1000;
  const { peakRssMb, cpuSeconds } = sampler.stop();
  if (code !== 0) throw new Error(`collector exited ${code}: ${output.slice(-2000)}`);
  return {
    rows,
    'input gz MB': +(bytes / 1e6).toFixed(1),
    'wall s': +seconds.toFixed(1),
    'rows/s': Math.round(rows / seconds),
    'CPU s per 1M rows': +((cpuSeconds / rows) * 1e6).toFixed(1),
    'peak RSS MB': peakRssMb,
  };
}

/** Uploads one GCP export run (data, then the _SUCCESS marker) for billing month 2026-10. */
export async function putGcpExport(config: MeterflowConfig, bucketName: string, file: string): Promise<void> {
  const { client: gcs } = createGcs(config.gcp, config.local_stack);
  await gcs.createBucket(bucketName);
  const run = 'exports/012345-ABCDEF-678901/202610/run=bench';
  await gcs
    .bucket(bucketName)
    .upload(file, { destination: `${run}/part-000000000000.jsonl.gz`, resumable: false });
  await gcs.bucket(bucketName).file(`${run}/_SUCCESS`).save('', { resumable: false });
}

/** Uploads one Azure Cost Management v2 export run (part, then manifest) for billing month 2026-10. */
export async function putAzureExport(
  config: MeterflowConfig,
  containerName: string,
  file: string,
  bytes: number,
): Promise<void> {
  const container = createAzureBlob(config.azure).client.getContainerClient(containerName);
  await container.createIfNotExists();
  const base = 'exports/actual/20261001-20261031/run-bench';
  await container.getBlockBlobClient(`${base}/part_0_0001.csv.gz`).uploadFile(file);
  const manifest = JSON.stringify({
    manifestVersion: '2024-04-01',
    exportConfig: { exportName: 'actual', type: 'ActualCost', dataVersion: '2021-10-01' },
    runInfo: {
      runId: 'run-bench',
      submittedTime: '2026-11-01T04:00:00Z',
      startDate: '2026-10-01T00:00:00',
      endDate: '2026-10-31T00:00:00',
    },
    blobs: [{ blobName: `${base}/part_0_0001.csv.gz`, byteCount: bytes }],
  });
  await container.getBlockBlobClient(`${base}/manifest.json`).upload(manifest, manifest.length);
}

export async function benchCollectorGcp(rows: number): Promise<Record<string, string | number>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-bench-gcp-'));
  try {
    const file = path.join(dir, 'part.jsonl.gz');
    const bytes = await writeGzLines(file, gcpRows(rows));
    const { config } = loadConfig({ env: {}, cwd: os.tmpdir() });
    const bucketName = `bench-gcp-${Date.now().toString(36)}`;
    await putGcpExport(config, bucketName, file);
    const configFile = path.join(dir, 'meterflow.yaml');
    fs.writeFileSync(
      configFile,
      `kafka:\n  topic_prefix: ${bucketName}\nlog:\n  level: warn\ngcp:\n  exports:\n    - { name: billing, bucket: ${bucketName}, prefix: exports }\n`,
    );
    return await runCollector('gcp', configFile, rows, bytes);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchCollectorAzure(rows: number): Promise<Record<string, string | number>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-bench-azure-'));
  try {
    const file = path.join(dir, 'part.csv.gz');
    const bytes = await writeGzLines(file, azureRows(rows));
    const { config } = loadConfig({ env: {}, cwd: os.tmpdir() });
    const containerName = `bench-azure-${Date.now().toString(36)}`;
    await putAzureExport(config, containerName, file, bytes);
    const configFile = path.join(dir, 'meterflow.yaml');
    fs.writeFileSync(
      configFile,
      `kafka:\n  topic_prefix: ${containerName}\nlog:\n  level: warn\nazure:\n  exports:\n    - { name: actual, container: ${containerName}, prefix: exports }\n`,
    );
    return await runCollector('azure', configFile, rows, bytes);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
