import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { prepareCurExport } from './collector-aws';
import { sampleProcess } from './proc-sampler';
import { summarizeProfile } from './profile-summary';

/**
 * Each processor stage on its own (`meterflow process normalize`, then `dedupe`, then `price`, one
 * process each, as a scaled-out deployment runs them): N raw CUR rows are collected first (not
 * timed); each stage then runs alone until it has emitted, dead-lettered or dropped every row
 * (read from its /metrics), so its input is complete and nothing else competes for the CPU.
 *
 *   npm run bench -- processor-stages [rows]
 */
const OPS_PORT = 19466;

async function stageDone(stage: string): Promise<number> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${OPS_PORT}/metrics`)).text();
    const sum = (re: RegExp) => [...text.matchAll(re)].reduce((s, m) => s + Number(m[1]), 0);
    const c = `component="processor.${stage}"`;
    return (
      sum(new RegExp(`meterflow_records_sent_total\\{${c}\\} (\\d+)`, 'g')) +
      sum(new RegExp(`meterflow_records_failed_total\\{${c},[^}]*\\} (\\d+)`, 'g')) +
      sum(new RegExp(`meterflow_records_dropped_total\\{${c},[^}]*\\} (\\d+)`, 'g'))
    );
  } catch {
    return 0;
  }
}

export async function benchProcessorStages(rows: number): Promise<Record<string, string | number>> {
  const root = path.resolve(__dirname, '..');
  const prepared = await prepareCurExport(rows);
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'ignore' });
  const cli = path.join(root, 'dist/cli/main.js');
  execFileSync(process.execPath, [cli, '--config', prepared.configFile, 'collect', 'aws', '--once'], {
    cwd: root,
    stdio: 'ignore',
  });
  fs.appendFileSync(
    prepared.configFile,
    `ops:\n  port: ${OPS_PORT}\nprocessor:\n  session_timeout_ms: 6000\n`,
  );
  const figures: Record<string, string | number> = { rows };
  for (const stage of ['normalize', 'dedupe', 'price']) {
    const started = Date.now();
    // BENCH_CPU_PROF=<dir>: a V8 CPU profile of each stage process, summarized into the figures.
    const profDir = process.env.BENCH_CPU_PROF ? path.join(process.env.BENCH_CPU_PROF, stage) : undefined;
    const prof = profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [];
    const child = spawn(
      process.execPath,
      [...prof, cli, '--config', prepared.configFile, 'process', stage, '--instance', 'bench'],
      { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const sampler = sampleProcess(child);
    let done = 0;
    // The first poll that sees output: from there on the stage is joined and running, so rows
    // from then to the end over that time is its steady rate (start-up and the first poll's rows
    // excluded from both).
    let first: { at: number; done: number } | undefined;
    const deadline = Date.now() + 60 * 60_000;
    while (done < rows && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      done = await stageDone(stage);
      if (first === undefined && done > 0) first = { at: Date.now(), done };
    }
    const ended = Date.now();
    const seconds = (ended - started) / 1000;
    const { peakRssMb, cpuSeconds } = sampler.stop();
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    if (done < rows) throw new Error(`${stage} handled ${done} of ${rows} rows within the time limit`);
    figures[`${stage}: rows/s (incl. ~3 s start-up)`] = Math.round(rows / seconds);
    if (first !== undefined && done > first.done) {
      figures[`${stage}: rows/s (steady, from its first output)`] = Math.round(
        (done - first.done) / ((ended - first.at) / 1000),
      );
    }
    figures[`${stage}: CPU s per 1M rows`] = +((cpuSeconds / rows) * 1e6).toFixed(1);
    figures[`${stage}: peak RSS MB`] = peakRssMb;
    if (profDir && fs.existsSync(profDir)) {
      const file = fs.readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
      if (file) {
        const summary = summarizeProfile(path.join(profDir, file), 8);
        figures[`${stage}: profile hot spots (self time)`] = summary.functions.join('; ');
      }
    }
  }
  fs.rmSync(prepared.dir, { recursive: true, force: true });
  return figures;
}
