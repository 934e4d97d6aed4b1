/**
 * What a Cargo proxy needs to know about a sparse-index upstream (Cargo book, "Registry index",
 * "Sparse protocol"; RFC 2789), kept apart from the proxy's caching so it can be unit-tested:
 *
 * - which URL is the index root (`indexRoot`): the configured URL may name the index itself or
 *   crates.io's web site (NORA's documented default is `https://crates.io`, its env example names
 *   `https://index.crates.io`);
 * - the index file path of a crate (`indexPath`, the 1/2/3/xx/yy prefix rule);
 * - where a `.crate` is downloaded from (`downloadUrl`, the `dl` template of config.json);
 * - reading an upstream index file (`parseIndexFile`), line by line, as Cargo does.
 */
import { RegistryError } from '../../core/errors.ts';
import type { IndexDependency, IndexEntry } from './model.ts';

/** crates.io's index, where a configured `https://crates.io` (the web site) is sent. */
export const CRATES_IO_INDEX = 'https://index.crates.io/';
/** The largest upstream index file read (crates.io's largest are a few hundred KB). */
export const MAX_INDEX_FILE_BYTES = 16 * 1024 * 1024;
/** The largest upstream config.json read. */
export const MAX_CONFIG_BYTES = 64 * 1024;

/**
 * The index root for a configured upstream URL. The rule (documented in docs/cargo.md):
 * 1. a leading `sparse+` (Cargo's spelling of a sparse index URL) is dropped;
 * 2. crates.io's web site (`https://crates.io`, `https://www.crates.io`, any path) means its
 *    sparse index, `https://index.crates.io/`;
 * 3. any other URL is the index root itself: `<url>/config.json` and `<url>/<prefix path>`.
 * The result always ends with `/`.
 */
export function indexRoot(configured: string): string {
  const raw = configured.startsWith('sparse+') ? configured.slice('sparse+'.length) : configured;
  const url = new URL(raw);
  if (url.hostname === 'crates.io' || url.hostname === 'www.crates.io') return CRATES_IO_INDEX;
  url.search = '';
  url.hash = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url.href;
}

/** Cargo's crate name rule, lower-cased: ASCII alphanumerics, `-` and `_`, 1-64 characters. */
const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** True when `name` (lower-cased) can be a crate name, so it can be put into a path safely. */
export function isIndexName(name: string): boolean {
  return NAME.test(name);
}

/**
 * The index file path of a crate, relative to the index root (Cargo book, "Index files"):
 * `1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd…`. `name` must be lower-cased and valid (isIndexName).
 */
export function indexPath(name: string): string {
  switch (name.length) {
    case 1:
      return `1/${name}`;
    case 2:
      return `2/${name}`;
    case 3:
      return `3/${name.slice(0, 1)}/${name}`;
    default:
      return `${name.slice(0, 2)}/${name.slice(2, 4)}/${name}`;
  }
}

const DL_MARKERS = /\{(crate|version|prefix|lowerprefix|sha256-checksum)\}/;

/**
 * The download URL of one version from config.json's `dl` (Cargo book, "config.json"): a
 * template when it holds any of `{crate}`, `{version}`, `{prefix}`, `{lowerprefix}`,
 * `{sha256-checksum}`, else a base to which `/{crate}/{version}/download` is appended. `crate`
 * is the name as published (index entries keep its case); `{prefix}` is the index directory of
 * that name, `{lowerprefix}` the same lower-cased. Relative `dl` values resolve against the
 * config.json URL.
 */
export function downloadUrl(
  dl: string,
  configUrl: string,
  crate: string,
  version: string,
  cksum: string,
): URL {
  let template = dl;
  if (!DL_MARKERS.test(template))
    template = `${template.replace(/\/+$/, '')}/{crate}/{version}/download`;
  const directory = (name: string): string => {
    const path = indexPath(name);
    return path.slice(0, path.lastIndexOf('/'));
  };
  const values: Record<string, string> = {
    crate: encodeURIComponent(crate),
    version: encodeURIComponent(version),
    prefix: directory(crate),
    lowerprefix: directory(crate.toLowerCase()),
    'sha256-checksum': cksum,
  };
  const filled = template.replace(
    /\{(crate|version|prefix|lowerprefix|sha256-checksum)\}/g,
    (_, key: string) => values[key] ?? '',
  );
  return new URL(filled, configUrl);
}

/** config.json's `dl`, or an UPSTREAM_FAILED naming the upstream when it is unusable. */
export function parseConfigDl(body: Buffer, label: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    doc = undefined;
  }
  const dl = typeof doc === 'object' && doc !== null ? (doc as { dl?: unknown }).dl : undefined;
  if (typeof dl !== 'string' || dl === '') {
    throw new RegistryError(
      'UPSTREAM_FAILED',
      `upstream ${label}: invalid response (config.json has no "dl")`,
    );
  }
  return dl;
}

