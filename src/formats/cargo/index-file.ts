/**
 * Index files of the sparse protocol (RFC 2789; Cargo book, "Registry index"): where a crate's
 * file lives (the 1/2/3/xx/yy prefix path, lower-cased), and its bytes: one JSON object per
 * published version, one per line, in publish order, each line ending in `\n`. The ETag is the
 * SHA-256 of those bytes, so any change (a publish, a yank) changes it and Cargo's
 * `If-None-Match` revalidation gets a 304 exactly when nothing changed.
 */
import { createHash } from 'node:crypto';
import type { IndexDependency, IndexEntry, IndexFile } from './model.ts';

/**
 * The prefix path of `name` (lower-cased): `1/a`, `2/ab`, `3/a/abc`, `se/rd/serde`
 * (Cargo book, "Index files").
 */
export function indexPath(name: string): string {
  const lower = name.toLowerCase();
  switch (lower.length) {
    case 1:
      return `1/${lower}`;
    case 2:
      return `2/${lower}`;
    case 3:
      return `3/${lower.slice(0, 1)}/${lower}`;
    default:
      return `${lower.slice(0, 2)}/${lower.slice(2, 4)}/${lower}`;
  }
}

/**
 * The crate name (lower-cased) an index path under `/index/` asks for, or undefined when the
 * path is not a crate's index file (a wrong prefix, an invalid name, traversal): such a path
 * is a 404, never a lookup.
 */
export function nameFromIndexPath(path: string): string | undefined {
  const parts = path.split('/');
  const name = parts[parts.length - 1]?.toLowerCase() ?? '';
  // Syntax only: reserved names are refused at publish, but an upstream may hold one
  // (crates.io has `compiler_builtins`), and reading it must work.
  if (!/^[a-z][a-z0-9_-]{0,63}$/.test(name)) return undefined;
  return indexPath(name) === path.toLowerCase() ? name : undefined;
}

/** One dependency in the wire field order crates.io writes. */
function dependencyLine(dep: IndexDependency): Record<string, unknown> {
  return {
    name: dep.name,
    req: dep.req,
    features: dep.features,
    optional: dep.optional,
    default_features: dep.default_features,
    target: dep.target,
    kind: dep.kind,
    ...(dep.registry !== undefined && dep.registry !== null ? { registry: dep.registry } : {}),
    ...(dep.package !== undefined && dep.package !== null ? { package: dep.package } : {}),
  };
}

/** One index line (without the `\n`), fields in crates.io's order; absent optionals left out. */
export function entryLine(entry: IndexEntry): string {
  return JSON.stringify({
    name: entry.name,
    vers: entry.vers,
    deps: entry.deps.map(dependencyLine),
    cksum: entry.cksum,
    features: entry.features,
    yanked: entry.yanked,
    ...(entry.links !== undefined && entry.links !== null ? { links: entry.links } : {}),
    ...(entry.v !== undefined ? { v: entry.v } : {}),
    ...(entry.features2 !== undefined ? { features2: entry.features2 } : {}),
    ...(entry.rust_version !== undefined && entry.rust_version !== null
      ? { rust_version: entry.rust_version }
      : {}),
  });
}

/** A rendered index file: its bytes and strong ETag. */
export interface RenderedIndexFile {
  readonly body: Buffer;
  /** `"<sha256 hex of body>"`. */
  readonly etag: string;
}

const rendered = new WeakMap<IndexFile, RenderedIndexFile>();

/**
 * The bytes and ETag of `file`. Remembered per IndexFile object: a source that hands out the
 * same object while nothing changed (hosted.ts does) gets its rendering reused for free.
 */
export function renderIndexFile(file: IndexFile): RenderedIndexFile {
  const known = rendered.get(file);
  if (known !== undefined) return known;
  const body = Buffer.from(file.entries.map((e) => `${entryLine(e)}\n`).join(''), 'utf8');
  const result = { body, etag: `"${createHash('sha256').update(body).digest('hex')}"` };
  rendered.set(file, result);
  return result;
}

/** Index files whose Last-Modified is remembered (see ModifiedClock). */
const KEPT_MODIFIED = 65_536;

/** The Last-Modified of one answer: its `etag` and since when it has been answered. */
export interface Modified {
  readonly etag: string;
  /** Seconds since the epoch (HTTP dates have one-second resolution). */
  readonly seconds: number;
  /** The `Last-Modified` header value (IMF-fixdate), made once. */
  readonly header: string;
}

/**
 * Last-Modified of index files, per `<repository>\n<crate>`: the time NORA first answered the
 * current bytes (ETag) there. A new ETag moves it to now, and always strictly past the previous
 * value (two changes within one second still give two dates), so a client's If-Modified-Since
 * of an older answer never matches a newer one. After a restart or an eviction the date starts
 * again at "now": later than the real change, which costs a 200 where a 304 would do, never a
 * wrong 304. Bytes that come back (A, B, A) get a new date too: dates only move forward.
 */
export class ModifiedClock {
  readonly #kept = new Map<string, Modified>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** The Last-Modified of the answer `etag` at `key` (remembered; one Map read when unchanged). */
  of(key: string, etag: string): Modified {
    const kept = this.#kept.get(key);
    if (kept?.etag === etag) return kept;
    const now = Math.floor(this.#now() / 1000);
    const seconds = kept === undefined ? now : Math.max(now, kept.seconds + 1);
    const modified = { etag, seconds, header: new Date(seconds * 1000).toUTCString() };
    this.#kept.delete(key);
    if (this.#kept.size >= KEPT_MODIFIED) {
      const oldest = this.#kept.keys().next();
      if (oldest.done !== true) this.#kept.delete(oldest.value);
    }
    this.#kept.set(key, modified);
    return modified;
  }
}

/** `config.json` of a registry whose root URL (mount) is `base` (Cargo book, "index format"). */
export function registryConfig(base: string, authRequired: boolean): Record<string, unknown> {
  return {
    dl: `${base}/api/v1/crates`,
    api: base,
    ...(authRequired ? { 'auth-required': true } : {}),
  };
}
