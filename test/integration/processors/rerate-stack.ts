import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import type { ChildProcess } from 'node:child_process';
import { invoiceCounterIndex } from '../../../invoices';
import { publishPriceBook } from '../../../processors/price/distribution';
import { createElasticsearch, scanAll } from '../../../runtime/elasticsearch';
import { createKafka, ensureTopics, topicNames } from '../../../runtime/kafka';
import { createLogger } from '../../../runtime/logger';
import { createStageMetrics } from '../../../runtime/metrics';
import { AvroTypes, type RevisionControl } from '../../../schemas';
import { Decimal, decimalToString } from '../../../schemas/decimal';
import type { UsageRecord } from '../../../schemas/types.generated';
import { indexNames, type RevisionDocument } from '../../../sinks/elasticsearch/indices';
import { RevisionPublisher } from '../../../sinks/elasticsearch/publisher';
import { ElasticsearchSink } from '../../../sinks/elasticsearch/sink';
import { seedPublishedUsage } from '../../support/published-usage-seed';
import { usageRecord } from '../../support/usage-record';
import { eventually, exitOf, meterflowProcess, testConfig, uniqueName } from '../helpers';

/**
 * The harness of pricebook-rerate.test.ts: books v1 and v2, published usage rated with v1, and one
 * isolated pipeline per test (topic and index prefix, the real sink and revision publisher, the
 * CLI as a child process).
 */
export const V1 = `version: v1
rules:
  - { id: compute, match: { ServiceName: AmazonEC2 }, model: cost_plus, basis: BilledCost, markup_percent: 15 }
  - { id: storage, match: { ServiceName: AmazonS3 }, model: cost_plus, basis: BilledCost, markup_percent: 10 }
`;
export const V2 = V1.replace('version: v1', 'version: v2').replace(
  'markup_percent: 15',
  'markup_percent: 20',
);
export const MARKUP: Record<string, Record<string, string>> = {
  v1: { AmazonEC2: '1.15', AmazonS3: '1.1' },
  v2: { AmazonEC2: '1.2', AmazonS3: '1.1' },
};

let line = 0;
export function rated(
  scope: string,
  revision: string,
  period: string,
  day: string,
  service: string,
  cost: string,
) {
  line++;
  return usageRecord({
    ServiceName: service,
    ChargePeriodStart: `${period}-${day}T10:00:00Z`,
    ChargePeriodEnd: `${period}-${day}T11:00:00Z`,
    BillingPeriodStart: `${period}-01T00:00:00Z`,
    BillingPeriodEnd: `${period}-28T00:00:00Z`,
    BilledCost: cost,
    EffectiveCost: cost,
    BillingCurrency: 'USD',
    x_RecordId: `${revision}-${line}`,
    x_Scope: scope,
    x_Revision: revision,
    x_BillingPeriod: period,
    x_SourceObject: `s3://bucket/${scope}/${revision}/part-0.csv`,
    x_SourceLine: line,
    x_CustomerId: 'acme',
    x_RatedCost: decimalToString(new Decimal(cost).times(MARKUP.v1[service])),
    x_RatedCurrency: 'USD',
    x_PriceRuleId: service === 'AmazonEC2' ? 'compute' : 'storage',
    x_PriceBookVersion: 'v1',
  });
}

export function revisionDoc(records: UsageRecord[]): RevisionDocument {
  const cost = records.reduce((a, r) => a.plus(r.BilledCost), new Decimal(0));
  const totals = [{ currency: 'USD', billed_cost: decimalToString(cost), rows: records.length }];
  return {
    scope: records[0].x_Scope,
    revision_id: records[0].x_Revision,
    provider: 'aws',
    format: 'cur2-csv',
    billing_period: records[0].x_BillingPeriod,
    files: [`${records[0].x_Scope}/part-0.csv`],
    row_count: records.length,
    collector_dead_letters: 0,
    control_totals: totals,
    // The collector's COMPLETED came first on the scope's control partition.
    completed_offset: 0,
    failed: false,
    state: 'published',
    indexed_rows: records.length,
    dead_lettered_rows: 0,
    indexed_totals: totals,
    problems: [],
    published_at: new Date().toISOString(),
    updated_at: new Date().toISOString(),
  };
}

export const sum = (records: UsageRecord[]) =>
  decimalToString(records.reduce((a, r) => a.plus(r.x_RatedCost!), new Decimal(0)));
/** What v2 makes of a record: re-priced on or after `from`, unchanged before. */
export const expectedCost = (r: UsageRecord, from: string) =>
  r.ChargePeriodStart >= from
    ? decimalToString(new Decimal(r.BilledCost).times(MARKUP.v2[r.ServiceName!]))
    : r.x_RatedCost!;

const quiet = createLogger({ level: 'warn', destination: new Writable({ write: (_c, _e, done) => done() }) });

/** One isolated pipeline: its own topic and index prefix, sink, publisher and config file. */
export class Stack {
  readonly config = testConfig();
  readonly prefix = uniqueName('it-rerate');
  readonly names = indexNames(this.prefix);
  readonly topics;
  readonly es;
  readonly kafka;
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-rerate-'));
  readonly configFile = path.join(this.dir, 'meterflow.yaml');
  private sink: ElasticsearchSink | undefined;
  readonly publisher: RevisionPublisher;

