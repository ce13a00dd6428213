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

/** Decryption failures an origin may cause with `open` before it is refused (docs/page-api.md). */
export const DECRYPT_FAILURES_ALLOWED = 3;

/** A per-origin budget of failed decryptions: without it a page could alter an encrypted message
 * sent to the user and learn from success or failure whether the padding held (a padding oracle).
 * A slot is taken before the host is asked and given back on success, so requests sent at the
 * same time cannot pass the budget either. Only a new grant of the origin (or a new browser
 * session, this lives in memory) gives the budget back. */
export class FailureBudget {
  private readonly used = new Map<string, number>();

  constructor(private readonly allowed: number = DECRYPT_FAILURES_ALLOWED) {}

  /** Takes a slot for one decryption; false when the origin has none left. */
  take(origin: string): boolean {
    const used = this.used.get(origin) ?? 0;
    if (used >= this.allowed) return false;
    this.used.set(origin, used + 1);
    return true;
  }

  /** The decryption succeeded (or failed for a reason the message cannot cause): the slot returns. */
  giveBack(origin: string): void {
    const used = this.used.get(origin) ?? 0;
    if (used > 0) this.used.set(origin, used - 1);
  }

  /** The user granted the origin again. */
  reset(origin: string): void {
    this.used.delete(origin);
  }
}
