/**
 * A small in-memory map bounded in count and in time: at most `max` entries (setting one more
 * forgets the oldest first: the one set longest ago), each forgotten `ttlMs` after it was set.
 * An expired entry is dropped when looked up (or evicted by a newer one): no timer runs.
 *
 * Why one type: hosted Maven keeps several such short memories of one deploy's requests
 * (checksums uploaded before their file, refused main archives, who stored which file a moment
 * ago), each one client's sequence of requests seconds apart; bounded so that a flood of
 * requests costs a fixed amount of memory, never more.
 */

export interface ExpiringMapOptions {
  /** Entries kept at most (≥ 1); the oldest is forgotten first. */
  readonly max: number;
  /** How long an entry lives after it was set, ms. */
  readonly ttlMs: number;
  /** The clock (tests drive it); Date.now by default. */
  readonly now?: (() => number) | undefined;
}

/** An entry as stored: its value and when it was set (epoch ms of `now`). */
export interface ExpiringEntry<V> {
  readonly value: V;
  readonly at: number;
}

export class ExpiringMap<K, V> {
  // A Map iterates in insertion order: its first key is the oldest (`set` re-inserts).
  readonly #entries = new Map<K, ExpiringEntry<V>>();
  readonly #max: number;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(options: ExpiringMapOptions) {
    this.#max = Math.max(1, options.max);
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
  }

  /** Entries held (expired ones included until looked up or evicted). */
  get size(): number {
    return this.#entries.size;
  }

  /** The lifetime of an entry, ms. */
  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** The clock's time now, epoch ms. */
  now(): number {
    return this.#now();
  }

  /** Sets `key` (as the newest entry, at now), forgetting the oldest entries past `max`. */
  set(key: K, value: V): void {
    this.#entries.delete(key);
    while (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, at: this.#now() });
  }

  /** The entry of `key` with when it was set, while fresh (an expired one is dropped). */
  entry(key: K): ExpiringEntry<V> | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (this.#now() - entry.at > this.#ttlMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** The value of `key` while fresh. */
  get(key: K): V | undefined {
    return this.entry(key)?.value;
  }

  /** Forgets `key`; true when it was held. */
  delete(key: K): boolean {
    return this.#entries.delete(key);
  }

  /** Forgets every entry whose key satisfies `test` (expired or not). */
  deleteWhere(test: (key: K) => boolean): void {
    for (const key of this.#entries.keys()) if (test(key)) this.#entries.delete(key);
  }
}
