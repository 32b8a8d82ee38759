import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@elastic/elasticsearch';
import {
  addSecureElasticsearchUser,
  secureElasticsearchAccess,
  setSecureElasticsearchRoles,
} from '../../../deploy/stack/elasticsearch';
import { selectComponents, stackContext, stackUp } from '../../../deploy/stack/stack';
import { createKafka, ensureTopics, topicNames } from '../../../runtime/kafka';
import { startSink } from '../../../sinks/elasticsearch/command';
import {
  indexNames,
  revisionDocId,
  toUsageDocument,
  type RevisionDocument,
} from '../../../sinks/elasticsearch/indices';
import type { UsageRecord } from '../../../schemas';
import { eventually, testConfig, uniqueName } from '../helpers';
import { exactSum, produceRevision, ratedLine, testService } from './sink-fixture';

/**
 * Elasticsearch with its security on (the local stack's optional `elasticsearch-secure` node: TLS
 * on HTTP with its own CA, users), and meterflow holding only the roles docs/least-privilege.md
 * documents, read from that file: the sink indexes and publishes a revision as a user with role
 * `meterflow_sink`; the API's role reads the published usage and cannot write; neither reaches an
 * index outside its prefix. Users rather than API keys: API keys live in the `.security` index,
 * which this distribution cannot create (see deploy/stack/elasticsearch.ts); meterflow sends either
 * the same way (`elasticsearch.api_key` or `username`/`password`), and a role is the same role.
 */
const ROWS = 500;

/** The Elasticsearch role descriptors of docs/least-privilege.md, for index prefix `prefix`. */
function documentedRoles(
  prefix: string,
): Record<string, { cluster: string[]; indices: Array<{ names: string[]; privileges: string[] }> }> {
  const doc = fs.readFileSync(path.join(__dirname, '../../../docs/least-privilege.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Elasticsearch roles'));
  const json = /```json\n([\s\S]*?)```/.exec(section)![1];
  const roles = JSON.parse(json) as ReturnType<typeof documentedRoles>;
  for (const role of Object.values(roles))
    for (const i of role.indices) i.names = i.names.map((n) => n.replace(/^meterflow-/, `${prefix}-`));
  return roles;
}

