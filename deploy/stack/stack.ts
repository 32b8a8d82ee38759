import fs from 'node:fs';
import path from 'node:path';
import { defaultCacheDir, type MeterflowConfig } from '../../runtime/config';
import { ErrorCodes, PermanentError } from '../../runtime/errors';
import {
  installLogOf,
  logFileOf,
  type StackComponent,
  type StackContext,
  type StackPaths,
} from './component';
import { OPTIONAL_STACK_COMPONENTS, STACK_COMPONENTS } from './components';
import {
  ownedProcessAlive,
  portInUse,
  readPidFile,
  startDetached,
  stopProcessGroup,
  tailFile,
} from './processes';

/**
 * The local stack: Kafka, Elasticsearch, an S3 server, a GCS server and an Azure Blob server, one
 * node each, on loopback, started from artifacts fetched through package registries.
 *
 *   up      install what is missing (cached per machine), start what is not healthy, wait for health
 *   down    stop the servers this state folder started, and nothing else
 *   status  each component, its endpoint, whether it is healthy; non-zero exit if one is not
 *   logs    the log file of a component
 */
export function stackPaths(config: MeterflowConfig, cwd = process.cwd()): StackPaths {
  const stateDir = path.resolve(cwd, config.stack.state_dir);
  return {
    stateDir,
    logsDir: path.join(stateDir, 'logs'),
    runDir: path.join(stateDir, 'run'),
    dataDir: path.join(stateDir, 'data'),
    cacheDir: path.resolve(config.stack.cache_dir ?? defaultCacheDir()),
  };
}

export function stackContext(
  config: MeterflowConfig,
  say: (line: string) => void = () => undefined,
): StackContext {
  const paths = stackPaths(config);
  for (const dir of [paths.stateDir, paths.logsDir, paths.runDir, paths.dataDir, paths.cacheDir])
    fs.mkdirSync(dir, { recursive: true });
  return { config, paths, say };
}

const pidFileOf = (ctx: StackContext, c: StackComponent) => path.join(ctx.paths.runDir, `${c.name}.pid`);

/**
 * The components `names` name; none named: the default stack, plus (`withOptional`, for `down`)
 * the optional components, so that stopping the stack stops everything it started.
 */
export function selectComponents(names: string[] | undefined, withOptional = false): StackComponent[] {
  if (!names || names.length === 0)
    return withOptional ? [...STACK_COMPONENTS, ...OPTIONAL_STACK_COMPONENTS] : STACK_COMPONENTS;
  const known = [...STACK_COMPONENTS, ...OPTIONAL_STACK_COMPONENTS];
  return names.map((n) => {
    const c = known.find((x) => x.name === n);
    if (!c)
      throw new PermanentError(
        ErrorCodes.CONFIG_INVALID,
        `unknown stack component "${n}"; known: ${known.map((x) => x.name).join(', ')}`,
      );
    return c;
  });
}

export interface ComponentStatus {
  name: string;
  endpoint: string;
  healthy: boolean;
  /** ours: started from this state folder; external: something else answers on the port; stopped. */
  owner: 'ours' | 'external' | 'stopped';
  pid?: number;
  log: string;
}

export async function stackStatus(
  ctx: StackContext,
  components = STACK_COMPONENTS,
): Promise<ComponentStatus[]> {
  return Promise.all(
    components.map(async (c) => {
      const record = readPidFile(pidFileOf(ctx, c));
      const ours = ownedProcessAlive(record);
      const healthy = await c.healthy(ctx);
      const owner: ComponentStatus['owner'] = ours ? 'ours' : healthy ? 'external' : 'stopped';
      return {
        name: c.name,
        endpoint: c.endpoint(ctx),
        healthy,
        owner,
        pid: ours ? record?.pid : undefined,
        log: logFileOf(ctx, c.name),
      };
    }),
  );
}

