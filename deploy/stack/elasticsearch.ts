import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { ES_JAVA_HOME_CANDIDATES, STACK_VERSIONS } from './versions';
import { isInstalled, markInstalled, run, withLock } from './artifacts';
import { httpStatus } from './processes';
import { installLogOf, type StackComponent, type StackContext } from './component';
import { localCertificates } from './certificates';

/*
 * The local Elasticsearch: one node of the distribution, plain or secured (TLS and file-realm
 * users, `elasticsearch-secure`).
 */

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
