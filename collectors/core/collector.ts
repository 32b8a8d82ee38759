import type { CollectorName } from '../../providers/registry';
import type { Kafka, Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { MeterflowConfig } from '../../runtime/config';
import { classifyError, DeadLetterReasons } from '../../runtime/errors';
import { ensureTopics, topicNames } from '../../runtime/kafka';
import type { Logger } from '../../runtime/logger';
import { createStageMetrics, gauge, stageCounter, type StageMetrics } from '../../runtime/metrics';
import { sleep } from '../../runtime/retry';
import { NotReady } from '../../runtime/http-server';
import type { ControlColumns } from '../formats/columns';
import type { Header } from '../formats/rows';
import { loadCheckpoints, type Checkpoint } from './checkpoints';
import { CollectorFreshness } from './freshness';
import { failRevision, writeRevision, type ParsedLine, type RevisionToWrite } from './revision-writer';

/**
 * A long-running collector: one process per cloud, serving several exports. Each discovery pass
 * finds the current revision of every scope; a revision that the checkpoints do not show as
 * completed (or failed for good) is written whole, one at a time. A problem with one export (a
 * missing bucket, denied access) is logged and counted, and the others go on.
 */
/** The Source of schemas/stages.ts: one configured export. */
export interface ExportSource {
  name: string;
  location: string;
  discover(): Promise<RevisionToWrite[]>;
  openLines(
    rev: RevisionToWrite,
    key: string,
    onBytes?: (n: number) => void,
  ): Promise<AsyncIterable<ParsedLine>>;
  urlOf(key: string): string;
  /** The revision format's billed-cost and currency columns, compiled for one header. */
  controlColumns(rev: RevisionToWrite, header: Header): ControlColumns;
}

export interface CollectorOptions {
  provider: CollectorName;
  config: MeterflowConfig;
  kafka: Kafka;
  logger: Logger;
  registry: Registry;
  sources: ExportSource[];
  /** Distinguishes several collector processes of one provider (each needs its own transactional id). */
  instance?: string;
  onProgress?: (scope: string, rows: number) => void;
  afterCommit?: (cp: Checkpoint) => Promise<void> | void;
}

export interface PassResult {
  completed: RevisionToWrite[];
  failed: Array<{ revision: RevisionToWrite; error: string }>;
  exportErrors: Array<{ export: string; error: string }>;
  skipped: number;
}

export class Collector {
  private producer: Producer | undefined;
  private checkpoints = new Map<string, Checkpoint>();
  /** Per export, whether its last discovery (listing, manifests) succeeded; absent before the first. */
  private readonly discovery = new Map<string, boolean>();
  private readonly metrics: StageMetrics;
  private readonly stage: string;
  private readonly topics;
  private readonly revisions;
  private readonly lag;
  private readonly exportErrors;
  private readonly bytesRead;
  private readonly rowsProduced;
  private readonly deadLetters;
  private readonly freshness: CollectorFreshness;

  constructor(private readonly o: CollectorOptions) {
    this.stage = `collector.${o.provider}`;
    this.metrics = createStageMetrics(o.registry, this.stage);
    this.freshness = new CollectorFreshness(o.registry, this.stage);
    const names = topicNames(o.config);
    this.topics = {
      raw: names.raw(o.provider),
      control: names.control,
      checkpoints: names.collectorCheckpoints,
      deadLetter: names.deadLetter,
    };
    this.revisions = stageCounter(
      o.registry,
      'meterflow_collector_revisions_total',
      'Export revisions by outcome',
      ['component', 'export', 'outcome'],
    );
    this.lag = gauge(
      o.registry,
      'meterflow_collector_revisions_behind',
      'Discovered revisions not yet written, per export',
      ['component', 'export'],
    );
    this.bytesRead = stageCounter(
      o.registry,
      'meterflow_collector_bytes_read_total',
      'Bytes read from object storage (as stored, before decompression), per export',
      ['component', 'export'],
    );
    this.rowsProduced = stageCounter(
      o.registry,
      'meterflow_collector_rows_produced_total',
      'Rows committed to the raw topic, per export',
      ['component', 'export'],
    );
    this.deadLetters = stageCounter(
      o.registry,
      'meterflow_collector_dead_letters_total',
      'Lines sent to the dead-letter topic, per export and reason',
      ['component', 'export', 'reason'],
    );
    this.exportErrors = stageCounter(
      o.registry,
      'meterflow_collector_export_errors_total',
      'Discovery or access errors, per export',
      ['component', 'export', 'error_type'],
    );
    // Present at 0 from the start: Prometheus's increase() cannot see a counter's first step when
    // the series appears with it, and the failed-revision alert must see the first failure.
    for (const source of o.sources)
      for (const outcome of ['completed', 'failed'])
        this.revisions.inc({ component: this.stage, export: source.name, outcome }, 0);
  }

  get transactionalId(): string {
    return `${this.o.config.kafka.topic_prefix}-collector-${this.o.provider}${this.o.instance ? `-${this.o.instance}` : ''}`;
  }

  async start(): Promise<void> {
    await ensureTopics(this.o.kafka, this.o.config, [
      { topic: this.topics.raw },
      { topic: this.topics.control },
      { topic: this.topics.deadLetter },
      { topic: this.topics.checkpoints },
    ]);
    // One transactional id per collector: a replacement instance fences the old one, whose open
    // transaction the broker aborts, so a zombie can never commit rows after we resumed.
    this.producer = this.o.kafka.producer({
      transactionalId: this.transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await this.producer.connect();
    this.checkpoints = await loadCheckpoints(
      this.o.kafka,
      this.producer,
      this.topics.checkpoints,
      this.transactionalId,
      (c) =>
        this.o.logger.error(
          { ...c, topic: this.topics.checkpoints },
          'corrupt checkpoint record skipped: the scope is collected again from its first line',
        ),
    );
    this.o.logger.info(
      { checkpoints: this.checkpoints.size, transactional_id: this.transactionalId },
      'collector started',
    );
  }

  async stop(): Promise<void> {
    await this.producer?.disconnect();
    this.producer = undefined;
  }

  checkpointOf(scope: string): Checkpoint | undefined {
    return this.checkpoints.get(scope);
  }

  async pollOnce(signal?: AbortSignal): Promise<PassResult> {
    if (!this.producer) throw new Error('collector not started');
    const result: PassResult = { completed: [], failed: [], exportErrors: [], skipped: 0 };
    for (const source of this.o.sources) {
      if (signal?.aborted) break;
      let revisions: RevisionToWrite[];
      try {
        revisions = await source.discover();
      } catch (raw) {
        const err = classifyError(raw);
        this.exportErrors.inc({ component: this.stage, export: source.name, error_type: err.code });
        this.o.logger.error(
          { export: source.name, location: source.location, err },
          'export discovery failed; other exports go on',
        );
        result.exportErrors.push({ export: source.name, error: err.message });
        this.discovery.set(source.name, false);
        continue;
      }
      this.discovery.set(source.name, true);
      const todo = revisions.filter((rev) => {
        const cp = this.checkpoints.get(rev.scope);
        return !(
          cp &&
          cp.revision_id === rev.revision_id &&
          (cp.state === 'completed' || cp.state === 'failed')
        );
      });
      result.skipped += revisions.length - todo.length;
      this.lag.set({ component: this.stage, export: source.name }, todo.length);
      this.freshness.discovered(source.name, todo);
      let settled = 0;
      for (const rev of todo) {
        if (signal?.aborted) break;
        const outcome = await this.writeOne(source, rev);
        if (outcome === 'completed') result.completed.push(rev);
        else if (outcome !== 'retry') result.failed.push({ revision: rev, error: outcome.error });
        if (outcome !== 'retry') {
          this.freshness.settled(source.name, rev);
          settled++;
        }
        this.lag.dec({ component: this.stage, export: source.name });
      }
      this.freshness.passEnded(source.name, settled === todo.length);
    }
    return result;
  }

  private async writeOne(
    source: ExportSource,
    rev: RevisionToWrite,
  ): Promise<'completed' | 'retry' | { error: string }> {
    const producer = this.producer!;
    const previous = this.checkpoints.get(rev.scope);
    const log = this.o.logger.child({ export: source.name, scope: rev.scope, revision: rev.revision_id });
    log.info({ files: rev.files.length, expected_rows: rev.expected_rows }, 'writing revision');
    try {
      const { checkpoint } = await writeRevision(rev, previous, {
        producer,
        topics: this.topics,
        logger: log,
        metrics: this.metrics,
        stage: this.stage,
        transaction_rows: this.o.config.collector.transaction_rows,
        openLines: (key) =>
          source.openLines(rev, key, (n) =>
            this.bytesRead.inc({ component: this.stage, export: source.name }, n),
          ),
        urlOf: (key) => source.urlOf(key),
        controlColumns: (header) => source.controlColumns(rev, header),
        onProgress: (rows) => this.o.onProgress?.(rev.scope, rows),
        afterCommit: async (cp) => {
          const before = this.checkpoints.get(cp.scope);
          const sameRevision = before?.revision_id === cp.revision_id;
          this.rowsProduced.inc(
            { component: this.stage, export: source.name },
            cp.rows - (sameRevision ? before.rows : 0),
          );
          const dead = cp.dead_letters - (sameRevision ? before.dead_letters : 0);
          if (dead > 0)
            this.deadLetters.inc(
              { component: this.stage, export: source.name, reason: DeadLetterReasons.MALFORMED_INPUT },
              dead,
            );
          this.checkpoints.set(cp.scope, cp);
          await this.o.afterCommit?.(cp);
        },
      });
      this.checkpoints.set(rev.scope, checkpoint);
      this.revisions.inc({ component: this.stage, export: source.name, outcome: 'completed' });
      log.info(
        { rows: checkpoint.rows, dead_letters: checkpoint.dead_letters, totals: checkpoint.totals },
        'revision completed',
      );
      return 'completed';
    } catch (raw) {
      const err = classifyError(raw);
      if (err.retryable) {
        // Transient (network, broker, throttling): leave the checkpoint in progress; the next pass resumes.
        this.revisions.inc({ component: this.stage, export: source.name, outcome: 'retry' });
        log.warn({ err }, 'revision interrupted by a transient error; will resume on the next pass');
        return 'retry';
      }
      // Unreadable object, missing part, row-count mismatch: the revision fails as a whole and the
      // previous revision stays in force downstream.
      log.error({ err }, 'revision failed; the previous revision stays in force');
      try {
        const cp = await failRevision(rev, this.checkpoints.get(rev.scope), err.message, {
          producer,
          topics: this.topics,
        });
        this.checkpoints.set(rev.scope, cp);
      } catch (failErr) {
        log.error({ err: failErr }, 'could not record the failed revision; will retry');
        return 'retry';
      }
      this.revisions.inc({ component: this.stage, export: source.name, outcome: 'failed' });
      this.metrics.failed(err.code);
      return { error: err.message };
    }
  }

  /**
   * For /readyz: ready once every export has been discovered (listed, manifests read) and the
   * latest discovery of each succeeded; not ready while a bucket is missing, access is denied or
   * the store is unreachable. Names the exports, not the errors, which may carry hosts or
   * credential names (the log has them).
   */
  checkReady(): void {
    const what = `collector.${this.o.provider}`;
    if (!this.producer) throw new NotReady(`${what}: not started`);
    const failed = this.o.sources.filter((s) => this.discovery.get(s.name) === false).map((s) => s.name);
    if (failed.length > 0) throw new NotReady(`${what}: last pass could not read ${failed.join(', ')}`);
    const pending = this.o.sources.filter((s) => !this.discovery.has(s.name)).map((s) => s.name);
    if (pending.length > 0) throw new NotReady(`${what}: first discovery of ${pending.join(', ')} running`);
  }

  /** Long-running mode: poll until the signal aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.pollOnce(signal);
      await sleep(this.o.config.collector.poll_interval_ms, signal).catch(() => undefined);
    }
  }
}
