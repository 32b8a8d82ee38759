import { classifyError, MeterflowError } from './errors';

/**
 * Retry with "full jitter" exponential backoff:
 *
 *   delay(attempt) = random_uniform(0, min(max_delay_ms, base_delay_ms * 2^attempt))   attempt = 0, 1, 2, ...
 *
 * Full jitter spreads retries of many clients that failed together (a broker restart, an
 * Elasticsearch 429 storm) across the whole window instead of letting them return in lockstep.
 * Only errors that `classifyError` marks retryable are retried; everything else is rethrown at once.
 */
export interface RetryOptions {
  /** Attempts in total, the first one included. */
  max_attempts: number;
  base_delay_ms: number;
  max_delay_ms: number;
  /** Called before each wait; for logging and metrics. */
  onRetry?: (error: MeterflowError, attempt: number, delayMs: number) => void;
  /** Stops waiting early, e.g. on shutdown. */
  signal?: AbortSignal;
  /** Injected for tests. */
  random?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export const DEFAULT_RETRY: RetryOptions = { max_attempts: 8, base_delay_ms: 100, max_delay_ms: 30_000 };

export function backoffDelayMs(
  attempt: number,
  opts: Pick<RetryOptions, 'base_delay_ms' | 'max_delay_ms'>,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(opts.max_delay_ms, opts.base_delay_ms * 2 ** attempt);
  return Math.floor(random() * ceiling);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error('aborted'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  options: Partial<RetryOptions> = {},
): Promise<T> {
  const opts = { ...DEFAULT_RETRY, ...options };
  const wait = opts.sleep ?? sleep;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (raw) {
      const error = classifyError(raw);
      if (!error.retryable || attempt + 1 >= opts.max_attempts) throw error;
      const delay = backoffDelayMs(attempt, opts, opts.random);
      opts.onRetry?.(error, attempt + 1, delay);
      await wait(delay, opts.signal);
    }
  }
}
