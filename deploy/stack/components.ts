import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import type { MeterflowConfig } from '../../runtime/config';
import { AZURITE_ACCOUNT } from '../../providers/azure/config';
import { ES_JAVA_HOME_CANDIDATES, STACK_VERSIONS } from './versions';
import { isInstalled, kafkaPom, markInstalled, run, withLock } from './artifacts';
import { httpStatus, type SpawnSpec } from './processes';

/** Where things live for one local stack. */
export interface StackPaths {
  /** Per-checkout state (ignored by git): logs, pid files, data. */
  stateDir: string;
  logsDir: string;
  runDir: string;
  dataDir: string;
  /** Per-machine cache of downloaded and built servers. */
  cacheDir: string;
}

export interface StackContext {
  config: MeterflowConfig;
  paths: StackPaths;
  /** Progress lines for a person watching `stack up`. */
  say: (line: string) => void;
}

export interface StackComponent {
  readonly name: string;
  endpoint(ctx: StackContext): string;
  /** Fetch or build the server into the cache; idempotent and cheap once done. */
  install(ctx: StackContext): Promise<void>;
  /** Per-stack preparation (config files, storage format) and the command that runs the server. */
  prepare(ctx: StackContext): Promise<SpawnSpec & { marker: string }>;
  healthy(ctx: StackContext): Promise<boolean>;
  port(ctx: StackContext): number;
  /** Seconds to wait for health after start. */
  readonly startTimeoutS: number;
}

const logFileOf = (ctx: StackContext, name: string) => path.join(ctx.paths.logsDir, `${name}.log`);
export const installLogOf = (ctx: StackContext, name: string) =>
  path.join(ctx.paths.logsDir, `${name}-install.log`);

// ---------------------------------------------------------------- Kafka (KRaft, single node)
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

// ---------------------------------------------------------------- Elasticsearch
function esJavaHome(): string {
  const found = ES_JAVA_HOME_CANDIDATES.find((p) => fs.existsSync(path.join(p, 'bin', 'java')));
  if (!found)
    throw new Error(
      `Elasticsearch ${STACK_VERSIONS.elasticsearch} needs Java 21 or newer; looked in ${ES_JAVA_HOME_CANDIDATES.join(', ')}`,
    );
  return found;
}

const isRoot = () => process.getuid?.() === 0;

/**
 * Elasticsearch refuses to run as root. When we are root it runs as a system user, and everything
 * it touches must be reachable by that user: a root home folder is not, so its install and data
 * then live under /var/lib/meterflow (the state folder gets a symlink to its data).
 */
function esLayout(ctx: StackContext, name = 'elasticsearch'): { home: string; base: string } {
  const v = STACK_VERSIONS.elasticsearch;
  if (name === 'elasticsearch-secure') {
    // One secured test node per machine (per port), shared by every checkout: its CA, users and
    // roles files are where any checkout's tests look, whichever checkout started it (a node
    // started by another checkout's stack would otherwise answer with a CA this one cannot check).
    const port = ctx.config.stack.ports.elasticsearch_secure;
    const home = isRoot()
      ? `/var/lib/meterflow/elasticsearch-${v}`
      : path.join(ctx.paths.cacheDir, `elasticsearch-${v}`);
    const base = isRoot()
      ? `/var/lib/meterflow/elasticsearch-secure-${port}`
      : path.join(ctx.paths.cacheDir, `elasticsearch-secure-${port}`);
    return { home, base };
  }
  if (!isRoot())
    return {
      home: path.join(ctx.paths.cacheDir, `elasticsearch-${v}`),
      base: path.join(ctx.paths.dataDir, name),
    };
  const stackKey = crypto
    .createHash('sha256')
    .update(path.resolve(ctx.paths.stateDir))
    .digest('hex')
    .slice(0, 12);
  return {
    home: `/var/lib/meterflow/elasticsearch-${v}`,
    base: `/var/lib/meterflow/stacks/${stackKey}/${name}`,
  };
}

