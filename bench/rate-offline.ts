import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeCurCsvGz } from './workload/cur';
import { sampleProcess } from './proc-sampler';

/**
 * `meterflow rate` (offline: parse, normalize, dedupe, price in one process) on a generated
 * 151-column CUR csv.gz of N rows, output to /dev/null. No server needed.
 *
 *   npm run bench -- rate-offline [rows]
 */
export async function benchRateOffline(rows: number): Promise<Record<string, string | number>> {
  const root = path.resolve(__dirname, '..');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-bench-rate-'));
  const file = path.join(dir, 'cur-1.csv.gz');
  const bytes = await writeCurCsvGz(file, rows);
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'ignore' });
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [path.join(root, 'dist/cli/main.js'), 'rate', '--provider', 'aws', '--input', file, '--out', '-'],
    {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const sampler = sampleProcess(child);
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += String(c)));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const { peakRssMb, cpuSeconds } = sampler.stop();
  const seconds = (Date.now() - started) / 1000;
  fs.rmSync(dir, { recursive: true, force: true });
  if (code !== 0) throw new Error(`meterflow rate exited ${code}: ${stderr.slice(-2000)}`);
  const out = /rows out:\s+(\d+)/.exec(stderr)?.[1];
  return {
    rows,
    'rows out': out ?? 'unknown',
    'input csv.gz MB': +(bytes / 1e6).toFixed(1),
    'wall s': +seconds.toFixed(1),
    'rows/s': Math.round(rows / seconds),
    'CPU s per 1M rows': +((cpuSeconds / rows) * 1e6).toFixed(1),
    'peak RSS MB': peakRssMb,
  };
}
