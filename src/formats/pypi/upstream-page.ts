/**
 * An upstream simple index's project page, parsed where it enters (the proxy never passes upstream
 * bytes on as they are): PEP 691 JSON when the upstream answers in it (we ask for it first, see
 * `UPSTREAM_PAGE_ACCEPT`), else PEP 503 HTML (htmlparser2), chosen by the response Content-Type
 * (sniffed when it names neither). Per file: the filename (the last path segment of the URL, as
 * pip takes it; unsafe or unparseable filenames, and files of another project, are dropped), the
 * absolute upstream URL (resolved against the page URL; internal, never shown to clients), the
 * sha256 (`#sha256=` fragment or JSON `hashes`), requires-python (HTML-unescaped by the parser),
 * PEP 592 yanked (+ reason), PEP 658/714 core metadata (`sha256=…` or `true`), PEP 700 size and
 * upload-time.
 *
 * Files without a sha256 are kept, with `sha256: undefined`: the proxy hashes them itself when
 * it first fetches the page (proxy.ts), since every page we serve carries a sha256 per file.
 *
 * Bounded: at most `MAX_UPSTREAM_PAGE_BYTES` of page (checked while reading, proxy.ts),
 * `MAX_UPSTREAM_PAGE_FILES` files, `MAX_UPSTREAM_PAGE_TAGS` HTML tags and
 * `MAX_UPSTREAM_PAGE_ATTRIBUTE_CHARS` per kept attribute or JSON string. The work is linear in the
 * page whatever its shape (nesting depth, unmatched tags, attributes, character references): the
 * HTML is tokenized without a tree (see parseHtmlPage), and the event loop is served between slices
 * of it. A page that is not what it claims to be, or exceeds a bound, is an upstream failure
 * (UPSTREAM_FAILED, 502), never a 500: the proxy serves its cached copy stale instead.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Tokenizer } from 'htmlparser2';
import { RegistryError } from '../../core/errors.ts';
import { parseDistFilename } from './filenames.ts';

/** What we ask an upstream for: PEP 691 JSON first, HTML as the fallback (PEP 691 §"Clients"). */
export const UPSTREAM_PAGE_ACCEPT =
  'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1';

/** The largest project page read from an upstream (PyPI's biggest are tens of MB of JSON). */
export const MAX_UPSTREAM_PAGE_BYTES = 64 * 1024 * 1024;
/** The most files one upstream project page may list (PyPI's largest have tens of thousands). */
export const MAX_UPSTREAM_PAGE_FILES = 100_000;
/**
 * The most tags (start and end) an HTML project page may have: a real page has two or three per
 * file (`<a>`, `</a>`, `<br />`), so ten per file of the file bound.
 */
export const MAX_UPSTREAM_PAGE_TAGS = 10 * MAX_UPSTREAM_PAGE_FILES;
/**
 * The longest value of an attribute the parser keeps (`href`, `data-*`), and of a PEP 691 file's
 * `url`, `filename`, `requires-python` and yanked reason. Real file URLs are a few hundred
 * characters (a CDN's signed query adds a few hundred more).
 */
export const MAX_UPSTREAM_PAGE_ATTRIBUTE_CHARS = 64 * 1024;

const SHA256_HEX = /^[a-f0-9]{64}$/;

/** HTML read between two turns of the event loop (~10 ms of tokenizing on an idle core). */
const CHARS_PER_TURN = 1024 * 1024;
/** Files checked (URL parsing, filename rules) between two turns of the event loop. */
const FILES_PER_TURN = 2000;

/** One file of an upstream project page. */
export interface UpstreamFile {
  /** Safe (filenames.ts isSafeFilename) and a parseable wheel/sdist name of the page's project. */
  readonly filename: string;
  /** The version as the filename spells it. */
  readonly version: string;
  /** Absolute http(s) URL of the file upstream, without its fragment. Never shown to clients. */
  readonly url: string;
  /** Lowercase hex SHA-256 as the upstream states it; undefined when it states none. */
  readonly sha256: string | undefined;
  readonly size: number | undefined;
  readonly requiresPython: string | undefined;
  /** false, or the reason ('' when none). */
  readonly yanked: false | string;
  readonly uploadTime: string | undefined;
  /** The upstream serves `<url>.metadata` (PEP 658/714), with its sha256 when stated. */
  readonly coreMetadata: { readonly sha256: string | undefined } | undefined;
}

