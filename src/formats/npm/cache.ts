/**
 * Rendered packuments, ready to send: the hot path of every install. Keyed by repository, name,
 * form and base URL; invalidated per package name on any write (a generation counter, so a
 * render racing a write can never store a stale document under the new generation), and bounded
 * in bytes (least recently used first). Documents built from upstream data also expire with the
 * upstream copy's freshness.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

const gzipInPool = promisify(gzip);

export interface RenderedDoc {
  readonly body: Buffer;
  readonly etag: string;
  /** ms epoch after which the document must be rebuilt (Infinity for hosted-only data). */
  readonly validUntil: number;
  /** Response headers that describe how the data was obtained (x-nora-stale). */
  readonly headers: Readonly<Record<string, string>>;
  /** Proxy repositories whose cached upstream data this document was built from (metrics). */
  proxied?: readonly string[] | undefined;
  /** The gzip of `body`, computed on first demand and shared by every later request. */
  gzip?: Promise<Buffer> | undefined;
}

export function makeDoc(
  json: unknown,
  validUntil: number,
  headers: Readonly<Record<string, string>> = {},
): RenderedDoc {
  const body = Buffer.from(JSON.stringify(json));
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
  doc.gzip ??= gzipInPool(doc.body, { level: 6 }).catch((err: unknown) => {
    doc.gzip = undefined;
    throw err;
  });
  return doc.gzip;
}

interface Entry {
  readonly doc: RenderedDoc;
  readonly generation: number;
  readonly name: string;
}

export class PackumentCache {
  readonly #entries = new Map<string, Entry>();
  readonly #generations = new Map<string, number>();
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(maxBytes = 256 * 1024 * 1024) {
    this.#maxBytes = maxBytes;
  }

  generation(name: string): number {
    return this.#generations.get(name) ?? 0;
  }

  get(key: string, name: string): RenderedDoc | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.generation !== this.generation(name) || entry.doc.validUntil <= Date.now()) {
      this.#delete(key, entry);
      return undefined;
    }
    // Refresh recency (Map keeps insertion order).
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.doc;
  }

  /** Stores `doc` only if no write happened to `name` since `generation` was read. */
  set(key: string, name: string, generation: number, doc: RenderedDoc): void {
    if (generation !== this.generation(name)) return;
    const previous = this.#entries.get(key);
    if (previous) this.#delete(key, previous);
    this.#entries.set(key, { doc, generation, name });
    this.#bytes += doc.body.length;
    for (const [oldKey, oldEntry] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#delete(oldKey, oldEntry);
    }
  }

  invalidate(name: string): void {
    this.#generations.set(name, this.generation(name) + 1);
  }

  #delete(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#bytes -= entry.doc.body.length;
  }
}
