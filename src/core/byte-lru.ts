/**
 * Memory-bounded caches: an LRU map bounded by the bytes its values keep alive, and the helpers
 * that make a Buffer's cost what it looks like.
 *
 * Why "keep alive" and not `length`: Node 24 hands out every small Buffer (`Buffer.from(string)`,
 * `Buffer.concat`, `allocUnsafe` below 32 KiB) as a slice of a shared 64 KiB slab
 * (`Buffer.poolSize`), and a slice keeps its whole slab alive. A cache of 500-byte manifests
 * counted by `length` held one slab per entry: 1,520 entries, 760 KB by their lengths, pinned
 * 100 MB (a heap snapshot of the mixed-load soak, docs/performance.md). Values are therefore
 * stored as exact copies (`ownedBuffer`) and counted by what they retain (`retainedBytes`).
 */

/**
 * The bytes `buffer` keeps alive: the whole ArrayBuffer behind it (a pool slab for a slice).
 * Shapes: any Uint8Array view; result in bytes, ≥ `buffer.byteLength`.
 */
export function retainedBytes(buffer: Uint8Array): number {
  return buffer.buffer.byteLength;
}

/**
 * `buffer` itself when it owns its memory exactly, otherwise a copy that does (allocated outside
 * the pool, so it pins nothing else and frees with its last reference). Use before keeping a
 * Buffer beyond the request that made it.
 */
export function ownedBuffer(buffer: Buffer): Buffer {
  if (buffer.byteOffset === 0 && buffer.buffer.byteLength === buffer.byteLength) return buffer;
  const copy = Buffer.allocUnsafeSlow(buffer.byteLength);
  buffer.copy(copy);
  return copy;
}

/**
 * Least-recently-used map bounded by an estimate of the bytes its values retain, given by
 * `sizeOf(value)` (bytes, called once when the value is stored; a value that grows later must be
 * re-stored or `grow`n). A value larger than `largestShare` of `maxBytes` (default a quarter) is
 * not stored: one document must not flush everything else. `maxBytes` 0 stores nothing (off).
 */
export class ByteLru<K, V> {
  readonly #entries = new Map<K, { value: V; bytes: number }>();
  readonly #sizeOf: (value: V) => number;
  readonly #onEvict: ((key: K, value: V) => void) | undefined;
  readonly #largestShare: number;
  #maxBytes: number;
  #bytes = 0;

  constructor(
    maxBytes: number,
    sizeOf: (value: V) => number,
    options: {
      /** Called for every value that leaves: evicted, replaced, deleted or cleared. */
      readonly onEvict?: (key: K, value: V) => void;
      /** The largest value kept, as a share of `maxBytes` (0-1]. */
      readonly largestShare?: number;
    } = {},
  ) {
    this.#maxBytes = maxBytes;
    this.#sizeOf = sizeOf;
    this.#onEvict = options.onEvict;
    this.#largestShare = options.largestShare ?? 0.25;
  }

  /** Bytes currently accounted (sum of `sizeOf` of the stored values). */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** Changes the budget (e.g. on config reload), evicting down to it. */
  set maxBytes(maxBytes: number) {
    this.#maxBytes = maxBytes;
    this.#evict();
  }

  has(key: K): boolean {
    return this.#entries.has(key);
  }

  /** The value, now most recently used; undefined when absent. */
  get(key: K): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  /** The value without touching its recency. */
  peek(key: K): V | undefined {
    return this.#entries.get(key)?.value;
  }

  /** Stores `value` (replacing any previous one) unless it is too large; returns whether kept. */
  set(key: K, value: V): boolean {
    this.delete(key);
    const bytes = this.#sizeOf(value);
    if (bytes > this.#maxBytes * this.#largestShare) return false;
    this.#entries.set(key, { value, bytes });
    this.#bytes += bytes;
    this.#evict();
    return this.#entries.has(key);
  }

  /** Accounts `extra` more bytes to a stored value (a lazily added variant); evicts as needed. */
  grow(key: K, extra: number): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    entry.bytes += extra;
    this.#bytes += extra;
    if (entry.bytes > this.#maxBytes * this.#largestShare) this.delete(key);
    this.#evict();
  }

  delete(key: K): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
    this.#onEvict?.(key, entry.value);
    return true;
  }

  clear(): void {
    for (const key of [...this.#entries.keys()]) this.delete(key);
  }

  keys(): IterableIterator<K> {
    return this.#entries.keys();
  }

  #evict(): void {
    while (this.#bytes > this.#maxBytes) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.delete(oldest.value);
    }
  }
}
