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
import type { DistFile, ProjectPage } from './model.ts';
import { compareVersions, parseVersion } from './versions.ts';

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
 * first), then by filename. Returns a new array.
 */
export function sortFiles(files: readonly DistFile[]): DistFile[] {
  return [...files].sort(
    (a, b) =>
      compareVersions(a.version, b.version) ||
      (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0),
  );
}

/**
 * PEP 700 `versions`: every release once (files of `1.0` and `1.0.0` are one release, by the
 * versions.ts key), normalised, in PEP 440 order. A version that is not PEP 440 is kept as spelled.
 */
export function releaseVersions(files: readonly DistFile[]): string[] {
  const byKey = new Map<string, string>();
  for (const file of sortFiles(files)) {
    const parsed = parseVersion(file.version);
    const key = parsed?.key ?? `\u0000${file.version}`;
    if (!byKey.has(key)) byKey.set(key, parsed?.normalized ?? file.version);
  }
  return [...byKey.values()].sort(compareVersions);
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
  readonly 'dist-info-metadata': false | true | { readonly sha256: string };
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
    'core-metadata': metadata,
    'dist-info-metadata': metadata,
    ...(file.size !== undefined ? { size: file.size } : {}),
    ...(file.uploadTime !== undefined ? { 'upload-time': file.uploadTime } : {}),
  };
}

/**
 * PEP 691 project detail as JSON: `meta.api-version` "1.1", `name`, `files` (sorted like the
 * HTML page; `size`/`upload-time` present when known), `versions` (PEP 700).
 */
export function renderProjectJson(page: ProjectPage): string {
  return JSON.stringify({
    meta: { 'api-version': API_VERSION },
    name: page.name,
    files: sortFiles(page.files).map(jsonFile),
    versions: releaseVersions(page.files),
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

/**
 * True when an `If-None-Match` header matches `etag` (`*`, a list, weak forms compared weakly as
 * RFC 9110 §13.1.2 asks for GET).
 */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const bare = (tag: string) => tag.trim().replace(/^W\//, '');
  return ifNoneMatch
    .split(',')
    .some((candidate) => candidate.trim() === '*' || bare(candidate) === bare(etag));
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
