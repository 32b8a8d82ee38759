import type { Producer, Message } from 'kafkajs';
import type { Logger } from '../../runtime/logger';
import type { StageMetrics } from '../../runtime/metrics';
import { Decimal, decimalToString } from '../../schemas/decimal';
import { recordIdOf } from '../../schemas/record-id';
import { DeadLetterReasons, ErrorCodes, PermanentError, type DeadLetterReason } from '../../runtime/errors';
import { sendChunked } from '../../runtime/kafka';
import { AvroTypes, type DeadLetter, type RevisionControl } from '../../schemas';
import type { ControlColumns } from '../formats/columns';
import type { Header, MalformedLine, ParsedLine } from '../formats/rows';
import { RawBatcher, RowAdmission, rawBatchMessage, type BatchConstants } from './raw-batches';
import { checkpointMessage, type Checkpoint } from './checkpoints';

export type { ParsedLine };

/**
 * Writes one export revision to Kafka, exactly once as seen by read_committed consumers.
 *
 * Ordering, per Kafka transaction (at most `transaction_rows` lines each):
 *   1. the first transaction opens with REVISION_STARTED on the control topic;
 *   2. raw rows go to the raw topic, malformed lines to the dead-letter topic;
 *   3. the checkpoint (object index, last line, running counts and control totals) goes to the
 *      checkpoint topic;
 *   4. commit. The last transaction also carries REVISION_COMPLETED with the row count and exact
 *      per-currency totals, and marks the checkpoint completed.
 * Rows and the checkpoint that covers them commit or abort together, so a collector killed at any
 * instant resumes from the last committed checkpoint: it re-reads the object, skips lines up to
 * the checkpoint's line (parsing is deterministic), and neither loses nor repeats a row. A restarted
 * instance with the same transactional id fences the dead one's open transaction (it is aborted).
 */
export interface RevisionToWrite {
  provider: string;
  format: string;
  scope: string;
  revision_id: string;
  billing_period: string;
  files: string[];
  expected_rows: number | null;
  billed_cost_column: string;
}

export interface RevisionTopics {
  raw: string;
  control: string;
  checkpoints: string;
  deadLetter: string;
}

export interface RevisionWriterOptions {
  producer: Producer;
  topics: RevisionTopics;
  logger: Logger;
  metrics: StageMetrics;
  stage: string;
  transaction_rows: number;
  /** Opens one object of the revision as parsed lines. */
  openLines: (key: string, fileIndex: number) => Promise<AsyncIterable<ParsedLine>>;
  /** Object URL for lineage (s3://bucket/key). */
  urlOf: (key: string) => string;
  /** The revision format's billed-cost and currency columns compiled for a header. */
  controlColumns: (header: Header) => ControlColumns;
  /** Progress callback (rows so far), for the --once progress line. */
  onProgress?: (rows: number) => void;
  /** Test hook: called after each committed transaction. */
  afterCommit?: (cp: Checkpoint) => Promise<void> | void;
}

export interface RevisionOutcome {
  checkpoint: Checkpoint;
  control: RevisionControl;
}

const now = () => new Date().toISOString();

export function freshCheckpoint(rev: RevisionToWrite): Checkpoint {
  return {
    scope: rev.scope,
    revision_id: rev.revision_id,
    state: 'in_progress',
    file_index: 0,
    line: 0,
    rows: 0,
    dead_letters: 0,
    totals: {},
    started_at: now(),
    updated_at: now(),
  };
}