describe('a secured Elasticsearch: TLS, users and the documented least-privilege roles', () => {
  jest.setTimeout(300_000);
  const base = testConfig();
  const ctx = stackContext(base, (line) => process.stderr.write(`[stack] ${line}\n`));
  let admin: Client;
  let access: ReturnType<typeof secureElasticsearchAccess>;

  beforeAll(async () => {
    await stackUp(ctx, selectComponents(['elasticsearch-secure']));
    access = secureElasticsearchAccess(ctx);
    admin = new Client({
      node: access.url,
      auth: { username: access.user, password: access.password },
      tls: { ca: fs.readFileSync(access.ca) },
    });
  });

  it('refuses a request without credentials, and one over plain HTTP', async () => {
    const anonymous = new Client({ node: access.url, tls: { ca: fs.readFileSync(access.ca) } });
    await expect(anonymous.cluster.health()).rejects.toMatchObject({ meta: { statusCode: 401 } });
    const plain = new Client({ node: access.url.replace('https:', 'http:'), maxRetries: 0 });
    await expect(plain.cluster.health()).rejects.toThrow();
  });

  it('the sink indexes and publishes with role meterflow_sink only; the API role reads and cannot write', async () => {
    const prefix = uniqueName('secure');
    const documented = documentedRoles(prefix);
    // Role names carry the test's prefix, so runs never share one.
    const roleOf = (role: string) => `${prefix}-${role}`;
    setSecureElasticsearchRoles(
      ctx,
      Object.fromEntries(Object.entries(documented).map(([name, role]) => [roleOf(name), role])),
    );
    const password = `pw-${prefix}`;
    for (const role of ['meterflow_sink', 'meterflow_api', 'meterflow_analyst'])
      addSecureElasticsearchUser(ctx, roleOf(role), password, [roleOf(role)]);
    const clientAs = (role: string) =>
      new Client({
        node: access.url,
        auth: { username: roleOf(role), password },
        tls: { ca: fs.readFileSync(access.ca) },
      });
    // The node reloads its role and user files within seconds.
    for (const role of ['meterflow_api', 'meterflow_sink', 'meterflow_analyst'])
      await eventually(
        async () =>
          (await clientAs(role)
            .security.authenticate()
            .catch(() => undefined))
            ? true
            : undefined,
        60_000,
        500,
      );
    const config = {
      ...base,
      kafka: { ...base.kafka, topic_prefix: prefix },
      elasticsearch: {
        ...base.elasticsearch,
        node: access.url,
        username: roleOf('meterflow_sink'),
        password,
        index_prefix: prefix,
        tls: { ...base.elasticsearch.tls, ca_file: access.ca },
      },
      sink: { ...base.sink, publish_interval_ms: 500 },
    };
    const kafka = createKafka(config, 'secure-es');
    const topics = topicNames(config);
    await ensureTopics(kafka, config, [
      { topic: topics.rated },
      { topic: topics.control },
      { topic: topics.deadLetter },
    ]);
    const scope = 'aws/secure/2026-02';
    const rows: UsageRecord[] = Array.from({ length: ROWS }, (_, i) => ratedLine(scope, 'r1', i + 2));
    const producer = kafka.producer();
    await producer.connect();
    await produceRevision(producer, topics, scope, 'r1', rows);
    await producer.disconnect();

    const service = testService();
    await startSink(config, service);
    const names = indexNames(prefix);
    try {
      const published = await eventually(async () => {
        const doc = await admin
          .get<RevisionDocument>({ index: names.revisions, id: revisionDocId(scope, 'r1') })
          .catch(() => undefined);
        return doc?._source?.state === 'published' ? doc._source : undefined;
      }, 120_000);
      expect(published.row_count).toBe(ROWS);
    } finally {
      await service.shutdown.run();
    }

    // The API's role reads the published usage, exactly...
    const reader = clientAs('meterflow_api');
    const totals = await exactSum(reader, names.usageAlias, 'x_RatedCost');
    expect(totals.count).toBe(ROWS);
    expect(totals).toEqual(await exactSum(admin, names.usageAlias, 'x_RatedCost'));
    // ...and cannot write, there or anywhere.
    await expect(
      reader.index({ index: names.revisions, id: 'forged', document: { state: 'published' } }),
    ).rejects.toMatchObject({ meta: { statusCode: 403 } });
    // An analyst's index pattern cannot double count: with a revision's documents in the monthly
    // index before it is published (as during every restatement), `<prefix>-usage*` still resolves
    // to the published alias only for meterflow_analyst, and naming the monthly index is refused.
    await admin.index({
      index: names.usageIndex('2026-02'),
      id: 'not-yet-published',
      document: { ...toUsageDocument(ratedLine(scope, 'r2', 2)) },
      refresh: 'wait_for',
    });
    const analyst = clientAs('meterflow_analyst');
    const pattern = `${prefix}-usage*`;
    expect((await analyst.count({ index: pattern })).count).toBe(ROWS);
    expect((await admin.count({ index: `${prefix}-usage-*` })).count).toBeGreaterThan(ROWS);
    await expect(analyst.count({ index: names.usageIndex('2026-02') })).rejects.toMatchObject({
      meta: { statusCode: 403 },
    });
    // The sink's role reaches nothing outside its prefix.
    const sinkClient = clientAs('meterflow_sink');
    await expect(
      sinkClient.index({ index: `other-${prefix}-usage-2026-02`, document: { x: 1 } }),
    ).rejects.toMatchObject({ meta: { statusCode: 403 } });
  });
});
