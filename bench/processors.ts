import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { prepareCurExport } from './collector-aws';
import { sampleProcess } from './proc-sampler';

/**
 * The processor chain (`meterflow process all`: normalize, dedupe, price in one process, each a
 * transactional read-process-write loop) on N raw CUR rows already in Kafka: the export is generated
 * and collected first (not timed), then the chain runs until its price stage has emitted or
 * dead-lettered every row, read from its own /metrics endpoint.
 *
 *   npm run bench -- processors [rows]
 */
const OPS_PORT = 19464;

async function priceDone(): Promise<number> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${OPS_PORT}/metrics`)).text();
    const sent = Number(
      /meterflow_records_sent_total\{component="processor.price"\} (\d+)/.exec(text)?.[1] ?? 0,
    );
    const failed = [
      ...text.matchAll(
        /meterflow_records_failed_total\{component="processor.price",error_type="[^"]+"\} (\d+)/g,
      ),
    ].reduce((s, m) => s + Number(m[1]), 0);
    return sent + failed;
  } catch {
    return 0;
  }
}

export async function benchProcessors(rows: number): Promise<Record<string, string | number>> {
  const root = path.resolve(__dirname, '..');
  const prepared = await prepareCurExport(rows);
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'ignore' });
  execFileSync(
    process.execPath,
    [path.join(root, 'dist/cli/main.js'), '--config', prepared.configFile, 'collect', 'aws', '--once'],
    { cwd: root, stdio: 'ignore' },
  );

  fs.appendFileSync(
    prepared.configFile,
    `ops:\n  port: ${OPS_PORT}\nprocessor:\n  session_timeout_ms: 6000\n`,
  );
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [
      path.join(root, 'dist/cli/main.js'),
      '--config',
      prepared.configFile,
      'process',
      'all',
      '--instance',
      'bench',
    ],
    {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const sampler = sampleProcess(child);
  let done = 0;
  const deadline = Date.now() + 60 * 60_000;
  while (done < rows && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    done = await priceDone();
  }
  const seconds = (Date.now() - started) / 1000;
  const { peakRssMb, cpuSeconds } = sampler.stop();
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  fs.rmSync(prepared.dir, { recursive: true, force: true });
  if (done < rows) throw new Error(`the chain processed ${done} of ${rows} rows within the time limit`);
  return {
    rows,
    'wall s (incl. ~3 s start-up and group join)': +seconds.toFixed(1),
    'rows/s (3 stages, 1 process)': Math.round(rows / seconds),
    'CPU s per 1M rows (all 3 stages)': +((cpuSeconds / rows) * 1e6).toFixed(1),
    'peak RSS MB': peakRssMb,
  };
}
