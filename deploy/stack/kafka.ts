import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import { STACK_VERSIONS } from './versions';
import { isInstalled, kafkaPom, markInstalled, run, withLock } from './artifacts';
import { installLogOf, type StackComponent, type StackContext } from './component';
import { localCertificates } from './certificates';

/*
 * The local Kafka: one KRaft node (broker and controller in one process), built from Maven
 * artifacts, plain or secured (TLS and SCRAM users, `kafka-secure`).
 */

/** SCRAM users of the secured broker: a superuser, and one principal per component (docs/least-privilege.md). */
export const SECURE_KAFKA_USERS = [
  'meterflow-admin',
  'meterflow-collector',
  'meterflow-normalize',
  'meterflow-dedupe',
  'meterflow-price',
  'meterflow-sink',
  'meterflow-invoice',
  'meterflow-pricebook',
  'meterflow-replay',
] as const;

/**
 * The secured broker's folder: one per machine (per port), shared by every checkout like the
 * secured Elasticsearch node, so a clean clone's tests find the CA of a broker another checkout
 * started.
 */
const secureKafkaBase = (ctx: StackContext) =>
  path.join(ctx.paths.cacheDir, `kafka-secure-${ctx.config.stack.ports.kafka_secure}`);

/**
 * One Kafka node (KRaft, broker and controller in one process). `secure`: the variant a
 * deployment should look like, for testing meterflow against it (`meterflow stack up
 * kafka-secure`): clients reach it only over TLS (a CA made here) with SASL/SCRAM-SHA-512, and an
 * authorizer grants nothing without an ACL, so each component's principal holds only its ACLs.
 */
function kafkaNode(secure: boolean): StackComponent {
  const name = secure ? 'kafka-secure' : 'kafka';
  const port = (ctx: StackContext) =>
    secure ? ctx.config.stack.ports.kafka_secure : ctx.config.stack.ports.kafka;
  const controllerPort = (ctx: StackContext) =>
    secure ? ctx.config.stack.ports.kafka_secure_controller : ctx.config.stack.ports.kafka_controller;
  return {
    name,
    startTimeoutS: 90,
    port,
    endpoint: (ctx) => `127.0.0.1:${port(ctx)}`,
    async install(ctx) {
      const dir = path.join(ctx.paths.cacheDir, `kafka-${STACK_VERSIONS.kafka}`);
      if (isInstalled(dir)) return;
      await withLock(`${dir}.lock`, async () => {
        if (isInstalled(dir)) return;
        ctx.say(`kafka: fetching Apache Kafka ${STACK_VERSIONS.kafka} jars with mvn (once per machine)`);
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, 'pom.xml'), kafkaPom(STACK_VERSIONS.kafka));
        await run('mvn', ['-q', '-B', 'dependency:copy-dependencies', '-DoutputDirectory=libs'], {
          cwd: dir,
          logFile: installLogOf(ctx, 'kafka'),
        });
        markInstalled(dir);
      });
    },
    async prepare(ctx) {
      const home = path.join(ctx.paths.cacheDir, `kafka-${STACK_VERSIONS.kafka}`);
      const base = secure ? secureKafkaBase(ctx) : undefined;
      const dataDir = base ? path.join(base, 'data') : path.join(ctx.paths.dataDir, 'kafka');
      const confDir = base ? path.join(base, 'conf') : path.join(ctx.paths.stateDir, 'conf', 'kafka');
      fs.mkdirSync(confDir, { recursive: true });
      const props = path.join(confDir, 'server.properties');
      const listeners = secure
        ? secureKafkaListeners(ctx, confDir)
        : [
            `listeners=PLAINTEXT://127.0.0.1:${port(ctx)},CONTROLLER://127.0.0.1:${controllerPort(ctx)}`,
            `advertised.listeners=PLAINTEXT://127.0.0.1:${port(ctx)}`,
            'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
            'inter.broker.listener.name=PLAINTEXT',
          ];
      // Single-broker settings that make transactions and consumer groups work: the internal
      // offsets and transaction-state topics must be creatable with one replica.
      fs.writeFileSync(
        props,
        [
          'process.roles=broker,controller',
          'node.id=1',
          `controller.quorum.bootstrap.servers=127.0.0.1:${controllerPort(ctx)}`,
          'controller.listener.names=CONTROLLER',
          ...listeners,
          `log.dirs=${dataDir}`,
          'num.partitions=3',
          'offsets.topic.replication.factor=1',
          'offsets.topic.num.partitions=10',
          'transaction.state.log.replication.factor=1',
          'transaction.state.log.min.isr=1',
          'transaction.state.log.num.partitions=10',
          'min.insync.replicas=1',
          'default.replication.factor=1',
          'group.initial.rebalance.delay.ms=0',
          'auto.create.topics.enable=false',
          'log.retention.hours=-1',
          'log.segment.bytes=268435456',
          '',
        ].join('\n'),
      );
      const log4j = path.join(confDir, 'log4j.properties');
      fs.writeFileSync(
        log4j,
        [
          'log4j.rootLogger=INFO, stdout',
          'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
          'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
          'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
          'log4j.logger.kafka.request.logger=WARN',
          'log4j.logger.state.change.logger=WARN',
          'log4j.logger.org.apache.kafka.storage=WARN',
          'log4j.logger.kafka.log=WARN',
          '',
        ].join('\n'),
      );
      const log4j2 = path.join(confDir, 'log4j2.properties');
      fs.writeFileSync(log4j2, 'status=warn\nrootLogger.level=warn\n');
      const classpath = `${path.join(home, 'libs')}/*`;
      const jvm = [
        '-Xms512m',
        '-Xmx1g',
        `-Dlog4j.configuration=file:${log4j}`,
        `-Dlog4j2.configurationFile=${log4j2}`,
      ];
      if (!fs.existsSync(path.join(dataDir, 'meta.properties'))) {
        ctx.say(`${name}: formatting KRaft storage`);
        const clusterId = crypto.randomBytes(16).toString('base64url').slice(0, 22);
        // The secured broker's SCRAM users exist from the start: its own inter-broker login needs one.
        const password = ctx.config.stack.kafka_secure_password;
        const scram = secure
          ? SECURE_KAFKA_USERS.flatMap((u) => [
              '--add-scram',
              `SCRAM-SHA-512=[name=${u},password=${password}]`,
            ])
          : [];
        execFileSync(
          'java',
          [
            ...jvm,
            '-cp',
            classpath,
            'kafka.tools.StorageTool',
            'format',
            '--standalone',
            '-t',
            clusterId,
            '-c',
            props,
            ...scram,
          ],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        );
      }
      return {
        command: 'java',
        args: [...jvm, '-cp', classpath, 'kafka.Kafka', props],
        cwd: ctx.paths.stateDir,
        marker: props,
      };
    },
    async healthy(ctx) {
      const kafka = new Kafka({
        brokers: [`127.0.0.1:${port(ctx)}`],
        clientId: 'meterflow-stack',
        logLevel: logLevel.NOTHING,
        connectionTimeout: 1000,
        requestTimeout: 2000,
        retry: { retries: 0 },
        ...(secure ? secureKafkaClientOptions(ctx) : {}),
      });
      const admin = kafka.admin();
      try {
        await admin.connect();
        const cluster = await admin.describeCluster();
        return cluster.brokers.length > 0;
      } catch {
        return false;
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    },
  };
}

