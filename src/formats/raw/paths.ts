/**
 * Raw repository paths: what follows the mount (`/raw`, `/repository/<name>`), undecoded. Each
 * segment is percent-decoded once and checked, so a stored path is a plain `a/b/c.tar.gz`:
 * no empty, `.` or `..` segment (raw or encoded), no encoded separator (`%2F`, `%5C`), no control
 * or bidirectional-override character, bounded lengths, and in Unicode normalization form C
 * (NFC): macOS tools send `cafe\u0301.txt` (NFD) where others send `caf\u00e9.txt`, and both name
 * the same file, stored and listed as NFC. Paths name rows in the metadata store and bytes live in the
 * content-addressed blob store, so a path never reaches the file system at all.
 */
import { RegistryError } from '../../core/errors.ts';

/** Longest segment, bytes of UTF-8 (what most file systems allow in one name). */
export const MAX_SEGMENT_BYTES = 255;
/** Longest repository-relative path, characters. */
export const MAX_PATH_LENGTH = 1024;
/** Deepest folder nesting. */
export const MAX_DEPTH = 64;

export type RawPath =
  /**
   * The repository root: `/raw/`, or `/raw` (`bare`), which browsers are sent on to `/raw/` as
   * any folder asked without its slash (relative links in its listing resolve against it).
   */
  | { readonly kind: 'root'; readonly bare?: true }
  /** A path ending in `/`: a folder (`a/b`). */
  | { readonly kind: 'dir'; readonly path: string }
  /** A path without a trailing slash: a file, or a folder asked without its slash. */
  | { readonly kind: 'file'; readonly path: string }
  /** `/-/…`: NORA's own endpoints (`/-/reindex`). */
  | { readonly kind: 'api'; readonly name: string };

// C0 controls, DEL and C1 controls.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Bidirectional embeddings, overrides, isolates and marks, and invisible zero-width characters:
 * `\u202Etxt.exe` shows as `exe.txt` in a listing or a terminal (the "Trojan Source" trick) and
 * `a\u200Bb` as `ab`, so a path with them could pass for another. Not the zero-width joiners
 * (U+200C/U+200D): Persian and Indic names and emoji sequences need them.
 */
const BIDI = /[\u061c\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/;

/**
 * Parses the part of the URL after the mount. Throws BAD_REQUEST naming the problem.
 * `''` → root (bare), `'/'` → root; `'/a/b/'` → dir `a/b`; `'/a/b.txt'` → file `a/b.txt`; `'/-/x'` → api `x`.
 */
export function parseRawPath(rest: string): RawPath {
  if (rest === '') return { kind: 'root', bare: true };
  if (rest === '/') return { kind: 'root' };
  if (!rest.startsWith('/')) throw bad('a raw path starts with "/"');
  const trailing = rest.endsWith('/');
  const body = rest.slice(1, trailing ? -1 : undefined);
  const raw = body.split('/');
  if (raw[0] === '-') return { kind: 'api', name: raw.slice(1).join('/') };
  if (raw.length > MAX_DEPTH) throw bad(`a raw path has at most ${MAX_DEPTH} segments`);
  const segments = raw.map(decodeSegment);
  const path = segments.join('/');
  if (path.length > MAX_PATH_LENGTH)
    throw bad(`a raw path has at most ${MAX_PATH_LENGTH} characters`);
  return trailing ? { kind: 'dir', path } : { kind: 'file', path };
}

/**
 * One segment, percent-decoded, normalized to NFC and checked (see the module comment): the one
 * place a raw path is decoded, so every spelling of a name reaches the store as the same string.
 * Throws BAD_REQUEST naming the problem.
 */
export function decodeSegment(segment: string): string {
  if (segment === '') throw bad('empty path segment ("//") in a raw path');
  let decoded: string;
  try {
    // NFC before the checks: the length bound applies to the name as stored.
    decoded = decodeURIComponent(segment).normalize('NFC');
  } catch {
    throw bad('malformed percent-encoding in a raw path');
  }
  if (decoded === '.' || decoded === '..') throw bad('"." and ".." segments are not allowed');
  if (decoded.includes('/') || decoded.includes('\\')) {
    throw bad('encoded path separators (%2F, %5C, "\\") are not allowed in a raw path');
  }
  if (CONTROL.test(decoded)) throw bad('control characters are not allowed in a raw path');
  if (BIDI.test(decoded)) {
    throw bad(
      'bidirectional and zero-width characters (U+061C, U+200B, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069, U+FEFF) are not allowed',
    );
  }
  if (decoded.trim() === '') throw bad('a blank path segment is not allowed');
  if (Buffer.byteLength(decoded) > MAX_SEGMENT_BYTES) {
    throw bad(`a raw path segment has at most ${MAX_SEGMENT_BYTES} bytes`);
  }
  return decoded;
}

/** The folder of a path (`a/b/c.txt` → `a/b`; `c.txt` → ``) and its last segment. */
export function splitPath(path: string): { parent: string; name: string } {
  const slash = path.lastIndexOf('/');
  return slash < 0
    ? { parent: '', name: path }
    : { parent: path.slice(0, slash), name: path.slice(slash + 1) };
}

/** Every ancestor folder of a path, nearest last: `a/b/c.txt` → [`a`, `a/b`]. */
export function ancestors(path: string): string[] {
  const segments = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) out.push(segments.slice(0, i).join('/'));
  return out;
}

/** A path as a URL path: each segment percent-encoded (`a b/c` → `a%20b/c`). */
export function encodePath(path: string): string {
  return path === '' ? '' : path.split('/').map(encodeURIComponent).join('/');
}

function bad(message: string): RegistryError {
  return new RegistryError('BAD_REQUEST', message);
}

const TYPES: Readonly<Record<string, string>> = {
  txt: 'text/plain; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  log: 'text/plain; charset=utf-8',
  asc: 'text/plain; charset=utf-8',
  sig: 'application/pgp-signature',
  sha1: 'text/plain; charset=utf-8',
  sha256: 'text/plain; charset=utf-8',
  sha512: 'text/plain; charset=utf-8',
  md5: 'text/plain; charset=utf-8',
  html: 'text/html; charset=utf-8',
  htm: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  json: 'application/json',
  xml: 'application/xml',
  yaml: 'application/yaml',
  yml: 'application/yaml',
  toml: 'application/toml',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  ico: 'image/vnd.microsoft.icon',
  pdf: 'application/pdf',
  zip: 'application/zip',
  jar: 'application/java-archive',
  gz: 'application/gzip',
  tgz: 'application/gzip',
  bz2: 'application/x-bzip2',
  xz: 'application/x-xz',
  zst: 'application/zstd',
  tar: 'application/x-tar',
  '7z': 'application/x-7z-compressed',
  deb: 'application/vnd.debian.binary-package',
  rpm: 'application/x-rpm',
  iso: 'application/x-iso9660-image',
  wasm: 'application/wasm',
  sh: 'text/x-shellscript; charset=utf-8',
};

/**
 * Content-Type by the file name's extension (NORA: "Content-Type by extension"), else
 * `application/octet-stream`. HTML and SVG are served with `Content-Security-Policy` from the
 * app's security headers, so a stored page cannot script the registry's origin.
 */
export function contentTypeOf(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1).toLowerCase();
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return 'application/octet-stream';
  const extension = name.slice(dot + 1);
  // Own keys only: `x.constructor` or `x.__proto__` would find Object.prototype's members.
  return (
    (Object.hasOwn(TYPES, extension) ? TYPES[extension] : undefined) ?? 'application/octet-stream'
  );
}
