/**
 * Per-key request rate limit: a token bucket per API key id (the config's keys, so the map is
 * bounded), refilled at `perSecond` up to `burst`. A refused request learns how long to wait,
 * which the API sends as Retry-After with its 429.
 */
export class KeyRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** 0 when the request may go now (it takes a token), else the seconds until a token is there. */
  take(keyId: string): number {
    if (this.perSecond <= 0) return 0;
    const t = this.now();
    const bucket = this.buckets.get(keyId) ?? { tokens: this.burst, at: t };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((t - bucket.at) / 1000) * this.perSecond);
    bucket.at = t;
    this.buckets.set(keyId, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / this.perSecond;
  }
}
