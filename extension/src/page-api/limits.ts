// SPDX-License-Identifier: MIT
// Per-origin rate limits for the page API: token buckets, one for requests of any kind and one
// for recipient addresses looked up, so a page cannot probe the key store for who has a
// certificate faster than a person composes mail.

export interface BucketSpec {
  /** Tokens the bucket holds when full. */
  burst: number;
  /** Tokens added per minute. */
  perMinute: number;
}

export const DEFAULT_LIMITS: Record<"requests" | "addresses", BucketSpec> = {
  requests: {burst: 60, perMinute: 120},
  addresses: {burst: 200, perMinute: 300},
};

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly specs: Record<string, BucketSpec> = DEFAULT_LIMITS) {}

  /** Takes `cost` tokens of `kind` for `origin`; returns 0 when allowed, otherwise the
   * milliseconds until the cost would fit (nothing is taken then). */
  take(origin: string, kind: string, cost: number, now: number = Date.now()): number {
    const spec = this.specs[kind];
    if (!spec) throw new Error("unknown limit " + kind);
    const key = kind + " " + origin;
    const bucket = this.buckets.get(key) ?? {tokens: spec.burst, at: now};
    const perMs = spec.perMinute / 60_000;
    bucket.tokens = Math.min(spec.burst, bucket.tokens + (now - bucket.at) * perMs);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (cost > spec.burst) return Infinity;
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return 0;
    }
    return Math.ceil((cost - bucket.tokens) / perMs);
  }
}
