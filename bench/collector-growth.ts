import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../runtime/config';
import { createKafka } from '../runtime/kafka';
import { prepareCurExport, runCollectorAws } from './collector-aws';
import { curRows } from './workload/cur';

/**
 * Collector memory against export size: the AWS collector (`meterflow collect aws --once`, the built
 * CLI) on a 1 GB and on an N GB CUR export (uncompressed CSV bytes; default N = 5). Rows carry the
 * descriptive columns a real CUR line has (`detail`, ~830 B per row, the public koku sample's rows
 * are ~760 B), so 1 GB is ~1.2M rows and 5 GB ~6M rows. The collector streams
 * (gunzip -> CSV -> Kafka), so its peak RSS should not grow with the export.
 *
 * Each run's topics are deleted afterwards: the raw topic holds v2 batches (header and shared columns
 * once per message, positional values), a few GB of Kafka log for the 5 GB export.
 *
 *   npm run bench -- collector-growth [largest GB]      (needs `meterflow stack up`)
 */
export async function benchCollectorGrowth(largestGb: number): Promise<Record<string, string | number>> {
  const root = path.resolve(__dirname, '..');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'ignore' });
  const sample = 20_000;
  let sampleBytes = 0;
  for (const row of curRows(sample, 42, { detail: true })) sampleBytes += row.length + 1;
  const bytesPerRow = sampleBytes / sample;

  const figures: Record<string, string | number> = { 'CSV bytes per row': Math.round(bytesPerRow) };
  for (const gb of [...new Set([1, largestGb])]) {
    const rows = Math.ceil((gb * 1e9) / bytesPerRow);
    const prepared = await prepareCurExport(rows, { detail: true });
    try {
      const run = await runCollectorAws(prepared.configFile);
      const label = `${gb} GB export`;
      figures[`${label}: rows`] = rows;
      figures[`${label}: CSV GB / csv.gz MB`] =
        `${(prepared.csvBytes / 1e9).toFixed(2)} / ${(prepared.bytes / 1e6).toFixed(0)}`;
      figures[`${label}: rows/s`] = Math.round(rows / run.seconds);
      figures[`${label}: CPU s per 1M rows`] = +((run.cpuSeconds / rows) * 1e6).toFixed(1);
      figures[`${label}: peak RSS MB`] = run.peakRssMb;
    } finally {
      fs.rmSync(prepared.dir, { recursive: true, force: true });
      await deleteTopicsWithPrefix(prepared.bucket);
    }
  }
  return figures;
}

async function deleteTopicsWithPrefix(prefix: string): Promise<void> {
  const { config } = loadConfig();
  const admin = createKafka(config, 'bench').admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  } finally {
    await admin.disconnect();
  }
}
