import { benchCollectorAws } from './collector-aws';
import { benchDedupeMemory } from './dedupe-memory';
import { benchRateOffline } from './rate-offline';
import { benchProcessors } from './processors';
import { recordResult } from './results';
import { benchSink } from './sink';
import { benchKafkaCeiling } from './kafka-ceiling';
import { benchParseCeiling } from './parse-ceiling';
import { benchProcessorStages } from './processor-stages';
import { benchCollectorAzure, benchCollectorGcp } from './collector-clouds';
import { benchEndToEnd } from './end-to-end';
import { benchPeer } from './peer';
import { benchCollectorGrowth } from './collector-growth';
import { benchDuckdb } from './duckdb';
import { benchNormalizeCpu } from './normalize-cpu';
import { benchApiUsage } from './api-usage';
import { benchEvents } from './events';
import { benchSinkDocuments } from './sink-documents';
import { loadConfig } from '../runtime/config';
import { stackContext, stackStatus } from '../deploy/stack/stack';
import { pruneStaleResources } from '../test/support/stale-resources';

/** `npm run bench -- <scenario|all> [rows]`: runs scenarios and regenerates bench/RESULTS.md. */
const scenarios: Record<string, (rows: number) => Promise<Record<string, string | number>>> = {
  'collector-aws': benchCollectorAws,
  'rate-offline': benchRateOffline,
  processors: benchProcessors,
  'dedupe-memory': benchDedupeMemory,
  sink: benchSink,
  'kafka-ceiling': benchKafkaCeiling,
  'parse-ceiling': benchParseCeiling,
  'processor-stages': benchProcessorStages,
  'collector-gcp': benchCollectorGcp,
  'collector-azure': benchCollectorAzure,
  'end-to-end': benchEndToEnd,
  'collector-growth': benchCollectorGrowth,
  peer: benchPeer,
  duckdb: benchDuckdb,
  'normalize-cpu': benchNormalizeCpu,
  'api-usage': benchApiUsage,
  events: benchEvents,
  'sink-documents': benchSinkDocuments,
};

/** N when the command gives none (1,000,000 for scenarios not listed). */
const DEFAULT_N: Record<string, number> = {
  duckdb: 250_000,
  'normalize-cpu': 200_000,
  'api-usage': 300_000,
  events: 200_000,
  'sink-documents': 100_000,
};

/** Growth scenarios keep one RESULTS.md section per size (N's unit), so the sizes stand side by side. */
const SECTION_PER_SIZE: Record<string, string> = {
  'end-to-end': 'rows per cloud',
  'dedupe-memory': 'distinct ids',
};

async function main(): Promise<void> {
  const [which = 'all', rowsArg] = process.argv.slice(2);
  const names = which === 'all' ? Object.keys(scenarios) : [which];
  await pruneEarlierRuns();
  for (const name of names) {
    const fn = scenarios[name];
    if (!fn) throw new Error(`unknown scenario ${name}; known: ${Object.keys(scenarios).join(', ')}`);
    const rows = Number(rowsArg ?? DEFAULT_N[name] ?? 1_000_000);
    const figures = await fn(rows);
    const env = process.env.BENCH_CPU_PROF ? `BENCH_CPU_PROF=${process.env.BENCH_CPU_PROF} ` : '';
    const unit = SECTION_PER_SIZE[name];
    const section = unit ? `${name} (${rows} ${unit})` : name;
    recordResult(section, `${env}npm run bench -- ${name} ${rows}`, figures);
    process.stdout.write(`${name}: ${JSON.stringify(figures)}\n`);
  }
}

/**
 * Scenarios name their buckets, topics and indices by start time and most leave them, as tests do;
 * the ones from earlier runs are deleted first when the stack is up (test/support/stale-resources.ts).
 */
async function pruneEarlierRuns(): Promise<void> {
  const { config } = loadConfig();
  const up = await stackStatus(stackContext(config));
  if (!up.filter((s) => s.name === 'kafka' || s.name === 'elasticsearch').every((s) => s.healthy)) return;
  await pruneStaleResources(config, (line) => process.stderr.write(`${line}\n`));
}

void main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
