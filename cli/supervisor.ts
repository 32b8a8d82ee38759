import { spawn, type ChildProcess } from 'node:child_process';
import type { MeterflowConfig } from '../runtime/config';
import { COLLECTING_PROVIDERS } from '../providers/registry';
import type { Logger } from '../runtime/logger';

/**
 * `meterflow run`: every stage of a small deployment in one supervised process group.
 *
 * Each stage runs as its own child process (the same `meterflow <command>` an operator would run
 * alone), so a crash in one stage never takes another down and each keeps its own delivery
 * guarantees: they rest on Kafka commits, not on this supervisor. A child that exits is restarted
 * with exponential backoff (1 s doubling to 60 s, reset once it has run for a minute). SIGTERM or
 * SIGINT is passed on to every child, and the supervisor exits when they have all exited.
 */
export interface StageSpec {
  name: string;
  args: string[];
}

export function stagesFor(config: MeterflowConfig): StageSpec[] {
  const stages: StageSpec[] = [];
  const opsBase = config.ops.port;
  // Every child gets its own ops port (base + n); 0 keeps "pick a free one" for all.
  const ops = (n: number) => ['--ops-port', String(opsBase === 0 ? 0 : opsBase + n)];
  let n = 0;
  for (const p of COLLECTING_PROVIDERS)
    if ((p.collector.exportCount as (section: unknown) => number)(config[p.name]) > 0)
      stages.push({ name: `collect-${p.name}`, args: ['collect', p.name, ...ops(n++)] });
  stages.push({ name: 'process', args: ['process', 'all', ...ops(n++)] });
  stages.push({ name: 'sink', args: ['sink', 'elasticsearch', ...ops(n++)] });
  stages.push({ name: 'invoices', args: ['invoice', 'schedule', ...ops(n++)] });
  stages.push({ name: 'api', args: ['api'] });
  return stages;
}

export interface SupervisorOptions {
  /** How to start `meterflow` itself: [node, cli.js, --config, file] or the tsx equivalent. */
  command: string[];
  stages: StageSpec[];
  logger: Logger;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export class Supervisor {
  private readonly children = new Map<string, ChildProcess>();
  private stopping = false;
  private readonly restarts = new Map<string, number>();

  constructor(private readonly o: SupervisorOptions) {}

  get restartCounts(): ReadonlyMap<string, number> {
    return this.restarts;
  }

  start(): void {
    for (const stage of this.o.stages) this.launch(stage, 0);
  }

  private launch(stage: StageSpec, failures: number): void {
    if (this.stopping) return;
    const [bin, ...pre] = this.o.command;
    const child = spawn(bin, [...pre, ...stage.args], { stdio: ['ignore', 'inherit', 'inherit'] });
    const started = Date.now();
    this.children.set(stage.name, child);
    this.o.logger.info({ stage: stage.name, pid: child.pid, args: stage.args }, 'stage started');
    child.once('exit', (code, signal) => {
      this.children.delete(stage.name);
      if (this.stopping) return;
      const ranLong = Date.now() - started > 60_000;
      const next = ranLong ? 0 : failures + 1;
      const delay = Math.min(
        this.o.maxBackoffMs ?? 60_000,
        (this.o.minBackoffMs ?? 1000) * 2 ** Math.max(0, next - 1),
      );
      this.restarts.set(stage.name, (this.restarts.get(stage.name) ?? 0) + 1);
      this.o.logger.warn(
        { stage: stage.name, code, signal, restart_in_ms: delay },
        'stage exited; restarting',
      );
      setTimeout(() => this.launch(stage, next), delay).unref();
    });
  }

  /** Passes the signal on and resolves when every child has exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.stopping = true;
    const waits = [...this.children.values()].map(
      (child) =>
        new Promise<void>((resolve) =>
          child.exitCode !== null ? resolve() : child.once('exit', () => resolve()),
        ),
    );
    for (const child of this.children.values()) child.kill(signal);
    await Promise.all(waits);
  }
}