function esUser(ctx: StackContext): { uid: number; gid: number } | undefined {
  if (!isRoot()) return undefined;
  const user = ctx.config.stack.elasticsearch_user;
  try {
    execFileSync('id', ['-u', user], { stdio: 'ignore' });
  } catch {
    ctx.say(`elasticsearch: creating system user ${user} (Elasticsearch refuses to run as root)`);
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', user], {
      stdio: 'ignore',
    });
  }
  const uid = Number(execFileSync('id', ['-u', user]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', user]).toString().trim());
  return { uid, gid };
}

/**
 * One Elasticsearch node. `secure`: the variant with the distribution's own security switched on
 * (TLS on HTTP with a CA made here, a file-realm superuser, API keys), a stack option for testing
 * least-privilege roles: `meterflow stack up elasticsearch-secure`.
 */
function elasticsearchNode(secure: boolean): StackComponent {
  const name = secure ? 'elasticsearch-secure' : 'elasticsearch';
  const httpPort = (ctx: StackContext) =>
    secure ? ctx.config.stack.ports.elasticsearch_secure : ctx.config.stack.ports.elasticsearch;
  const transportPort = (ctx: StackContext) =>
    secure
      ? ctx.config.stack.ports.elasticsearch_secure_transport
      : ctx.config.stack.ports.elasticsearch_transport;
  return {
    name,
    startTimeoutS: 180,
    port: httpPort,
    endpoint: (ctx) => `${secure ? 'https' : 'http'}://127.0.0.1:${httpPort(ctx)}`,
    async install(ctx) {
      const v = STACK_VERSIONS.elasticsearch;
      const { home } = esLayout(ctx);
      if (isInstalled(home)) return;
      await withLock(`${home}.lock`, async () => {
        if (isInstalled(home)) return;
        ctx.say(`elasticsearch: fetching Elasticsearch ${v} with mvn (once per machine)`);
        const downloads = path.join(ctx.paths.cacheDir, 'downloads');
        fs.mkdirSync(downloads, { recursive: true });
        const zip = path.join(downloads, `elasticsearch-${v}.zip`);
        if (!fs.existsSync(zip)) {
          await run(
            'mvn',
            [
              '-q',
              '-B',
              'dependency:copy',
              `-Dartifact=org.elasticsearch.distribution.integ-test-zip:elasticsearch:${v}:zip`,
              `-DoutputDirectory=${downloads}`,
            ],
            { logFile: installLogOf(ctx, 'elasticsearch') },
          );
        }
        const parent = path.dirname(home);
        const unpack = path.join(parent, `.unpack-${process.pid}`);
        fs.rmSync(unpack, { recursive: true, force: true });
        fs.mkdirSync(unpack, { recursive: true });
        await run('unzip', ['-q', zip, '-d', unpack], { logFile: installLogOf(ctx, 'elasticsearch') });
        fs.rmSync(home, { recursive: true, force: true });
        fs.renameSync(path.join(unpack, `elasticsearch-${v}`), home);
        fs.rmSync(unpack, { recursive: true, force: true });
        for (const f of fs.readdirSync(path.join(home, 'bin')))
          fs.chmodSync(path.join(home, 'bin', f), 0o755);
        if (isRoot()) fs.chmodSync(parent, 0o755);
        markInstalled(home);
      });
    },
    async prepare(ctx) {
      const { home, base } = esLayout(ctx, name);
      const user = esUser(ctx);
      const conf = path.join(base, 'config');
      const dirs = {
        data: path.join(base, 'data'),
        logs: path.join(base, 'logs'),
        tmp: path.join(base, 'tmp'),
      };
      for (const d of [conf, ...Object.values(dirs)]) fs.mkdirSync(d, { recursive: true });
      for (const f of ['jvm.options', 'log4j2.properties'])
        fs.copyFileSync(path.join(home, 'config', f), path.join(conf, f));
      fs.mkdirSync(path.join(conf, 'jvm.options.d'), { recursive: true });
      // GC logs off and crash files kept in our logs folder; the heap is pinned through ES_JAVA_OPTS.
      const jvmOptions = fs
        .readFileSync(path.join(conf, 'jvm.options'), 'utf8')
        .replace(/^-Xlog:gc.*$/m, '-Xlog:disable')
        .replace(/^-XX:ErrorFile=.*$/m, `-XX:ErrorFile=${dirs.logs}/hs_err_pid%p.log`)
        .replace(/^-XX:\+HeapDumpOnOutOfMemoryError$/m, '');
      fs.writeFileSync(path.join(conf, 'jvm.options'), jvmOptions);
      fs.writeFileSync(
        path.join(conf, 'elasticsearch.yml'),
        [
          `cluster.name: meterflow-local${secure ? '-secure' : ''}`,
          'node.name: meterflow-local-1',
          `path.data: ${dirs.data}`,
          `path.logs: ${dirs.logs}`,
          'network.host: 127.0.0.1',
          `http.port: ${httpPort(ctx)}`,
          `transport.port: ${transportPort(ctx)}`,
          'discovery.type: single-node',
          // The integ-test distribution carries x-pack security: off for the loopback-only stack,
          // on (TLS, users, API keys) for its secure variant.
          ...(secure ? secureEsSettings(conf) : ['xpack.security.enabled: false']),
          // A nearly full developer disk must not turn the indices read-only under a test.
          'cluster.routing.allocation.disk.threshold_enabled: false',
          'action.destructive_requires_name: false',
          '',
        ].join('\n'),
      );
      if (secure) secureEsUsers(ctx, home, conf);
      if (user) {
        execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, base, home]);
        // The folders above base, up to /var/lib/meterflow, must be passable by that user.
        fs.chmodSync(path.dirname(base), 0o755);
        if (!secure) fs.chmodSync(path.dirname(path.dirname(base)), 0o755);
        const link = path.join(ctx.paths.dataDir, name);
        if (!fs.existsSync(link)) fs.symlinkSync(base, link);
      }
      const heap = ctx.config.stack.elasticsearch_heap_mb;
      return {
        command: path.join(home, 'bin', 'elasticsearch'),
        args: [],
        cwd: base,
        marker: conf,
        uid: user?.uid,
        gid: user?.gid,
        env: {
          PATH: process.env.PATH,
          HOME: base,
          ES_JAVA_HOME: esJavaHome(),
          ES_PATH_CONF: conf,
          ES_TMPDIR: dirs.tmp,
          ES_JAVA_OPTS: `-Xms${heap}m -Xmx${heap}m`,
        },
      };
    },
    async healthy(ctx) {
      const url = `/_cluster/health?wait_for_status=yellow&timeout=1s`;
      if (secure) return (await secureEsStatus(ctx, url)) === 200;
      return (await httpStatus(`http://127.0.0.1:${httpPort(ctx)}${url}`, 3000)) === 200;
    },
  };
}