export interface UpstreamPage {
  readonly files: readonly UpstreamFile[];
}

function garbage(what: string): RegistryError {
  return new RegistryError('UPSTREAM_FAILED', `upstream ${what}`);
}

/**
 * Parses the body of an upstream project page.
 * @param body the whole page (already bounded by the caller to MAX_UPSTREAM_PAGE_BYTES)
 * @param contentType the response's Content-Type, if any
 * @param pageUrl the absolute URL the page was fetched from (relative links resolve against it)
 * @param project the PEP 503-normalised project: files of other projects are dropped
 * @throws RegistryError UPSTREAM_FAILED when the page is malformed or exceeds the file bound
 */
export async function parseUpstreamPage(
  body: Buffer,
  contentType: string | undefined,
  pageUrl: string,
  project: string,
): Promise<UpstreamPage> {
  if (body.length > MAX_UPSTREAM_PAGE_BYTES) {
    throw garbage(`page of ${project} exceeds ${MAX_UPSTREAM_PAGE_BYTES} bytes`);
  }
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const json =
    type.endsWith('+json') || type === 'application/json'
      ? true
      : type.includes('html')
        ? false
        : /^\s*\{/.test(body.subarray(0, 64).toString('latin1'));
  const raw = json ? parseJsonPage(body, project) : await parseHtmlPage(body, project);
  const files: UpstreamFile[] = [];
  const seen = new Set<string>();
  let checked = 0;
  for (const file of raw) {
    checked += 1;
    if (checked % FILES_PER_TURN === 0) await yieldToLoop();
    const accepted = acceptFile(file, pageUrl, project);
    // A filename listed twice: the first one wins (pip would see both and pick either).
    if (accepted === undefined || seen.has(accepted.filename)) continue;
    seen.add(accepted.filename);
    files.push(accepted);
  }
  return { files };
}

/** A file as it came out of either syntax, before validation. */
interface RawFile {
  href: string;
  sha256: string | undefined;
  requiresPython: string | undefined;
  yanked: false | string;
  coreMetadata: { sha256: string | undefined } | undefined;
  size: number | undefined;
  uploadTime: string | undefined;
  /** JSON `filename` (checked against the URL's last segment). */
  filename: string | undefined;
}

function acceptFile(file: RawFile, pageUrl: string, project: string): UpstreamFile | undefined {
  let url: URL;
  try {
    url = new URL(file.href, pageUrl);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  const fragment = url.hash;
  url.hash = '';
  const segment = url.pathname.slice(url.pathname.lastIndexOf('/') + 1);
  let filename: string;
  try {
    filename = decodeURIComponent(segment);
  } catch {
    return undefined;
  }
  if (file.filename !== undefined && file.filename !== filename) {
    // PEP 691: `filename` is the file's name; the URL may be any URL (a CDN path, a query).
    filename = file.filename;
  }
  const parsed = parseDistFilename(filename, project);
  if (parsed?.project !== project) return undefined;
  let sha256 = file.sha256;
  if (sha256 === undefined) {
    const match = /(?:^#|&)sha256=([A-Fa-f0-9]{64})(?:&|$)/.exec(fragment);
    sha256 = match?.[1]?.toLowerCase();
  }
  return {
    filename,
    version: parsed.version,
    url: url.href,
    sha256,
    size: file.size,
    requiresPython: file.requiresPython,
    yanked: file.yanked,
    uploadTime: file.uploadTime,
    coreMetadata: file.coreMetadata,
  };
}

function countFile(count: number, project: string): void {
  if (count > MAX_UPSTREAM_PAGE_FILES) {
    throw garbage(`page of ${project} lists more than ${MAX_UPSTREAM_PAGE_FILES} files`);
  }
}

/** `sha256=<hex>` or `true` (PEP 658/714 attribute values). */
function metadataAttribute(value: string | undefined): { sha256: string | undefined } | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed.toLowerCase() === 'true') return { sha256: undefined };
  const match = /^sha256=([A-Fa-f0-9]{64})$/.exec(trimmed);
  if (match?.[1] !== undefined) return { sha256: match[1].toLowerCase() };
  // Another hash only (`md5=…`): the file is offered, we cannot verify it by sha256.
  return /^[a-z0-9]+=[A-Fa-f0-9]+$/.test(trimmed) ? { sha256: undefined } : undefined;
}

/** The attributes of an `<a>` the page parser reads; every other attribute is skipped unread. */
const ANCHOR_ATTRIBUTES = new Set([
  'href',
  'data-yanked',
  'data-requires-python',
  'data-core-metadata',
  'data-dist-info-metadata',
]);
const LONGEST_ANCHOR_ATTRIBUTE = 23; // 'data-dist-info-metadata'
const CHAR_A = 0x61;
const CHAR_UPPER_A = 0x41;

/**
 * PEP 503 HTML: the `<a>` start tags and their attributes, read with htmlparser2's Tokenizer alone.
 * No tree and no stack of open elements is built (htmlparser2's Parser keeps one with `unshift`,
 * `indexOf` and `includes` per tag: quadratic on a page of nested or unmatched tags), so the work is
 * one pass over the page whatever its shape. Only the five attributes above are kept, each up to
 * MAX_UPSTREAM_PAGE_ATTRIBUTE_CHARS; the page has at most MAX_UPSTREAM_PAGE_TAGS tags.
 * The tokenizer decodes character references in attribute values (`&gt;=3.8` → `>=3.8`), as
 * PEP 503 requires; HTML has no user-defined entities, so a reference expands to one code point.
 */
async function parseHtmlPage(body: Buffer, project: string): Promise<RawFile[]> {
  const text = body.toString('utf8');
  const files: RawFile[] = [];
  let tags = 0;
  let inAnchor = false;
  let attributes = new Map<string, string>();
  let attribute: string | undefined; // the name of the kept attribute being read
  let value = '';
  const countTag = (): void => {
    tags += 1;
    if (tags > MAX_UPSTREAM_PAGE_TAGS) {
      throw garbage(`page of ${project} has more than ${MAX_UPSTREAM_PAGE_TAGS} tags`);
    }
  };
  // Checked before slicing: a 50 MB `href` is refused without being copied.
  const checkLength = (more: number): void => {
    if (value.length + more > MAX_UPSTREAM_PAGE_ATTRIBUTE_CHARS) {
      throw garbage(
        `page of ${project} has an attribute longer than ${MAX_UPSTREAM_PAGE_ATTRIBUTE_CHARS} characters`,
      );
    }
  };
  const endStartTag = (): void => {
    if (!inAnchor) return;
    inAnchor = false;
    const href = attributes.get('href');
    if (href === undefined || href === '') return;
    countFile(files.length + 1, project);
    const yanked = attributes.get('data-yanked');
    const requiresPython = attributes.get('data-requires-python');
    files.push({
      href,
      sha256: undefined,
      requiresPython:
        requiresPython === undefined || requiresPython === '' ? undefined : requiresPython,
      yanked: yanked === undefined ? false : yanked,
      coreMetadata: metadataAttribute(
        attributes.get('data-core-metadata') ?? attributes.get('data-dist-info-metadata'),
      ),
      size: undefined,
      uploadTime: undefined,
      filename: undefined,
    });
  };
  const tokenizer = new Tokenizer(
    { xmlMode: false, decodeEntities: true },
    {
      onopentagname(start, end) {
        countTag();
        const first = text.charCodeAt(start);
        inAnchor = end - start === 1 && (first === CHAR_A || first === CHAR_UPPER_A);
        if (inAnchor) attributes = new Map();
        attribute = undefined;
      },
      onattribname(start, end) {
        attribute = undefined;
        if (!inAnchor || end - start > LONGEST_ANCHOR_ATTRIBUTE) return;
        const name = text.slice(start, end).toLowerCase();
        // The first of a repeated attribute wins, as in browsers and htmlparser2's Parser.
        if (ANCHOR_ATTRIBUTES.has(name) && !attributes.has(name)) attribute = name;
        value = '';
      },
      onattribdata(start, end) {
        if (attribute === undefined) return;
        checkLength(end - start);
        value += text.slice(start, end);
      },
      onattribentity(codepoint) {
        if (attribute === undefined) return;
        checkLength(2);
        value += String.fromCodePoint(codepoint);
      },
      onattribend() {
        if (attribute !== undefined) attributes.set(attribute, value);
        attribute = undefined;
        value = '';
      },
      onopentagend: endStartTag,
      onselfclosingtag: endStartTag,
      onclosetag: countTag,
      oncdata() {},
      oncomment() {},
      ondeclaration() {},
      onprocessinginstruction() {},
      ontext() {},
      ontextentity() {},
      onend() {},
    },
  );
  // The tokenizer is fed a slice at a time, the event loop served between slices: a page at the
  // byte bound costs a few seconds of CPU on a busy machine, and nothing else waits for all of it.
  for (let at = 0; at < text.length; at += CHARS_PER_TURN) {
    if (at > 0) await yieldToLoop();
    tokenizer.write(text.slice(at, at + CHARS_PER_TURN));
  }
  tokenizer.end();
  return files;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function jsonMetadata(value: unknown): { sha256: string | undefined } | undefined {
  if (value === true) return { sha256: undefined };
  if (!isRecord(value)) return undefined;
  const sha = value['sha256'];
  if (typeof sha === 'string' && SHA256_HEX.test(sha.toLowerCase())) {
    return { sha256: sha.toLowerCase() };
  }
  // A dict of other hashes: offered, not verifiable by sha256. An empty dict means "offered".
  return { sha256: undefined };
}

function parseJsonPage(body: Buffer, project: string): RawFile[] {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw garbage(`page of ${project} is not valid JSON`);
  }
  if (!isRecord(doc) || !Array.isArray(doc['files'])) {
    throw garbage(`page of ${project} is not a PEP 691 project page`);
  }
  const list = doc['files'] as unknown[];
  countFile(list.length, project);
  const files: RawFile[] = [];
  for (const entry of list) {
    if (!isRecord(entry)) continue;
    for (const field of ['url', 'filename', 'requires-python', 'yanked']) {
      const text = entry[field];
      if (typeof text === 'string' && text.length > MAX_UPSTREAM_PAGE_ATTRIBUTE_CHARS) {
        throw garbage(
          `page of ${project} has a ${field} longer than ${MAX_UPSTREAM_PAGE_ATTRIBUTE_CHARS} characters`,
        );
      }
    }
    const href = entry['url'];
    const filename = entry['filename'];
    if (typeof href !== 'string' || href === '') continue;
    const hashes = isRecord(entry['hashes']) ? entry['hashes'] : {};
    const sha = hashes['sha256'];
    const yanked = entry['yanked'];
    const requiresPython = entry['requires-python'];
    const size = entry['size'];
    const uploadTime = entry['upload-time'];
    files.push({
      href,
      filename: typeof filename === 'string' ? filename : undefined,
      sha256:
        typeof sha === 'string' && SHA256_HEX.test(sha.toLowerCase())
          ? sha.toLowerCase()
          : undefined,
      requiresPython:
        typeof requiresPython === 'string' && requiresPython !== '' ? requiresPython : undefined,
      yanked: yanked === true ? '' : typeof yanked === 'string' ? yanked : false,
      coreMetadata: jsonMetadata(entry['core-metadata'] ?? entry['dist-info-metadata']),
      size: typeof size === 'number' && Number.isSafeInteger(size) && size >= 0 ? size : undefined,
      uploadTime:
        typeof uploadTime === 'string' && !Number.isNaN(Date.parse(uploadTime))
          ? new Date(uploadTime).toISOString()
          : undefined,
    });
  }
  return files;
}
