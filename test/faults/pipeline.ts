import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Admin } from 'kafkajs';
import { Decimal, decimalToString } from '../../schemas/decimal';
import { createS3 } from '../../providers/aws/store';
import { createElasticsearch, scanAll } from '../../runtime/elasticsearch';
import { createKafka } from '../../runtime/kafka';
import { loadConfig, type MeterflowConfig } from '../../runtime/config';
import { startSink } from '../../sinks/elasticsearch/command';
import { indexNames, revisionDocId, type RevisionDocument } from '../../sinks/elasticsearch/indices';
import {
  curCsv,
  ensureBucket,
  gz,
  putCurRevision,
  type CurLine,
} from '../integration/collectors/cur-fixture';
import { eventually, exitOf, meterflowProcess, uniqueName } from '../integration/helpers';
import { exactSum, testService } from '../integration/sinks/sink-fixture';
import { CommitWatcher } from './oracle';

/**
 * One whole pipeline for a fault scenario, as an operator runs it: the real CLI for collectors and
 * processors (child processes a scenario can kill, freeze or run twice), the sink in the test's
 * process, one AWS legacy-CUR export in a fresh bucket, its own topic and index prefix. Every
 * scenario ends with the same oracle (`expectOracle`): Elasticsearch's current view holds one
 * document per source row and the exact billed-cost total of the revision in force; collecting
 * the export again writes nothing; replaying the topics into a fresh index prefix gives the same
 * documents.
 */
export class PipelineScenario {
  readonly prefix: string;
  readonly bucket: string;
  readonly dir: string;
  readonly configFile: string;
  readonly config: MeterflowConfig;
  /** The scope of the export's month (providers/aws/discovery.ts: bucket, report, period). */
  readonly scope: string;
  private readonly children: ChildProcess[] = [];
  private readonly service = testService();
  private sinkStarted = false;
  private admin: Admin | undefined;
  private commits: CommitWatcher | undefined;

