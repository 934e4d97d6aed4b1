/**
 * The proxies' negative cache (Maven, Go, raw): upstream misses remembered per repository and
 * path until their TTL ends, so a build asking again for what no upstream has does not ask again.
 */

/** Remembered misses (per repository and path), at most. */
const NEGATIVE_CACHE_ENTRIES = 100_000;

/** Misses remembered until an expiry (ms), bounded (the oldest entries go first). */
export class NegativeCache {
  readonly #expiries = new Map<string, number>();
  readonly #max: number;

  constructor(max = NEGATIVE_CACHE_ENTRIES) {
    this.#max = max;
  }

  /** True while `key` is a remembered miss. */
  has(key: string, now = Date.now()): boolean {
    const expiry = this.#expiries.get(key);
    if (expiry === undefined) return false;
    if (expiry > now) return true;
    this.#expiries.delete(key);
    return false;
  }

  /** Remembers a miss for `ttlSeconds` (-1 forever, 0 not at all). */
  add(key: string, ttlSeconds: number, now = Date.now()): void {
    if (ttlSeconds === 0) return;
    this.#expiries.delete(key);
    if (this.#expiries.size >= this.#max) {
      const oldest = this.#expiries.keys().next();
      if (oldest.done !== true) this.#expiries.delete(oldest.value);
    }
    this.#expiries.set(key, ttlSeconds < 0 ? Infinity : now + ttlSeconds * 1000);
  }

  /** When the remembered miss of `key` expires (ms epoch), or undefined when none is. */
  expiry(key: string): number | undefined {
    return this.#expiries.get(key);
  }

  delete(key: string): void {
    this.#expiries.delete(key);
  }

  get size(): number {
    return this.#expiries.size;
  }
}
