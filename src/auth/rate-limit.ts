/**
 * Per-key rate limits: a token bucket per API key (rate tokens a second, up
 * to `burst`), one token per request. Pure: the clock is passed in, so the
 * policy is tested directly.
 */

export interface Limit {
  /** Requests a second, sustained. */
  ratePerS: number;
  /** Requests allowed at once after a quiet spell. */
  burst: number;
}

export interface RateDecision {
  allowed: boolean;
  /** The bucket's size (x-ratelimit-limit). */
  limit: number;
  /** Whole requests left now (x-ratelimit-remaining). */
  remaining: number;
  /** Seconds until the bucket is full again (x-ratelimit-reset). */
  resetS: number;
  /** When refused: ms until one request is allowed. */
  retryAfterMs: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  /** Takes one request from `key`'s bucket at time `nowMs`, if it has one. */
  take(key: string, limit: Limit, nowMs: number): RateDecision {
    const b = this.buckets.get(key) ?? { tokens: limit.burst, at: nowMs };
    b.tokens = Math.min(limit.burst, b.tokens + ((nowMs - b.at) / 1000) * limit.ratePerS);
    b.at = nowMs;
    this.buckets.set(key, b);
    const allowed = b.tokens >= 1;
    if (allowed) b.tokens -= 1;
    return {
      allowed,
      limit: limit.burst,
      remaining: Math.floor(b.tokens),
      resetS: Math.ceil((limit.burst - b.tokens) / limit.ratePerS),
      retryAfterMs: allowed ? 0 : Math.ceil(((1 - b.tokens) / limit.ratePerS) * 1000),
    };
  }
}