export const kafkaComponent = kafkaNode(false);
export const kafkaSecureComponent = kafkaNode(true);

/**
 * Listeners of the secured broker. Clients and the broker's own inter-broker calls (transaction
 * markers go through it even on one node) use SASL_SSL with SCRAM-SHA-512; the controller listener
 * takes SASL PLAIN on loopback from the one user its JAAS line defines, because KRaft cannot check
 * SCRAM on the controller listener (SCRAM credentials live in the metadata the controller serves).
 */
function secureKafkaListeners(ctx: StackContext, confDir: string): string[] {
  const { ports, kafka_secure_password: password } = ctx.config.stack;
  const certs = localCertificates(path.join(confDir, 'certs'));
  fs.writeFileSync(certs.keystore, fs.readFileSync(certs.key, 'utf8') + fs.readFileSync(certs.cert, 'utf8'));
  const scramLogin = `org.apache.kafka.common.security.scram.ScramLoginModule required username="meterflow-admin" password="${password}";`;
  const plainLogin = `org.apache.kafka.common.security.plain.PlainLoginModule required username="controller" password="${password}" user_controller="${password}";`;
  return [
    `listeners=SASL_SSL://127.0.0.1:${ports.kafka_secure},CONTROLLER://127.0.0.1:${ports.kafka_secure_controller}`,
    `advertised.listeners=SASL_SSL://127.0.0.1:${ports.kafka_secure}`,
    'listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT',
    'inter.broker.listener.name=SASL_SSL',
    'sasl.enabled.mechanisms=SCRAM-SHA-512',
    'sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512',
    `listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=${scramLogin}`,
    'sasl.mechanism.controller.protocol=PLAIN',
    'listener.name.controller.sasl.enabled.mechanisms=PLAIN',
    `listener.name.controller.plain.sasl.jaas.config=${plainLogin}`,
    'ssl.keystore.type=PEM',
    `ssl.keystore.location=${certs.keystore}`,
    'ssl.truststore.type=PEM',
    `ssl.truststore.location=${certs.ca}`,
    'authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'allow.everyone.if.no.acl.found=false',
    'super.users=User:meterflow-admin;User:controller',
  ];
}

/** Where a client finds the secured broker, its CA and its users (local test credentials, from stack.* config). */
export function secureKafkaAccess(ctx: StackContext): {
  brokers: string[];
  ca: string;
  password: string;
  users: readonly string[];
} {
  return {
    brokers: [`127.0.0.1:${ctx.config.stack.ports.kafka_secure}`],
    ca: path.join(secureKafkaBase(ctx), 'conf', 'certs', 'ca.crt'),
    password: ctx.config.stack.kafka_secure_password,
    users: SECURE_KAFKA_USERS,
  };
}

function secureKafkaClientOptions(ctx: StackContext): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const access = secureKafkaAccess(ctx);
  return {
    ssl: { ca: fs.existsSync(access.ca) ? [fs.readFileSync(access.ca, 'utf8')] : undefined },
    sasl: { mechanism: 'scram-sha-512', username: 'meterflow-admin', password: access.password },
  };
}
