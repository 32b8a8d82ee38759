import { KafkaJSBrokerNotFound, KafkaJSGroupCoordinatorNotFound, KafkaJSNonRetriableError } from 'kafkajs';
import { backoffDelayMs, retry } from '../../../runtime/retry';
import { classifyError, ErrorCodes, PermanentError, TransientError } from '../../../runtime/errors';

describe('backoffDelayMs (full jitter)', () => {
  const opts = { base_delay_ms: 100, max_delay_ms: 5000 };
  it('is random(0, min(cap, base * 2^attempt))', () => {
    expect(backoffDelayMs(0, opts, () => 0.5)).toBe(50);
    expect(backoffDelayMs(3, opts, () => 0.5)).toBe(400);
    expect(backoffDelayMs(10, opts, () => 0.5)).toBe(2500); // capped at 5000
    expect(backoffDelayMs(4, opts, () => 0)).toBe(0);
    expect(backoffDelayMs(4, opts, () => 0.999999)).toBe(1599);
  });
});

describe('retry', () => {
  it('retries retryable errors with the backoff delays, then succeeds', async () => {
    const delays: number[] = [];
    let calls = 0;
    const result = await retry(
      async () => {
        calls++;
        if (calls < 3) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        return 'ok';
      },
      {
        max_attempts: 5,
        base_delay_ms: 100,
        max_delay_ms: 1000,
        random: () => 1,
        sleep: async (ms) => void delays.push(ms),
      },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    expect(delays).toEqual([100, 200]);
  });

  it('never retries a non-retryable error', async () => {
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw new TypeError('x is undefined');
        },
        { sleep: async () => undefined },
      ),
    ).rejects.toMatchObject({ code: ErrorCodes.PROGRAMMING, retryable: false });
    expect(calls).toBe(1);
  });

  it('gives up after max_attempts with the last error', async () => {
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw new TransientError(ErrorCodes.THROTTLED, `throttled ${calls}`);
        },
        { max_attempts: 4, sleep: async () => undefined },
      ),
    ).rejects.toThrow('throttled 4');
    expect(calls).toBe(4);
  });
});

describe('classifyError', () => {
  it.each([
    [{ name: 'KafkaJSConnectionError', retriable: true, message: 'x' }, true, ErrorCodes.NETWORK],
    [{ name: 'KafkaJSProtocolError', retriable: false, message: 'x' }, false, ErrorCodes.UNKNOWN],
    [{ name: 'ResponseError', meta: { statusCode: 429 }, message: 'x' }, true, ErrorCodes.THROTTLED],
    [{ name: 'ResponseError', meta: { statusCode: 503 }, message: 'x' }, true, ErrorCodes.SERVER_UNAVAILABLE],
    [{ name: 'ResponseError', meta: { statusCode: 400 }, message: 'x' }, false, ErrorCodes.UNKNOWN],
    [
      { name: 'AccessDenied', $metadata: { httpStatusCode: 403 }, message: 'x' },
      false,
      ErrorCodes.ACCESS_DENIED,
    ],
    [{ name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 }, message: 'x' }, false, ErrorCodes.NOT_FOUND],
    [{ name: 'ConnectionError', message: 'x' }, true, ErrorCodes.NETWORK],
    [{ code: 'ECONNRESET', message: 'x' }, true, ErrorCodes.NETWORK],
    // A full local disk is no fault of the export: retried, never a failed revision.
    [{ code: 'ENOSPC', message: 'x' }, true, ErrorCodes.LOCAL_DISK_FULL],
    [{ code: 'EDQUOT', message: 'x' }, true, ErrorCodes.LOCAL_DISK_FULL],
    [{ code: 'EACCES', message: 'x' }, false, ErrorCodes.UNKNOWN],
  ])('%j → retryable %s', (err, retryable, code) => {
    const e = classifyError(Object.assign(new Error((err as { message: string }).message), err));
    expect(e.retryable).toBe(retryable);
    expect(e.code).toBe(code);
  });

  it('treats kafkajs giving up on a retriable error as transient, and a truly fatal one as permanent', () => {
    const refused = Object.assign(new Error('Connection error: connect ECONNREFUSED'), {
      name: 'KafkaJSConnectionError',
      retriable: true,
      code: 'ECONNREFUSED',
    });
    const gaveUp = (name: string, cause: unknown) =>
      Object.assign(new Error('wrapped'), { name, retriable: false, cause });
    expect(classifyError(gaveUp('KafkaJSNonRetriableError', refused)).retryable).toBe(true);
    expect(classifyError(gaveUp('KafkaJSNumberOfRetriesExceeded', refused)).retryable).toBe(true);
    // A socket error two causes down counts too.
    const socket = Object.assign(new Error('reset'), { code: 'ECONNRESET' });
    expect(
      classifyError(gaveUp('KafkaJSNonRetriableError', gaveUp('KafkaJSNonRetriableError', socket))).retryable,
    ).toBe(true);
    // A transaction state error wraps itself: nothing retriable below it.
    const state = gaveUp('KafkaJSNonRetriableError', undefined);
    (state as { cause?: unknown }).cause = state;
    expect(classifyError(state).retryable).toBe(false);
    expect(classifyError(gaveUp('KafkaJSNonRetriableError', new Error('fatal'))).retryable).toBe(false);
  });

  it('treats "no coordinator or broker found" as the broker being away, not as fatal', () => {
    // What kafkajs throws when every broker of its pool is down (the broker-kill fault scenario
    // failed a revision on it), built with kafkajs's own classes.
    // Their typings declare no constructor argument; kafkajs passes the message (cluster/index.js).
    const withMessage = (c: unknown, m: string) =>
      new (c as new (message: string) => Error & { retriable: boolean })(m);
    const notFound = withMessage(KafkaJSGroupCoordinatorNotFound, 'Failed to find group coordinator');
    expect(notFound.retriable).toBe(false);
    expect(classifyError(notFound).retryable).toBe(true);
    const wrapped = Object.assign(new KafkaJSNonRetriableError(notFound), { cause: notFound });
    expect(classifyError(wrapped).retryable).toBe(true);
    expect(classifyError(withMessage(KafkaJSBrokerNotFound, 'Broker 1 not found')).retryable).toBe(true);
  });

  it('keeps meterflow errors as they are', () => {
    const e = new PermanentError(ErrorCodes.MALFORMED_INPUT, 'bad');
    expect(classifyError(e)).toBe(e);
  });
});