  /** `extraYaml`: more lines of meterflow.yaml (sections not written below). */
  constructor(name: string, extraYaml: string[] = []) {
    this.prefix = uniqueName(`fault-${name}`);
    this.bucket = uniqueName(name);
    this.scope = `aws/${this.bucket}/report/2026-11`;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `meterflow-${name}-`));
    this.configFile = path.join(this.dir, 'meterflow.yaml');
    fs.writeFileSync(
      this.configFile,
      [
        'kafka:',
        `  topic_prefix: ${this.prefix}`,
        'elasticsearch:',
        `  index_prefix: ${this.prefix}`,
        'processor:',
        '  session_timeout_ms: 6000',
        'sink:',
        '  publish_interval_ms: 500',
        'ops:',
        '  port: 0',
        'aws:',
        '  exports:',
        `    - { name: ${name}, bucket: ${this.bucket}, prefix: '', type: cur-legacy }`,
        ...extraYaml,
        '',
      ].join('\n'),
    );
    this.config = loadConfig({ path: this.configFile }).config;
  }

  /**
   * Uploads one revision (a legacy-CUR assembly) of the month; a later one restates it. The first
   * upload also starts the oracle's watch of the sink's commits (see CommitWatcher).
   */
  async putRevision(assemblyId: string, lines: CurLine[]): Promise<void> {
    if (!this.commits) {
      this.commits = new CommitWatcher(
        createKafka(this.config, `${this.prefix}-commit-watch`),
        createElasticsearch(this.config),
        `${this.prefix}-sink-elasticsearch`,
        `${this.prefix}.rated`,
        indexNames(this.prefix).usagePattern,
      );
      await this.commits.start();
    }
    const { client: s3 } = createS3(this.config.aws);
    await ensureBucket(s3, this.bucket);
    await putCurRevision(s3, this.bucket, 'report', assemblyId, [
      { name: 'report-1.csv.gz', body: gz(curCsv(lines)) },
    ]);
  }

  /** The CLI as a child process, its log (info level) in `<dir>/<log>.log`. */
  cli(args: string[], log: string): ChildProcess {
    const fd = fs.openSync(path.join(this.dir, `${log}.log`), 'a');
    const child = meterflowProcess(args, this.configFile, { stdio: ['ignore', fd, fd], logLevel: 'info' });
    this.children.push(child);
    return child;
  }

  async startSink(): Promise<void> {
    await startSink(this.config, this.service);
    this.sinkStarted = true;
  }

  /** Messages on the rated topic so far (offsets, transaction markers included). */
  ratedOffsets(): Promise<number> {
    return this.offsets('rated');
  }

  /** Messages on `<prefix>.<topic>` so far (offsets, transaction markers included). */
  async offsets(topic: string): Promise<number> {
    if (!this.admin) {
      this.admin = createKafka(this.config, `${this.prefix}-reader`).admin();
      await this.admin.connect();
    }
    const offsets = await this.admin.fetchTopicOffsets(`${this.prefix}.${topic}`).catch(() => []);
    return offsets.reduce((n, o) => n + Number(o.high), 0);
  }

  /** The revision's document once the publisher says `state`. */
  async revisionState(revision: string, state: string, timeoutMs: number): Promise<RevisionDocument> {
    const es = createElasticsearch(this.config);
    const names = indexNames(this.prefix);
    return eventually(
      async () => {
        const doc = await es
          .get<RevisionDocument>({ index: names.revisions, id: revisionDocId(this.scope, revision) })
          .catch(() => undefined);
        return doc?._source?.state === state ? doc._source : undefined;
      },
      timeoutMs,
      500,
    );
  }

  /**
   * The oracle: what readers of the published alias see is exactly `lines` (one document per
   * source row, the exact billed-cost sum), and stays so a few seconds later (a late duplicate
   * would show).
   */
  async expectExactly(lines: CurLine[], timeoutMs = 240_000): Promise<{ count: number; sum: string }> {
    const es = createElasticsearch(this.config);
    const names = indexNames(this.prefix);
    const expected = decimalToString(lines.reduce((s, l) => s.plus(l.cost), new Decimal(0)));
    const read = async () => {
      await es.indices.refresh({
        index: names.usagePattern,
        ignore_unavailable: true,
        allow_no_indices: true,
      });
      return exactSum(es, names.usageAlias, 'BilledCost').catch(() => ({
        count: -1,
        sum: '',
        byCustomer: {},
      }));
    };
    await eventually(
      async () => {
        const t = await read();
        return t.count === lines.length && t.sum === expected ? t : undefined;
      },
      timeoutMs,
      2_000,
    ).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 5_000));
    const final = await read();
    expect({ count: final.count, sum: final.sum }).toEqual({ count: lines.length, sum: expected });
    return final;
  }

  /**
   * The whole oracle of a scenario: `expectExactly(lines)`; then (unless `recollect` is false, for a
   * scenario whose collector is still running) collecting the export again writes nothing; then the
   * topics replayed into a fresh index prefix give the same published documents.
   */
  async expectOracle(lines: CurLine[], opts: { recollect?: boolean } = {}): Promise<void> {
    await this.expectExactly(lines);
    if (opts.recollect !== false) {
      const raw = await this.offsets('raw.aws');
      expect(await exitOf(this.cli(['collect', 'aws', '--once'], 'collector-again'))).toBe(0);
      expect(await this.offsets('raw.aws')).toBe(raw);
    }
    await this.expectReplayIdentical();
    // No committed offset of the sink was ahead of an Elasticsearch acknowledgement. A revision no
    // longer in force may have had its documents deleted since: only the one in force is judged.
    if (this.commits) {
      const inForce = await this.revisionInForce();
      expect(await this.commits.verify((r) => r.x_Revision !== inForce)).toBeGreaterThan(0);
    }
  }

  private async revisionInForce(): Promise<string | undefined> {
    const es = createElasticsearch(this.config);
    const names = indexNames(this.prefix);
    const res = await es.search<RevisionDocument>({
      index: names.revisions,
      query: { bool: { filter: [{ term: { scope: this.scope } }, { term: { state: 'published' } }] } },
    });
    return res.hits.hits[0]?._source?.revision_id;
  }

  /**
   * A second sink, in a consumer group of its own, replays the rated, control and dead-letter
   * topics from the beginning into a fresh index prefix: what readers see there must be the same
   * documents, field for field, as in the scenario's own index.
   */
  async expectReplayIdentical(timeoutMs = 240_000): Promise<void> {
    const replayPrefix = `${this.prefix}-replay`;
    const config: MeterflowConfig = {
      ...this.config,
      elasticsearch: { ...this.config.elasticsearch, index_prefix: replayPrefix },
      sink: { ...this.config.sink, group_id: `${this.prefix}-replay-sink`, publish_interval_ms: 500 },
    };
    const service = testService();
    await startSink(config, service);
    const es = createElasticsearch(this.config);
    const documents = async (prefix: string) => {
      const names = indexNames(prefix);
      await es.indices.refresh({
        index: names.usagePattern,
        ignore_unavailable: true,
        allow_no_indices: true,
      });
      const docs = new Map<string, string>();
      for await (const hits of scanAll<Record<string, unknown>>(
        es,
        names.usageAlias,
        { match_all: {} },
        true,
      ))
        for (const h of hits) docs.set(h._id!, JSON.stringify(h._source));
      return docs;
    };
    try {
      const original = await documents(this.prefix);
      const replayed = await eventually(
        async () => {
          const docs = await documents(replayPrefix).catch(() => new Map<string, string>());
          return docs.size === original.size ? docs : undefined;
        },
        timeoutMs,
        2_000,
      );
      const differing = [...original].filter(([id, doc]) => replayed.get(id) !== doc).map(([id]) => id);
      expect(differing.slice(0, 5)).toEqual([]);
    } finally {
      await service.shutdown.run();
    }
  }

  /** Stops everything; on a failure the processes' logs stay (printed: where). */
  async close(passed: boolean): Promise<void> {
    if (this.sinkStarted) await this.service.shutdown.run();
    // SIGTERM first: `meterflow run` stops the stages it supervises (a SIGKILL would orphan them).
    const alive = this.children.filter((c) => c.exitCode === null && c.signalCode === null);
    for (const c of alive) c.kill('SIGTERM');
    await Promise.all(
      alive.map((c) =>
        Promise.race([
          new Promise((r) => c.once('exit', r)),
          new Promise((r) => setTimeout(r, 15_000)).then(() => c.kill('SIGKILL')),
        ]),
      ),
    );
    await this.admin?.disconnect();
    await this.commits?.stop();
    if (passed) fs.rmSync(this.dir, { recursive: true, force: true });
    else process.stderr.write(`fault scenario failed; logs kept in ${this.dir}\n`);
  }
}
