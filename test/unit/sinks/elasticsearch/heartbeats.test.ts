import { withHeartbeats } from '../../../../sinks/elasticsearch/heartbeats';

describe('withHeartbeats', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('heartbeats the group while a slow bulk request is in flight, and stops when it ends', async () => {
    let beats = 0;
    let finish!: (v: string) => void;
    const slowBulk = new Promise<string>((resolve) => (finish = resolve));
    const running = withHeartbeats(
      async () => void beats++,
      3_000,
      () => slowBulk,
    );

    // A 60 s request against a 30 s session: 20 heartbeats keep the consumer in its group.
    await jest.advanceTimersByTimeAsync(60_000);
    expect(beats).toBe(20);
    finish('acknowledged');
    await expect(running).resolves.toBe('acknowledged');
    await jest.advanceTimersByTimeAsync(60_000);
    expect(beats).toBe(20);
  });

  it('stops heartbeating when the request fails, and passes the failure on', async () => {
    let beats = 0;
    const failing = withHeartbeats(
      async () => void beats++,
      1_000,
      () => new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 2_500)),
    );
    const outcome = expect(failing).rejects.toThrow('timeout');
    await jest.advanceTimersByTimeAsync(10_000);
    await outcome;
    expect(beats).toBe(2);
  });

  it('survives a heartbeat that fails (a rebalance under way): the batch loop sees the stale batch', async () => {
    const result = withHeartbeats(
      async () => {
        throw new Error('rebalancing');
      },
      1_000,
      () => new Promise<string>((resolve) => setTimeout(() => resolve('done'), 5_000)),
    );
    await jest.advanceTimersByTimeAsync(5_000);
    await expect(result).resolves.toBe('done');
  });
});
