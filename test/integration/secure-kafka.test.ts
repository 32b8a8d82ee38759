import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  ResourcePatternTypes,
  Kafka as KafkaClient,
  logLevel,
  type AclEntry,
  type Kafka,
  type KafkaConfig,
} from 'kafkajs';
import { Registry } from 'prom-client';
import { Collector } from '../../collectors/core/collector';
import { sourcesFor } from '../../collectors/command';
import { secureKafkaAccess } from '../../deploy/stack/kafka';
import { selectComponents, stackContext, stackUp } from '../../deploy/stack/stack';
import { startStages } from '../../processors/command';
import { PriceBookHolder, publishPriceBook } from '../../processors/price/distribution';
import { createS3 } from '../../providers/aws/store';
import type { MeterflowConfig } from '../../runtime/config';
import { createElasticsearch } from '../../runtime/elasticsearch';
import { createKafka, ensureTopics, topicNames, waitForLeaders } from '../../runtime/kafka';
import { createLogger } from '../../runtime/logger';
import { AvroTypes, type RevisionEvent } from '../../schemas';
import { Decimal, decimalToString } from '../../schemas/decimal';
import { startSink } from '../../sinks/elasticsearch/command';
import { indexNames, revisionDocId, type RevisionDocument } from '../../sinks/elasticsearch/indices';
import { curCsv, curLines, ensureBucket, gz, putCurRevision } from './collectors/cur-fixture';
import { eventually, testConfig, uniqueName } from './helpers';
import { exactSum, testService } from './sinks/sink-fixture';
import { readTopic } from './collectors/kafka-read';

/**
 * Kafka as a deployment should run it (the local stack's optional `kafka-secure` broker: TLS with
 * its own CA, SASL/SCRAM-SHA-512, an authorizer that denies whatever no ACL allows), and every
 * component under its own principal holding only the ACLs docs/least-privilege.md documents, read
 * from that file: a collector, normalize, dedupe, price and the sink take one export to an exact
 * total in Elasticsearch. A right missing from the table fails this test; so does a component
 * that starts touching a resource the table does not name.
 */
const ROWS = 300;
const PRICE_BOOK = `
version: secure-1
rules:
  - id: everything-10
    match: { ProviderName: AWS }
    model: cost_plus
    basis: BilledCost
    markup_percent: 10
`;

type Grant = { name: string; prefixed: boolean };
interface ComponentAcls {
  topicsRead: Grant[];
  topicsWrite: Grant[];
  groups: Grant[];
  transactionalIds: Grant[];
}