export const elasticsearchComponent = elasticsearchNode(false);
export const elasticsearchSecureComponent = elasticsearchNode(true);

/** The secure node's superuser (file realm): local test credentials, stated in stack.* config. */
export function secureElasticsearchAccess(ctx: StackContext): {
  url: string;
  ca: string;
  user: string;
  password: string;
} {
  const { base } = esLayout(ctx, 'elasticsearch-secure');
  return {
    url: `https://127.0.0.1:${ctx.config.stack.ports.elasticsearch_secure}`,
    ca: path.join(base, 'config', 'certs', 'ca.crt'),
    user: 'meterflow-admin',
    password: ctx.config.stack.elasticsearch_secure_password,
  };
}

/**
 * Roles and users of the secure node, in its files (roles.yml, the file realm), which it reloads
 * within seconds. Files, not the security API: API keys and native roles live in the `.security`
 * index, which this distribution cannot create (it lacks the analysis-common module its mapping
 * needs), so least-privilege roles are tested through file-realm users instead.
 */
export function setSecureElasticsearchRoles(
  ctx: StackContext,
  roles: Record<string, { cluster: string[]; indices: Array<{ names: string[]; privileges: string[] }> }>,
): void {
  const { base } = esLayout(ctx, 'elasticsearch-secure');
  // Block YAML, one role per top-level key (the node's parser reads no flow-style mapping).
  const list = (xs: string[]) => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;
  const text = Object.entries(roles)
    .map(([name, role]) =>
      [
        `${name}:`,
        `  cluster: ${list(role.cluster)}`,
        '  indices:',
        ...role.indices.flatMap((i) => [
          `    - names: ${list(i.names)}`,
          `      privileges: ${list(i.privileges)}`,
        ]),
      ].join('\n'),
    )
    .join('\n');
  fs.writeFileSync(path.join(base, 'config', 'roles.yml'), `${text}\n`);
}

