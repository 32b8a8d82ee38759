import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateApiKey, hashApiKey, parseApiOptions, startApi, type RunningApi } from '../../../api';
import { publishPriceBook } from '../../../processors/price/distribution';
import type { PriceBookDiff } from '../../../processors/preview';
import { createElasticsearch } from '../../../runtime/elasticsearch';
import { createKafka, ensureTopics, fetchTopicOffsets, topicNames } from '../../../runtime/kafka';
import { createLogger } from '../../../runtime/logger';
import type { UsageRecord } from '../../../schemas/types.generated';
import { indexNames, publishKey, toUsageDocument } from '../../../sinks/elasticsearch/indices';
import { ensureLayout, ensureUsageIndex } from '../../../sinks/elasticsearch/layout';
import { usageRecord } from '../../support/usage-record';
import { createResponseValidator } from '../../unit/api/openapi-validator';
import { exitOf, meterflowProcess, testConfig, uniqueName } from '../helpers';
import { openApiSpec } from '../../support/openapi';

/**
 * `meterflow pricebook diff` and POST /v1/pricebook/diff on the real Kafka and Elasticsearch:
 * the period's published usage (a superseded revision indexed beside it is not read) is rated
 * with a candidate book, the diff is exact, and nothing is written anywhere: the price-book topic
 * keeps its one message and no usage document changes (their _seq_no are compared).
 */

const PERIOD = '2026-10';
const SCOPE = 'aws/acct-1/2026-10';

// The book the usage was rated with, published on the price-book topic before the diff.
const CURRENT = `version: v1
rules:
  - { id: compute, match: { ServiceName: AmazonEC2 }, model: cost_plus, basis: BilledCost, markup_percent: 15 }
  - { id: storage, match: { ServiceName: AmazonS3 }, model: cost_plus, basis: BilledCost, markup_percent: 10 }
  - { id: lambda, match: { ServiceName: AWSLambda }, model: cost_plus, basis: BilledCost, markup_percent: 5 }
`;
// The candidate: compute 15% -> 20% (changes), storage unchanged, lambda dropped (unpriced).
const CANDIDATE = `version: v2
rules:
  - { id: compute, match: { ServiceName: AmazonEC2 }, model: cost_plus, basis: BilledCost, markup_percent: 20 }
  - { id: storage, match: { ServiceName: AmazonS3 }, model: cost_plus, basis: BilledCost, markup_percent: 10 }
`;

let line = 0;
function rated(
  revision: string,
  customer: string,
  fields: Partial<UsageRecord> & Pick<UsageRecord, 'BilledCost' | 'x_RatedCost' | 'x_PriceRuleId'>,
): UsageRecord {
  line++;
  return usageRecord({
    ChargePeriodStart: '2026-10-05T10:00:00Z',
    ChargePeriodEnd: '2026-10-05T11:00:00Z',
    BillingPeriodStart: '2026-10-01T00:00:00Z',
    BillingPeriodEnd: '2026-11-01T00:00:00Z',
    x_RecordId: `${revision}-${line}`,
    x_Scope: SCOPE,
    x_Revision: revision,
    x_BillingPeriod: PERIOD,
    x_SourceObject: `s3://bucket/cur/${revision}/part-0.csv`,
    x_SourceLine: line,
    x_CustomerId: customer,
    x_RatedCurrency: 'USD',
    x_PriceBookVersion: 'v1',
    ...fields,
  });
}

const EC2 = { ServiceName: 'AmazonEC2' };
const PUBLISHED = [
  rated('r2', 'acme', { ...EC2, BilledCost: '10', x_RatedCost: '11.5', x_PriceRuleId: 'compute' }), // 10 * 1.15
  rated('r2', 'acme', {
    ServiceName: 'AmazonS3',
    BilledCost: '20',
    x_RatedCost: '22',
    x_PriceRuleId: 'storage',
  }),
  rated('r2', 'acme', {
    ServiceName: 'AWSLambda',
    BilledCost: '1',
    x_RatedCost: '1.05',
    x_PriceRuleId: 'lambda',
  }),
  rated('r2', 'globex', { ...EC2, BilledCost: '0.1', x_RatedCost: '0.115', x_PriceRuleId: 'compute' }),
  rated('r2', 'globex', { ...EC2, BilledCost: '0.2', x_RatedCost: '0.23', x_PriceRuleId: 'compute' }),
];
// The revision r2 replaced: indexed, not in the published alias, so never in the diff.
const SUPERSEDED = [
  rated('r1', 'acme', { ...EC2, BilledCost: '1000', x_RatedCost: '1150', x_PriceRuleId: 'compute' }),
];
const LAMBDA_ID = PUBLISHED[2].x_RecordId;

