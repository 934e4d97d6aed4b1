/**
 * Token buckets keyed by a string (a client address), with bounded memory. A bucket holds at most
 * `burst` tokens and gains `rps` tokens per second; a request takes one token or is refused with
 * the time until one is back. This is the model NORA's limiter (tower_governor, GCRA) implements:
 * a client may send `burst` requests at once, then `rps` per second on average.
 *
 * Memory: a bucket that has refilled to `burst` is indistinguishable from no bucket, so it is
 * dropped when room is needed; past `maxKeys` the least recently used buckets are dropped (its client starts
 * again with a full bucket — the only leniency an address-spraying client can buy).
 */

export interface BucketRate {
  /** Tokens regained per second (> 0). */
  readonly rps: number;
  /** Bucket size: requests allowed at once (>= 1). */
  readonly burst: number;
}

export type TakeResult =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      /** Milliseconds until one token is back. */ readonly retryAfterMs: number;
    };

interface Bucket {
  tokens: number;
  /** Clock reading (ms) when `tokens` was computed. */
  at: number;
}

export const DEFAULT_MAX_KEYS = 100_000;

export class TokenBuckets {
  readonly #buckets = new Map<string, Bucket>();
  readonly #now: () => number;
  readonly #maxKeys: number;
  #rate: BucketRate;

  /** `now` is a millisecond clock (tests pass a fake one). */
  constructor(rate: BucketRate, options: { now?: () => number; maxKeys?: number } = {}) {
    this.#rate = rate;
    this.#now = options.now ?? Date.now;
    this.#maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
  }

  get rate(): BucketRate {
    return this.#rate;
  }

  /** Number of buckets held (for tests of the memory bound). */
  get size(): number {
    return this.#buckets.size;
  }

  /** New rate for every key; buckets start full again (a reload is not a penalty). */
  setRate(rate: BucketRate): void {
    this.#rate = rate;
    this.#buckets.clear();
  }

  /** Takes one token from `key`'s bucket, or says how long until one is available. */
  take(key: string): TakeResult {
    const now = this.#now();
    const { rps, burst } = this.#rate;
    const bucket = this.#buckets.get(key);
    let tokens = burst;
    if (bucket !== undefined) {
      tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * rps);
      // Re-inserted below: Map order is then least recently used first.
      this.#buckets.delete(key);
    }
    if (tokens < 1) {
      this.#buckets.set(key, { tokens, at: now });
      return { allowed: false, retryAfterMs: Math.ceil(((1 - tokens) / rps) * 1000) };
    }
    tokens -= 1;
    if (this.#buckets.size >= this.#maxKeys) this.#evict(now);
    this.#buckets.set(key, { tokens, at: now });
    return { allowed: true };
  }

  /**
   * Makes room for a tenth of `maxKeys` at once (so the scan is paid once per many inserts, not
   * on every request of an address-spraying client): full buckets first, then the least
   * recently used.
   */
  #evict(now: number): void {
    const { rps, burst } = this.#rate;
    const target = Math.floor(this.#maxKeys * 0.9);
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * rps >= burst) this.#buckets.delete(key);
    }
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size <= target) break;
      this.#buckets.delete(key);
    }
  }
}