export function addSecureElasticsearchUser(
  ctx: StackContext,
  user: string,
  password: string,
  roles: string[],
): void {
  const { home, base } = esLayout(ctx, 'elasticsearch-secure');
  fileRealmUser(home, path.join(base, 'config'), user, password, roles);
}

/** Adds (or replaces) a file-realm user with the distribution's own tool. */
function fileRealmUser(home: string, conf: string, user: string, password: string, roles: string[]): void {
  // The tool edits these files; it refuses to create them.
  for (const f of ['users', 'users_roles'])
    if (!fs.existsSync(path.join(conf, f))) fs.writeFileSync(path.join(conf, f), '');
  const env = { ...process.env, ES_PATH_CONF: conf, ES_JAVA_HOME: esJavaHome() };
  const tool = path.join(home, 'bin', 'elasticsearch-users');
  if (fs.readFileSync(path.join(conf, 'users'), 'utf8').includes(`${user}:`))
    execFileSync(tool, ['userdel', user], { env, stdio: 'ignore' });
  execFileSync(tool, ['useradd', user, '-p', password, '-r', roles.join(',')], { env, stdio: 'ignore' });
}

function secureEsSettings(conf: string): string[] {
  localCertificates(path.join(conf, 'certs'));
  return [
    'xpack.security.enabled: true',
    'xpack.license.self_generated.type: basic',
    'xpack.security.http.ssl.enabled: true',
    'xpack.security.http.ssl.key: certs/node.key',
    'xpack.security.http.ssl.certificate: certs/node.crt',
    'xpack.security.http.ssl.certificate_authorities: certs/ca.crt',
  ];
}

/**
 * A CA of our own and a server certificate for 127.0.0.1 / localhost signed by it, made once in
 * `certs` (the secured Elasticsearch node and the secured Kafka broker each have their own).
 */
