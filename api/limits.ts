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

  /** 0 when the request may go now (it takes `cost` tokens), else the seconds until they are there. */
  take(keyId: string, cost = 1): number {
    if (this.perSecond <= 0) return 0;
    const t = this.now();
    const bucket = this.buckets.get(keyId) ?? { tokens: this.burst, at: t };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((t - bucket.at) / 1000) * this.perSecond);
    bucket.at = t;
    this.buckets.set(keyId, bucket);
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return 0;
    }
    // A cost above the burst can never be paid at once: the caller must split it.
    if (cost > this.burst) return Number.POSITIVE_INFINITY;
    return (cost - bucket.tokens) / this.perSecond;
  }
}
