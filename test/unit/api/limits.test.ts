import { KeyRateLimiter } from '../../../api/limits';

describe('KeyRateLimiter', () => {
  it('allows the burst at once, then one request per 1/rate seconds, per key', () => {
    let now = 0;
    const limiter = new KeyRateLimiter(2, 3, () => now);
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([0, 0, 0]);
    expect(limiter.take('a')).toBeCloseTo(0.5);
    expect(limiter.take('b')).toBe(0);
    now = 250;
    expect(limiter.take('a')).toBeCloseTo(0.25);
    now = 500;
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBeCloseTo(0.5);
    // Idle time refills up to the burst, never beyond it.
    now = 60_000;
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([0, 0, 0]);
    expect(limiter.take('a')).toBeGreaterThan(0);
  });

  it('does not limit at rate 0', () => {
    const limiter = new KeyRateLimiter(0, 1, () => 0);
    for (let i = 0; i < 100; i++) expect(limiter.take('a')).toBe(0);
  });
});