export function controlRecord(
  rev: RevisionToWrite,
  type: RevisionControl['type'],
  cp: Checkpoint | undefined,
  error: string | null = null,
): RevisionControl {
  return {
    type,
    provider: rev.provider,
    format: rev.format,
    scope: rev.scope,
    revision_id: rev.revision_id,
    billing_period: rev.billing_period,
    files: rev.files,
    expected_rows: rev.expected_rows,
    row_count: type === 'REVISION_STARTED' ? null : (cp?.rows ?? 0),
    dead_letter_count: type === 'REVISION_STARTED' ? null : (cp?.dead_letters ?? 0),
    control_totals:
      type === 'REVISION_COMPLETED' && cp
        ? Object.entries(cp.totals)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([currency, t]) => ({ currency, billed_cost: t.billed_cost, rows: t.rows }))
        : [],
    billed_cost_column: rev.billed_cost_column,
    error,
    produced_at: now(),
  };
}

export async function writeRevision(
  rev: RevisionToWrite,
  resumeFrom: Checkpoint | undefined,
  o: RevisionWriterOptions,
): Promise<RevisionOutcome> {
  const resuming =
    resumeFrom && resumeFrom.revision_id === rev.revision_id && resumeFrom.state === 'in_progress';
  let committed: Checkpoint = resuming ? structuredClone(resumeFrom) : freshCheckpoint(rev);
  let needStarted = !resuming;
  if (resuming)
    o.logger.info(
      { scope: rev.scope, revision: rev.revision_id, file_index: committed.file_index, line: committed.line },
      'resuming revision from checkpoint',
    );

  // Working state: what the open (uncommitted) batch will make the checkpoint.
  const working: Checkpoint = structuredClone(committed);
  const batcher = new RawBatcher();
  const admission = new RowAdmission(o.controlColumns, rev.billed_cost_column);
  // Rows in the open transaction (they sit in `batcher` until it is flushed).
  let rows = 0;
  let deadLetters: Message[] = [];
  // Lines read since the last commit; the metric is bumped once per transaction, not per line.
  let received = 0;
  const totals = new Map<string, { cost: Decimal; rows: number }>(
    Object.entries(working.totals).map(([c, t]) => [c, { cost: new Decimal(t.billed_cost), rows: t.rows }]),
  );

  const flush = async (final: 'completed' | null): Promise<void> => {
    working.totals = Object.fromEntries(
      [...totals].map(([c, t]) => [c, { billed_cost: decimalToString(t.cost), rows: t.rows }]),
    );
    working.updated_at = now();
    if (final) working.state = 'completed';
    const started = needStarted
      ? [
          {
            key: rev.scope,
            value: AvroTypes.revisionControl.toBuffer(controlRecord(rev, 'REVISION_STARTED', undefined)),
          },
        ]
      : [];
    const completed = final
      ? [
          {
            key: rev.scope,
            value: AvroTypes.revisionControl.toBuffer(controlRecord(rev, 'REVISION_COMPLETED', working)),
          },
        ]
      : [];
    const rawMessages = batcher.take().map(rawBatchMessage);
    const tx = await o.producer.transaction();
    try {
      // Control records are keyed by scope, so STARTED and COMPLETED of a scope share a partition
      // and keep their order; COMPLETED commits atomically with the revision's last rows.
      const batches = [
        { topic: o.topics.control, messages: [...started, ...completed] },
        { topic: o.topics.raw, messages: rawMessages },
        { topic: o.topics.deadLetter, messages: deadLetters },
        { topic: o.topics.checkpoints, messages: [checkpointMessage(working)] },
      ].filter((b) => b.messages.length > 0);
      await sendChunked(tx, batches);
      await tx.commit();
    } catch (err) {
      await tx.abort().catch(() => undefined);
      throw err;
    }
    o.metrics.received(received);
    received = 0;
    o.metrics.sent(rows);
    if (deadLetters.length) o.metrics.failed(DeadLetterReasons.MALFORMED_INPUT, deadLetters.length);
    needStarted = false;
    committed = structuredClone(working);
    rows = 0;
    deadLetters = [];
    o.onProgress?.(committed.rows);
    await o.afterCommit?.(committed);
  };

  for (let fileIndex = committed.file_index; fileIndex < rev.files.length; fileIndex++) {
    const key = rev.files[fileIndex];
    const object = o.urlOf(key);
    const skipThrough = fileIndex === committed.file_index ? committed.line : 0;
    const lines = await o.openLines(key, fileIndex);
    const constants: BatchConstants = {
      provider: rev.provider,
      format: rev.format,
      scope: rev.scope,
      revision_id: rev.revision_id,
      billing_period: rev.billing_period,
      object,
    };
    for await (const line of lines) {
      if (line.line <= skipThrough) continue;
      received++;
      working.file_index = fileIndex;
      working.line = line.line;
      const admitted = admission.admit(line);
      if (admitted.kind === 'malformed') {
        working.dead_letters++;
        deadLetters.push({
          key: rev.scope,
          value: AvroTypes.deadLetter.toBuffer(deadLetterOf(rev, o.stage, object, admitted)),
        });
      } else if (line.kind === 'row') {
        const t = totals.get(admitted.currency) ?? { cost: new Decimal(0), rows: 0 };
        if (admitted.cost) t.cost = t.cost.plus(admitted.cost);
        t.rows++;
        totals.set(admitted.currency, t);
        working.rows++;
        rows++;
        batcher.add(constants, line.line, line.header, line.values);
      }
      if (rows + deadLetters.length >= o.transaction_rows) await flush(null);
    }
    // Position after a finished object: the next one starts at line 0.
    if (fileIndex + 1 < rev.files.length) {
      working.file_index = fileIndex + 1;
      working.line = 0;
    }
  }
  // A manifest that states a row count is checked before the revision is declared whole.
  if (rev.expected_rows !== null && working.rows + working.dead_letters !== rev.expected_rows) {
    throw new PermanentError(
      ErrorCodes.UNREADABLE_OBJECT,
      `${rev.scope} revision ${rev.revision_id}: the manifest states ${rev.expected_rows} rows, the files hold ${working.rows + working.dead_letters}`,
    );
  }
  await flush('completed');
  return { checkpoint: committed, control: controlRecord(rev, 'REVISION_COMPLETED', committed) };
}

