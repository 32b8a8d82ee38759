import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { type Copy, DockerfileParser, type Instruction } from 'dockerfile-ast';
import { loadConfig } from '../../../runtime/config';

/**
 * deploy/container/Dockerfile's invariants, read with a Dockerfile parser (no container engine
 * here): node 20 slim base images, a builder stage whose install and build steps are
 * deploy/container/install.sh (which test/integration/deploy/container.test.ts runs), a runtime
 * stage with no npm of its own, a fixed non-root user and the meterflow CLI as entrypoint.
 */
const ROOT = path.resolve(__dirname, '../../..');
const DOCKERFILE = path.join(ROOT, 'deploy/container/Dockerfile');
const dockerfile = DockerfileParser.parse(fs.readFileSync(DOCKERFILE, 'utf8'));
const instructions = dockerfile.getInstructions();
const args = new Map(
  dockerfile.getARGs().map((a) => [a.getProperty()?.getName(), a.getProperty()?.getValue()]),
);

/** Instructions per build stage, by the stage's name. */
function stages(): Map<string, Instruction[]> {
  const out = new Map<string, Instruction[]>();
  let current: Instruction[] | undefined;
  for (const i of instructions) {
    if (i.getKeyword() === 'FROM') {
      const words = i.getArguments().map((a) => a.getValue());
      current = [];
      out.set(words[2] ?? String(out.size), current);
    }
    current?.push(i);
  }
  return out;
}
const of = (stage: Instruction[] | undefined, keyword: string) =>
  (stage ?? []).filter((i) => i.getKeyword() === keyword);

describe('deploy/container/Dockerfile', () => {
  it('builds both stages from a node 20 slim image', () => {
    const froms = dockerfile.getFROMs();
    expect(froms.length).toBe(2);
    for (const from of froms) {
      const image = (from.getImage() ?? '').replace(
        /^\$\{(\w+)\}$/,
        (_, name: string) => args.get(name) ?? '',
      );
      expect(image).toMatch(/^node:20(\.\d+){0,2}-(bookworm-|bullseye-|trixie-)?slim$/);
    }
  });

  it('runs the install and build steps through install.sh in the builder, and no npm in the runtime stage', () => {
    const all = stages();
    expect([...all.keys()]).toEqual(['builder', 'runtime']);
    const builderRuns = of(all.get('builder'), 'RUN').map((r) => r.getArgumentsContent() ?? '');
    expect(builderRuns).toHaveLength(1);
    const steps = builderRuns[0].split('&&').map((s) => s.trim().split(/\s+/));
    expect(steps).toEqual([
      ['sh', 'deploy/container/install.sh', 'build', '/src'],
      ['sh', 'deploy/container/install.sh', 'runtime', '/src', '/app'],
    ]);
    const runtime = all.get('runtime');
    for (const run of of(runtime, 'RUN')) expect(run.getArgumentsContent()).not.toMatch(/\bnpm\b|\bnode\b/);
    const copies = of(runtime, 'COPY') as Copy[];
    // The whole runtime is the builder's /app, made by install.sh runtime.
    expect(
      copies.map((c) => [
        c
          .getFlags()
          .find((f) => f.getName() === 'from')
          ?.getValue(),
        ...c.getArguments().map((a) => a.getValue()),
      ]),
    ).toEqual([['builder', '/app', '/app']]);
    // The script the Dockerfile names is the one in the repository, and sh can parse it.
    execFileSync('sh', ['-n', path.join(ROOT, 'deploy/container/install.sh')]);
  });

  it('runs as a fixed non-root uid, the one the runtime stage creates', () => {
    const runtime = stages().get('runtime');
    const users = of(runtime, 'USER');
    expect(users).toHaveLength(1);
    const [uid, gid] = (users[0].getArgumentsContent() ?? '').split(':').map(Number);
    expect(uid).toBeGreaterThan(0);
    const created = of(runtime, 'RUN')
      .map((r) => r.getArgumentsContent() ?? '')
      .join(' ');
    expect(created).toMatch(new RegExp(`useradd [^&]*--uid ${uid}\\b`));
    expect(created).toMatch(new RegExp(`groupadd [^&]*--gid ${gid}\\b`));
    // USER comes after everything that needs root.
    const last = runtime?.[runtime.length - 1];
    expect(runtime?.indexOf(users[0])).toBeGreaterThan(
      runtime?.indexOf(of(runtime, 'RUN').pop()!) ?? Infinity,
    );
    expect(last?.getKeyword()).toBe('CMD');
  });

  it('makes the meterflow CLI the entrypoint and binds the ops endpoint to every interface', () => {
    const runtime = stages().get('runtime');
    const entrypoint = of(runtime, 'ENTRYPOINT')[0]?.getArgumentsContent();
    expect(JSON.parse(entrypoint ?? 'null')).toEqual(['/app/bin/meterflow']);
    // install.sh makes that link to the compiled CLI.
    expect(fs.readFileSync(path.join(ROOT, 'deploy/container/install.sh'), 'utf8')).toMatch(
      /ln -sf \.\.\/dist\/cli\/main\.js bin\/meterflow/,
    );
    const env: NodeJS.ProcessEnv = {};
    for (const e of of(runtime, 'ENV'))
      for (const word of e.getArguments().map((a) => a.getValue())) {
        const [name, ...value] = word.split('=');
        env[name] = value.join('=');
      }
    expect(env.METERFLOW_OPS__HOST).toBe('0.0.0.0');
    expect(env.METERFLOW_CONFIG).toBe('/etc/meterflow/meterflow.yaml');
    // Every METERFLOW_ override the image sets is one the config loader knows (it refuses others).
    const overrides = Object.fromEntries(
      Object.entries(env).filter(([k]) => k.startsWith('METERFLOW_') && k !== 'METERFLOW_CONFIG'),
    );
    expect(loadConfig({ env: overrides, cwd: path.join(ROOT, 'deploy/container') }).config.ops.host).toBe(
      '0.0.0.0',
    );
  });
});