/** The Kafka ACL table of docs/least-privilege.md, per component, for topic prefix `prefix`. */
function documentedAcls(prefix: string): Record<string, ComponentAcls> {
  const doc = fs.readFileSync(path.join(__dirname, '../../docs/least-privilege.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Kafka ACLs'), doc.indexOf('## Elasticsearch roles'));
  const rows = section
    .split('\n')
    .filter((l) => l.startsWith('| `'))
    .map((l) =>
      l
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim()),
    );
  // A cell: comma-separated names in backticks, each optionally preceded by "prefix"; "none".
  const grants = (cell: string): Grant[] =>
    cell
      .split(',')
      .map((part) => ({ part, name: /`([^`]+)`/.exec(part)?.[1] }))
      .filter((g): g is { part: string; name: string } => g.name !== undefined)
      .map(({ part, name }) => ({
        name: name.replace(/^meterflow/, prefix).replace('<provider>', 'aws'),
        prefixed: /\bprefix\b/.test(part),
      }));
  const out: Record<string, ComponentAcls> = {};
  for (const [component, read, write, groups, txn] of rows) {
    const key = /`([^`]+)`/.exec(component)![1];
    out[key] = {
      topicsRead: grants(read),
      topicsWrite: grants(write),
      groups: grants(groups),
      transactionalIds: grants(txn),
    };
  }
  return out;
}

/** Each documented right, with Describe on the same resource. */
function aclEntries(principal: string, acls: ComponentAcls): AclEntry[] {
  const entry = (resourceType: AclResourceTypes, g: Grant, operation: AclOperationTypes): AclEntry => ({
    resourceType,
    resourceName: g.name,
    resourcePatternType: g.prefixed ? ResourcePatternTypes.PREFIXED : ResourcePatternTypes.LITERAL,
    principal: `User:${principal}`,
    host: '*',
    operation,
    permissionType: AclPermissionTypes.ALLOW,
  });
  const withDescribe = (type: AclResourceTypes, grants: Grant[], op: AclOperationTypes) =>
    grants.flatMap((g) => [entry(type, g, op), entry(type, g, AclOperationTypes.DESCRIBE)]);
  return [
    ...withDescribe(AclResourceTypes.TOPIC, acls.topicsRead, AclOperationTypes.READ),
    ...withDescribe(AclResourceTypes.TOPIC, acls.topicsWrite, AclOperationTypes.WRITE),
    ...withDescribe(AclResourceTypes.GROUP, acls.groups, AclOperationTypes.READ),
    ...withDescribe(AclResourceTypes.TRANSACTIONAL_ID, acls.transactionalIds, AclOperationTypes.WRITE),
  ];
}

describe('a secured Kafka: TLS, SASL/SCRAM-SHA-512 and the documented ACLs per component', () => {
  jest.setTimeout(300_000);
  const base = testConfig();
  const ctx = stackContext(base, (line) => process.stderr.write(`[stack] ${line}\n`));
  let access: ReturnType<typeof secureKafkaAccess>;
  const prefix = uniqueName('secure-kafka');

  /** The test's configuration, connecting to the secured broker as `user`. */
  const configAs = (user: string): MeterflowConfig => ({
    ...base,
    kafka: {
      ...base.kafka,
      brokers: access.brokers,
      topic_prefix: prefix,
      tls: { ...base.kafka.tls, enabled: true, ca_file: access.ca },
      sasl: { mechanism: 'scram-sha-512', username: user, password: access.password },
    },
  });
  const kafkaAs = (user: string): Kafka => {
    return createKafka(configAs(user), user);
  };

  beforeAll(async () => {
    await stackUp(ctx, selectComponents(['kafka-secure']));
    access = secureKafkaAccess(ctx);
  });

  it('refuses a client without TLS, one with a wrong password, and a principal without ACLs', async () => {
    const admin = (kafka: Kafka) => kafka.admin({ retry: { retries: 0 } });
    // Bare clients that give up at once (meterflow's own client would retry for a while).
    const probe = (options: Pick<KafkaConfig, 'ssl' | 'sasl'>) =>
      admin(
        new KafkaClient({
          brokers: access.brokers,
          logLevel: logLevel.NOTHING,
          retry: { retries: 0 },
          ...options,
        }),
      );
    // Plain TCP to the TLS listener: the handshake never becomes a Kafka conversation.
    const plain = probe({});
    await expect(plain.connect().then(() => plain.listTopics())).rejects.toThrow(/Closed connection/);
    await plain.disconnect().catch(() => undefined);
    const wrong = probe({
      ssl: { ca: [fs.readFileSync(access.ca, 'utf8')] },
      sasl: { mechanism: 'scram-sha-512', username: 'meterflow-admin', password: 'not-the-password' },
    });
    await expect(wrong.connect()).rejects.toThrow(/SASL SCRAM SHA512 authentication failed/);

    // The API's principal has no ACL at all (it never talks to Kafka): it sees no topic and can
    // create none.
    const superuser = admin(kafkaAs('meterflow-admin'));
    await superuser.connect();
    const topic = `${prefix}.probe`;
    // Not kafkajs's waitForLeaders: right after CreateTopics the broker may answer metadata for the
    // new topic with UNKNOWN_TOPIC_OR_PARTITION, which kafkajs raises instead of polling through (a
    // CI run failed here). meterflow's own waitForLeaders retries it with fresh metadata.
    await superuser.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: false });
    await waitForLeaders(kafkaAs('meterflow-admin'), [topic]);
    expect(await superuser.listTopics()).toContain(topic);
    const nobody = admin(kafkaAs('meterflow-replay'));
    await nobody.connect();
    expect(await nobody.listTopics()).not.toContain(topic);
    await expect(nobody.createTopics({ topics: [{ topic: `${prefix}.forged` }] })).rejects.toMatchObject({
      errors: [expect.objectContaining({ type: 'TOPIC_AUTHORIZATION_FAILED' })],
    });
    await nobody.disconnect();
    await superuser.disconnect();
  });

  it('runs collector, processors and sink, each as its own principal with the documented ACLs only', async () => {
    const documented = documentedAcls(prefix);
    const principals: Record<string, string> = {
      'collect <provider>': 'meterflow-collector',
      'process normalize': 'meterflow-normalize',
      'process dedupe': 'meterflow-dedupe',
      'process price': 'meterflow-price',
      'sink elasticsearch': 'meterflow-sink',
      'pricebook publish': 'meterflow-pricebook',
    };
    for (const component of Object.keys(principals)) expect(documented[component]).toBeDefined();

    // The operator's part: topics created beforehand, ACLs granted, the price book published.
    const adminConfig = configAs('meterflow-admin');
    const topics = topicNames(adminConfig);
    const superuser = kafkaAs('meterflow-admin');
    const all = [
      ...['aws', 'gcp', 'azure', 'platform'].map((p) => topics.raw(p)),
      ...[topics.control, topics.collectorCheckpoints, topics.normalized, topics.deduped],
      ...[topics.rated, topics.deadLetter, topics.audit, topics.priceBook, topics.revisionEvents],
    ];
    await ensureTopics(
      superuser,
      adminConfig,
      all.map((topic) => ({ topic })),
    );
    const admin = superuser.admin();
    await admin.connect();
    const granted = Object.entries(principals).flatMap(([component, user]) =>
      aclEntries(user, documented[component]),
    );
    await admin.createAcls({ acl: granted });
    // CreateAcls answers once the controller has the ACLs; the broker authorizes with them once it
    // has applied that metadata, which is not always at once: a component started before then is
    // refused (TOPIC_AUTHORIZATION_FAILED). Wait until the broker describes every one of them.
    const key = (a: {
      principal: string;
      resourceType: number;
      resourceName: string;
      resourcePatternType: number;
      operation: number;
    }) => [a.principal, a.resourceType, a.resourceName, a.resourcePatternType, a.operation].join('|');
    const wanted = new Set(granted.map(key));
    await eventually(
      async () => {
        const { resources } = await admin.describeAcls({
          resourceType: AclResourceTypes.ANY,
          resourcePatternType: ResourcePatternTypes.ANY,
          operation: AclOperationTypes.ANY,
          permissionType: AclPermissionTypes.ANY,
        });
        const present = new Set(
          resources.flatMap((r) =>
            r.acls.map((a) =>
              key({
                ...a,
                resourceType: r.resourceType,
                resourceName: r.resourceName,
                resourcePatternType: r.resourcePatternType,
              }),
            ),
          ),
        );
        return [...wanted].every((k) => present.has(k)) ? true : undefined;
      },
      60_000,
      250,
    );
    await admin.disconnect();

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-secure-kafka-'));
    const bookFile = path.join(dir, 'pricebook.yaml');
    fs.writeFileSync(bookFile, PRICE_BOOK);
    await publishPriceBook(kafkaAs('meterflow-pricebook'), topics.priceBook, bookFile);

    // The source: one legacy-CUR revision in the local S3 server.
    const bucket = uniqueName('secure-kafka');
    const lines = curLines(ROWS);
    const collectorConfig = configAs('meterflow-collector');
    collectorConfig.aws = {
      ...collectorConfig.aws,
      exports: [{ name: 'main', bucket, prefix: '', type: 'cur-legacy' }],
    };
    const { client: s3 } = createS3(collectorConfig.aws);
    await ensureBucket(s3, bucket);
    await putCurRevision(s3, bucket, 'report', 'assembly-1', [
      { name: 'report-1.csv.gz', body: gz(curCsv(lines)) },
    ]);
    const collector = new Collector({
      provider: 'aws',
      config: collectorConfig,
      kafka: kafkaAs('meterflow-collector'),
      logger: createLogger({ level: 'warn', component: 'test-collector' }),
      registry: new Registry(),
      sources: sourcesFor('aws', collectorConfig),
    });
    await collector.start();
    const pass = await collector.pollOnce();
    await collector.stop();
    expect(pass.failed).toEqual([]);
    expect(pass.completed).toHaveLength(1);

    // A principal holds its rights and no others: normalize cannot write the rated topic.
    const forger = kafkaAs('meterflow-normalize').producer({ retry: { retries: 0 } });
    await forger.connect();
    await expect(forger.send({ topic: topics.rated, messages: [{ value: 'forged' }] })).rejects.toThrow(
      /authori[sz]/i,
    );
    await forger.disconnect();

    const service = testService();
    const stageConfig = (user: string) => ({
      ...configAs(user),
      processor: { ...base.processor, session_timeout_ms: 6000 },
    });
    const sinkConfig = {
      ...configAs('meterflow-sink'),
      elasticsearch: { ...base.elasticsearch, index_prefix: prefix },
      sink: { ...base.sink, publish_interval_ms: 500 },
    };
    try {
      for (const stage of ['normalize', 'dedupe', 'price'] as const)
        await startStages(stageConfig(`meterflow-${stage}`), [stage], service);
      await startSink(sinkConfig, service);

      const es = createElasticsearch(sinkConfig);
      const names = indexNames(prefix);
      const scope = `aws/${bucket}/report/2026-11`;
      const published = await eventually(async () => {
        const doc = await es
          .get<RevisionDocument>({ index: names.revisions, id: revisionDocId(scope, 'assembly-1') })
          .catch(() => undefined);
        return doc?._source?.state === 'published' ? doc._source : undefined;
      }, 180_000);
      expect(published.row_count).toBe(ROWS);
      const billed = decimalToString(lines.reduce((s, l) => s.plus(l.cost), new Decimal(0)));
      const totals = await exactSum(es, names.usageAlias, 'BilledCost');
      expect(totals.count).toBe(ROWS);
      expect(totals.sum).toBe(billed);
      const rated = await exactSum(es, names.usageAlias, 'x_RatedCost');
      expect(rated.sum).toBe(decimalToString(new Decimal(billed).times('1.1')));
      // The sink principal's documented Write on the revision-events topic is enough to announce it.
      const events = await eventually(async () => {
        const read = await readTopic(
          superuser,
          topics.revisionEvents,
          (v) => AvroTypes.revisionEvent.fromBuffer(v) as RevisionEvent,
        );
        return read.length > 0 ? read : undefined;
      }, 60_000);
      expect(events.map((e) => [e.type, e.scope, e.revision_id, e.totals[0].billed_cost])).toEqual([
        ['PUBLISHED', scope, 'assembly-1', billed],
      ]);
    } finally {
      await service.shutdown.run();
    }
  });
  it('a price stage whose price-book ACL is revoked stops, instead of rating on with a stale book', async () => {
    // The previous test's topics and ACLs: the price principal may read the price-book topic.
    const topics = topicNames(configAs('meterflow-admin'));
    const fatal = jest.fn<void, [Error]>();
    const holder = new PriceBookHolder(
      kafkaAs('meterflow-price'),
      topics.priceBook,
      createLogger({ level: 'silent' }),
      fatal,
    );
    await holder.start();
    expect(holder.current.version).toBe('secure-1');
    const admin = kafkaAs('meterflow-admin').admin();
    await admin.connect();
    await admin.deleteAcls({
      filters: [
        {
          resourceType: AclResourceTypes.TOPIC,
          resourceName: topics.priceBook,
          resourcePatternType: ResourcePatternTypes.LITERAL,
          principal: 'User:meterflow-price',
          host: '*',
          operation: AclOperationTypes.READ,
          permissionType: AclPermissionTypes.ALLOW,
        },
      ],
    });
    await admin.disconnect();
    try {
      await eventually(async () => (fatal.mock.calls.length > 0 ? true : undefined), 60_000);
      expect(fatal.mock.calls[0][0].message).toMatch(/authori[sz]/i);
    } finally {
      await holder.stop();
    }
  });
});
