/**
 * The simple repository API's pages, rendered in one place whatever repository kind produced
 * them (pure functions, no HTTP framework):
 *
 * - PEP 503 HTML (with PEP 629 `pypi:repository-version`, PEP 592 `data-yanked`, PEP 658/714
 *   `data-core-metadata` + `data-dist-info-metadata`, `data-requires-python`), every value
 *   HTML-escaped;
 * - PEP 691 JSON (`application/vnd.pypi.simple.v1+json`, api-version 1.1 with PEP 700 `versions`,
 *   `size`, `upload-time`);
 * - content negotiation by `Accept` with q-values (PEP 691 "Version + Format Selection"), and the
 *   `?format=` URL parameter PEP 691 allows as an override.
 *
 * Links are relative to the page (`<filename>` from `<mount>/<project>/`, `<project>/` from
 * `<mount>/`): see model.ts.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { DistFile, ProjectPage } from './model.ts';
import { parse as parsePep440 } from '@renovatebot/pep440';
import { ByteLru, ownedBuffer, retainedBytes } from '../../core/byte-lru.ts';
import { parseVersion } from './versions.ts';

/** PEP 691 JSON, version 1. */
export const SIMPLE_JSON_V1 = 'application/vnd.pypi.simple.v1+json';
/** PEP 691's name for PEP 503 HTML, version 1. */
export const SIMPLE_HTML_V1 = 'application/vnd.pypi.simple.v1+html';
/** The legacy PEP 503 content type (what pip before PEP 691 and browsers get). */
export const TEXT_HTML = 'text/html';

/** The API version we speak (PEP 629 meta, PEP 691 `meta.api-version`; 1.1 = PEP 700). */
export const API_VERSION = '1.1';

export type SimpleMediaType = typeof SIMPLE_JSON_V1 | typeof SIMPLE_HTML_V1 | typeof TEXT_HTML;

/** A rendered page: the bytes, the Content-Type to send, and a strong ETag of the bytes. */
export interface RenderedPage {
  readonly body: Buffer;
  /** The Content-Type header value (with `charset=utf-8` for text/html). */
  readonly contentType: string;
  readonly etag: string;
}

/** A page's gzip content-coding: the compressed bytes and their own strong ETag. */
export interface GzippedPage {
  readonly body: Buffer;
  /** The identity ETag with `-gz` before the closing quote (RFC 9110 §8.8.3: one per coding). */
  readonly etag: string;
}

const gzipInPool = promisify(gzip);
/** Pages smaller than this are sent as they are: the gzip header and a thread hop cost more. */
export const GZIP_MIN_BYTES = 1024;
/** One compression per rendered page (cached pages are the same objects while unchanged). */
const gzipped = new WeakMap<RenderedPage, Promise<GzippedPage | undefined>>();

/**
 * The page gzip-compressed (level 6), computed once per rendered page in libuv's thread pool
 * (a 500-file page is ~200 kB: ~2 ms of CPU that must not stall the event loop) and shared by
 * every later request while the page is unchanged (PageRenderCache hands out the same object;
 * a changed page is a new object, so a stale compression is never served). Undefined when the
 * page is too small to be worth it or the compression failed (the failure is forgotten: the next
 * request tries again; meanwhile the identity bytes are served).
 */
export function gzipPage(page: RenderedPage): Promise<GzippedPage | undefined> {
  if (page.body.length < GZIP_MIN_BYTES) return Promise.resolve(undefined);
  let pending = gzipped.get(page);
  if (pending === undefined) {
    pending = gzipInPool(page.body, { level: 6 }).then(
      (compressed) => ({
        // zlib hands back a slice of its output chunk: keep an exact copy instead.
        body: ownedBuffer(compressed),
        etag: `${page.etag.slice(0, -1)}-gz"`,
      }),
      () => {
        gzipped.delete(page);
        return undefined;
      },
    );
    gzipped.set(page, pending);
  }
  return pending;
}

