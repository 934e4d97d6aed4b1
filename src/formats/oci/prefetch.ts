/**
 * Layer prefetch for the pull-through cache: once a client starts downloading the layers of an
 * image whose manifest it just fetched, the image's other blobs are fetched from the upstream in
 * the background, a few at a time. Why: many clients fetch layers one after another (skopeo into
 * `dir:` or `oci:`, umoci, tools built on go-containerregistry with low parallelism) or a few at
 * a time (docker: 3), so a cold pull pays each layer's round trip and transfer in turn; with
 * prefetch the upstream transfers overlap and the later layers are read from the cache.
 *
 * Only a layer download sets it off, never a manifest or config fetch: bots that read manifests
 * and configs to watch for updates (Renovate, Dependabot, `skopeo inspect`) must not make the
 * cache download every image they look at.
 */

/** The blobs of one image manifest, as a client pulling it will ask for them. */
interface ImageBlobs {
  readonly key: string;
  readonly config: string;
  readonly layers: readonly string[];
  /** Set once a prefetch has been started for this image: once is enough. */
  claimed: boolean;
}

/** Remembered images; the oldest are forgotten first. */
const MAX_IMAGES = 4096;
/** Remembered layers across all images (~250 bytes each): bounds the index at a few MB. */
const MAX_LAYERS = 16_384;

export class PrefetchIndex {
  /** `${name}@${manifestDigest}` → image, in insertion order (oldest first). */
  readonly #images = new Map<string, ImageBlobs>();
  /** `${name}@${layerDigest}` → the image that most recently listed that layer. */
  readonly #byLayer = new Map<string, ImageBlobs>();
  /** Layers listed by the remembered images (what MAX_LAYERS bounds). */
  #layers = 0;

  /** Whether the image manifest `digest` of `name` is already remembered. */
  knows(name: string, digest: string): boolean {
    return this.#images.has(`${name}@${digest}`);
  }

  /** Remembers the blobs of the image manifest `digest` of `name` (config first, then layers). */
  remember(name: string, digest: string, config: string, layers: readonly string[]): void {
    const key = `${name}@${digest}`;
    // Remembered even without layers (an artifact): knows() then spares the caller a re-parse.
    if (this.#images.has(key)) return;
    const image: ImageBlobs = { key, config, layers, claimed: false };
    this.#images.set(key, image);
    this.#layers += layers.length;
    // A layer shared by several images (a base layer) points at the newest: the image the client
    // pulling now most likely fetched the manifest of last.
    for (const layer of layers) this.#byLayer.set(`${name}@${layer}`, image);
    while (this.#images.size > MAX_IMAGES || (this.#layers > MAX_LAYERS && this.#images.size > 1)) {
      const oldest = this.#images.values().next().value;
      if (oldest === undefined) break;
      this.#forget(oldest);
    }
  }

  /**
   * Called when a download of blob `digest` of `name` starts: when it is a layer of a remembered
   * image not prefetched yet, returns that image's other blobs (layers in manifest order, then
   * the config) and marks the image so it is prefetched only once.
   */
  claim(name: string, digest: string): readonly string[] | undefined {
    const image = this.#byLayer.get(`${name}@${digest}`);
    if (image === undefined || image.claimed) return undefined;
    image.claimed = true;
    return [...image.layers.filter((layer) => layer !== digest), image.config];
  }

  #forget(image: ImageBlobs): void {
    this.#images.delete(image.key);
    this.#layers -= image.layers.length;
    const name = image.key.slice(0, image.key.lastIndexOf('@'));
    for (const layer of image.layers) {
      const key = `${name}@${layer}`;
      if (this.#byLayer.get(key) === image) this.#byLayer.delete(key);
    }
  }
}

/**
 * An upstream connection at least this fast (bytes/s) is as fast as a client takes its bytes
 * (skopeo reads ~200 MB/s here): prefetching would only add a write and a read-back per byte.
 */
const FAST_UPSTREAM_BYTES_PER_SECOND = 100 * 1024 * 1024;

/** Whether one upstream connection delivered `bytes` in `seconds` as fast as a client reads. */
export function upstreamKeepsUp(bytes: number, seconds: number): boolean {
  return bytes / Math.max(seconds, 0.001) >= FAST_UPSTREAM_BYTES_PER_SECOND;
}

/** Runs `task` over `items` with at most `limit` at once; settles when all have settled. */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item).catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
