import type { Logger } from './logger';

/**
 * Graceful shutdown. Components register a close step when they start; on SIGTERM or SIGINT the
 * steps run in reverse order of registration (the consumer that was started last stops first,
 * then the producers it fed, then the clients), each bounded by a timeout. A second signal exits at
 * once: delivery guarantees never rest on shutdown finishing, only on commit ordering, so an
 * abandoned shutdown loses nothing that was not committed.
 */
export type CloseStep = () => Promise<void> | void;

export class Shutdown {
  private readonly steps: Array<{ name: string; close: CloseStep }> = [];
  private running: Promise<void> | undefined;
  private readonly controller = new AbortController();
  private installed = false;

  constructor(
    private readonly logger: Logger,
    private readonly stepTimeoutMs = 30_000,
  ) {}

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
        this.logger.warn({ signal }, 'second signal: exiting now');
        process.exit(130);
      }
      this.logger.info({ signal }, 'shutting down');
      void this.run().then(() => process.exit(0));
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }

  run(): Promise<void> {
    if (!this.running) this.running = this.runSteps();
    return this.running;
  }

  private async runSteps(): Promise<void> {
    this.controller.abort(new Error('shutting down'));
    for (const step of [...this.steps].reverse()) {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.resolve().then(step.close),
          new Promise<void>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`timed out after ${this.stepTimeoutMs} ms`)),
              this.stepTimeoutMs,
            );
          }),
        ]);
        this.logger.debug({ step: step.name }, 'closed');
      } catch (err) {
        this.logger.error({ step: step.name, err }, 'close step failed; continuing shutdown');
      } finally {
        if (timer) clearTimeout(timer);
      }
    }
  }
}
