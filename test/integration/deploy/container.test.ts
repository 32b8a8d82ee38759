import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CliCommands } from '../../support/cli-commands';

/**
 * The container image's install and build steps without a container engine: deploy/container/
 * install.sh (what the Dockerfile runs) is run on a clean copy of the committed sources
 * (`git archive HEAD`, as the image's build context holds no node_modules or dist), then the
 * installed `meterflow` is run from the result, outside the repository, as the image runs it.
 * Needs no stack; takes a couple of minutes (npm ci twice, from the npm cache, and tsc).
 */
const ROOT = path.resolve(__dirname, '../../..');
const INSTALL = path.join(ROOT, 'deploy/container/install.sh');

let work: string;
let src: string;
let app: string;

/** The environment of a container of the image: the Dockerfile's ENV, no METERFLOW_ of ours. */
function imageEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('METERFLOW_')));
  return { ...env, NODE_ENV: 'production', METERFLOW_OPS__HOST: '0.0.0.0', ...extra };
}

function meterflow(args: string[], env: NodeJS.ProcessEnv = imageEnv()) {
  return spawnSync(path.join(app, 'bin/meterflow'), args, { cwd: work, env, encoding: 'utf8' });
}

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-image-'));
  src = path.join(work, 'src');
  app = path.join(work, 'app');
  fs.mkdirSync(src);
  const archive = path.join(work, 'src.tar');
  execFileSync('git', ['archive', '--format=tar', '-o', archive, 'HEAD'], { cwd: ROOT });
  execFileSync('tar', ['-xf', archive, '-C', src]);
  const log = path.join(work, 'install.log');
  const out = fs.openSync(log, 'w');
  try {
    for (const step of [
      ['build', src],
      ['runtime', src, app],
    ])
      execFileSync('sh', [INSTALL, ...step], { stdio: ['ignore', out, out], env: imageEnv() });
  } catch (err) {
    throw new Error(
      `install.sh failed: ${(err as Error).message}\n${fs.readFileSync(log, 'utf8').slice(-4000)}`,
    );
  } finally {
    fs.closeSync(out);
  }
}, 15 * 60_000);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('deploy/container/install.sh (the image build steps)', () => {
  it('installs a meterflow CLI that answers --help with every component command', () => {
    const run = meterflow(['--help']);
    expect(run.status).toBe(0);
    const commands = CliCommands.subcommands(run.stdout);
    expect(commands).toEqual(
      expect.arrayContaining(['collect', 'process', 'sink', 'invoice', 'api', 'config']),
    );
  });

  it('ships production dependencies only, and no sources of tests', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(src, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    for (const dep of Object.keys(pkg.dependencies))
      expect({ dep, installed: fs.existsSync(path.join(app, 'node_modules', dep, 'package.json')) }).toEqual({
        dep,
        installed: true,
      });
    // What the lockfile marks dev-only (needed by no production dependency) is absent.
    const lock = JSON.parse(fs.readFileSync(path.join(src, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const devOnly = Object.entries(lock.packages)
      .filter(([where, p]) => p.dev && where.startsWith('node_modules/'))
      .map(([where]) => where);
    expect(devOnly).toEqual(expect.arrayContaining(['node_modules/typescript', 'node_modules/jest']));
    expect(devOnly.filter((where) => fs.existsSync(path.join(app, where)))).toEqual([]);
    expect(fs.existsSync(path.join(app, 'test'))).toBe(false);
    expect(fs.existsSync(path.join(app, 'dist/cli/main.js'))).toBe(true);
  });

  it('accepts the compose configuration with the image environment (config check)', () => {
    const config = path.join(ROOT, 'deploy/compose/meterflow.yaml');
    const run = meterflow(['config', 'check'], imageEnv({ METERFLOW_CONFIG: config }));
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    expect(run.stdout).toContain(`configuration ok (${config})`);
    const printed = meterflow(['config', 'print'], imageEnv({ METERFLOW_CONFIG: config }));
    expect((JSON.parse(printed.stdout) as { ops: { host: string } }).ops.host).toBe('0.0.0.0');
    // A missing configuration is a clear error, not a crash.
    const missing = meterflow(
      ['config', 'check'],
      imageEnv({ METERFLOW_CONFIG: '/etc/meterflow/meterflow.yaml' }),
    );
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain('/etc/meterflow/meterflow.yaml');
  });

  it('loads every module it ships: none reads at load time a file the package lacks', () => {
    // `meterflow demo` from dist/ once failed at start on api/openapi.json, a file only the
    // sources have; rate, --help and config check never load the API, so they did not see it.
    const dist = path.join(app, 'dist');
    const modules = (fs.readdirSync(dist, { recursive: true }) as string[])
      .filter((f) => f.endsWith('.js'))
      // The CLI entry point runs a command when loaded; the commands above exercise it.
      .filter((f) => f !== path.join('cli', 'main.js'))
      .map((f) => path.join(dist, f));
    expect(modules.length).toBeGreaterThan(50);
    const script = `for (const m of ${JSON.stringify(modules)}) require(m); console.log('loaded', ${modules.length});`;
    const run = spawnSync(process.execPath, ['-e', script], { cwd: work, env: imageEnv(), encoding: 'utf8' });
    expect({ status: run.status, stderr: run.stderr.slice(0, 2000) }).toEqual({ status: 0, stderr: '' });
    expect(run.stdout.trim()).toBe(`loaded ${modules.length}`);
  });

  it('finds its run-time data files (Avro schemas, service categories) and rates an export exactly', () => {
    const input = path.join(ROOT, 'test/fixtures/aws/legacy-cur/koku_test_cur.csv');
    const run = meterflow(['rate', '--provider', 'aws', '--input', input, '--out', '-']);
    expect({ status: run.status, stderr: run.stderr }).toMatchObject({ status: 0 });
    const records = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { ServiceCategory: string; ProviderName: string });
    expect(records.length).toBeGreaterThan(0);
    // ServiceCategory comes from processors/normalize/service-categories.csv, shipped beside dist/.
    expect(records.every((r) => r.ProviderName === 'AWS' && r.ServiceCategory !== 'Other')).toBe(true);
    const source = /source billed cost:\s+(.+)/.exec(run.stderr)?.[1];
    const rated = /rated:\s+(.+)/.exec(run.stderr)?.[1];
    expect(source).toMatch(/^USD \d/);
    expect(rated).toBe(source);
  });
});