/**
 * True when an `Accept-Encoding` header accepts gzip (RFC 9110 §12.5.3: `gzip`, `x-gzip` or `*`
 * with q > 0; the most specific entry decides).
 */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  const text = Array.isArray(header) ? header.join(',') : header;
  let named: number | undefined;
  let star: number | undefined;
  for (const part of text.split(',').slice(0, MAX_ACCEPT_RANGES)) {
    const [codingPart = '', ...params] = part.split(';');
    const coding = codingPart.trim().toLowerCase();
    if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== '*') continue;
    let q = 1;
    for (const param of params) {
      const [key = '', value = ''] = param.split('=').map((p) => p.trim());
      if (key.toLowerCase() === 'q') q = Number(value) || 0;
    }
    if (coding === '*') star = Math.max(star ?? 0, q);
    else named = Math.max(named ?? 0, q);
  }
  return (named ?? star ?? 0) > 0;
}

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/**
 * A filename (or project name) as a relative URL path segment: percent-encoded where URL syntax
 * needs it (`+` of a local version, `!` of an epoch stay readable: pip unquotes either form).
 */
export function urlSegment(name: string): string {
  return encodeURIComponent(name).replace(/%21/g, '!');
}

/**
 * Files in the order pages list them: by PEP 440 precedence of their version (invalid versions
 * first), then by filename. Returns a new array. Each distinct version is compared once (a page
 * has many files per release), so a 500-file page costs a few hundred comparisons.
 */
export function sortFiles(files: readonly DistFile[]): DistFile[] {
  const rank = versionRanks(files.map((f) => f.version));
  return [...files].sort(
    (a, b) =>
      (rank.get(a.version) ?? 0) - (rank.get(b.version) ?? 0) ||
      (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0),
  );
}

/** Each distinct version → its position in PEP 440 order (equal versions share a rank). */
function versionRanks(versions: readonly string[]): Map<string, number> {
  // One parse per distinct version: comparing strings would parse both sides every time.
  const keyed = [...new Set(versions)].map((version) => ({ version, key: sortKey(version) }));
  keyed.sort((a, b) => compareKeys(a.key, b.key) || (a.version < b.version ? -1 : 1));
  const rank = new Map<string, number>();
  let position = 0;
  keyed.forEach((entry, index) => {
    const previous = keyed[index - 1];
    if (previous !== undefined && compareKeys(previous.key, entry.key) !== 0) position += 1;
    rank.set(entry.version, position);
  });
  return rank;
}

/** A PEP 440 sort key (packaging's `_cmpkey`); invalid versions sort first, by their string. */
type SortKey = readonly (number | string | readonly (number | string)[])[];

interface RuntimeVersion {
  readonly epoch: number;
  readonly release: readonly number[];
  readonly pre: readonly [string, number] | null;
  readonly post: readonly [string, number] | null;
  readonly dev: readonly [string, number] | null;
  readonly local: readonly (string | number)[] | null;
}

const PRE_ORDER: Readonly<Record<string, number>> = { a: 0, b: 1, rc: 2 };

/**
 * Parsing a PEP 440 version is costly (~0.1 ms) and pages repeat the same versions request after
 * request: keys and normalised forms are memoised, up to MEMO_ENTRIES versions (then started over).
 */
const MEMO_ENTRIES = 100_000;
const sortKeys = new Map<string, SortKey>();
const parsedVersions = new Map<string, ReturnType<typeof parseVersion>>();

function memo<V>(cache: Map<string, V>, version: string, compute: (v: string) => V): V {
  if (cache.has(version)) return cache.get(version) as V;
  if (cache.size >= MEMO_ENTRIES) cache.clear();
  const value = compute(version);
  cache.set(version, value);
  return value;
}

function sortKey(version: string): SortKey {
  return memo(sortKeys, version, computeSortKey);
}