// Worked out by hand: acme compute 11.5 -> 10 * 1.2 = 12; storage 22 -> 22; lambda 1.05 -> unpriced.
const ACME = {
  customer: 'acme',
  records: 3,
  currencies: [
    {
      currency: 'USD',
      old: '34.55',
      new: '34',
      change: '-0.55',
      rules: [
        { rule_id: 'compute', old: '11.5', new: '12', change: '0.5', old_records: 1, new_records: 1 },
        { rule_id: 'lambda', old: '1.05', new: '0', change: '-1.05', old_records: 1, new_records: 0 },
        { rule_id: 'storage', old: '22', new: '22', change: '0', old_records: 1, new_records: 1 },
      ],
    },
  ],
  unpriced: {
    count: 1,
    records: [
      {
        record_id: LAMBDA_ID,
        reason: 'unpriced',
        message: expect.stringContaining('no rule of price book "v2" matches the line'),
        old_rule_id: 'lambda',
        old_amount: '1.05',
        old_currency: 'USD',
      },
    ],
  },
  failed: { count: 0, records: [] },
  problems: [],
};
// globex compute: 0.115 + 0.23 = 0.345 -> 0.1 * 1.2 + 0.2 * 1.2 = 0.12 + 0.24 = 0.36.
const GLOBEX = {
  customer: 'globex',
  records: 2,
  currencies: [
    {
      currency: 'USD',
      old: '0.345',
      new: '0.36',
      change: '0.015',
      rules: [
        { rule_id: 'compute', old: '0.345', new: '0.36', change: '0.015', old_records: 2, new_records: 2 },
      ],
    },
  ],
  unpriced: { count: 0, records: [] },
  failed: { count: 0, records: [] },
  problems: [],
};

