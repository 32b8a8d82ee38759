#!/usr/bin/env node
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { loadConfig, renderConfigDocs, type LoadedConfig } from '../runtime/config';
import { classifyError, ErrorCodes, MeterflowError, PermanentError } from '../runtime/errors';
import { redactText, redactValue } from '../runtime/redact';
import {
  COLLECTOR_NAMES,
  PROVIDER_NAMES,
  type CollectorName,
  type ProviderName,
} from '../providers/registry';
import { createLogger } from '../runtime/logger';
import { registerKibanaCommand } from '../deploy/kibana/command';
import {
  formatOption,
  periodOption,
  portOption,
  positiveIntegerOption,
  processStageArgument,
  providerArgument,
  providerOption,
  replayReasonOption,
  replayStageOption,
  diffFormatOption,
  invoiceFormatOption,
  invoiceStatusOption,
  usageError,
  type OutputFormat,
} from './arguments';
import { packageVersion } from './version';

const load = createRequire(__filename);

// Each subcommand loads its modules when it runs: `meterflow rate` does not pay at start-up for the
// Elasticsearch client, the API server, the stack manager or the demo, nor `meterflow api` for the
// processors.
const stackComponentModule = () =>
  load('../deploy/stack/component') as typeof import('../deploy/stack/component');
const stackModule = () => load('../deploy/stack/stack') as typeof import('../deploy/stack/stack');
const collectorsModule = () => load('../collectors/command') as typeof import('../collectors/command');
const processorsModule = () => load('../processors/command') as typeof import('../processors/command');
const rateModule = () => load('../processors/offline/rate') as typeof import('../processors/offline/rate');
const rateSummaryModule = () =>
  load('../processors/offline/summary') as typeof import('../processors/offline/summary');
const replayModule = () => load('../processors/replay') as typeof import('../processors/replay');
const auditModule = () => load('../runtime/audit') as typeof import('../runtime/audit');
const demoModule = () => load('../deploy/demo/demo') as typeof import('../deploy/demo/demo');
const sinkModule = () =>
  load('../sinks/elasticsearch/command') as typeof import('../sinks/elasticsearch/command');
const apiModule = () => load('../api/service') as typeof import('../api/service');
const exportModule = () => load('../api/export') as typeof import('../api/export');
const apiKeysModule = () => load('../api') as typeof import('../api');
const invoicesModule = () => load('../invoices/service') as typeof import('../invoices/service');
const rerateModule = () => load('../processors/rerate') as typeof import('../processors/rerate');
const previewModule = () => load('../processors/preview') as typeof import('../processors/preview');
const supervisorModule = () => load('./supervisor') as typeof import('./supervisor');

/**
 * The `meterflow` command. Errors reach the user as one clear message (what failed, where, and
 * what to look at), never as a bare stack trace; METERFLOW_DEBUG=1 adds the stack.
 */
const program = new Command();
program
  .name('meterflow')
  .description(
    'Cloud billing exports to rated, invoice-ready usage: collectors, processors and sinks over Kafka and Elasticsearch.',
  )
  .version(packageVersion(), '-V, --version', 'print the meterflow version')
  .option('-c, --config <file>', 'configuration file (default: $METERFLOW_CONFIG or ./meterflow.yaml)')
  .showHelpAfterError()
  // Usage errors exit 2 (not 1, which is a failed run), for scripts that tell them apart.
  .exitOverride();

let warned = false;
function config(): LoadedConfig {
  const loaded = loadConfig({ path: program.opts<{ config?: string }>().config });
  if (!warned) for (const w of loaded.warnings) process.stderr.write(`meterflow: WARNING: ${w}\n`);
  warned = true;
  return loaded;
}

const say = (line: string) => process.stderr.write(`${line}\n`);

const stack = program
  .command('stack')
  .description('run the local stack: Kafka, Elasticsearch, S3, GCS and Azure Blob servers');
