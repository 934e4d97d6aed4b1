/**
 * `maven-metadata.xml` as data and back (Maven's repository metadata model, `metadata` 1.1.0):
 *
 * - `renderMetadata`: MavenMetadata → XML bytes, byte-stable (the same data always gives the same
 *   bytes, so ETags and checksums of generated metadata are stable), for the three levels:
 *   artifact (`versioning/versions`, `latest`, `release`, `lastUpdated`), snapshot version
 *   (`version`, `versioning/snapshot`, `snapshotVersions`) and group (`plugins`).
 * - `parseMetadata`: an upstream's XML → MavenMetadata, safely: bounded size, DOCTYPE/ENTITY
 *   declarations refused (no entity expansion at all: only the five predefined entities and
 *   character references are decoded), bounded nesting and element counts, values validated
 *   (a malformed value is dropped, not trusted).
 * - `mergeMetadata`: several documents → one, as a group answers (Nexus's merge): the union of
 *   versions in Maven order, the newest `latest`/`release` by version order, the newest
 *   `lastUpdated`, the newest snapshot, snapshotVersions and plugins unioned.
 */
import { createHash } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import { RegistryError } from '../../core/errors.ts';
import {
  CHECKSUM_NAMES,
  type ChecksumName,
  type MavenMetadata,
  type PluginEntry,
  type SnapshotVersion,
} from './model.ts';
import { compareMavenVersions } from './version.ts';

/** Largest metadata document parsed, bytes (Maven Central's largest are a few MB). */
export const MAX_METADATA_BYTES = 16 * 1024 * 1024;
/** Most `<version>`s kept from one document. */
export const MAX_METADATA_VERSIONS = 100_000;
/** Most `<snapshotVersion>`s / `<plugin>`s kept from one document. */
export const MAX_METADATA_ENTRIES = 20_000;
/** Deepest element nesting accepted (real documents nest 4 deep). */
const MAX_DEPTH = 16;
/** Most elements in one document (a 100,000-version artifact has ~100,010). */
const MAX_ELEMENTS = 300_000;
/** Longest value kept (versions, ids, names). */
const MAX_VALUE_LENGTH = 512;

/** An empty document, for building one field by field. */
export const EMPTY_METADATA: MavenMetadata = {
  groupId: undefined,
  artifactId: undefined,
  version: undefined,
  versions: [],
  latest: undefined,
  release: undefined,
  lastUpdated: undefined,
  snapshot: undefined,
  snapshotVersions: [],
  plugins: [],
};

// ---------------------------------------------------------------------------------------------
// Rendering

/**
 * A character XML 1.0 does not allow in a document (its `Char` production), even as a character
 * reference: controls other than tab/LF/CR, U+FFFE/U+FFFF, lone surrogates. One in a served
 * document makes a JAXP parser (the JDK's, as Gradle and Ivy use) refuse all of it, e.g. a
 * group's merged plugin list; Maven 3.8's lenient MXParser reads it.
 */
const XML_ILLEGAL = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const XML_ILLEGAL_ALL = new RegExp(XML_ILLEGAL.source, 'gu');

