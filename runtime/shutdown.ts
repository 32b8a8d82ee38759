import type { Logger } from './logger';

/**
 * Graceful shutdown. Components register a close step when they start; on SIGTERM or SIGINT the
 * steps run in reverse order of registration (the consumer that was started last stops first,
 * then the producers it fed, then the clients), all within one deadline (10 s by default,
 * `ops.shutdown_timeout_ms`). Each step is announced as it starts, so an operator sees what the
 * process waits for. At the deadline the process stops waiting, names the steps that did not
 * finish, and exits anyway; a second signal exits at once. Both are safe: delivery guarantees
 * never rest on shutdown finishing, only on commit ordering, so an abandoned shutdown is a
 * kill -9 — what was not committed is done again by the next owner, what was committed stays.
 */
export type CloseStep = () => Promise<void> | void;

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

export interface ShutdownOptions {
  /** The whole shutdown's deadline. */
  timeoutMs?: number;
  /** Also told each progress line (the demo prints them on the terminal). */
  report?: (line: string) => void;
}

export class Shutdown {
  private readonly steps: Array<{ name: string; close: CloseStep }> = [];
  private running: Promise<string[]> | undefined;
  private readonly controller = new AbortController();
  private installed = false;
  private readonly timeoutMs: number;

  constructor(
    private readonly logger: Logger,
    private readonly options: ShutdownOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  }

  /** Aborted when shutdown begins; loops and waits take it to stop early. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  register(name: string, close: CloseStep): void {
    this.steps.push({ name, close });
  }

  installSignalHandlers(): void {
    if (this.installed) return;
    this.installed = true;
    const onSignal = (signal: NodeJS.Signals) => {
      if (this.running) {
        this.say('warn', { signal }, 'second signal: exiting now');
        process.exit(130);
      }
      this.say('info', { signal }, `${signal}: shutting down (at most ${this.timeoutMs / 1000} s)`);
      void this.run().then(() => process.exit(0));
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }

  /** Runs the steps once; resolves with the steps that had not finished at the deadline. */
  run(): Promise<string[]> {
    if (!this.running) this.running = this.runSteps();
    return this.running;
  }

  private async runSteps(): Promise<string[]> {
    this.controller.abort(new Error('shutting down'));
    const deadline = Date.now() + this.timeoutMs;
    const steps = [...this.steps].reverse();
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i];
      this.say('info', { step: step.name }, `stopping ${step.name}`);
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        Promise.resolve()
          .then(step.close)
          .then(
            () => 'closed' as const,
            (err: unknown) => {
              this.logger.error({ step: step.name, err }, 'close step failed; continuing shutdown');
              return 'failed' as const;
            },
          ),
        new Promise<'deadline'>((resolve) => {
          timer = setTimeout(() => resolve('deadline'), Math.max(0, deadline - Date.now()));
        }),
      ]);
      clearTimeout(timer);
      if (outcome === 'deadline') {
        const unfinished = steps.slice(i).map((s) => s.name);
        this.say(
          'warn',
          { unfinished },
          `shutdown deadline (${this.timeoutMs / 1000} s) reached while waiting for ${unfinished.join(', ')}; ` +
            'exiting anyway (uncommitted work is redone on restart, nothing committed is lost)',
        );
        return unfinished;
      }
    }
    this.say('info', {}, 'stopped');
    return [];
  }

  private say(level: 'info' | 'warn', fields: Record<string, unknown>, line: string): void {
    this.logger[level](fields, line);
    this.options.report?.(line);
  }
}
