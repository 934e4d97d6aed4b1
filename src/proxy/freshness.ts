/**
 * The one freshness rule for mutable metadata (tags, packuments, index pages…):
 * TTL -1 = fresh forever, 0 = revalidate on every use, >0 = fresh for that many seconds.
 */
export function isFresh(fetchedAt: number, ttlSeconds: number, now: number = Date.now()): boolean {
  if (ttlSeconds < 0) return true;
  if (ttlSeconds === 0) return false;
  return now - fetchedAt < ttlSeconds * 1000;
}

/**
 * The last copies of mutable metadata a proxy resolved fresh, by key (`<repo>\n<name>`), each
 * with its entry's fetch time (`fetchedAt`, epoch ms): while a copy is fresh under the TTL it is
 * served from here without asking the engine (which reads the state row and stats the blob per
 * read). Only this process writes the state, so nothing else can make a kept copy stale. At most
 * `max` keys: the oldest kept goes first.
 */
export class FreshCopies<V extends { readonly fetchedAt: number }> {
  readonly #max: number;
  readonly #copies = new Map<string, V>();

  constructor(max: number) {
    this.#max = max;
  }

  /** The copy of `key` while it is fresh under `ttlSeconds`, else undefined. */
  fresh(key: string, ttlSeconds: number): V | undefined {
    const copy = this.#copies.get(key);
    return copy !== undefined && isFresh(copy.fetchedAt, ttlSeconds) ? copy : undefined;
  }

  /** The copy of `key`, fresh or not (for what it lists that is immutable). */
  last(key: string): V | undefined {
    return this.#copies.get(key);
  }

  delete(key: string): void {
    this.#copies.delete(key);
  }

  /** Keeps `copy` as the newest of `key`. */
  set(key: string, copy: V): void {
    this.#copies.delete(key);
    if (this.#copies.size >= this.#max) {
      const oldest = this.#copies.keys().next();
      if (oldest.done !== true) this.#copies.delete(oldest.value);
    }
    this.#copies.set(key, copy);
  }
}