function escapeXml(value: string): string {
  // Values come from POMs and upstreams too: an illegal character becomes U+FFFD, so the
  // document stays well-formed.
  return value
    .replace(XML_ILLEGAL_ALL, '\uFFFD')
    .replace(/[&<>"']/g, (c) =>
      c === '&'
        ? '&amp;'
        : c === '<'
          ? '&lt;'
          : c === '>'
            ? '&gt;'
            : c === '"'
              ? '&quot;'
              : '&apos;',
    );
}

function element(indent: string, name: string, value: string | undefined): string {
  return value === undefined ? '' : `${indent}<${name}>${escapeXml(value)}</${name}>\n`;
}

/**
 * Renders `metadata` as `maven-metadata.xml` (UTF-8), fields in the order Maven writes them
 * (groupId, artifactId, version, versioning{latest, release, snapshot, versions, lastUpdated,
 * snapshotVersions}, plugins). Absent fields are left out; versions and entries are written in the
 * order given (producers keep versions in Maven order: see mergeMetadata). Pure and byte-stable.
 */
export function renderMetadata(metadata: MavenMetadata): Buffer {
  const m = metadata;
  const modelVersion = m.snapshotVersions.length > 0 ? ' modelVersion="1.1.0"' : '';
  let xml = `<?xml version="1.0" encoding="UTF-8"?>\n<metadata${modelVersion}>\n`;
  xml += element('  ', 'groupId', m.groupId);
  xml += element('  ', 'artifactId', m.artifactId);
  xml += element('  ', 'version', m.version);
  const hasVersioning =
    m.latest !== undefined ||
    m.release !== undefined ||
    m.snapshot !== undefined ||
    m.versions.length > 0 ||
    m.lastUpdated !== undefined ||
    m.snapshotVersions.length > 0;
  if (hasVersioning) {
    xml += '  <versioning>\n';
    xml += element('    ', 'latest', m.latest);
    xml += element('    ', 'release', m.release);
    if (m.snapshot !== undefined) {
      xml += '    <snapshot>\n';
      xml += element('      ', 'timestamp', m.snapshot.timestamp);
      xml += element('      ', 'buildNumber', String(m.snapshot.buildNumber));
      xml += '    </snapshot>\n';
    }
    if (m.versions.length > 0) {
      xml += '    <versions>\n';
      for (const version of m.versions) xml += element('      ', 'version', version);
      xml += '    </versions>\n';
    }
    xml += element('    ', 'lastUpdated', m.lastUpdated);
    if (m.snapshotVersions.length > 0) {
      xml += '    <snapshotVersions>\n';
      for (const sv of m.snapshotVersions) {
        xml += '      <snapshotVersion>\n';
        xml += element('        ', 'classifier', sv.classifier);
        xml += element('        ', 'extension', sv.extension);
        xml += element('        ', 'value', sv.value);
        xml += element('        ', 'updated', sv.updated);
        xml += '      </snapshotVersion>\n';
      }
      xml += '    </snapshotVersions>\n';
    }
    xml += '  </versioning>\n';
  }
  if (m.plugins.length > 0) {
    xml += '  <plugins>\n';
    for (const plugin of m.plugins) {
      xml += '    <plugin>\n';
      xml += element('      ', 'name', plugin.name);
      xml += element('      ', 'prefix', plugin.prefix);
      xml += element('      ', 'artifactId', plugin.artifactId);
      xml += '    </plugin>\n';
    }
    xml += '  </plugins>\n';
  }
  xml += '</metadata>\n';
  return Buffer.from(xml, 'utf8');
}

/** A rendered document with the checksums Maven asks for next to it (lowercase hex). */
export interface RenderedMetadata {
  readonly body: Buffer;
  readonly checksums: Readonly<Record<ChecksumName, string>>;
}

/** Renders `metadata` and computes its `.md5`/`.sha1`/`.sha256`/`.sha512` (what the routes send). */
export function renderMetadataWithChecksums(metadata: MavenMetadata): RenderedMetadata {
  const body = renderMetadata(metadata);
  const checksums = Object.fromEntries(
    CHECKSUM_NAMES.map((name) => [name, createHash(name).update(body).digest('hex')]),
  ) as Record<ChecksumName, string>;
  return { body, checksums };
}

// ---------------------------------------------------------------------------------------------
// Parsing

const ARRAY_PATHS = new Set([
  'metadata.versioning.versions.version',
  'metadata.versioning.snapshotVersions.snapshotVersion',
  'metadata.plugins.plugin',
]);

const parser = new XMLParser({
  ignoreAttributes: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  processEntities: false,
  htmlEntities: false,
  parseTagValue: false,
  trimValues: true,
  maxNestedTags: MAX_DEPTH,
  isArray: (_name, jpath) => typeof jpath === 'string' && ARRAY_PATHS.has(jpath),
});

function refuse(message: string): never {
  throw new RegistryError('BAD_REQUEST', `maven-metadata.xml refused: ${message}`);
}

/**
 * One cheap pass before the parser: refuses DTDs (and with them every entity definition: the
 * billion-laughs family), checks that tags nest and close properly (one root element), and bounds
 * nesting depth and element count, so the parser only ever sees small, shallow, well-formed,
 * declaration-free documents.
 */
function prescan(xml: string): void {
  if (/<!\s*(?:doctype|entity|element|attlist)/i.test(xml)) refuse('DOCTYPE/ENTITY declarations');
  const open: string[] = [];
  let elements = 0;
  let roots = 0;
  let at = xml.indexOf('<');
  while (at !== -1) {
    const next = xml.charCodeAt(at + 1);
    if (next === 33 /* ! */ || next === 63 /* ? */) {
      // comment, CDATA or processing instruction: skip past its end
      const terminator = xml.startsWith('<![CDATA[', at) ? ']]>' : next === 63 ? '?>' : '-->';
      const end = xml.indexOf(terminator, at + 2);
      if (end === -1) refuse('an unterminated comment, CDATA section or instruction');
      at = xml.indexOf('<', end + terminator.length);
      continue;
    }
    const close = xml.indexOf('>', at);
    if (close === -1) refuse('an unterminated tag');
    const closing = next === 47; /* / */
    const name = /^[^\s/>]+/.exec(xml.slice(at + (closing ? 2 : 1), close))?.[0];
    if (name === undefined) refuse('a malformed tag');
    if (closing) {
      if (open.pop() !== name) refuse(`a mismatched closing tag </${name}>`);
    } else {
      if (open.length === 0 && ++roots > 1) refuse('more than one root element');
      elements++;
      if (elements > MAX_ELEMENTS) refuse(`more than ${MAX_ELEMENTS} elements`);
      if (xml.charCodeAt(close - 1) !== 47 /* / */) {
        open.push(name);
        if (open.length > MAX_DEPTH) refuse(`nesting deeper than ${MAX_DEPTH}`);
      }
    }
    at = xml.indexOf('<', close + 1);
  }
  if (open.length > 0) refuse(`an unclosed element <${open[open.length - 1] ?? ''}>`);
}

const PREDEFINED: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
};