async function waitHealthy(ctx: StackContext, c: StackComponent, pid: number | undefined): Promise<void> {
  const deadline = Date.now() + c.startTimeoutS * 1000;
  while (Date.now() < deadline) {
    if (await c.healthy(ctx)) return;
    if (pid !== undefined && !ownedProcessAlive(readPidFile(pidFileOf(ctx, c)))) {
      throw stackFailure(ctx, c, 'exited during start-up');
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw stackFailure(ctx, c, `not healthy after ${c.startTimeoutS} s`);
}

function stackFailure(ctx: StackContext, c: StackComponent, what: string): PermanentError {
  const log = logFileOf(ctx, c.name);
  return new PermanentError(
    ErrorCodes.STACK_COMPONENT_FAILED,
    `${c.name} ${what}; log: ${log}\n--- last lines of ${log}:\n${tailFile(log, 15)}`,
    {
      details: { component: c.name, log },
    },
  );
}

async function upOne(ctx: StackContext, c: StackComponent): Promise<void> {
  if (await c.healthy(ctx)) {
    ctx.say(`${c.name}: healthy at ${c.endpoint(ctx)}`);
    return;
  }
  const record = readPidFile(pidFileOf(ctx, c));
  if (ownedProcessAlive(record)) {
    // Started earlier and still starting (or hung): wait for it rather than start a second one.
    ctx.say(`${c.name}: already starting (pid ${record!.pid}), waiting`);
    await waitHealthy(ctx, c, record!.pid);
    return;
  }
  if (await portInUse(c.port(ctx))) {
    throw new PermanentError(
      ErrorCodes.STACK_COMPONENT_FAILED,
      `${c.name}: port ${c.port(ctx)} is taken by a process that is not a healthy ${c.name}; free it or set stack.ports in meterflow.yaml`,
      { details: { component: c.name } },
    );
  }
  const spec = await c.prepare(ctx);
  const started = startDetached(spec, logFileOf(ctx, c.name), pidFileOf(ctx, c), spec.marker);
  ctx.say(`${c.name}: started (pid ${started.pid}), waiting for health`);
  await waitHealthy(ctx, c, started.pid);
  ctx.say(`${c.name}: healthy at ${c.endpoint(ctx)}`);
}

export async function stackUp(ctx: StackContext, components = STACK_COMPONENTS): Promise<ComponentStatus[]> {
  // Downloads run in parallel; the two Go builds run one after the other (2 cores).
  const goBuilt = components.filter((c) => c.name === 's3' || c.name === 'gcs');
  const others = components.filter((c) => !goBuilt.includes(c));
  const installFailures: Error[] = [];
  const guard = (c: StackComponent) => (err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err));
    installFailures.push(
      new PermanentError(
        ErrorCodes.STACK_INSTALL_FAILED,
        `${c.name}: install failed: ${e.message} (log: ${installLogOf(ctx, c.name)})`,
      ),
    );
  };
  await Promise.all([
    ...others.map((c) => c.install(ctx).catch(guard(c))),
    (async () => {
      for (const c of goBuilt) await c.install(ctx).catch(guard(c));
    })(),
  ]);
  if (installFailures.length)
    throw new PermanentError(
      ErrorCodes.STACK_INSTALL_FAILED,
      installFailures.map((e) => e.message).join('\n'),
    );

  const results = await Promise.allSettled(components.map((c) => upOne(ctx, c)));
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
  if (failures.length)
    throw new PermanentError(ErrorCodes.STACK_COMPONENT_FAILED, failures.map((e) => e.message).join('\n'));
  return stackStatus(ctx, components);
}

export async function stackDown(ctx: StackContext, components = STACK_COMPONENTS): Promise<string[]> {
  const stopped: string[] = [];
  await Promise.all(
    components.map(async (c) => {
      const file = pidFileOf(ctx, c);
      const record = readPidFile(file);
      if (record && ownedProcessAlive(record)) {
        await stopProcessGroup(record);
        stopped.push(c.name);
      }
      fs.rmSync(file, { force: true });
    }),
  );
  return stopped;
}

export function formatStatus(statuses: ComponentStatus[]): string {
  const rows = statuses.map((s) => [
    s.name,
    s.endpoint,
    s.healthy ? 'healthy' : 'UNHEALTHY',
    s.owner + (s.pid ? ` (pid ${s.pid})` : ''),
  ]);
  const header = ['component', 'endpoint', 'health', 'process'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((v, i) => v.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