function computeSortKey(version: string): SortKey {
  const parsed = parsePep440(version) as RuntimeVersion | null;
  if (parsed === null) return [0, version];
  const release = [...parsed.release];
  while (release.length > 0 && release[release.length - 1] === 0) release.pop();
  // A dev release of the final version sorts before its pre-releases; no pre = after them.
  const pre =
    parsed.pre !== null
      ? [PRE_ORDER[parsed.pre[0]] ?? 0, parsed.pre[1]]
      : parsed.post === null && parsed.dev !== null
        ? [-Infinity]
        : [Infinity];
  const post = parsed.post === null ? -Infinity : parsed.post[1];
  const dev = parsed.dev === null ? Infinity : parsed.dev[1];
  // Local segments: numbers sort after strings; no local sorts first.
  const local =
    parsed.local === null
      ? [-Infinity]
      : parsed.local.flatMap((part) => (typeof part === 'number' ? [1, part] : [0, part]));
  return [1, parsed.epoch, release, pre, post, dev, local];
}

function compareKeys(a: SortKey | SortKey[number], b: SortKey | SortKey[number]): number {
  if (Array.isArray(a) && Array.isArray(b)) {
    const length = Math.min(a.length, b.length);
    for (let i = 0; i < length; i += 1) {
      const c = compareKeys(a[i] as SortKey[number], b[i] as SortKey[number]);
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }
  if (a === b) return 0;
  return (a as number | string) < (b as number | string) ? -1 : 1;
}

/**
 * PEP 700 `versions`: every release once (files of `1.0` and `1.0.0` are one release, by the
 * versions.ts key), normalised, in PEP 440 order. A version that is not PEP 440 is kept as spelled.
 */
export function releaseVersions(files: readonly DistFile[]): string[] {
  return releasesOf(sortFiles(files));
}

/** releaseVersions of files already in page order. */
function releasesOf(sorted: readonly DistFile[]): string[] {
  const byKey = new Map<string, string>();
  for (const file of sorted) {
    const parsed = memo(parsedVersions, file.version, parseVersion);
    const key = parsed?.key ?? `\u0000${file.version}`;
    if (!byKey.has(key)) byKey.set(key, parsed?.normalized ?? file.version);
  }
  // Already in precedence order (the files were sorted by version).
  return [...byKey.values()];
}

/** The `#sha256=` fragment-carrying href of a file (relative to the project page). */
function fileHref(file: DistFile): string {
  return `${urlSegment(file.filename)}#sha256=${file.sha256}`;
}

function htmlDocument(title: string, links: readonly string[]): string {
  return (
    '<!DOCTYPE html>\n<html>\n  <head>\n' +
    `    <meta name="pypi:repository-version" content="${API_VERSION}">\n` +
    `    <title>${escapeHtml(title)}</title>\n  </head>\n  <body>\n` +
    `    <h1>${escapeHtml(title)}</h1>\n` +
    links.map((link) => `    ${link}<br/>\n`).join('') +
    '  </body>\n</html>\n'
  );
}

/**
 * PEP 503 project page: one anchor per file, `href="<file>#sha256=<hex>"`, with
 * `data-requires-python` (escaped: `>=3.8` → `&gt;=3.8`), `data-yanked="<reason>"` (PEP 592;
 * empty reason → empty attribute), `data-core-metadata` and `data-dist-info-metadata`
 * (`sha256=<hex>`, or `true` when the hash is unknown; PEP 658/714).
 */
export function renderProjectHtml(page: ProjectPage): string {
  const links = sortFiles(page.files).map((file) => {
    let attributes = ` href="${escapeHtml(fileHref(file))}"`;
    if (file.requiresPython !== undefined && file.requiresPython !== '') {
      attributes += ` data-requires-python="${escapeHtml(file.requiresPython)}"`;
    }
    if (file.yanked !== false) attributes += ` data-yanked="${escapeHtml(file.yanked)}"`;
    if (file.coreMetadata !== undefined) {
      const value =
        file.coreMetadata.sha256 === undefined ? 'true' : `sha256=${file.coreMetadata.sha256}`;
      attributes += ` data-core-metadata="${escapeHtml(value)}"`;
      attributes += ` data-dist-info-metadata="${escapeHtml(value)}"`;
    }
    return `<a${attributes}>${escapeHtml(file.filename)}</a>`;
  });
  return htmlDocument(`Links for ${page.name}`, links);
}

/** PEP 691 file entry (with PEP 592, 658/714 and 700 keys). */
export interface SimpleJsonFile {
  readonly filename: string;
  readonly url: string;
  readonly hashes: { readonly sha256: string };
  readonly 'requires-python'?: string;
  readonly yanked: boolean | string;
  readonly 'core-metadata': false | true | { readonly sha256: string };
  readonly size?: number;
  readonly 'upload-time'?: string;
}

function jsonFile(file: DistFile): SimpleJsonFile {
  const metadata =
    file.coreMetadata === undefined
      ? false
      : file.coreMetadata.sha256 === undefined
        ? true
        : { sha256: file.coreMetadata.sha256 };
  return {
    filename: file.filename,
    url: urlSegment(file.filename),
    hashes: { sha256: file.sha256 },
    ...(file.requiresPython !== undefined && file.requiresPython !== ''
      ? { 'requires-python': file.requiresPython }
      : {}),
    // PEP 691: a reason string, or true when yanked without one.
    yanked: file.yanked === false ? false : file.yanked === '' ? true : file.yanked,
    // PEP 714: only the new key in JSON. pip 22.3–23.0 (Debian's pip is 23.0.1) crash with
    // "unhashable type: 'dict'" on a dict-valued `dist-info-metadata`, which is why the key was
    // renamed; the HTML page keeps both attributes (their values are strings there).
    'core-metadata': metadata,
    ...(file.size !== undefined ? { size: file.size } : {}),
    ...(file.uploadTime !== undefined ? { 'upload-time': file.uploadTime } : {}),
  };
}

/**
 * PEP 691 project detail as JSON: `meta.api-version` "1.1", `name`, `files` (sorted like the
 * HTML page; `size`/`upload-time` present when known), `versions` (PEP 700).
 */
export function renderProjectJson(page: ProjectPage): string {
  const sorted = sortFiles(page.files);
  return JSON.stringify({
    meta: { 'api-version': API_VERSION },
    name: page.name,
    files: sorted.map(jsonFile),
    versions: releasesOf(sorted),
  });
}

/** PEP 503 root page: one `<a href="<project>/">` per (normalised) name, sorted. */
export function renderProjectListHtml(names: readonly string[]): string {
  const links = [...names]
    .sort()
    .map((name) => `<a href="${escapeHtml(urlSegment(name))}/">${escapeHtml(name)}</a>`);
  return htmlDocument('Simple index', links);
}

/** PEP 691 root page: `{"meta": {"api-version": "1.1"}, "projects": [{"name": …}]}`, sorted. */
export function renderProjectListJson(names: readonly string[]): string {
  return JSON.stringify({
    meta: { 'api-version': API_VERSION },
    projects: [...names].sort().map((name) => ({ name })),
  });
}

/** Renders either page kind in the negotiated type, with its ETag. */
export function renderPage(
  type: SimpleMediaType,
  content: { readonly project: ProjectPage } | { readonly projects: readonly string[] },
): RenderedPage {
  const json = type === SIMPLE_JSON_V1;
  const text =
    'project' in content
      ? json
        ? renderProjectJson(content.project)
        : renderProjectHtml(content.project)
      : json
        ? renderProjectListJson(content.projects)
        : renderProjectListHtml(content.projects);
  const body = Buffer.from(text, 'utf8');
  return {
    body,
    contentType: type === TEXT_HTML ? 'text/html; charset=utf-8' : type,
    etag: etagOf(body),
  };
}

/** A strong ETag of a page's bytes: `"<first 32 hex of sha256>"`. */
export function etagOf(body: Buffer): string {
  return `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;
}

/** What a media range names: every type we serve, and the `latest` aliases (PEP 691). */
const ALIASES: Readonly<Record<string, SimpleMediaType>> = {
  [SIMPLE_JSON_V1]: SIMPLE_JSON_V1,
  'application/vnd.pypi.simple.latest+json': SIMPLE_JSON_V1,
  [SIMPLE_HTML_V1]: SIMPLE_HTML_V1,
  'application/vnd.pypi.simple.latest+html': SIMPLE_HTML_V1,
  [TEXT_HTML]: TEXT_HTML,
};

/** Tie-breaks (equal q): a type the client named outright — JSON first, as PEP 691 clients want. */
const EXPLICIT_PREFERENCE: readonly SimpleMediaType[] = [SIMPLE_JSON_V1, SIMPLE_HTML_V1, TEXT_HTML];
/** …and a type reached only through a wildcard: plain HTML first, what every client reads. */
const WILDCARD_PREFERENCE: readonly SimpleMediaType[] = [TEXT_HTML, SIMPLE_HTML_V1, SIMPLE_JSON_V1];

/** Bounds the work one header can cause. */
const MAX_ACCEPT_RANGES = 64;

interface MediaRange {
  readonly type: string;
  readonly q: number;
}

function parseAccept(header: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  for (const part of header.split(',').slice(0, MAX_ACCEPT_RANGES)) {
    const [typePart = '', ...params] = part.split(';');
    const type = typePart.trim().toLowerCase();
    if (type === '') continue;
    let q = 1;
    for (const param of params) {
      const [key = '', value = ''] = param.split('=').map((s) => s.trim());
      if (key.toLowerCase() !== 'q') continue;
      const parsed = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(value) ? Number(value) : NaN;
      q = Number.isNaN(parsed) ? 0 : parsed;
    }
    ranges.push({ type, q });
  }
  return ranges;
}

/**
 * Chooses the page's media type from an `Accept` header (PEP 691 content negotiation):
 * - each served type gets the q of the most specific range matching it (exact, `application/*`
 *   or `text/*`, `*\/*`; the `…latest+json/+html` aliases count as exact); q=0 refuses it;
 * - highest q wins; ties go to a type named outright (JSON first), then to wildcard matches
 *   (`text/html` first);
 * - no header, or an empty one → `text/html` (PEP 691: the legacy default).
 * `format` is PEP 691's `?format=` URL parameter: when given it replaces the header.
 * Returns undefined when nothing acceptable is served (the caller answers 406).
 */
export function negotiateSimple(
  accept: string | undefined,
  format?: string,
): SimpleMediaType | undefined {
  const header = format !== undefined ? format : accept;
  if (header === undefined || header.trim() === '') return TEXT_HTML;
  // Clients send the same few headers request after request (pip's, a browser's): the answer is
  // a pure function of the header, kept for NEGOTIATED_KEPT of them (then started over).
  const known = negotiated.get(header);
  if (known !== undefined) return known === false ? undefined : known;
  const type = negotiateHeader(header);
  if (header.length <= 1024) {
    if (negotiated.size >= NEGOTIATED_KEPT) negotiated.clear();
    negotiated.set(header, type ?? false);
  }
  return type;
}

const NEGOTIATED_KEPT = 256;
const negotiated = new Map<string, SimpleMediaType | false>();

function negotiateHeader(header: string): SimpleMediaType | undefined {
  const ranges = parseAccept(header);
  if (ranges.length === 0) return TEXT_HTML;
  let best: { type: SimpleMediaType; q: number; explicit: boolean; rank: number } | undefined;
  for (const served of EXPLICIT_PREFERENCE) {
    const match = bestRange(ranges, served);
    if (match === undefined || match.q <= 0) continue;
    const rank = (match.explicit ? EXPLICIT_PREFERENCE : WILDCARD_PREFERENCE).indexOf(served);
    const candidate = { type: served, q: match.q, explicit: match.explicit, rank };
    if (
      best === undefined ||
      candidate.q > best.q ||
      (candidate.q === best.q &&
        (candidate.explicit !== best.explicit ? candidate.explicit : candidate.rank < best.rank))
    ) {
      best = candidate;
    }
  }
  return best?.type;
}

/** The most specific range matching `served`, with its q; undefined when none matches. */
function bestRange(
  ranges: readonly MediaRange[],
  served: SimpleMediaType,
): { q: number; explicit: boolean } | undefined {
  let found: { q: number; specificity: number } | undefined;
  const major = served.split('/')[0];
  for (const range of ranges) {
    let specificity: number;
    if (ALIASES[range.type] === served) specificity = 3;
    else if (range.type === `${major}/*`) specificity = 2;
    else if (range.type === '*/*') specificity = 1;
    else continue;
    // The most specific range decides; among equally specific ones, the highest q.
    if (
      found === undefined ||
      specificity > found.specificity ||
      (specificity === found.specificity && range.q > found.q)
    ) {
      found = { q: range.q, specificity };
    }
  }
  return found === undefined ? undefined : { q: found.q, explicit: found.specificity === 3 };
}

/** The media types a client may ask for, for a 406's message. */
export const SERVED_TYPES: readonly string[] = [SIMPLE_JSON_V1, SIMPLE_HTML_V1, TEXT_HTML];

/** What identifies a page's content: everything the renderers read, hashed. */
/**
 * The fingerprint of a page's files, kept per `files` array: sources hand out the same array for
 * as long as the page is unchanged (hosted: per store generation; proxy: per parsed page; group:
 * per set of member arrays), and treat those arrays as immutable, so a warm page is recognised
 * without hashing 500 files.
 */
const filesFingerprints = new WeakMap<readonly DistFile[], string>();

function filesFingerprint(files: readonly DistFile[]): string {
  const known = filesFingerprints.get(files);
  if (known !== undefined) return known;
  const hash = createHash('sha1');
  for (const f of files) {
    const metadata = f.coreMetadata === undefined ? '-' : (f.coreMetadata.sha256 ?? '+');
    hash.update(
      `${f.filename}\t${f.version}\t${f.sha256}\t${f.size ?? ''}\t${f.requiresPython ?? ''}\t${f.yanked === false ? '-' : `y${f.yanked}`}\t${f.uploadTime ?? ''}\t${metadata}\n`,
    );
  }
  const fingerprint = hash.digest('base64');
  filesFingerprints.set(files, fingerprint);
  return fingerprint;
}

function fingerprintOf(
  content: { readonly project: ProjectPage } | { readonly projects: readonly string[] },
): string {
  if ('projects' in content) {
    const hash = createHash('sha1');
    for (const name of content.projects) hash.update(`${name}\n`);
    return `l${hash.digest('base64')}`;
  }
  return `p${filesFingerprint(content.project.files)} ${content.project.name}`;
}

/**
 * Rendered pages kept by (repository, page, media type) and reused while the page's content is
 * the same (checked by a hash of everything the renderers read, so a changed page is never
 * served from here): a warm 500-file page costs a hash instead of a sort and a render. Bounded
 * by bytes (LRU).
 */
export class PageRenderCache {
  readonly #lru: ByteLru<string, { readonly fingerprint: string; readonly page: RenderedPage }>;

  /** `maxBytes`: the budget for the rendered bodies (0 = no caching). */
  constructor(maxBytes = 32 * 1024 * 1024) {
    this.#lru = new ByteLru(maxBytes, (entry) => retainedBytes(entry.page.body) + 256);
  }

  /** The page rendered in `type`; `key` names the page (e.g. `<repo>/<project>`). */
  render(
    key: string,
    type: SimpleMediaType,
    content: { readonly project: ProjectPage } | { readonly projects: readonly string[] },
  ): RenderedPage {
    const fingerprint = fingerprintOf(content);
    const cacheKey = `${type} ${key}`;
    const hit = this.#lru.get(cacheKey);
    if (hit?.fingerprint === fingerprint) return hit.page;
    const rendered = renderPage(type, content);
    const page = { ...rendered, body: ownedBuffer(rendered.body) };
    this.#lru.set(cacheKey, { fingerprint, page });
    this.#keys.set(page, cacheKey);
    return page;
  }

  /**
   * The gzip coding of a page `render` returned (gzipPage: once per page object, off the event
   * loop), its bytes then counted in the budget while the page is still the cached one.
   */
  async gzip(page: RenderedPage): Promise<GzippedPage | undefined> {
    const first = !gzipped.has(page);
    const compressed = await gzipPage(page);
    const key = this.#keys.get(page);
    if (first && compressed !== undefined && key !== undefined) {
      if (this.#lru.peek(key)?.page === page) this.#lru.grow(key, retainedBytes(compressed.body));
    }
    return compressed;
  }

  /** Which cache key each rendered page was stored under (for `gzip`'s accounting). */
  readonly #keys = new WeakMap<RenderedPage, string>();
}
