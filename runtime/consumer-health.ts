import type { Consumer } from 'kafkajs';
import { classifyError } from './errors';
import { NotReady } from './http-server';

/**
 * A consumer's state as /readyz reports it, from kafkajs's own events: ready while it is a member
 * of its group (joined, not rebalancing, not stopped). A crash that kafkajs will not restart from
 * (a non-retriable error) leaves a consumer that never reads again while the process looks alive;
 * `onFatal` is told, and the commands exit on it so that the supervisor (or Kubernetes) restarts
 * the process instead of it idling silently.
 */
export class ConsumerHealth {
  private joined = false;
  private stopped = false;
  private fatal: Error | undefined;

  constructor(
    consumer: Pick<Consumer, 'on' | 'events'>,
    private readonly what: string,
    onFatal?: (err: Error) => void,
  ) {
    consumer.on(consumer.events.GROUP_JOIN, () => {
      this.joined = true;
      this.stopped = false;
    });
    consumer.on(consumer.events.REBALANCING, () => void (this.joined = false));
    consumer.on(consumer.events.STOP, () => {
      this.joined = false;
      this.stopped = true;
    });
    consumer.on(consumer.events.CRASH, (e) => {
      this.joined = false;
      if (e.payload.restart) return;
      this.fatal = e.payload.error;
      onFatal?.(e.payload.error);
    });
  }

  /** Throws NotReady saying why, unless the consumer is a member of its group. */
  check(): void {
    if (this.fatal) {
      throw new NotReady(
        `${this.what}: stopped on a non-retriable error (${classifyError(this.fatal).code})`,
      );
    }
    if (this.stopped) throw new NotReady(`${this.what}: stopped`);
    if (!this.joined) throw new NotReady(`${this.what}: not a member of its consumer group yet`);
  }
}
