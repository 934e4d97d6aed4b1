/**
 * Rendered documents, ready to send: npm's packuments (the hot path of every install) and
 * Maven's generated `maven-metadata.xml`. Keyed by repository, name, form and base URL;
 * invalidated per name on any write (a generation counter, so a render racing a write can never
 * store a stale document under the new generation; the write also drops the name's documents at
 * once, so superseded documents never wait for eviction), and bounded in bytes (least recently
 * used first): each document's body and, once computed, its gzip, counted by what they keep alive
 * (core/byte-lru.ts). Documents built from upstream data also expire with the upstream copy's
 * freshness.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { ByteLru, ownedBuffer, retainedBytes } from './byte-lru.ts';

const gzipInPool = promisify(gzip);

/** Default budget of the rendered-packument cache (`[npm] packument_cache_mb`), bytes. */
export const DEFAULT_PACKUMENT_CACHE_BYTES = 64 * 1024 * 1024;

/** Names whose write generation is remembered; see `RenderedDocCache.generation`. */
const REMEMBERED_GENERATIONS = 10_000;

/** A cache key (name + mount URL), the entry objects and the doc's headers, rounded up. */
const ENTRY_OVERHEAD_BYTES = 1024;

export interface RenderedDoc {
  readonly body: Buffer;
  readonly etag: string;
  /** ms epoch after which the document must be rebuilt (Infinity for hosted-only data). */
  readonly validUntil: number;
  /** Response headers that describe how the data was obtained (x-nora-stale). */
  readonly headers: Readonly<Record<string, string>>;
  /** Bytes the document keeps alive besides `body` (data kept with it), counted in the budget. */
  readonly extraBytes?: number | undefined;
  /** Proxy repositories whose cached upstream data this document was built from (metrics). */
  proxied?: readonly string[] | undefined;
  /** The gzip of `body`, computed on first demand and shared by every later request. */
  gzip?: Promise<Buffer> | undefined;
  /** Told the gzip's size in bytes once it exists (the cache that holds the doc counts it). */
  onCompressed?: ((bytes: number) => void) | undefined;
}

export function makeDoc(
  json: unknown,
  validUntil: number,
  headers: Readonly<Record<string, string>> = {},
): RenderedDoc {
  const text = JSON.stringify(json);
  // Written into a buffer of its own: `Buffer.from` would slice a small document out of a shared
  // 64 KiB pool slab, which a cached document would then keep alive whole.
  const body = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
  body.write(text);
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return { body, etag, validUntil, headers };
}

/**
 * gzip once per cached document, in libuv's thread pool: a popular package's packument is
 * megabytes (one measured here: 10 MB, ~40 ms to compress), and compressing it on the main thread
 * stalled every other request for that long. Small documents are not worth it (undefined); a
 * failed compression is forgotten, so the next request tries again or goes uncompressed.
 */
export function gzipOf(doc: RenderedDoc): Promise<Buffer> | undefined {
  if (doc.body.length < 1024) return undefined;
  doc.gzip ??= gzipInPool(doc.body, { level: 6 }).then(
    (compressed) => {
      // zlib hands back a slice of its output chunk: keep an exact copy instead.
      const owned = ownedBuffer(compressed);
      doc.onCompressed?.(retainedBytes(owned));
      return owned;
    },
    (err: unknown) => {
      doc.gzip = undefined;
      throw err;
    },
  );
  return doc.gzip;
}

interface Entry {
  readonly doc: RenderedDoc;
  readonly generation: number;
  readonly name: string;
}

/**
 * Shapes: keys are opaque strings chosen by the caller (repository, name, form, mount URL);
 * `name` is the package name whose writes invalidate the entry. Bounded by `maxBytes` (bytes of
 * bodies and gzips plus a fixed per-entry overhead); a document larger than a quarter of the
 * budget is not kept.
 */
export class RenderedDocCache {
  readonly #entries: ByteLru<string, Entry>;
  /** Keys cached per package name, so a write drops that name's documents at once. */
  readonly #keysByName = new Map<string, Set<string>>();
  /**
   * Write generations of the names written most recently (least recently written out first). A
   * name not in here has generation `#floor`, which is raised past every generation forgotten:
   * generations come from one increasing counter, so a write always moves the name's generation
   * above any value read before it, remembered or not.
   */
  readonly #generations = new Map<string, number>();
  #counter = 0;
  #floor = 0;
  readonly #budget: () => number;

  /**
   * `maxBytes`: the budget in bytes, or a function read before each store (so a reloaded config
   * applies); 0 turns the cache off.
   */
  constructor(maxBytes: number | (() => number) = DEFAULT_PACKUMENT_CACHE_BYTES) {
    this.#budget = typeof maxBytes === 'number' ? () => maxBytes : maxBytes;
    this.#entries = new ByteLru<string, Entry>(
      this.#budget(),
      (entry) => retainedBytes(entry.doc.body) + (entry.doc.extraBytes ?? 0) + ENTRY_OVERHEAD_BYTES,
      {
        onEvict: (key, entry) => {
          entry.doc.onCompressed = undefined;
          const keys = this.#keysByName.get(entry.name);
          keys?.delete(key);
          if (keys?.size === 0) this.#keysByName.delete(entry.name);
        },
      },
    );
  }

  /** Bytes accounted to the cached documents (what the budget bounds). */
  get bytes(): number {
    return this.#entries.bytes;
  }

  /** Number of cached documents. */
  get size(): number {
    return this.#entries.size;
  }

  generation(name: string): number {
    return this.#generations.get(name) ?? this.#floor;
  }

  get(key: string, name: string): RenderedDoc | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.generation !== this.generation(name) || entry.doc.validUntil <= Date.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.doc;
  }

  /** Stores `doc` only if no write happened to `name` since `generation` was read. */
  set(key: string, name: string, generation: number, doc: RenderedDoc): void {
    if (generation !== this.generation(name)) return;
    const budget = this.#budget();
    if (budget !== this.#entries.maxBytes) this.#entries.maxBytes = budget;
    if (!this.#entries.set(key, { doc, generation, name })) return;
    let keys = this.#keysByName.get(name);
    if (!keys) this.#keysByName.set(name, (keys = new Set()));
    keys.add(key);
    doc.onCompressed = (bytes) => {
      if (this.#entries.peek(key)?.doc === doc) this.#entries.grow(key, bytes);
    };
  }

  /**
   * Forgets every document (`POST /api/v1/admin/reindex`): every name's generation moves past
   * any read before, so a render racing this stores nothing.
   */
  invalidateAll(): void {
    this.#generations.clear();
    this.#floor = ++this.#counter;
    this.#entries.clear();
    this.#keysByName.clear();
  }

  invalidate(name: string): void {
    this.#generations.delete(name);
    this.#generations.set(name, ++this.#counter);
    if (this.#generations.size > REMEMBERED_GENERATIONS) {
      const [oldest, value] = this.#generations.entries().next().value ?? [];
      if (oldest !== undefined && value !== undefined) {
        this.#generations.delete(oldest);
        this.#floor = Math.max(this.#floor, value);
      }
    }
    for (const key of [...(this.#keysByName.get(name) ?? [])]) this.#entries.delete(key);
  }
}