function localCertificates(certs: string): { ca: string; key: string; cert: string; keystore: string } {
  const files = {
    ca: path.join(certs, 'ca.crt'),
    key: path.join(certs, 'node.key'),
    cert: path.join(certs, 'node.crt'),
    keystore: path.join(certs, 'node.pem'),
  };
  if (fs.existsSync(files.cert)) return files;
  fs.mkdirSync(certs, { recursive: true });
  const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: certs, stdio: 'ignore' });
  ssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '3650',
      '-subj',
      '/CN=meterflow-local-ca',
    ].concat(['-keyout', 'ca.key', '-out', 'ca.crt']),
  );
  ssl([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    'node.key',
    '-out',
    'node.csr',
  ]);
  fs.writeFileSync(path.join(certs, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl(
    [
      'x509',
      '-req',
      '-in',
      'node.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '3650',
    ].concat(['-extfile', 'san.ext', '-out', 'node.crt']),
  );
  return files;
}

/** The file-realm superuser the tests set roles and users up with (idempotent). */
function secureEsUsers(ctx: StackContext, home: string, conf: string): void {
  const users = path.join(conf, 'users');
  if (fs.existsSync(users) && fs.readFileSync(users, 'utf8').includes('meterflow-admin:')) return;
  fileRealmUser(home, conf, 'meterflow-admin', ctx.config.stack.elasticsearch_secure_password, ['superuser']);
}

function secureEsStatus(ctx: StackContext, urlPath: string): Promise<number> {
  const access = secureElasticsearchAccess(ctx);
  return new Promise((resolve) => {
    const req = https.get(
      `${access.url}${urlPath}`,
      {
        ca: fs.existsSync(access.ca) ? fs.readFileSync(access.ca) : undefined,
        auth: `${access.user}:${access.password}`,
        timeout: 3000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', () => resolve(0));
    req.on('timeout', () => {
      req.destroy();
      resolve(0);
    });
  });
}

// ---------------------------------------------------------------- Go-built servers
/**
 * Builds a Go tool once per machine into `<cache>/<name>-<version>/bin` and returns its path.
 * `probe`: a command (like `version`) that a complete binary answers with exit 0; a binary
 * already in place without the installed marker (built by hand with the same GOBIN, or by a run
 * killed after the copy) is then checked with it and kept instead of rebuilt. `tags`: Go build
 * tags, for tools whose optional parts we do not need (a smaller, faster build).
 */
export async function goInstall(
  ctx: StackContext,
  name: string,
  module: string,
  version: string,
  options: { probe?: string[]; tags?: string[] } = {},
): Promise<string> {
  const { probe: probeArgs, tags = [] } = options;
  const dir = path.join(ctx.paths.cacheDir, `${name}-${version}`);
  const binary = path.join(dir, 'bin', path.basename(module));
  if (isInstalled(dir)) return binary;
  await withLock(`${dir}.lock`, async () => {
    if (isInstalled(dir)) return;
    if (probeArgs && fs.existsSync(binary)) {
      try {
        execFileSync(binary, probeArgs, { stdio: 'ignore', timeout: 30_000 });
        markInstalled(dir);
        return;
      } catch {
        // Incomplete or foreign: rebuilt below (quick when Go's build cache has it).
      }
    }
    ctx.say(`${name}: building ${module}@${version} with go install (once per machine; minutes on 2 cores)`);
    fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
    const tagArgs = tags.length ? ['-tags', tags.join(',')] : [];
    await run('go', ['install', ...tagArgs, `${module}@${version}`], {
      env: { ...process.env, GOBIN: path.join(dir, 'bin'), GOFLAGS: '-buildvcs=false', CGO_ENABLED: '0' },
      logFile: installLogOf(ctx, name),
    });
    markInstalled(dir);
  });
  return binary;
}

export const s3Component: StackComponent = {
  name: 's3',
  startTimeoutS: 60,
  port: (ctx) => ctx.config.stack.ports.s3,
  endpoint: (ctx) => `http://127.0.0.1:${ctx.config.stack.ports.s3}`,
  async install(ctx) {
    await goInstall(ctx, 'minio', 'github.com/minio/minio', STACK_VERSIONS.minio);
  },
  async prepare(ctx) {
    const binary = await goInstall(ctx, 'minio', 'github.com/minio/minio', STACK_VERSIONS.minio);
    const data = path.join(ctx.paths.dataDir, 's3');
    fs.mkdirSync(data, { recursive: true });
    const p = ctx.config.stack.ports;
    return {
      marker: data,
      command: binary,
      args: [
        'server',
        data,
        '--address',
        `127.0.0.1:${p.s3}`,
        '--console-address',
        `127.0.0.1:${p.s3_console}`,
        '--quiet',
      ],
      env: {
        ...process.env,
        MINIO_ROOT_USER: ctx.config.stack.s3_access_key,
        MINIO_ROOT_PASSWORD: ctx.config.stack.s3_secret_key,
        MINIO_BROWSER: 'off',
        MINIO_UPDATE: 'off',
      },
    };
  },
  async healthy(ctx) {
    return (await httpStatus(`http://127.0.0.1:${ctx.config.stack.ports.s3}/minio/health/live`)) === 200;
  },
};

export const gcsComponent: StackComponent = {
  name: 'gcs',
  startTimeoutS: 30,
  port: (ctx) => ctx.config.stack.ports.gcs,
  endpoint: (ctx) => `http://127.0.0.1:${ctx.config.stack.ports.gcs}`,
  async install(ctx) {
    await goInstall(
      ctx,
      'fake-gcs-server',
      'github.com/fsouza/fake-gcs-server',
      STACK_VERSIONS.fakeGcsServer,
    );
  },
  async prepare(ctx) {
    const binary = await goInstall(
      ctx,
      'fake-gcs-server',
      'github.com/fsouza/fake-gcs-server',
      STACK_VERSIONS.fakeGcsServer,
    );
    const data = path.join(ctx.paths.dataDir, 'gcs');
    fs.mkdirSync(data, { recursive: true });
    const port = ctx.config.stack.ports.gcs;
    return {
      marker: data,
      command: binary,
      args: [
        '-scheme',
        'http',
        '-host',
        '127.0.0.1',
        '-port',
        String(port),
        '-backend',
        'filesystem',
        '-filesystem-root',
        data,
        '-public-host',
        `127.0.0.1:${port}`,
        '-external-url',
        `http://127.0.0.1:${port}`,
        '-log-level',
        'warn',
      ],
    };
  },
  async healthy(ctx) {
    return (await httpStatus(`http://127.0.0.1:${ctx.config.stack.ports.gcs}/storage/v1/b`)) === 200;
  },
};

// ---------------------------------------------------------------- Azurite (npm)
export const azureBlobComponent: StackComponent = {
  name: 'azure-blob',
  startTimeoutS: 30,
  port: (ctx) => ctx.config.stack.ports.azure_blob,
  endpoint: (ctx) => `http://127.0.0.1:${ctx.config.stack.ports.azure_blob}/${AZURITE_ACCOUNT}`,
  async install(ctx) {
    const dir = path.join(ctx.paths.cacheDir, `azurite-${STACK_VERSIONS.azurite}`);
    if (isInstalled(dir)) return;
    await withLock(`${dir}.lock`, async () => {
      if (isInstalled(dir)) return;
      ctx.say(`azure-blob: installing Azurite ${STACK_VERSIONS.azurite} with npm (once per machine)`);
      fs.mkdirSync(dir, { recursive: true });
      await run(
        'npm',
        [
          'install',
          '--no-save',
          '--no-audit',
          '--no-fund',
          '--prefix',
          dir,
          `azurite@${STACK_VERSIONS.azurite}`,
        ],
        {
          cwd: dir,
          logFile: installLogOf(ctx, 'azure-blob'),
        },
      );
      markInstalled(dir);
    });
  },
  async prepare(ctx) {
    const dir = path.join(ctx.paths.cacheDir, `azurite-${STACK_VERSIONS.azurite}`);
    const data = path.join(ctx.paths.dataDir, 'azure-blob');
    fs.mkdirSync(data, { recursive: true });
    return {
      marker: data,
      command: process.execPath,
      args: [
        path.join(dir, 'node_modules', 'azurite', 'dist', 'src', 'blob', 'main.js'),
        '--blobHost',
        '127.0.0.1',
        '--blobPort',
        String(ctx.config.stack.ports.azure_blob),
        '--location',
        data,
        '--skipApiVersionCheck',
        '--loose',
        '--silent',
      ],
    };
  },
  async healthy(ctx) {
    // Azurite answers an unauthenticated list with 403: it is up and speaking the Blob protocol.
    const status = await httpStatus(
      `http://127.0.0.1:${ctx.config.stack.ports.azure_blob}/${AZURITE_ACCOUNT}?comp=list`,
    );
    return status === 403 || status === 200;
  },
};

// ---------------------------------------------------------------- toxiproxy (TCP fault proxy)
/**
 * A real TCP proxy that the fault-injection tests (test/faults) put between meterflow and a
 * server, then break on purpose: refuse connections, reset them mid-stream, cut a transfer short.
 * Proxies are created per test through its HTTP API; nothing goes through it otherwise.
 */
export const toxiproxyComponent: StackComponent = {
  name: 'toxiproxy',
  startTimeoutS: 30,
  port: (ctx) => ctx.config.stack.ports.toxiproxy,
  endpoint: (ctx) => `http://127.0.0.1:${ctx.config.stack.ports.toxiproxy}`,
  async install(ctx) {
    await goInstall(ctx, 'toxiproxy', TOXIPROXY_MODULE, STACK_VERSIONS.toxiproxy);
  },
  async prepare(ctx) {
    const binary = await goInstall(ctx, 'toxiproxy', TOXIPROXY_MODULE, STACK_VERSIONS.toxiproxy);
    const data = path.join(ctx.paths.dataDir, 'toxiproxy');
    fs.mkdirSync(data, { recursive: true });
    return {
      marker: data,
      command: binary,
      args: ['-host', '127.0.0.1', '-port', String(ctx.config.stack.ports.toxiproxy)],
    };
  },
  async healthy(ctx) {
    return (await httpStatus(`http://127.0.0.1:${ctx.config.stack.ports.toxiproxy}/version`)) === 200;
  },
};
const TOXIPROXY_MODULE = 'github.com/Shopify/toxiproxy/v2/cmd/server';

export const STACK_COMPONENTS: StackComponent[] = [
  kafkaComponent,
  elasticsearchComponent,
  s3Component,
  gcsComponent,
  azureBlobComponent,
  toxiproxyComponent,
];

/** Components started only when named (`meterflow stack up elasticsearch-secure`). */
export const OPTIONAL_STACK_COMPONENTS: StackComponent[] = [
  elasticsearchSecureComponent,
  kafkaSecureComponent,
];

export { logFileOf };