function deadLetterOf(
  rev: RevisionToWrite,
  stage: string,
  object: string,
  parsed: MalformedLine,
): DeadLetter & { reason: DeadLetterReason } {
  return {
    stage,
    reason: DeadLetterReasons.MALFORMED_INPUT,
    message: parsed.message,
    provider: rev.provider,
    scope: rev.scope,
    revision_id: rev.revision_id,
    object,
    line: parsed.line,
    field: parsed.field ?? null,
    record_id: recordIdOf(rev.scope, rev.revision_id, object, parsed.line),
    payload: Buffer.from(parsed.text.length > 1_000_000 ? parsed.text.slice(0, 1_000_000) : parsed.text),
    payload_format: 'text',
    occurred_at: now(),
  };
}

/** Frame a revision that cannot be read as FAILED; the previous revision of the scope stays in force. */
export async function failRevision(
  rev: RevisionToWrite,
  resumeFrom: Checkpoint | undefined,
  error: string,
  o: Pick<RevisionWriterOptions, 'producer' | 'topics'>,
): Promise<Checkpoint> {
  const cp: Checkpoint = {
    ...(resumeFrom && resumeFrom.revision_id === rev.revision_id ? resumeFrom : freshCheckpoint(rev)),
    state: 'failed',
    error,
    updated_at: now(),
  };
  const tx = await o.producer.transaction();
  try {
    await tx.sendBatch({
      topicMessages: [
        {
          topic: o.topics.control,
          messages: [
            {
              key: rev.scope,
              value: AvroTypes.revisionControl.toBuffer(controlRecord(rev, 'REVISION_FAILED', cp, error)),
            },
          ],
        },
        { topic: o.topics.checkpoints, messages: [checkpointMessage(cp)] },
      ],
    });
    await tx.commit();
  } catch (err) {
    await tx.abort().catch(() => undefined);
    throw err;
  }
  return cp;
}