const CKSUM = /^[0-9a-f]{64}$/;
const KINDS = new Set(['normal', 'dev', 'build']);

/**
 * The entries of an upstream index file: one JSON object per non-empty line. A line that is not
 * a usable entry for `name` (unparsable JSON, another crate's name, no `vers`, a `cksum` that is
 * not 64 lowercase hex digits, `deps`/`features` of the wrong shape) is left out, as Cargo skips
 * lines it cannot read, so one bad line never hides the other versions. Fields we do not model
 * (`pubtime`, future additions) are kept as the upstream wrote them; a missing `kind` is written
 * `normal` and missing `features`/`yanked` as empty/false (the book's defaults).
 */
export function parseIndexFile(body: Buffer, name: string): IndexEntry[] {
  return readIndexFile(body, name).entries;
}

/**
 * parseIndexFile, and whether the body is an index file of `name` at all: `lines` counts the
 * non-empty lines, `invalidLine` is the first (1-based) that is not a JSON object with a string
 * `name` equal to `name` (case-insensitively), a string `vers` and a string `cksum` — what every
 * line of a real index file has (crates.io, any registry Cargo reads). An HTML error or
 * captive-portal page answered 200 has such a line; a line with those fields but an unusable
 * shape (a short `cksum`, odd `deps`) is only skipped, as Cargo skips it.
 */
export function readIndexFile(
  body: Buffer,
  name: string,
): { entries: IndexEntry[]; lines: number; invalidLine: number | undefined } {
  const entries: IndexEntry[] = [];
  let lines = 0;
  let invalidLine: number | undefined;
  for (const [index, line] of body.toString('utf8').split('\n').entries()) {
    if (line.trim() === '') continue;
    lines++;
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch {
      invalidLine ??= index + 1;
      continue;
    }
    if (!isIndexLine(doc, name)) invalidLine ??= index + 1;
    const entry = toEntry(doc, name);
    if (entry) entries.push(entry);
  }
  return { entries, lines, invalidLine };
}

function isIndexLine(doc: unknown, name: string): boolean {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return false;
  const raw = doc as Record<string, unknown>;
  return (
    typeof raw['name'] === 'string' &&
    raw['name'].toLowerCase() === name &&
    typeof raw['vers'] === 'string' &&
    typeof raw['cksum'] === 'string'
  );
}

function toEntry(doc: unknown, name: string): IndexEntry | undefined {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return undefined;
  const raw = doc as Record<string, unknown>;
  if (typeof raw['name'] !== 'string' || raw['name'].toLowerCase() !== name) return undefined;
  if (typeof raw['vers'] !== 'string' || raw['vers'] === '') return undefined;
  if (typeof raw['cksum'] !== 'string' || !CKSUM.test(raw['cksum'])) return undefined;
  if (!Array.isArray(raw['deps'])) return undefined;
  const deps: IndexDependency[] = [];
  for (const dep of raw['deps'] as unknown[]) {
    const parsed = toDependency(dep);
    if (!parsed) return undefined;
    deps.push(parsed);
  }
  const features = raw['features'] ?? {};
  if (!isFeatureMap(features)) return undefined;
  if (
    raw['features2'] !== undefined &&
    raw['features2'] !== null &&
    !isFeatureMap(raw['features2'])
  )
    return undefined;
  return {
    ...raw,
    name: raw['name'],
    vers: raw['vers'],
    deps,
    cksum: raw['cksum'],
    features,
    yanked: raw['yanked'] === true,
  };
}

function toDependency(doc: unknown): IndexDependency | undefined {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return undefined;
  const raw = doc as Record<string, unknown>;
  if (typeof raw['name'] !== 'string' || typeof raw['req'] !== 'string') return undefined;
  const kind = raw['kind'] ?? 'normal';
  if (typeof kind !== 'string' || !KINDS.has(kind)) return undefined;
  const features = raw['features'] ?? [];
  if (!Array.isArray(features) || !features.every((f) => typeof f === 'string')) return undefined;
  return {
    ...raw,
    name: raw['name'],
    req: raw['req'],
    features: features,
    optional: raw['optional'] === true,
    default_features: raw['default_features'] !== false,
    target: typeof raw['target'] === 'string' ? raw['target'] : null,
    kind: kind as IndexDependency['kind'],
  };
}

function isFeatureMap(value: unknown): value is Record<string, string[]> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.values(value).every(
    (list) => Array.isArray(list) && list.every((item) => typeof item === 'string'),
  );
}
