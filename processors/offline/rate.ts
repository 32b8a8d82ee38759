import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { finished } from 'node:stream/promises';
import { openLines } from '../../collectors/core/read-lines';
import type { ObjectStore } from '../../collectors/core/object-store';
import { RawBatcher, RowAdmission, type BatchConstants } from '../../collectors/core/raw-batches';
import { compileControlColumns, defaultBilledCostColumn } from '../../collectors/formats/columns';
import type { Header } from '../../collectors/formats/rows';
import {
  discoverAwsDataExports,
  discoverAwsLegacyCur,
  discoverAzureAllExports,
  discoverFocusFiles,
  discoverGcpExports,
  type DiscoveredRevision,
  type DiscoveryInput,
  type ExportFormat,
  type Provider,
} from '../../collectors/formats/discovery';
import { Decimal, decimalToString, parseDecimal } from '../../schemas/decimal';
import { ErrorCodes, InputError } from '../../runtime/errors';
import { AvroTypes } from '../../schemas';
import type { RawRowBatch, UsageRecord } from '../../schemas/types.generated';
import { DedupeState, revisionKeyOf } from '../dedupe/dedupe';
import { normalizeBatch, recordId, type NormalizeOptions } from '../normalize';
import { atCostPriceBook, loadPriceBook, rateRecord, type PriceBook } from '../price';
import { readOfflineNormalizeOptions } from './config';
import { detectFormat, readColumnNames, rowPeriodReader, type OfflineProvider } from './detect';
import { LocalFolderStore, listFolder } from './fs-store';

/*
 * `meterflow rate`: the whole pipeline in one process, without Kafka or Elasticsearch.
 *
 *   discovery (folder) or header detection (single file)
 *     -> CSV / JSON-lines reader -> normalize -> dedupe -> price -> NDJSON, one rated record a line
 *
 * The stages are the service's own pure cores, so a dry run on last month's exports gives the
 * records the rated topic would carry. Everything streams: one row is in flight at a time, output
 * waits for the writer to drain, and the dedupe state holds one entry per object read, not per row.
 */

export interface RateOptions {
  provider: OfflineProvider;
  /** One export file, or a folder laid out as the bucket / container. */
  input: string;
  /** Price book YAML; without it every line is rated at cost (markup 0). */
  pricebook?: string;
  /** meterflow YAML whose `normalize:` mapping sets attribution and default_currency. */
  config?: string;
  /** NDJSON output file, or '-' for stdout. */
  out: string;
  /** Summary destination (default process.stderr). */
  stderr?: NodeJS.WritableStream;
  /** Output when `out` is '-' (default process.stdout). */
  stdout?: NodeJS.WritableStream;
}

export interface RevisionSummary {
  /** Scope of the revision; for a single file `${provider}/local/${file}` (each row adds its period). */
  scope: string;
  revision_id: string;
  format: ExportFormat;
  /** Periods of the rows read (YYYY-MM), sorted. */
  billing_periods: string[];
  files: number;
  manifest: string | null;
  expected_rows: number | null;
  rows_in: number;
  rows_out: number;
}

export interface DeadLetterExample {
  stage: string;
  reason: string;
  message: string;
}

export interface RateSummary {
  provider: OfflineProvider;
  input: string;
  input_kind: 'file' | 'folder';
  /** Output path, or '-' */
  output: string;
  /** `<out>.dead-letters.ndjson`, or null when the output is stdout. */
  dead_letters_file: string | null;
  price_book: { version: string; source: string | null; at_cost: boolean };
  revisions: RevisionSummary[];
  /** Data lines read (rows and malformed lines); rows_in = rows_out + duplicates + dead_letters_total. */
  rows_in: number;
  rows_out: number;
  duplicates: number;
  /** Dead letters by reason: malformed, unknown_customer, schema_violation, unpriced, no_exchange_rate. */
  dead_letters: Record<string, number>;
  dead_letters_total: number;
  /** Exact control total of the export's billed-cost column per currency, every row read once (duplicates excluded). */
  source_billed_cost: Record<string, string>;
  /** Exact sum of BilledCost of the records written, per BillingCurrency. */
  billed_cost: Record<string, string>;
  /** Exact sum of x_RatedCost of the records written, per x_RatedCurrency. */
  rated_cost: Record<string, string>;
  /** The first dead letters of each reason, for a quick look without the dead-letter file. */
  dead_letter_examples: DeadLetterExample[];
  notes: string[];
  warnings: string[];
}