describe('pricebook diff on the real stack (nothing published)', () => {
  jest.setTimeout(120_000);
  const config = testConfig();
  const prefix = uniqueName('it-pbdiff');
  config.kafka.topic_prefix = prefix;
  config.elasticsearch.index_prefix = prefix;
  const names = indexNames(prefix);
  const topics = topicNames(config);
  const es = createElasticsearch(config);
  const kafka = createKafka(config, 'it-pbdiff');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-pbdiff-'));
  const configFile = path.join(dir, 'meterflow.yaml');
  const candidateFile = path.join(dir, 'candidate.yaml');
  const ADMIN_KEY = generateApiKey();
  const ACME_KEY = generateApiKey();
  let api: RunningApi;

  /** Every usage document with its sequence number: any write changes one. */
  async function usageState(): Promise<Array<[string, number | undefined]>> {
    await es.indices.refresh({ index: names.usageAllAlias });
    const res = await es.search({
      index: names.usageAllAlias,
      size: 100,
      seq_no_primary_term: true,
      sort: [{ x_RecordId: 'asc' }],
      _source: false,
    });
    return res.hits.hits.map((h) => [h._id!, h._seq_no]);
  }
  const priceBookEnd = async () => (await fetchTopicOffsets(kafka, topics.priceBook)).map((o) => o.high);

  beforeAll(async () => {
    await ensureLayout(es, names);
    await ensureUsageIndex(es, names, PERIOD);
    const operations = [...PUBLISHED, ...SUPERSEDED].flatMap((r) => [
      { index: { _index: names.usageIndex(PERIOD), _id: r.x_RecordId } },
      toUsageDocument(r),
    ]);
    const res = await es.bulk({ operations, refresh: true });
    expect(res.errors).toBe(false);
    // The publisher's alias filter: revision r2 of the scope is the published one.
    await es.indices.updateAliases({
      actions: [
        {
          add: {
            index: names.usageIndex(PERIOD),
            alias: names.usageAlias,
            filter: { terms: { x_PublishKey: [publishKey(SCOPE, 'r2')] } },
          },
        },
      ],
    });
    await ensureTopics(kafka, config, [{ topic: topics.priceBook }]);
    const currentFile = path.join(dir, 'current.yaml');
    fs.writeFileSync(currentFile, CURRENT);
    await publishPriceBook(kafka, topics.priceBook, currentFile);
    fs.writeFileSync(candidateFile, CANDIDATE);
    fs.writeFileSync(
      configFile,
      ['kafka:', `  topic_prefix: ${prefix}`, 'elasticsearch:', `  index_prefix: ${prefix}`, ''].join('\n'),
    );
    api = await startApi({
      es,
      names,
      options: parseApiOptions({
        port: 0,
        keys: [
          { id: 'ops', role: 'admin', key_sha256: hashApiKey(ADMIN_KEY) },
          { id: 'acme', role: 'customer', customer: 'acme', key_sha256: hashApiKey(ACME_KEY) },
        ],
      }),
      logger: createLogger({ level: 'silent' }),
    });
  });

  afterAll(async () => {
    await api?.close();
    await es.indices
      .delete({
        index: [names.usageIndex(PERIOD), names.revisions, names.deadLetters],
        ignore_unavailable: true,
      })
      .catch(() => undefined);
    await es.indices.deleteIndexTemplate({ name: names.usageTemplate }).catch(() => undefined);
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topics.priceBook] }).catch(() => undefined);
    await admin.disconnect();
    await es.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = meterflowProcess(['pricebook', 'diff', ...args], configFile);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await exitOf(child);
    return { code, stdout, stderr };
  }

  it('the CLI and the API give the exact per-customer, per-rule diff of the published usage, and publish nothing', async () => {
    const usageBefore = await usageState();
    expect(usageBefore.map(([id]) => id)).toHaveLength(PUBLISHED.length + SUPERSEDED.length);
    const endBefore = await priceBookEnd();
    expect(endBefore).toEqual(['1']);

    const run = await cli(['--book', candidateFile, '--period', PERIOD, '--format', 'json']);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const diff = JSON.parse(run.stdout) as PriceBookDiff;
    expect(diff).toEqual({
      period: PERIOD,
      customer: null,
      book: { version: 'v2', fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/) },
      records: 5,
      customers: [ACME, GLOBEX],
      // 34.55 + 0.345 -> 34 + 0.36
      totals: [{ currency: 'USD', old: '34.895', new: '34.36', change: '-0.535' }],
    });

    const validator = createResponseValidator(openApiSpec);
    const post = async (body: unknown, key: string) => {
      const res = await fetch(`${api.url}/v1/pricebook/diff`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const json = (await res.json()) as unknown;
      validator.check('POST', '/v1/pricebook/diff', res.status, res.headers.get('content-type') ?? '', json);
      return { status: res.status, json };
    };
    const all = await post({ book: CANDIDATE, period: PERIOD }, ADMIN_KEY);
    expect(all.status).toBe(200);
    expect(all.json).toEqual(diff);
    const one = await post({ book: CANDIDATE, period: PERIOD, customer: 'globex' }, ADMIN_KEY);
    expect(one.json).toEqual({
      ...diff,
      customer: 'globex',
      records: 2,
      customers: [GLOBEX],
      totals: [{ currency: 'USD', old: '0.345', new: '0.36', change: '0.015' }],
    });
    // Admin only: a customer key may not preview prices, not even its own.
    const denied = await post({ book: CANDIDATE, period: PERIOD, customer: 'acme' }, ACME_KEY);
    expect(denied.status).toBe(403);

    // Nothing was published: the price-book topic holds its one message, no usage document was written.
    expect(await priceBookEnd()).toEqual(endBefore);
    expect(await usageState()).toEqual(usageBefore);
  });

  it('the table names every rule; a bad candidate book is a usage error naming the file, line, rule and field', async () => {
    const table = await cli(['--book', candidateFile, '--period', PERIOD, '--customer', 'acme']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/acme\s+USD\s+compute\s+11\.5\s+12\s+0\.5\s+1\/1/);
    expect(table.stdout).toMatch(/acme\s+USD\s+\(customer total\)\s+34\.55\s+34\s+-0\.55/);
    expect(table.stdout).toContain(`${LAMBDA_ID}: was 1.05 USD under rule lambda`);
    expect(table.stdout).not.toContain('globex');

    const badFile = path.join(dir, 'bad.yaml');
    fs.writeFileSync(badFile, CANDIDATE.replace('markup_percent: 20', 'markup_percent: twenty'));
    const bad = await cli(['--book', badFile, '--period', PERIOD]);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain(`${badFile} line 3, rule "compute": markup_percent: `);
  });
});
