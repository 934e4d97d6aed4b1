/**
 * The proxies' negative cache (Maven, Go, raw): upstream misses remembered per repository and
 * path until their TTL ends, so a build asking again for what no upstream has does not ask again.
 *
 * A miss is a fact about the upstream list that answered it: each is remembered with the
 * repository's `upstreams` array it was asked of, and counts only while the repository still has
 * that array. A reload that changes a repository's upstreams replaces the array
 * (RepositoryRegistry.reload), so the next request asks the new upstreams instead of answering
 * the old ones' 404 until the TTL ends; a reload that leaves them as they were keeps the misses.
 */

/** Remembered misses (per repository and path), at most. */
const NEGATIVE_CACHE_ENTRIES = 100_000;

/** The upstream list a miss was learned from (a Repository's `upstreams`, compared by identity). */
export type UpstreamList = readonly unknown[];

interface Miss {
  readonly expiry: number;
  readonly upstreams: UpstreamList;
}

/** Misses remembered until an expiry (ms), bounded (the oldest entries go first). */
export class NegativeCache {
  readonly #misses = new Map<string, Miss>();
  readonly #max: number;

  constructor(max = NEGATIVE_CACHE_ENTRIES) {
    this.#max = max;
  }

  /** True while `key` is a remembered miss of the upstream list `upstreams` (the current one). */
  has(key: string, upstreams: UpstreamList, now = Date.now()): boolean {
    const miss = this.#misses.get(key);
    if (miss === undefined) return false;
    if (miss.expiry > now && miss.upstreams === upstreams) return true;
    this.#misses.delete(key);
    return false;
  }

  /**
   * Remembers a miss of the upstream list `upstreams` (the repository's array as it was when the
   * upstreams were asked) for `ttlSeconds` (-1 forever, 0 not at all).
   */
  add(key: string, ttlSeconds: number, upstreams: UpstreamList, now = Date.now()): void {
    if (ttlSeconds === 0) return;
    this.#misses.delete(key);
    if (this.#misses.size >= this.#max) {
      const oldest = this.#misses.keys().next();
      if (oldest.done !== true) this.#misses.delete(oldest.value);
    }
    this.#misses.set(key, {
      expiry: ttlSeconds < 0 ? Infinity : now + ttlSeconds * 1000,
      upstreams,
    });
  }

  /** When the remembered miss of `key` expires (ms epoch), or undefined when none is. */
  expiry(key: string): number | undefined {
    return this.#misses.get(key)?.expiry;
  }

  delete(key: string): void {
    this.#misses.delete(key);
  }

  get size(): number {
    return this.#misses.size;
  }
}