/** One offline dead letter (a line of `<out>.dead-letters.ndjson`). */
export interface OfflineDeadLetter {
  stage: string;
  reason: string;
  message: string;
  provider: string;
  scope: string;
  revision_id: string;
  object: string;
  line: number;
  field: string | null;
  record_id: string;
}

/** A revision to read: discovered from manifests, or built for a single file. */
interface OfflineRevision {
  provider: string;
  format: ExportFormat;
  scope: string;
  revision_id: string;
  billing_period: string;
  files: string[];
  expected_rows: number | null;
  manifest_key: string | null;
  /** Single file: the scope and period of each row come from the row itself. */
  rowPeriod?: (header: Header, values: readonly string[]) => string | undefined;
}

interface Plan {
  store: ObjectStore;
  kind: 'file' | 'folder';
  revisions: OfflineRevision[];
}

const PROVIDERS: readonly OfflineProvider[] = ['aws', 'gcp', 'azure', 'focus'];
const EXAMPLES_PER_REASON = 3;
const WRITE_CHUNK = 64 * 1024;

/** UsageRecord field names in the order of schemas/usage-record.avsc (the rated topic's schema). */
export const USAGE_RECORD_FIELDS: readonly string[] = (
  AvroTypes.usageRecord as unknown as { fields: Array<{ name: string }> }
).fields.map((f) => f.name);

// `{"BillingAccountId":`, `,"BillingAccountName":`, ... : the fixed part of every line, built once.
const KEY_PREFIXES = USAGE_RECORD_FIELDS.map((f, i) => `${i === 0 ? '{' : ','}${JSON.stringify(f)}:`);

/** One NDJSON line with the record's fields in schema order (absent fields as null). */
export function usageRecordLine(record: UsageRecord): string {
  const source = record as unknown as Record<string, unknown>;
  let line = '';
  for (let i = 0; i < USAGE_RECORD_FIELDS.length; i++) {
    const v = source[USAGE_RECORD_FIELDS[i]];
    line += KEY_PREFIXES[i] + (v === undefined || v === null ? 'null' : JSON.stringify(v));
  }
  return `${line}}\n`;
}

// ---------------------------------------------------------------------------------------------
// Input planning

const LAYOUT_HINTS: Record<OfflineProvider, string> = {
  aws:
    'legacy CUR <report>/<yyyymmdd-yyyymmdd>/<report>-Manifest.json, or Data Exports ' +
    '<export>/metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json',
  azure: 'Cost Management exports v2 <export>/<yyyymmdd-yyyymmdd>/<run>/manifest.json',
  gcp: '<billing account>/<YYYYMM>/run=<RUN_ID>/part-*.jsonl(.gz)|.csv(.gz) with a _SUCCESS marker',
  focus: '<export>/<YYYY-MM | BILLING_PERIOD=YYYY-MM | yyyymmdd-yyyymmdd>/<file>.csv(.gz)',
};

/**
 * GCP's layout is anchored at the configured prefix (`<account>/<YYYYMM>/run=<id>/...`). A folder
 * may hold it below any prefix: every prefix under which the layout occurs is discovered.
 */
function gcpPrefixes(objects: DiscoveryInput['objects']): string[] {
  const prefixes = new Set<string>();
  for (const o of objects) {
    const m = /^(?:(.*)\/)?[^/]+\/\d{4}(?:0[1-9]|1[0-2])\/run=[^/]+\/[^/]+$/.exec(o.key);
    if (m) prefixes.add(m[1] ?? '');
  }
  return [...prefixes].sort();
}