  constructor() {
    this.config.kafka.topic_prefix = this.prefix;
    this.config.elasticsearch.index_prefix = this.prefix;
    this.topics = topicNames(this.config);
    this.es = createElasticsearch(this.config);
    this.kafka = createKafka(this.config, 'it-rerate');
    this.publisher = new RevisionPublisher({
      es: this.es,
      names: this.names,
      logger: quiet,
      registry: new Registry(),
      intervalMs: 60_000,
      historyRetentionDays: 400,
    });
    fs.writeFileSync(
      this.configFile,
      `kafka:\n  topic_prefix: ${this.prefix}\nelasticsearch:\n  index_prefix: ${this.prefix}\n`,
    );
  }

  /** Seeds `usage` as published (revision documents in `format`, unless `formats` names another), plus `others`. */
  async start(
    usage: UsageRecord[],
    o: { formats?: Record<string, string>; others?: RevisionDocument[] } = {},
  ): Promise<void> {
    const byRevision = new Map<string, UsageRecord[]>();
    for (const r of usage) byRevision.set(r.x_Revision, [...(byRevision.get(r.x_Revision) ?? []), r]);
    await seedPublishedUsage(this.es, this.names, {
      usage,
      revisions: [
        ...[...byRevision.values()].map((rs) => ({
          ...revisionDoc(rs),
          format: o.formats?.[rs[0].x_Revision] ?? 'cur2-csv',
        })),
        ...(o.others ?? []),
      ],
      deadLetters: [],
      invoices: [],
      published: [...byRevision.values()].map((rs) => ({
        scope: rs[0].x_Scope,
        revisionId: rs[0].x_Revision,
      })),
    });
    const t = this.topics;
    await ensureTopics(
      this.kafka,
      this.config,
      [t.rated, t.control, t.deadLetter].map((topic) => ({ topic })),
    );
    this.sink = new ElasticsearchSink({
      kafka: this.kafka,
      es: this.es,
      names: this.names,
      topics: t,
      groupId: `${this.prefix}-sink`,
      options: this.config.sink,
      logger: quiet,
      metrics: createStageMetrics(new Registry(), 'sink.elasticsearch'),
    });
    await this.sink.start();
  }

  async publishBook(yaml: string): Promise<void> {
    const file = path.join(this.dir, `book-${Date.now()}.yaml`);
    fs.writeFileSync(file, yaml);
    await ensureTopics(this.kafka, this.config, [{ topic: this.topics.priceBook }]);
    await publishPriceBook(this.kafka, this.topics.priceBook, file);
  }

  /** `meterflow pricebook rerate <args>` (or another pricebook subcommand: `sub`). */
  run(args: string[], env: Record<string, string> = {}, sub = 'rerate'): ChildProcess {
    Object.assign(process.env, env);
    try {
      return meterflowProcess(['pricebook', sub, ...args], this.configFile);
    } finally {
      for (const k of Object.keys(env)) delete process.env[k];
    }
  }

  async cli(
    args: string[],
    sub = 'rerate',
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = this.run(args, {}, sub);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    return { code: await exitOf(child), stdout, stderr };
  }

  /** Passes of the publisher until every scope shows the revision `expected` names. */
  async publishedAs(expected: Map<string, string>): Promise<void> {
    await eventually(
      async () => {
        const current = await this.publisher.pass();
        return [...expected].every(([scope, rev]) => current.get(scope) === rev) ? true : undefined;
      },
      60_000,
      500,
    );
  }

  /** Every record the published alias shows. */
  async publishedUsage(): Promise<UsageRecord[]> {
    const out: UsageRecord[] = [];
    for await (const hits of scanAll<UsageRecord>(this.es, this.names.usageAlias, { match_all: {} }, true))
      for (const h of hits) out.push(h._source!);
    return out;
  }

  async stop(): Promise<void> {
    await this.sink?.stop();
    await this.es.indices.delete({ index: `${this.prefix}-*` }).catch(() => undefined);
    await this.es.indices
      .delete({ index: invoiceCounterIndex(this.names), ignore_unavailable: true })
      .catch(() => undefined);
    await this.es.indices.deleteIndexTemplate({ name: this.names.usageTemplate }).catch(() => undefined);
    const admin = this.kafka.admin();
    await admin.connect();
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(`${this.prefix}.`));
    await admin.deleteTopics({ topics: mine }).catch(() => undefined);
    await admin.disconnect();
    await this.es.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export const decodeRecord = (v: Buffer) => AvroTypes.usageRecord.fromBuffer(v) as UsageRecord;
export const decodeControl = (v: Buffer) => AvroTypes.revisionControl.fromBuffer(v) as RevisionControl;

export function writeBook(s: Stack, yaml: string): string {
  const file = path.join(s.dir, `${yaml.includes('version: v2') ? 'v2' : 'v1'}.yaml`);
  fs.writeFileSync(file, yaml);
  return file;
}
