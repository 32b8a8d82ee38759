import type { MeterflowConfig } from '../runtime/config';
import { ErrorCodes, PermanentError } from '../runtime/errors';
import { createKafka } from '../runtime/kafka';
import { startService } from '../runtime/service';
import type { ExportTarget } from '../providers/provider';
import { COLLECTING_PROVIDERS, COLLECTOR_NAMES, type CollectorName } from '../providers/registry';
import { Collector, type ExportSource, type PassResult } from './core/collector';
import { exportSource } from './core/export-source';

export { COLLECTOR_NAMES };

/** One source per export configured in the provider's section of meterflow.yaml. */
export function sourcesFor(provider: CollectorName, config: MeterflowConfig): ExportSource[] {
  const p = COLLECTING_PROVIDERS.find((c) => c.name === provider);
  if (p === undefined) return [];
  const targets = p.collector.targets as (section: unknown, ctx: { localStack: boolean }) => ExportTarget[];
  const limits = {
    maxRecordBytes: config.collector.max_record_bytes,
    maxExpansionRatio: config.collector.max_expansion_ratio,
    spoolDir: config.collector.spool_dir,
  };
  return targets(config[p.name], { localStack: config.local_stack }).map((t) => exportSource(t, limits));
}

/**
 * `meterflow collect aws|gcp|azure [--once]`. Long-running by default (polls every
 * collector.poll_interval_ms); --once runs one discovery pass, writes what is new and exits,
 * non-zero when a revision failed or an export could not be read.
 */
export async function runCollect(
  provider: CollectorName,
  config: MeterflowConfig,
  opts: { once: boolean; instance?: string; opsPort?: number },
): Promise<PassResult | undefined> {
  if (!COLLECTOR_NAMES.includes(provider)) {
    throw new PermanentError(
      ErrorCodes.CONFIG_INVALID,
      `unknown provider "${provider}"; expected one of ${COLLECTOR_NAMES.join(', ')}`,
    );
  }
  const sources = sourcesFor(provider, config);
  if (sources.length === 0) {
    throw new PermanentError(
      ErrorCodes.CONFIG_INVALID,
      `no ${provider} exports configured: add ${provider}.exports to meterflow.yaml`,
    );
  }
  const service = await startService(config, `collector.${provider}`, {
    ops: !opts.once,
    opsPort: opts.opsPort,
  });
  const kafka = createKafka(config, `collector-${provider}`, service.logger);
  const tty = process.stderr.isTTY;
  let lastProgress = 0;
  const collector = new Collector({
    provider,
    config,
    kafka,
    logger: service.logger,
    registry: service.registry,
    sources,
    instance: opts.instance,
    onProgress: (scope, rows) => {
      if (!opts.once) return;
      if (tty) process.stderr.write(`\r${scope}: ${rows.toLocaleString('en-US')} rows`);
      else if (Date.now() - lastProgress > 10_000) {
        lastProgress = Date.now();
        process.stderr.write(`${scope}: ${rows} rows\n`);
      }
    },
  });
  service.shutdown.register('collector', () => collector.stop());
  service.readiness[`collector.${provider}`] = () => collector.checkReady();
  await collector.start();
  if (opts.once) {
    try {
      const result = await collector.pollOnce(service.shutdown.signal);
      if (tty) process.stderr.write('\n');
      return result;
    } finally {
      await service.shutdown.run();
    }
  }
  await collector.run(service.shutdown.signal);
  return undefined;
}

export function formatPass(provider: string, r: PassResult): string {
  const lines = [
    `collector.${provider}: ${r.completed.length} revision(s) written, ${r.skipped} already current, ${r.failed.length} failed`,
  ];
  for (const rev of r.completed)
    lines.push(`  written  ${rev.scope}  revision ${rev.revision_id}  (${rev.files.length} file(s))`);
  for (const f of r.failed)
    lines.push(`  FAILED   ${f.revision.scope}  revision ${f.revision.revision_id}: ${f.error}`);
  for (const e of r.exportErrors) lines.push(`  ERROR    export ${e.export}: ${e.error}`);
  return lines.join('\n');
}