async function discoverFolder(
  provider: OfflineProvider,
  store: LocalFolderStore,
  bucket: string,
): Promise<DiscoveredRevision[]> {
  const objects = await listFolder(store.root);
  const input: DiscoveryInput = {
    bucket,
    prefix: '',
    objects,
    readJson: (key) => store.readJson(key),
  };
  switch (provider) {
    case 'aws':
      return [...(await discoverAwsLegacyCur(input)), ...(await discoverAwsDataExports(input))];
    case 'azure':
      return discoverAzureAllExports(input);
    case 'gcp': {
      const found: DiscoveredRevision[] = [];
      const seen = new Map<string, string>();
      for (const prefix of gcpPrefixes(objects)) {
        for (const rev of await discoverGcpExports({ ...input, prefix })) {
          const prior = seen.get(rev.scope);
          if (prior !== undefined) {
            throw new InputError(
              ErrorCodes.MALFORMED_INPUT,
              `scope ${rev.scope} is found under two prefixes ("${prior}" and "${prefix}"); rate them separately`,
              { object: rev.manifest_key ?? undefined },
            );
          }
          seen.set(rev.scope, prefix);
          found.push(rev);
        }
      }
      return found;
    }
    case 'focus':
      // Files at rest are complete: no quiet period. The discoverer's provider only names the scope.
      return discoverFocusFiles({
        ...input,
        provider: 'focus' as unknown as Provider,
        now: new Date(8.64e15),
        quietPeriodMs: 0,
      });
  }
}

async function planFolder(provider: OfflineProvider, folder: string): Promise<Plan> {
  const bucket = basename(folder);
  const store = new LocalFolderStore(folder, `local://${bucket}`);
  const discovered = await discoverFolder(provider, store, bucket);
  if (discovered.length === 0) {
    throw new InputError(
      ErrorCodes.NOT_FOUND,
      `no ${provider} export found in folder ${folder}. Discovery looks for ${LAYOUT_HINTS[provider]} ` +
        `(at any depth); to rate one file without a manifest, pass the file itself as --input`,
      { object: folder },
    );
  }
  const missing = discovered.flatMap((r) => r.missing_files.map((f) => `${f} (listed by ${r.manifest_key})`));
  if (missing.length > 0) {
    throw new InputError(
      ErrorCodes.NOT_FOUND,
      `the manifests list files the folder does not hold: ${missing.join(', ')}`,
      { object: folder },
    );
  }
  const revisions: OfflineRevision[] = [];
  for (const r of discovered) {
    let format: ExportFormat = r.format;
    // Standard and detailed GCP exports share a layout; the detailed one has resource.* columns.
    if (r.provider === 'gcp' && r.files.length > 0) {
      const columns = await readColumnNames(store, r.files[0]);
      if (columns.some((c) => c.startsWith('resource.'))) format = 'gcp-detailed';
    }
    revisions.push({
      provider,
      format,
      scope: r.scope,
      revision_id: r.revision_id,
      billing_period: r.billing_period,
      files: r.files,
      expected_rows: r.expected_rows,
      manifest_key: r.manifest_key,
    });
  }
  return { store, kind: 'folder', revisions };
}

async function sha256Prefix(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex').slice(0, 16);
}