stack
  .command('up [components...]')
  .description('install what is missing, start what is not running, wait until healthy')
  .action(async (names: string[]) => {
    const { stackContext, stackUp, selectComponents, formatStatus } = stackModule();
    const started = Date.now();
    const ctx = stackContext(config().config, say);
    const statuses = await stackUp(ctx, selectComponents(names));
    process.stdout.write(`${formatStatus(statuses)}\n`);
    say(`stack up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
stack
  .command('down [components...]')
  .description('stop the servers this stack started (and nothing else)')
  .action(async (names: string[]) => {
    const { stackContext, stackDown, selectComponents } = stackModule();
    const stopped = await stackDown(stackContext(config().config), selectComponents(names, true));
    process.stdout.write(
      stopped.length ? `stopped: ${stopped.join(', ')}\n` : 'nothing of ours was running\n',
    );
  });
stack
  .command('status [components...]')
  .description('print each component, its endpoint and health; exit 1 if one is not healthy')
  .action(async (names: string[]) => {
    const { stackContext, stackStatus, selectComponents, formatStatus } = stackModule();
    const statuses = await stackStatus(stackContext(config().config), selectComponents(names));
    process.stdout.write(`${formatStatus(statuses)}\n`);
    if (statuses.some((s) => !s.healthy)) process.exitCode = 1;
  });
stack
  .command('logs <component>')
  .description('print the last lines of a component log')
  .addOption(positiveIntegerOption('-n, --lines <n>', 'lines to print', 100))
  .action((name: string, opts: { lines: number }) => {
    const { stackContext, selectComponents } = stackModule();
    const { logFileOf } = stackComponentModule();
    const [component] = selectComponents([name]);
    const file = logFileOf(stackContext(config().config), component.name);
    if (!fs.existsSync(file)) throw new Error(`no log yet for ${component.name} (${file})`);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    process.stdout.write(`${lines.slice(-opts.lines - 1).join('\n')}\n`);
  });

const cfg = program.command('config').description('inspect the configuration');
cfg
  .command('check')
  .description('validate the configuration and report every problem at once')
  .action(() => {
    const { source } = config();
    process.stdout.write(`configuration ok (${source ?? 'no file: defaults for the local stack'})\n`);
  });
cfg
  .command('print')
  .description('print the effective configuration, secrets masked')
  .action(() => void process.stdout.write(`${JSON.stringify(redactValue(config().config), null, 2)}\n`));
cfg
  .command('init')
  .description('write an example configuration: every option with its default and meaning, commented out')
  .option('--out <file>', 'file to write', 'meterflow.yaml')
  .option('--force', 'overwrite the file if it exists')
  .action((opts: { out: string; force?: boolean }) => {
    const { renderExampleConfig } = load(
      '../runtime/config-example',
    ) as typeof import('../runtime/config-example');
    try {
      fs.writeFileSync(opts.out, renderExampleConfig(), { flag: opts.force ? 'w' : 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      throw new PermanentError(
        ErrorCodes.CONFIG_INVALID,
        `${opts.out} exists; not overwritten (--force overwrites it)`,
      );
    }
    process.stdout.write(`wrote ${opts.out}; check it with: meterflow --config ${opts.out} config check\n`);
  });
cfg
  .command('docs')
  .description('print the reference of every option with its default (Markdown)')
  .action(() => void process.stdout.write(renderConfigDocs()));

program
  .command('collect')
  .addArgument(providerArgument(COLLECTOR_NAMES))
  .description(
    `run the collector of one cloud (${COLLECTOR_NAMES.join(', ')}): export revisions from object storage into Kafka`,
  )
  .option('--once', 'one discovery pass: write what is new, print a summary and exit')
  .option(
    '--instance <id>',
    'instance name, when several collectors of one cloud run (distinct transactional ids)',
  )
  .addOption(portOption('--ops-port <port>', 'port of /metrics, /healthz, /readyz (default ops.port)'))
  .action(async (provider: string, opts: { once?: boolean; instance?: string; opsPort?: number }) => {
    const { runCollect, formatPass } = collectorsModule();
    const result = await runCollect(provider as CollectorName, config().config, {
      once: Boolean(opts.once),
      instance: opts.instance,
      opsPort: opts.opsPort,
    });
    if (result) {
      process.stdout.write(`${formatPass(provider, result)}\n`);
      if (result.failed.length || result.exportErrors.length) process.exitCode = 1;
    }
  });

program
  .command('process')
  .addArgument(processStageArgument())
  .description('run a processor stage: normalize, dedupe, price, or all (the chain in one process)')
  .option('--instance <id>', 'stable instance name (default processor.instance_id or the host name)')
  .addOption(portOption('--ops-port <port>', 'port of /metrics, /healthz, /readyz (default ops.port)'))
  .action(async (stage: string, opts: { instance?: string; opsPort?: number }) => {
    const { runProcess } = processorsModule();
    await runProcess(config().config, stage, {
      instance: opts.instance,
      opsPort: opts.opsPort,
    });
  });

program
  .command('sink')
  .description('run a sink')
  .command('elasticsearch')
  .description(
    'index rated usage, revisions and dead letters into Elasticsearch, and publish complete, reconciled revisions',
  )
  .addOption(portOption('--ops-port <port>', 'port of /metrics, /healthz, /readyz (default ops.port)'))
  .action(async (opts: { opsPort?: number }) => {
    const { runSink } = sinkModule();
    await runSink(config().config, {
      opsPort: opts.opsPort,
    });
  });

const invoice = program.command('invoice').description('invoices from the published usage');
for (const action of ['generate', 'finalize'] as const) {
  const command = invoice
    .command(action)
    .description(
      action === 'generate'
        ? 'compute (or recompute) the draft invoices of a billing period; finalized invoices are never changed'
        : 'finalize the drafts of a billing period: numbered and immutable from then on',
    )
    .addOption(periodOption())
    .option('--customer <id>', 'only this customer');
  if (action === 'finalize')
    command
      .option(
        '--force-incomplete',
        'finalize although revisions are pending or dead letters open (needs --reason)',
      )
      .option('--reason <text>', 'why --force-incomplete (recorded on the invoices and in the audit log)');
  command.action(
    async (opts: { period: string; customer?: string; forceIncomplete?: boolean; reason?: string }) => {
      const { runInvoice } = invoicesModule();
      await runInvoice(config().config, action, opts, (line) => process.stdout.write(`${line}\n`));
    },
  );
}
invoice
  .command('list')
  .description('list the invoices (and credit notes) of a billing period')
  .addOption(periodOption())
  .option('--customer <id>', 'only this customer')
  .addOption(invoiceStatusOption())
  .action(async (opts: { period: string; customer?: string; status?: 'draft' | 'finalized' | 'void' }) => {
    const { runInvoiceList } = invoicesModule();
    await runInvoiceList(config().config, opts, (line) => process.stdout.write(`${line}\n`));
  });
invoice
  .command('show <invoice>')
  .description('show one invoice by id (<customer>:<period>) or number (MF-2026-000001)')
  .option('--json', 'the stored document as JSON')
  .action(async (id: string, opts: { json?: boolean }) => {
    const { runInvoiceShow } = invoicesModule();
    await runInvoiceShow(config().config, id, opts, (line) => process.stdout.write(`${line}\n`));
  });
invoice
  .command('export')
  .description('write the invoices of a billing period as JSON, CSV, or one PDF / HTML file each')
  .addOption(periodOption())
  .addOption(invoiceFormatOption())
  .option('--out <dir|file>', 'file (json, csv; default stdout) or directory (pdf, html: required)')
  .option('--customer <id>', 'only this customer')
  .addOption(invoiceStatusOption())
  .action(
    async (opts: {
      period: string;
      format: string;
      out?: string;
      customer?: string;
      status?: 'draft' | 'finalized' | 'void';
    }) => {
      const { runInvoiceExport } = invoicesModule();
      await runInvoiceExport(config().config, opts, (line) => process.stdout.write(`${line}\n`));
    },
  );
invoice
  .command('credit-note <invoice>')
  .description(
    'issue a credit note (CN-<year>-<n>) correcting a finalized invoice: all that is left, or --amount',
  )
  .requiredOption('--reason <text>', 'why (printed on the credit note, and in the audit log)')
  .option('--amount <net>', 'net amount to credit (default: what is left of the invoice)')
  .action(async (id: string, opts: { reason?: string; amount?: string }) => {
    const { runInvoiceCreditNote } = invoicesModule();
    await runInvoiceCreditNote(config().config, id, opts, (line) => process.stdout.write(`${line}\n`));
  });
invoice
  .command('void <invoice>')
  .description("void the customer's latest finalized invoice; --reissue recomputes it under a new number")
  .requiredOption('--reason <text>', 'why (recorded on the invoice and in the audit log)')
  .option(
    '--reissue',
    'recompute from the current usage, price book and config, and finalize it as a new invoice',
  )
  .action(async (id: string, opts: { reason?: string; reissue?: boolean }) => {
    const { runInvoiceVoid } = invoicesModule();
    await runInvoiceVoid(config().config, id, opts, (line) => process.stdout.write(`${line}\n`));
  });
invoice
  .command('regenerate <invoice>')
  .description(
    'recompute a finalized invoice from the usage it was computed from (kept as history) and compare: exit 0 when identical bit for bit',
  )
  .option('--price-book <file>', "the price book file of the invoice's version (default: the current book)")
  .option('--json', 'the result as JSON')
  .action(async (id: string, opts: { priceBook?: string; json?: boolean }) => {
    const { runInvoiceRegenerate } = invoicesModule();
    const result = await runInvoiceRegenerate(config().config, id, opts, (line) =>
      process.stdout.write(`${line}\n`),
    );
    if (!result.identical) process.exitCode = 1;
  });
invoice
  .command('schedule')
  .description(
    'keep the drafts of the current and previous period up to date, and finalize a period invoice.finalize_after_days after it closes',
  )
  .addOption(portOption('--ops-port <port>', 'port of /metrics, /healthz, /readyz (default ops.port)'))
  .action(async (opts: { opsPort?: number }) => {
    const { runInvoiceScheduleService } = invoicesModule();
    await runInvoiceScheduleService(config().config, { opsPort: opts.opsPort });
  });

const api = program
  .command('api')
  .description(
    'serve usage, invoices, revisions and dead letters over HTTP (OpenAPI at /openapi.json, Swagger UI at /docs)',
  )
  .addOption(portOption('--port <port>', 'port (default api.port)'))
  .action(async (opts: { port?: number }) => {
    const { runApiService } = apiModule();
    await runApiService(config().config, { port: opts.port });
  });
api
  .command('new-key')
  .description('print a new random API key and the config entry that stores its hash')
  .requiredOption('--id <id>', 'name of the key, e.g. the customer or the team')
  .option('--customer <id>', 'a customer key (sees only this customer); without it an admin key')
  .option('--metrics', 'a metrics key: reads GET /metrics only (for Prometheus)')
  .option(
    '--ingest <sources>',
    'an ingest key: POST /v1/events only, for these CloudEvents sources (comma-separated, each exact or a prefix ending in *); with --customer, for that customer only',
  )
  .action(async (opts: { id: string; customer?: string; metrics?: boolean; ingest?: string }) => {
    const roles = [
      opts.customer !== undefined && opts.ingest === undefined,
      opts.metrics,
      opts.ingest !== undefined,
    ];
    if (roles.filter(Boolean).length > 1) {
      process.stderr.write('error: --customer, --metrics and --ingest exclude each other\n');
      throw new CommanderError(2, 'usage', '--customer, --metrics and --ingest exclude each other');
    }
    const { generateApiKey, hashApiKey } = apiKeysModule();
    const key = generateApiKey();
    const role =
      opts.ingest !== undefined ? 'ingest' : opts.customer ? 'customer' : opts.metrics ? 'metrics' : 'admin';
    const list = (items: string[]) => `[${items.map((i) => JSON.stringify(i)).join(', ')}]`;
    const entry =
      opts.ingest !== undefined
        ? `{ id: ${opts.id}, role: ingest, sources: ${list(opts.ingest.split(',').map((x) => x.trim()))}, customers: ${list([opts.customer ?? '*'])}, key_sha256: ${hashApiKey(key)} }`
        : opts.customer
          ? `{ id: ${opts.id}, role: customer, customer: ${opts.customer}, key_sha256: ${hashApiKey(key)} }`
          : `{ id: ${opts.id}, role: ${role}, key_sha256: ${hashApiKey(key)} }`;
    process.stdout.write(
      `key (give it to the client; it is not stored): ${key}\nconfig (api.keys): - ${entry}\n`,
    );
    // Logged only: the key takes effect when its hash enters the config, a change the config's
    // own history records. The log names the key's id and role, never the key.
    const { auditEvent, recordAudit } = auditModule();
    await recordAudit(
      auditEvent('api.key_created', `key ${opts.id}`, {
        role,
        ...(opts.customer ? { customer: opts.customer } : {}),
      }),
      createLogger({ level: 'info', component: 'api.new-key' }),
    );
  });

program
  .command('run')
  .description(
    'every stage in one supervised process group (collectors of configured clouds, processors, sink, invoice schedule, API), for small deployments',
  )
  .action(async () => {
    const { stagesFor, Supervisor } = supervisorModule();
    const { config: c, source } = config();
    const logger = createLogger({ level: c.log.level, component: 'run' });
    const command = [
      process.execPath,
      ...process.execArgv,
      process.argv[1],
      ...(source ? ['--config', source] : []),
    ];
    const supervisor = new Supervisor({ command, stages: stagesFor(c), logger });
    supervisor.start();
    await new Promise<void>((resolve) => {
      const stop = (signal: NodeJS.Signals) => void supervisor.stop(signal).then(resolve);
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
  });

const pricebook = program
  .command('pricebook')
  .description('manage the price book the price stage rates with');
pricebook
  .command('publish <file>')
  .description('validate a price book and publish it to the price-book topic')
  .option(
    '--rerate-from <YYYY-MM-DD>',
    'then re-rate the published usage from this day (UTC) with it, as `pricebook rerate` does',
  )
  .action(async (file: string, opts: { rerateFrom?: string }) => {
    // Checked before publishing anything: a usage error exits 2 with nothing written.
    if (opts.rerateFrom !== undefined && rerateModule().parseFromDate(opts.rerateFrom) === undefined)
      throw usageError(`--rerate-from ${opts.rerateFrom}: expected a calendar date YYYY-MM-DD`);
    const { runPublishPriceBook } = processorsModule();
    const published = await runPublishPriceBook(config().config, file);
    process.stdout.write(`${published.message}\n`);
    if (opts.rerateFrom !== undefined) await rerate(published.version, opts.rerateFrom);
  });
pricebook
  .command('diff')
  .description(
    "preview a candidate price book: rate a period's published usage with it (nothing is published) and print old, new and change per customer, currency and rule",
  )
  .requiredOption('--book <file>', 'the candidate price book (validated as `pricebook publish` does)')
  .addOption(periodOption())
  .option('--customer <id>', 'only this customer')
  .addOption(diffFormatOption())
  .action(async (opts: { book: string; period: string; customer?: string; format: 'table' | 'json' }) => {
    const { loadCandidateBook, runPriceBookDiff, formatDiff } = previewModule();
    let book;
    try {
      book = loadCandidateBook({ file: opts.book });
    } catch (err) {
      throw usageError(`--book: ${(err as Error).message}`);
    }
    process.stdout.write(formatDiff(await runPriceBookDiff(config().config, book, opts), opts.format));
  });

pricebook
  .command('rerate <version>')
  .description(
    'after publishing a book version effective from a date: re-rate the published usage from that date with it, scope by scope, exactly once and resumable (docs/re-rating.md)',
  )
  .requiredOption('--from <YYYY-MM-DD>', 'records whose ChargePeriodStart is on or after this day (UTC)')
  .action(async (version: string, opts: { from: string }) => {
    // Checked before connecting to anything: a usage error exits 2.
    if (rerateModule().parseFromDate(opts.from) === undefined)
      throw usageError(`--from ${opts.from}: expected a calendar date YYYY-MM-DD`);
    if (version.trim() === '') throw usageError('<version>: the price-book version must not be empty');
    await rerate(version, opts.from);
  });

/** `pricebook rerate`, and `pricebook publish --rerate-from` once the version is published. */
async function rerate(version: string, from: string): Promise<void> {
  const s = await rerateModule().runRerate(config().config, { version, from }, say);
  for (const k of s.skipped) say(`skipped ${k.scope}: ${k.why}`);
  const totals = s.totals.map((t) => `${t.currency} ${t.old} -> ${t.new} (change ${t.change})`).join(', ');
  process.stdout.write(
    `re-rated ${s.rerated.length + s.resumed.length} scope(s) (${s.resumed.length} committed by an earlier run), ` +
      `${s.reratedRecords} of ${s.records} records with price book ${version} from ${from}` +
      `${totals ? `: ${totals}` : ''}\n`,
  );
  if (s.held.length) {
    for (const h of s.held) process.stderr.write(`meterflow: held ${h.scope}: ${h.why}\n`);
    process.stderr.write(
      `meterflow: error: ${s.held.length} scope(s) held, not re-rated; run the re-rate again once they are published\n`,
    );
    process.exitCode = 1;
  }
}

program
  .command('replay')
  .description(
    're-drive dead letters of one reason (after adding the missing price rule or customer mapping), exactly once',
  )
  .addOption(replayReasonOption())
  .addOption(replayStageOption())
  .action(async (opts: { reason: string; stage?: string }) => {
    const { runReplay } = replayModule();
    const { config: c } = config();
    const s = await runReplay(c, opts.reason, opts.stage);
    const { auditEvent, recordAudit } = auditModule();
    await recordAudit(
      auditEvent(
        'dead_letters.replayed',
        `reason ${opts.reason}${opts.stage ? ` stage ${opts.stage}` : ''}`,
        {
          replayed: s.replayed,
          skipped: s.skipped,
          ...s.byStage,
        },
      ),
      createLogger({ level: c.log.level, component: 'replay' }),
      c,
    );
    process.stdout.write(
      `replayed ${s.replayed} dead letter(s) of reason ${opts.reason} ${JSON.stringify(s.byStage)}; ${s.skipped} not replayable\n`,
    );
  });

program
  .command('rate')
  .description(
    'offline: discover, parse, normalize, dedupe and price exports from a file or a bucket-shaped folder, without any server; one rated record per NDJSON line',
  )
  .addOption(providerOption(PROVIDER_NAMES))
  .requiredOption('--input <path>', 'one export file, or a folder laid out as the bucket')
  .option('--pricebook <file>', 'price book YAML (default: rate at cost, markup 0)')
  .requiredOption('--out <file>', 'output file, or - for stdout (ndjson only)')
  .addOption(formatOption('ndjson (one record per line), csv or parquet (typed: decimals, UTC timestamps)'))
  .option('--exit-zero', 'exit 0 even when nothing was rated or a warning was printed (exit codes: README)')
  .action(
    async (opts: {
      provider: string;
      input: string;
      pricebook?: string;
      out: string;
      format: OutputFormat;
      exitZero?: boolean;
    }) => {
      // A signal ends the run through process.exit, so the 'exit' hook removes the partial
      // output and any zip spool folder (runtime/temp-files.ts).
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      const { runRate } = rateModule();
      const { rateExitCode } = rateSummaryModule();
      const summary = await runRate({
        provider: opts.provider as ProviderName,
        input: opts.input,
        pricebook: opts.pricebook,
        config: program.opts<{ config?: string }>().config,
        out: opts.out,
        format: opts.format,
        progress: true,
      });
      if (!opts.exitZero) process.exitCode = rateExitCode(summary);
    },
  );

program
  .command('export')
  .description(
    "a billing period's published usage from Elasticsearch (the current revision of every scope, as readers see it) to a file: NDJSON, CSV or typed Parquet",
  )
  .addOption(periodOption())
  .option('--customer <id>', "only this customer's usage")
  .addOption(formatOption('ndjson, csv or parquet (as meterflow rate writes them)'))
  .requiredOption('--out <file>', 'output file')
  .action(async (opts: { period: string; customer?: string; format: OutputFormat; out: string }) => {
    process.once('SIGINT', () => process.exit(130));
    process.once('SIGTERM', () => process.exit(143));
    const { exportPublishedUsage } = exportModule();
    const s = await exportPublishedUsage(config().config, opts);
    const totals = (t: Record<string, string>) =>
      Object.entries(t)
        .map(([c, v]) => `${c} ${v}`)
        .join(', ') || '-';
    say(`exported ${s.rows} rows of ${opts.period} to ${opts.out} (${opts.format})`);
    say(`BilledCost: ${totals(s.billed_cost)}`);
    say(`rated:      ${totals(s.rated_cost)}`);
  });

program
  .command('demo')
  .description(
    'the main job on the local stack (npm start): bring the stack up, seed sample exports of all three clouds, collect, process, price, index into Elasticsearch, generate invoices, print a summary and serve the API',
  )
  .option('--exit', 'exit after the summary instead of leaving the pipeline and the API running')
  .action(async (opts: { exit?: boolean }) => {
    const { stackContext, stackUp, formatStatus } = stackModule();
    const { runDemo, formatDemoSummary } = demoModule();
    const { config: base } = config();
    // The demo's own lines are its human output, on stdout; logs (kafkajs's warnings among them)
    // stay on stderr, readable on a terminal (runtime/logger.ts).
    const ctx = stackContext(base, (line) => process.stdout.write(`${line}\n`));
    const statuses = await stackUp(ctx);
    process.stdout.write(`\nmeterflow local stack\n${formatStatus(statuses)}\n\n`);
    const summary = await runDemo(base, (line) => process.stdout.write(`${line}\n`), !opts.exit);
    process.stdout.write(`\n${formatDemoSummary(summary)}\n`);
    if (opts.exit) return;
    process.stdout.write(
      '\nthe pipeline (topics meterflow-demo.*, indices meterflow-demo-*) and the API keep running; Ctrl-C stops them (the stack stays up: npx meterflow stack down)\n',
    );
    // First Ctrl-C (or SIGTERM): stop within ops.shutdown_timeout_ms, printing each step; a
    // second one exits at once. Then exit explicitly: idle client sockets must not keep it alive.
    await new Promise<string[]>((resolve) => {
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) {
          process.stdout.write(`\n${signal} again: exiting now\n`);
          process.exit(130);
        }
        stopping = true;
        process.stdout.write(`\n${signal}: stopping the pipeline and the API...\n`);
        void summary.stop().then(resolve);
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
    process.exit(0);
  });

registerKibanaCommand(program, () => config().config);

export async function main(argv: string[]): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (raw) {
    if (raw instanceof CommanderError) {
      // Commander has printed the message (or the help / version, which exit 0).
      process.exitCode = raw.exitCode === 0 ? 0 : 2;
      return;
    }
    const err: MeterflowError = classifyError(raw);
    process.stderr.write(`meterflow: error [${err.code}]: ${redactText(err.message)}\n`);
    if (process.env.METERFLOW_DEBUG && raw instanceof Error && raw.stack)
      process.stderr.write(`${redactText(raw.stack)}\n`);
    // Exit now rather than when the event loop empties: a long-running command that failed may
    // still hold sockets and timers (Kafka, Elasticsearch, the ops endpoint) and would otherwise
    // sit there alive and idle, which no supervisor restarts.
    process.exit(1);
  }
}

if (require.main === module) void main(process.argv);