/** Decodes XML's five predefined entities and character references; nothing else expands. */
export function decodeText(value: string): string {
  if (!value.includes('&')) return value;
  return value.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-z]{2,4});/g, (whole, ref: string) => {
    if (ref.startsWith('#')) {
      const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return PREDEFINED[ref] ?? whole;
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Printable, no whitespace or path separators, bounded: what a version or id may be. */
const TOKEN = /^[^\s/\\<>"'\p{Cc}]{1,512}$/u;

/** A text field (a string value, or the `#text` of an element that has only attributes). */
function text(value: unknown): string | undefined {
  const raw = typeof value === 'string' ? value : isRecord(value) ? value['#text'] : undefined;
  if (typeof raw !== 'string') return undefined;
  const decoded = decodeText(raw).trim();
  return decoded === '' || decoded.length > MAX_VALUE_LENGTH || XML_ILLEGAL.test(decoded)
    ? undefined
    : decoded;
}

function token(value: unknown): string | undefined {
  const t = text(value);
  return t !== undefined && TOKEN.test(t) ? t : undefined;
}

function stamp(value: unknown, pattern: RegExp): string | undefined {
  const t = text(value);
  return t !== undefined && pattern.test(t) ? t : undefined;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : value === undefined ? [] : [value];
}

/**
 * Parses a `maven-metadata.xml` (an upstream's, never trusted) into data. Values that are not
 * what Maven writes (a version with whitespace or `/`, a malformed timestamp) are dropped; the
 * versions are kept in document order, at most MAX_METADATA_VERSIONS of them.
 * Throws RegistryError BAD_REQUEST for a document larger than MAX_METADATA_BYTES, one with a
 * DOCTYPE or ENTITY declaration, nested deeper than 16 or with too many elements, one that is not
 * well-formed XML or whose root is not `<metadata>`. A caller parsing an upstream's answer maps
 * that to UPSTREAM_FAILED (the upstream sent garbage).
 */
export function parseMetadata(body: Buffer | string): MavenMetadata {
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (size > MAX_METADATA_BYTES) refuse(`larger than ${MAX_METADATA_BYTES} bytes`);
  let xml = typeof body === 'string' ? body : body.toString('utf8');
  if (xml.charCodeAt(0) === 0xfeff) xml = xml.slice(1);
  prescan(xml);
  let doc: unknown;
  try {
    doc = parser.parse(xml);
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : 'malformed';
    refuse(`not well-formed XML (${reason ?? 'malformed'})`);
  }
  if (!isRecord(doc) || !('metadata' in doc)) refuse('the root element is not <metadata>');
  const root = isRecord(doc['metadata']) ? doc['metadata'] : {};
  const versioning = isRecord(root['versioning']) ? root['versioning'] : {};
  const versionsNode = isRecord(versioning['versions']) ? versioning['versions'] : {};
  const versions: string[] = [];
  const seen = new Set<string>();
  for (const v of list(versionsNode['version'])) {
    const version = token(v);
    if (version === undefined || seen.has(version)) continue;
    if (versions.length >= MAX_METADATA_VERSIONS) break;
    seen.add(version);
    versions.push(version);
  }
  const snapshotNode = isRecord(versioning['snapshot']) ? versioning['snapshot'] : undefined;
  const timestamp = stamp(snapshotNode?.['timestamp'], /^\d{8}\.\d{6}$/);
  const buildNumber = stamp(snapshotNode?.['buildNumber'], /^\d{1,9}$/);
  const snapshot =
    timestamp !== undefined && buildNumber !== undefined
      ? { timestamp, buildNumber: Number(buildNumber) }
      : undefined;
  const snapshotVersionsNode = isRecord(versioning['snapshotVersions'])
    ? versioning['snapshotVersions']
    : {};
  const snapshotVersions: SnapshotVersion[] = [];
  for (const entry of list(snapshotVersionsNode['snapshotVersion'])) {
    if (snapshotVersions.length >= MAX_METADATA_ENTRIES) break;
    if (!isRecord(entry)) continue;
    const extension = token(entry['extension']);
    const value = token(entry['value']);
    const updated = stamp(entry['updated'], /^\d{14}$/);
    if (extension === undefined || value === undefined || updated === undefined) continue;
    snapshotVersions.push({ classifier: token(entry['classifier']), extension, value, updated });
  }
  const pluginsNode = isRecord(root['plugins']) ? root['plugins'] : {};
  const plugins: PluginEntry[] = [];
  for (const entry of list(pluginsNode['plugin'])) {
    if (plugins.length >= MAX_METADATA_ENTRIES) break;
    if (!isRecord(entry)) continue;
    const prefix = token(entry['prefix']);
    const artifactId = token(entry['artifactId']);
    if (prefix === undefined || artifactId === undefined) continue;
    plugins.push({ name: text(entry['name']), prefix, artifactId });
  }
  return {
    groupId: token(root['groupId']),
    artifactId: token(root['artifactId']),
    version: token(root['version']),
    versions,
    latest: token(versioning['latest']),
    release: token(versioning['release']),
    lastUpdated: stamp(versioning['lastUpdated'], /^\d{14}$/),
    snapshot,
    snapshotVersions,
    plugins,
  };
}

// ---------------------------------------------------------------------------------------------
// Merging

/** Maven order, then (for versions Maven calls equal, like `1` and `1.0`) string order. */
function versionOrder(a: string, b: string): number {
  return compareMavenVersions(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

function newestVersion(values: readonly (string | undefined)[]): string | undefined {
  let best: string | undefined;
  for (const value of values) {
    if (value !== undefined && (best === undefined || versionOrder(value, best) > 0)) best = value;
  }
  return best;
}

function newestString(values: readonly (string | undefined)[]): string | undefined {
  let best: string | undefined;
  for (const value of values) {
    if (value !== undefined && (best === undefined || value > best)) best = value;
  }
  return best;
}

/** `1.0-20261130.101010-3` → its build number (3), for ties between equal `updated` stamps. */
function buildOf(value: string): number {
  const match = /-(\d+)$/.exec(value);
  return match ? Number(match[1]) : -1;
}

/**
 * Merges the documents of a group's members into one (member order = `documents` order):
 * - groupId, artifactId, version: the first document's that has one;
 * - versions: the union, sorted in Maven order (ties by string order), deduplicated;
 * - latest, release: the newest of the documents' values by Maven order;
 * - lastUpdated: the newest;
 * - snapshot: the one with the newest timestamp (then the highest build number);
 * - snapshotVersions: one per classifier + extension, the newest `updated` (then build number),
 *   in first-seen order;
 * - plugins: one per prefix, the first member's, in first-seen order.
 * Returns undefined for no documents; deterministic (same documents in the same order → same
 * result, so the rendered bytes are stable too).
 */
export function mergeMetadata(documents: readonly MavenMetadata[]): MavenMetadata | undefined {
  if (documents.length === 0) return undefined;
  const first = (key: 'groupId' | 'artifactId' | 'version'): string | undefined =>
    documents.find((d) => d[key] !== undefined)?.[key];
  const versions = [...new Set(documents.flatMap((d) => d.versions))].sort(versionOrder);
  let snapshot: MavenMetadata['snapshot'];
  for (const d of documents) {
    const s = d.snapshot;
    if (s === undefined) continue;
    if (
      snapshot === undefined ||
      s.timestamp > snapshot.timestamp ||
      (s.timestamp === snapshot.timestamp && s.buildNumber > snapshot.buildNumber)
    ) {
      snapshot = s;
    }
  }
  const byKey = new Map<string, SnapshotVersion>();
  for (const d of documents) {
    for (const sv of d.snapshotVersions) {
      const key = `${sv.classifier ?? ''}\n${sv.extension}`;
      const known = byKey.get(key);
      if (
        known === undefined ||
        sv.updated > known.updated ||
        (sv.updated === known.updated && buildOf(sv.value) > buildOf(known.value))
      ) {
        byKey.set(key, sv);
      }
    }
  }
  const plugins = new Map<string, PluginEntry>();
  for (const d of documents) {
    for (const plugin of d.plugins)
      if (!plugins.has(plugin.prefix)) plugins.set(plugin.prefix, plugin);
  }
  return {
    groupId: first('groupId'),
    artifactId: first('artifactId'),
    version: first('version'),
    versions,
    latest: newestVersion(documents.map((d) => d.latest)),
    release: newestVersion(documents.map((d) => d.release)),
    lastUpdated: newestString(documents.map((d) => d.lastUpdated)),
    snapshot,
    snapshotVersions: [...byKey.values()],
    plugins: [...plugins.values()],
  };
}