async function planFile(provider: OfflineProvider, file: string): Promise<Plan> {
  const name = basename(file);
  const store = new LocalFolderStore(dirname(file), 'local://local');
  const columns = await readColumnNames(store, name);
  const format = detectFormat(provider, columns, name);
  return {
    store,
    kind: 'file',
    revisions: [
      {
        provider,
        format,
        scope: `${provider}/local/${name}`,
        // Content-addressed: the same bytes give the same revision, hence the same record ids.
        revision_id: await sha256Prefix(file),
        billing_period: '',
        files: [name],
        expected_rows: null,
        manifest_key: null,
        rowPeriod: rowPeriodReader(format, columns),
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Output

/** Buffered line writer that honours backpressure: a full stream is awaited ('drain'), never overfilled. */
class LineWriter {
  private pending: string[] = [];
  private pendingChars = 0;
  private failure: Error | undefined;

  constructor(readonly stream: NodeJS.WritableStream) {
    stream.on('error', (err: Error) => {
      this.failure ??= err;
    });
  }

  async write(line: string): Promise<void> {
    this.pending.push(line);
    this.pendingChars += line.length;
    if (this.pendingChars >= WRITE_CHUNK) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingChars = 0;
    if (!this.stream.write(text)) await this.drained();
  }

  private drained(): Promise<void> {
    return new Promise((resolveDrain, reject) => {
      const s = this.stream;
      const done = (err?: Error): void => {
        s.off('drain', onDrain);
        s.off('error', onError);
        s.off('close', onClose);
        if (err) reject(err);
        else resolveDrain();
      };
      const onDrain = (): void => done();
      const onError = (err: Error): void => done(err);
      const onClose = (): void =>
        done(this.failure ?? new Error('output closed before every line was written'));
      s.on('drain', onDrain);
      s.on('error', onError);
      s.on('close', onClose);
    });
  }
}

interface FileTarget {
  final: string;
  temp: string;
  writer: LineWriter;
}

function fileTarget(path: string): FileTarget {
  // Written beside the target and renamed at the end: a failed run never leaves a file that looks complete.
  const temp = `${path}.partial-${process.pid}`;
  return { final: path, temp, writer: new LineWriter(createWriteStream(temp)) };
}

async function closeTarget(t: FileTarget): Promise<void> {
  await t.writer.flush();
  const s = t.writer.stream as NodeJS.WritableStream & { end(): void };
  s.end();
  await finished(s as unknown as NodeJS.WritableStream);
  await rename(t.temp, t.final);
}

async function discardTarget(t: FileTarget): Promise<void> {
  const s = t.writer.stream as unknown as { destroy(): void };
  s.destroy();
  await rm(t.temp, { force: true });
}

// ---------------------------------------------------------------------------------------------
// The run

class Totals {
  private readonly sums = new Map<string, Decimal>();
  add(currency: string, amount: Decimal): void {
    this.sums.set(currency, (this.sums.get(currency) ?? new Decimal(0)).plus(amount));
  }
  toRecord(): Record<string, string> {
    return Object.fromEntries(
      [...this.sums.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([c, d]) => [c, decimalToString(d)]),
    );
  }
}

/**
 * Runs discovery, parsing, normalize, dedupe and pricing over local exports and writes one rated
 * UsageRecord per NDJSON line. Prints the summary (formatRateSummary) on `stderr` and returns it.
 * Throws (InputError, ConfigError, PriceBookError) when the input cannot be rated at all: nothing
 * found, a manifest naming absent files, an unreadable object, a bad price book or config.
 */
export async function runRate(opts: RateOptions): Promise<RateSummary> {
  if (!PROVIDERS.includes(opts.provider)) {
    throw new InputError(ErrorCodes.MALFORMED_INPUT, `--provider must be one of ${PROVIDERS.join(', ')}`, {
      field: 'provider',
    });
  }
  const normalizeOptions: NormalizeOptions = readOfflineNormalizeOptions(opts.config);
  const book: PriceBook = opts.pricebook ? loadPriceBook(opts.pricebook) : atCostPriceBook();
  const input = resolve(opts.input);
  const inputStat = await stat(input).catch((err: Error) => {
    throw new InputError(ErrorCodes.NOT_FOUND, `cannot read --input (${err.message})`, {
      object: opts.input,
    });
  });
  const plan = inputStat.isDirectory()
    ? await planFolder(opts.provider, input)
    : await planFile(opts.provider, input);

  const toStdout = opts.out === '-';
  const main = toStdout ? undefined : fileTarget(resolve(opts.out));
  const dead = toStdout ? undefined : fileTarget(`${resolve(opts.out)}.dead-letters.ndjson`);
  const out = main?.writer ?? new LineWriter(opts.stdout ?? process.stdout);

  const summary: RateSummary = {
    provider: opts.provider,
    input: opts.input,
    input_kind: plan.kind,
    output: opts.out,
    dead_letters_file: toStdout ? null : `${opts.out}.dead-letters.ndjson`,
    price_book: { version: book.version, source: opts.pricebook ?? null, at_cost: !opts.pricebook },
    revisions: [],
    rows_in: 0,
    rows_out: 0,
    duplicates: 0,
    dead_letters: {},
    dead_letters_total: 0,
    source_billed_cost: {},
    billed_cost: {},
    rated_cost: {},
    dead_letter_examples: [],
    notes: [],
    warnings: [],
  };
  if (!opts.pricebook) summary.notes.push('no price book: rated at cost (markup 0)');

  const sourceTotals = new Totals();
  const billedTotals = new Totals();
  const ratedTotals = new Totals();
  // Record ids are sha256(scope, revision, object, line) and every object is read front to back in
  // full, so a line repeats an id exactly when its object is read a second time within the same
  // revision (a manifest listing a file twice). The dedupe state therefore tracks one entry per
  // (revision, object), which keeps it bounded by the number of files, not rows.
  const seenObjects = new DedupeState({ max_ids: 1_000_000 });
  const examples = new Map<string, number>();

  const deadLetter = async (d: OfflineDeadLetter): Promise<void> => {
    summary.dead_letters[d.reason] = (summary.dead_letters[d.reason] ?? 0) + 1;
    summary.dead_letters_total++;
    const key = `${d.stage}/${d.reason}`;
    const n = examples.get(key) ?? 0;
    if (n < EXAMPLES_PER_REASON) {
      examples.set(key, n + 1);
      summary.dead_letter_examples.push({
        stage: d.stage,
        reason: d.reason,
        message: `${d.object} line ${d.line}${d.field ? `, field ${d.field}` : ''}: ${d.message}`,
      });
    }
    if (dead) await dead.writer.write(`${JSON.stringify(d)}\n`);
  };

  try {
    for (const rev of plan.revisions) {
      const revSummary: RevisionSummary = {
        scope: rev.scope,
        revision_id: rev.revision_id,
        format: rev.format,
        billing_periods: [],
        files: rev.files.length,
        manifest: rev.manifest_key,
        expected_rows: rev.expected_rows,
        rows_in: 0,
        rows_out: 0,
      };
      summary.revisions.push(revSummary);
      const periods = new Set<string>();
      let lastPeriod: string | undefined;
      let linesRead = 0;
      const admission = new RowAdmission(
        (header) => compileControlColumns(rev.format, header),
        defaultBilledCostColumn(rev.format),
      );
      // The processors, in the order the streaming stages run them; one batch at a time.
      const processBatch = async (batch: RawRowBatch): Promise<void> => {
        for (const { line, result } of normalizeBatch(batch, normalizeOptions)) {
          const where = {
            provider: batch.provider,
            scope: batch.scope,
            revision_id: batch.revision_id,
            object: batch.object,
            line,
            record_id: recordId(batch.scope, batch.revision_id, batch.object, line),
          };
          if (!result.ok) {
            await deadLetter({
              stage: 'processor.normalize',
              reason: result.reason,
              message: result.message,
              field: result.field ?? null,
              ...where,
            });
            continue;
          }
          const rated = rateRecord(result.record, book);
          if (!rated.ok) {
            await deadLetter({
              stage: 'processor.price',
              reason: rated.reason,
              message: rated.message,
              field: rated.field ?? null,
              ...where,
            });
            continue;
          }
          const record = rated.record;
          if (!AvroTypes.usageRecord.isValid(record)) {
            await deadLetter({
              stage: 'processor.price',
              reason: 'schema_violation',
              message: 'the rated record does not fit schemas/usage-record.avsc',
              field: null,
              ...where,
            });
            continue;
          }
          await out.write(usageRecordLine(record));
          summary.rows_out++;
          revSummary.rows_out++;
          billedTotals.add(record.BillingCurrency, parseDecimal(record.BilledCost) as Decimal);
          if (record.x_RatedCost !== null && record.x_RatedCurrency !== null) {
            ratedTotals.add(record.x_RatedCurrency, parseDecimal(record.x_RatedCost) as Decimal);
          }
        }
      };
      const batcher = new RawBatcher();
      const drain = async (): Promise<void> => {
        for (const batch of batcher.take()) await processBatch(batch);
      };
      for (const key of rev.files) {
        const object = plan.store.url(key);
        const verdict = seenObjects.observe(revisionKeyOf(rev.scope, rev.revision_id), object);
        // One constants object per (object, period): a single file's rows carry their own period.
        const constantsByPeriod = new Map<string, BatchConstants>();
        const constantsFor = (scope: string, period: string): BatchConstants => {
          let c = constantsByPeriod.get(period);
          if (c === undefined) {
            c = {
              provider: rev.provider,
              format: rev.format,
              scope,
              revision_id: rev.revision_id,
              billing_period: period,
              object,
            };
            constantsByPeriod.set(period, c);
          }
          return c;
        };
        for await (const parsed of await openLines(plan.store, key)) {
          summary.rows_in++;
          revSummary.rows_in++;
          linesRead++;
          if (verdict === 'duplicate') {
            summary.duplicates++;
            continue;
          }
          let period = rev.billing_period;
          let scope = rev.scope;
          if (rev.rowPeriod) {
            const own = parsed.kind === 'row' ? rev.rowPeriod(parsed.header, parsed.values) : undefined;
            period = own ?? lastPeriod ?? 'unknown';
            lastPeriod = period;
            scope = `${rev.scope}/${period}`;
          }
          periods.add(period);
          const admitted = admission.admit(parsed);
          if (admitted.kind === 'malformed') {
            // Rows before it are processed first, so dead letters keep the file's line order.
            await drain();
            await deadLetter({
              stage: `collector.${rev.provider}`,
              reason: 'malformed',
              message: admitted.message,
              field: admitted.field ?? null,
              provider: rev.provider,
              scope,
              revision_id: rev.revision_id,
              object,
              line: admitted.line,
              record_id: recordId(scope, rev.revision_id, object, admitted.line),
            });
            continue;
          }
          if (parsed.kind !== 'row') continue;
          if (admitted.cost !== undefined) {
            const currency =
              admitted.currency === 'UNKNOWN'
                ? (normalizeOptions.default_currency ?? 'UNKNOWN')
                : admitted.currency;
            sourceTotals.add(currency, admitted.cost);
          }
          batcher.add(constantsFor(scope, period), parsed.line, parsed.header, parsed.values);
          // Memory stays flat: a batch is processed as soon as it is sealed.
          for (const batch of batcher.takeSealed()) await processBatch(batch);
        }
        await drain();
      }
      revSummary.billing_periods = [...periods].sort();
      if (rev.expected_rows !== null && linesRead !== rev.expected_rows) {
        summary.warnings.push(
          `${rev.scope} revision ${rev.revision_id}: the manifest states ${rev.expected_rows} rows, ` +
            `the files hold ${linesRead} (the collector would fail this revision)`,
        );
      }
    }
    await out.flush();
    if (main) await closeTarget(main);
    if (dead) await closeTarget(dead);
  } catch (err) {
    if (main) await discardTarget(main);
    if (dead) await discardTarget(dead);
    throw err;
  }

  summary.source_billed_cost = sourceTotals.toRecord();
  summary.billed_cost = billedTotals.toRecord();
  summary.rated_cost = ratedTotals.toRecord();
  if (summary.duplicates > 0) {
    summary.notes.push(
      `${summary.duplicates} duplicate lines (an object read twice in one revision) dropped`,
    );
  }
  (opts.stderr ?? process.stderr).write(formatRateSummary(summary));
  return summary;
}

// ---------------------------------------------------------------------------------------------
// Summary

function money(totals: Record<string, string>): string {
  const entries = Object.entries(totals);
  return entries.length === 0 ? '-' : entries.map(([c, v]) => `${c} ${v}`).join(', ');
}

/** Human-readable summary (several lines, ends with a newline); amounts are exact decimal text. */
export function formatRateSummary(s: RateSummary): string {
  const lines: string[] = [];
  lines.push(
    `meterflow rate: --provider ${s.provider}, ${s.input_kind} ${s.input}, ${s.revisions.length} revision(s)`,
  );
  for (const r of s.revisions) {
    const periods = r.billing_periods.length ? r.billing_periods.join(',') : 'no rows';
    const expected = r.expected_rows === null ? '' : ` (manifest: ${r.expected_rows})`;
    lines.push(
      `  ${r.scope}  revision ${r.revision_id}  ${r.format}  ${periods}  ${r.files} file(s)  ` +
        `${r.rows_in} rows in${expected}, ${r.rows_out} out`,
    );
  }
  const reasons = Object.entries(s.dead_letters)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  lines.push(`rows in:            ${s.rows_in}`);
  lines.push(`rows out:           ${s.rows_out}`);
  lines.push(`duplicates:         ${s.duplicates}`);
  lines.push(`dead letters:       ${s.dead_letters_total}${reasons ? ` (${reasons})` : ''}`);
  lines.push(
    `price book:         ${s.price_book.at_cost ? 'none, rated at cost (markup 0)' : `${s.price_book.version} (${s.price_book.source})`}`,
  );
  lines.push(`source billed cost: ${money(s.source_billed_cost)}`);
  lines.push(`BilledCost out:     ${money(s.billed_cost)}`);
  lines.push(`rated:              ${money(s.rated_cost)}`);
  lines.push(`output:             ${s.output === '-' ? 'stdout' : s.output}`);
  if (s.dead_letters_file !== null) lines.push(`dead-letter file:   ${s.dead_letters_file}`);
  for (const e of s.dead_letter_examples) lines.push(`  dead letter [${e.stage} ${e.reason}] ${e.message}`);
  for (const n of s.notes) lines.push(`note: ${n}`);
  for (const w of s.warnings) lines.push(`warning: ${w}`);
  return `${lines.join('\n')}\n`;
}
