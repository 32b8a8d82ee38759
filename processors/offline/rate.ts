import { rm, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { openLines } from '../../collectors/core/read-lines';
import { RawBatcher, RowAdmission, type BatchConstants } from '../../collectors/core/raw-batches';
import { compileControlColumns, defaultBilledCostColumn } from '../../collectors/formats/columns';
import { PROVIDER_NAMES, isProviderName, type ExportFormat } from '../../providers/registry';
import {
  DeadLetterReasons,
  ErrorCodes,
  InputError,
  PermanentError,
  type DeadLetterReason,
} from '../../runtime/errors';
import { trackTemp, untrackTemp } from '../../runtime/temp-files';
import { AvroTypes } from '../../schemas';
import type { RowBatch } from '../../schemas/raw-batch-codec';
import { DedupeState, revisionKeyOf } from '../dedupe/dedupe';
import { normalizeBatch, recordId, type NormalizeOptions } from '../normalize';
import { atCostPriceBook, loadPriceBook, rateRecord, type PriceBook } from '../price';
import { readOfflineNormalizeOptions } from './config';
import type { OfflineProvider } from './detect';
import { inputBytes, planFile, planFolder } from './plan';
import { RateProgress } from './progress';
import {
  closeTarget,
  discardTarget,
  fileTarget,
  LineWriter,
  usageRecordLine,
  validUsageRecordLine,
} from './output';
import { formatRateSummary, Totals } from './summary';
import { writeRatedAs, type OutputFormat } from './formats';

export { USAGE_RECORD_FIELDS, usageRecordLine } from './output';
export { formatRateSummary } from './summary';

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
  /** Output file, or '-' for stdout (NDJSON only). */
  out: string;
  /** ndjson (default), csv or parquet (processors/offline/formats.ts). */
  format?: OutputFormat;
  /** Summary destination (default process.stderr). */
  stderr?: NodeJS.WritableStream;
  /** Output when `out` is '-' (default process.stdout). */
  stdout?: NodeJS.WritableStream;
  /** Show progress on process.stderr while rating (processors/offline/progress.ts); the CLI turns it on. */
  progress?: boolean;
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
  reason: DeadLetterReason;
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
  dead_letters: Partial<Record<DeadLetterReason, number>>;
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
  reason: DeadLetterReason;
  message: string;
  provider: string;
  scope: string;
  revision_id: string;
  object: string;
  line: number;
  field: string | null;
  record_id: string;
}

const EXAMPLES_PER_REASON = 3;

// ---------------------------------------------------------------------------------------------
// The run

/**
 * Runs discovery, parsing, normalize, dedupe and pricing over local exports and writes one rated
 * UsageRecord per NDJSON line. Prints the summary (formatRateSummary) on `stderr` and returns it.
 * Throws (InputError, ConfigError, PriceBookError) when the input cannot be rated at all: nothing
 * found, a manifest naming absent files, an unreadable object, a bad price book or config.
 */
export async function runRate(opts: RateOptions): Promise<RateSummary> {
  if (!isProviderName(opts.provider)) {
    throw new InputError(
      ErrorCodes.MALFORMED_INPUT,
      `--provider must be one of ${PROVIDER_NAMES.join(', ')}`,
      {
        field: 'provider',
      },
    );
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
  const format = opts.format ?? 'ndjson';
  if (format !== 'ndjson' && toStdout)
    throw new PermanentError(
      ErrorCodes.CONFIG_INVALID,
      `--format ${format} writes a file: name one with --out`,
    );
  // Other formats are written from the NDJSON, which goes to a temporary file beside the output.
  const ndjsonPath =
    format === 'ndjson' ? resolve(opts.out) : `${resolve(opts.out)}.rated-${process.pid}.ndjson`;
  const main = toStdout ? undefined : fileTarget(ndjsonPath);
  const dead = toStdout ? undefined : fileTarget(`${resolve(opts.out)}.dead-letters.ndjson`);
  // process.stdout is done with a chunk once written, so its buffers are reused; a caller's stream may keep them.
  const out =
    main?.writer ?? (opts.stdout ? new LineWriter(opts.stdout) : new LineWriter(process.stdout, true));

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

  const progress = opts.progress
    ? new RateProgress({ totalBytes: await inputBytes(plan) }).start()
    : undefined;
  const countBytes = progress ? (n: number) => void (progress.bytes += n) : undefined;
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
      const processBatch = async (batch: RowBatch): Promise<void> => {
        // A dead letter's lineage; built only for the rows that fail (the record id is a sha256).
        const where = (line: number) => ({
          provider: batch.provider,
          scope: batch.scope,
          revision_id: batch.revision_id,
          object: batch.object,
          line,
          record_id: recordId(batch.scope, batch.revision_id, batch.object, line),
        });
        for (const { line, result } of normalizeBatch(batch, normalizeOptions)) {
          if (!result.ok) {
            await deadLetter({
              stage: 'processor.normalize',
              reason: result.reason,
              message: result.message,
              field: result.field ?? null,
              ...where(line),
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
              ...where(line),
            });
            continue;
          }
          const record = rated.record;
          // The fast path checks the schema itself while it serializes; avsc decides the rest.
          const text =
            validUsageRecordLine(record) ??
            (AvroTypes.usageRecord.isValid(record) ? usageRecordLine(record) : undefined);
          if (text === undefined) {
            await deadLetter({
              stage: 'processor.price',
              reason: DeadLetterReasons.SCHEMA_VIOLATION,
              message: 'the rated record does not fit schemas/usage-record.avsc',
              field: null,
              ...where(line),
            });
            continue;
          }
          if (out.push(text)) await out.flush();
          summary.rows_out++;
          revSummary.rows_out++;
          billedTotals.addText(record.BillingCurrency, record.BilledCost);
          if (record.x_RatedCost !== null && record.x_RatedCurrency !== null) {
            ratedTotals.addText(record.x_RatedCurrency, record.x_RatedCost);
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
        // No transaction offline: a verdict is final as soon as it is made.
        seenObjects.commit();
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
        for await (const parsed of await openLines(plan.store, key, countBytes)) {
          if (progress) progress.rows++;
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
              reason: DeadLetterReasons.MALFORMED_INPUT,
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
    if (format !== 'ndjson') {
      trackTemp(ndjsonPath);
      try {
        await writeRatedAs(format, ndjsonPath, resolve(opts.out));
      } finally {
        await rm(ndjsonPath, { force: true });
        untrackTemp(ndjsonPath);
      }
    }
  } catch (err) {
    progress?.stop();
    if (main) await discardTarget(main);
    if (dead) await discardTarget(dead);
    throw err;
  }

  progress?.stop();
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
