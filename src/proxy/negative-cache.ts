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

/**
 * Where a read collects what its 404 says about remembered upstream misses (Go and raw sources
 * take one as their last argument; a group hands its own to every member). Maven's
 * MetadataValidity.missNote is the same field.
 */
export interface MissNotes {
  /** `upstream go-proxy#0 said 404/410 at 12:00:01Z (remembered for 60 s, …)`; several: `; `. */
  missNote?: string;
}

/** Adds `note` to `notes`' miss note (when `notes` is given). */
export function noteMiss(notes: MissNotes | undefined, note: string): void {
  if (notes === undefined) return;
  notes.missNote = notes.missNote === undefined ? note : `${notes.missNote}; ${note}`;
}

/**
 * What a 404 answered from the remembered miss `key` of `repo` says (trial 23 fmts F2: a version
 * just published upstream stays missing until the TTL ends, and the user must be able to tell
 * why): which upstreams said it (host-free labels `<repo>#<index>`, as in-order.ts names them),
 * when, and for how long it is remembered, naming the setting, e.g.
 *
 *   upstream maven-proxy#0 said 404 at 12:00:01Z (remembered for 60 s, [maven] negative_cache_ttl)
 *
 * `ttlSeconds` is the setting's value (-1: `remembered until a restart`); `section` the config
 * section (`maven`, `go`, `raw`); `said` the status words (`404`, Go's `404/410`). Undefined when
 * the setting is 0 or `key` is not remembered.
 */
export function rememberedMissText(
  misses: NegativeCache,
  key: string,
  repo: { readonly name: string; readonly upstreams: UpstreamList },
  ttlSeconds: number,
  section: string,
  said = '404',
  now = Date.now(),
): string | undefined {
  if (ttlSeconds === 0) return undefined;
  const expiry = misses.expiry(key);
  if (expiry === undefined) return undefined;
  const labels = repo.upstreams.map((_u, i) => `${repo.name}#${i}`);
  const who = `upstream${labels.length > 1 ? 's' : ''} ${labels.join(', ')}`;
  if (ttlSeconds < 0 || expiry === Infinity) {
    return `${who} said ${said} (remembered until a restart, [${section}] negative_cache_ttl = ${ttlSeconds})`;
  }
  const at = expiry - ttlSeconds * 1000;
  const when = at <= now ? ` at ${new Date(at).toISOString().slice(11, 19)}Z` : '';
  return `${who} said ${said}${when} (remembered for ${ttlSeconds} s, [${section}] negative_cache_ttl)`;
}
