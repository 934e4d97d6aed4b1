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

interface Node<K, V> {
  readonly key: K;
  value: V;
  bytes: number;
  /** Toward the oldest entry. */
  older: Node<K, V> | undefined;
  /** Toward the newest entry. */
  newer: Node<K, V> | undefined;
}

/**
 * Least-recently-used map bounded by an estimate of the bytes its values retain, given by
 * `sizeOf(value)` (bytes, called once when the value is stored; a value that grows later must be
 * re-stored or `grow`n). A value larger than `largestShare` of `maxBytes` (default a quarter) is
 * not stored: one document must not flush everything else. `maxBytes` 0 stores nothing (off).
 *
 * Recency is a doubly linked list beside the Map: a hit moves two pointers. It used to delete
 * and re-insert the Map entry, which leaves a hole V8 compacts by rehashing the whole table: a
 * hit then cost 3-5 µs (measured, 100 entries), for the hottest lookup of every cached GET.
 */
export class ByteLru<K, V> {
  readonly #entries = new Map<K, Node<K, V>>();
  readonly #sizeOf: (value: V) => number;
  readonly #onEvict: ((key: K, value: V) => void) | undefined;
  readonly #largestShare: number;
  #maxBytes: number;
  #bytes = 0;
  #oldest: Node<K, V> | undefined;
  #newest: Node<K, V> | undefined;

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
    const node = this.#entries.get(key);
    if (node === undefined) return undefined;
    if (node !== this.#newest) {
      this.#unlink(node);
      this.#append(node);
    }
    return node.value;
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
    const node: Node<K, V> = { key, value, bytes, older: undefined, newer: undefined };
    this.#entries.set(key, node);
    this.#append(node);
    this.#bytes += bytes;
    this.#evict();
    return this.#entries.has(key);
  }

  /** Accounts `extra` more bytes to a stored value (a lazily added variant); evicts as needed. */
  grow(key: K, extra: number): void {
    const node = this.#entries.get(key);
    if (node === undefined) return;
    node.bytes += extra;
    this.#bytes += extra;
    if (node.bytes > this.#maxBytes * this.#largestShare) this.delete(key);
    this.#evict();
  }

  delete(key: K): boolean {
    const node = this.#entries.get(key);
    if (node === undefined) return false;
    this.#entries.delete(key);
    this.#unlink(node);
    this.#bytes -= node.bytes;
    this.#onEvict?.(key, node.value);
    return true;
  }

  clear(): void {
    for (const key of [...this.keys()]) this.delete(key);
  }

  /** Keys from the least to the most recently used. */
  *keys(): IterableIterator<K> {
    for (let node = this.#oldest; node !== undefined; node = node.newer) yield node.key;
  }

  #append(node: Node<K, V>): void {
    node.older = this.#newest;
    node.newer = undefined;
    if (this.#newest === undefined) this.#oldest = node;
    else this.#newest.newer = node;
    this.#newest = node;
  }

  #unlink(node: Node<K, V>): void {
    if (node.older === undefined) this.#oldest = node.newer;
    else node.older.newer = node.newer;
    if (node.newer === undefined) this.#newest = node.older;
    else node.newer.older = node.older;
    node.older = undefined;
    node.newer = undefined;
  }

  #evict(): void {
    while (this.#bytes > this.#maxBytes) {
      const oldest = this.#oldest;
      if (oldest === undefined) break;
      this.delete(oldest.key);
    }
  }
}
