/**
 * Chart archives and their `Chart.yaml` (Helm's chart format, https://helm.sh/docs/topics/charts/):
 * names, SemVer 2 versions, archive file names (`<name>-<version>.tgz`), and the index entry
 * (Helm's `ChartVersion`: the Chart.yaml metadata + `urls`, `created`, `digest`) a chart adds to
 * `index.yaml`.
 *
 * The archive is read as a stream (gunzip → tar-stream) to its end, keeping only its top-level
 * `Chart.yaml` (the file at `<dir>/Chart.yaml`, which is what Helm's loader reads); nothing is
 * extracted. Every entry must sit in one top folder of any name (Helm's loader and ChartMuseum
 * take any; the chart's name comes from Chart.yaml), none may be absolute or climb out (`..`),
 * and the top-folder files Helm reads (Chart.yaml, values.yaml, ...) may appear once each (Helm
 * applies the last copy: a second Chart.yaml would make `helm install` see another chart). The WHOLE archive is bounded, not only what precedes Chart.yaml (an archive is
 * accepted only when `helm install` could load it): MAX_UNPACKED_BYTES of decompressed data and
 * MAX_ENTRIES entries (past either: TOO_LARGE, a gzip bomb stops there), MAX_CHART_YAML_BYTES
 * for Chart.yaml itself. YAML is parsed with the
 * `yaml` library with alias expansion bounded (`maxAliasCount`): a "billion laughs" document is
 * refused, not expanded.
 */
import {
  HelmRefusal,
  helmScalarText,
  helmWrittenScalar,
  type WrittenScalar,
} from './yaml-number.ts';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import semver from 'semver';
import tar from 'tar-stream';
import { type Document, isScalar, Lexer, parse as parseYaml, parseDocument } from 'yaml';
import { RegistryError } from '../../core/errors.ts';
import { MARKUP_SNIFF_BYTES, markupStart } from '../../core/markup.ts';

/**
 * Decompressed bytes (the tar stream) a chart archive may unpack to: Helm's own loader refuses a
 * chart past `MaxDecompressedChartSize`, 100 MiB by default (pkg/chart/loader/archive.go), so a
 * larger one could never be installed. Constants, not `[helm]` keys: the other formats bound
 * their archives (go zip, npm/cargo tarballs, wheels) with constants too.
 */
export const MAX_UNPACKED_BYTES = 100 * 1024 * 1024;
/** Entries (files, directories) in a chart archive; real charts hold tens to hundreds. */
export const MAX_ENTRIES = 10_000;
export const MAX_CHART_YAML_BYTES = 1024 * 1024;
/** Aliases a YAML document may expand (Chart.yaml, .prov, upstream index.yaml). */
export const MAX_YAML_ALIASES = 100;
/**
 * Nesting a YAML document may have: open flow collections (`[`, `{`), or block collections
 * opened on one line (`- - - x`). The `yaml` library's parser slows down sharply with depth (a
 * 1 MB Chart.yaml of `[` held the event loop for seconds before failing); real charts and
 * indexes nest a handful of levels.
 */
export const MAX_YAML_DEPTH = 64;

/**
 * Chart names: what Helm's `chartutil.ValidateMetadataName` accepts (letters, digits, `-`, `_`,
 * `.`), never `.`/`..` or a path (the traversal guard), at most 250 characters.
 */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,249}$/;

/**
 * A chart version: SemVer 2.0.0 (https://semver.org, the official regular expression) with an
 * optional leading `v`, which Helm accepts (its chart Metadata.Validate parses with
 * Masterminds/semver NewVersion, not StrictNewVersion: `version: v1.2.3` packages and installs;
 * trial 32). NewVersion's other coercions (`1`, `1.2`, leading zeros) are not taken: a file name
 * `app-2-1.0.0.tgz` would then read as chart `app` version `2-1.0.0` as well as `app-2` 1.0.0.
 */
const SEMVER2 =
  /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** The chart-name rule as messages state it (NAME_PATTERN and isChartName). */
export const CHART_NAME_RULE =
  'a chart name starts with a letter or digit, then letters, digits, ".", "_", "-" (no ".."), at most 250 characters';

export function isChartName(name: string): boolean {
  return NAME_PATTERN.test(name) && !name.includes('..');
}

/** Helm parses major, minor and patch as uint64 (Masterminds/semver): larger is not a version. */
const MAX_UINT64 = 18446744073709551615n;

export function isChartVersion(version: string): boolean {
  const m = version.length <= 128 ? SEMVER2.exec(version) : null;
  return m !== null && [m[1], m[2], m[3]].every((n) => BigInt(n ?? '0') <= MAX_UINT64);
}

/** Newest first by SemVer precedence; equal precedence (build metadata) by string, for stability. */
export function compareVersionsDesc(a: string, b: string): number {
  return compareParsedDesc(semver.parse(a), semver.parse(b), a, b);
}

/** compareVersionsDesc on versions already parsed (`semver.parse`; null when not SemVer). */
export function compareParsedDesc(
  va: semver.SemVer | null,
  vb: semver.SemVer | null,
  a: string,
  b: string,
): number {
  if (va && vb) {
    // Major/minor/patch as numbers first: most pairs differ there (no semver call at all).
    const order =
      vb.major - va.major ||
      vb.minor - va.minor ||
      vb.patch - va.patch ||
      (va.prerelease.length === 0 && vb.prerelease.length === 0 ? 0 : vb.comparePre(va));
    if (order !== 0) return order;
  } else if (va) return -1;
  else if (vb) return 1;
  return a < b ? 1 : a > b ? -1 : 0;
}

/** `<name>-<version>.tgz` */
export function chartFilename(name: string, version: string): string {
  return `${name}-${version}.tgz`;
}

/**
 * The other spelling of the same SemVer version: `v1.2.3` ↔ `1.2.3` (Helm reads both as one
 * version; a hosted repository stores only one of them: store.ts `put`).
 */
export function versionTwin(version: string): string {
  return version.startsWith('v') ? version.slice(1) : `v${version}`;
}

/**
 * Splits `<name>-<version>.tgz` (or `.tgz.prov` when `prov`): the first `-` after which a valid
 * SemVer 2 version follows (`my-chart-1.0.0-rc.1.tgz` → `my-chart` + `1.0.0-rc.1`). Undefined
 * when the file name is not a chart file name.
 */
export function parseChartFilename(
  filename: string,
): { name: string; version: string; prov: boolean } | undefined {
  return chartFilenameReadings(filename)[0];
}

/**
 * Every way `filename` reads as `<name>-<version>.tgz[.prov]`, the split at the first `-` first.
 * More than one for a name such as `app-1.2.3-x` (0.1.0): its file also reads as `app`
 * 1.2.3-x-0.1.0. Hosted uploads refuse such names; an upstream index may list them, and the
 * index decides which reading is meant (HelmService.readChart).
 */
export function chartFilenameReadings(
  filename: string,
): { name: string; version: string; prov: boolean }[] {
  let prov = false;
  let stem: string;
  if (filename.endsWith('.tgz.prov')) {
    prov = true;
    stem = filename.slice(0, -'.tgz.prov'.length);
  } else if (filename.endsWith('.tgz')) stem = filename.slice(0, -'.tgz'.length);
  else return [];
  const readings: { name: string; version: string; prov: boolean }[] = [];
  for (let i = stem.indexOf('-'); i > 0; i = stem.indexOf('-', i + 1)) {
    const name = stem.slice(0, i);
    const version = stem.slice(i + 1);
    if (isChartVersion(version) && isChartName(name)) readings.push({ name, version, prov });
  }
  return readings;
}

/** `MAX_YAML_DEPTH` indicators in a row on one line (`- - - …`, `? ? …`): a cheap pre-check. */
const COMPACT_RUN = new RegExp(`(?:[-?:][ \\t]+){${MAX_YAML_DEPTH}}`);

/**
 * True when `text` nests deeper than MAX_YAML_DEPTH (see there). Counts on the `yaml` lexer's
 * tokens (linear), so a bracket inside a quoted or plain scalar is not one; the lexer only runs
 * when a character count says the depth could be reached.
 */
function nestsTooDeep(text: string): boolean {
  let brackets = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) brackets++;
  }
  if (brackets <= MAX_YAML_DEPTH && !COMPACT_RUN.test(text)) return false;
  let flow = 0;
  let line = 0;
  for (const token of new Lexer().lex(text)) {
    switch (token) {
      case '[':
      case '{':
        if (++flow > MAX_YAML_DEPTH) return true;
        break;
      case ']':
      case '}':
        flow = Math.max(0, flow - 1);
        break;
      case '-':
      case '?':
      case ':':
        // In a flow collection (JSON on one line) `:` separates, it does not nest.
        if (flow === 0 && ++line > MAX_YAML_DEPTH) return true;
        break;
      case '\n':
      case '\r\n':
        line = 0;
        break;
      default:
    }
  }
  return false;
}

/**
 * Parses YAML text with aliases and nesting bounded; throws BAD_REQUEST naming `what`. `edit`:
 * called with the parsed document before it becomes plain values (upstream-index.ts rewrites
 * scalars to Helm's reading there).
 */
export function parseBoundedYaml(
  text: string,
  what: string,
  edit?: (doc: Document.Parsed) => void,
): unknown {
  if (nestsTooDeep(text)) {
    throw new RegistryError(
      'BAD_REQUEST',
      `${what} is not valid YAML: nested deeper than ${MAX_YAML_DEPTH} levels`,
    );
  }
  const options = {
    maxAliasCount: MAX_YAML_ALIASES,
    uniqueKeys: false,
    prettyErrors: false,
    strict: false,
  } as const;
  try {
    if (edit === undefined) return parseYaml(text, options) as unknown;
    // What parseYaml does (its first error thrown), with the document edited before toJS.
    const doc = parseDocument(text, options);
    const [first] = doc.errors;
    if (first !== undefined) throw first as Error;
    edit(doc);
    return doc.toJS(options) as unknown;
  } catch (err) {
    throw new RegistryError(
      'BAD_REQUEST',
      `${what} is not valid YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
    );
  }
}

/**
 * The bytes of the archive's top-level `Chart.yaml`, read to the archive's end. Throws
 * BAD_REQUEST when the stream is not a gzipped tar or has no `<dir>/Chart.yaml`, TOO_LARGE when
 * it unpacks past MAX_UNPACKED_BYTES or holds more than MAX_ENTRIES entries (Chart.yaml past
 * MAX_CHART_YAML_BYTES: BAD_REQUEST). `source` is consumed or destroyed.
 */
export async function readChartYaml(
  source: Readable,
): Promise<{ readonly bytes: Buffer; readonly dir: string }> {
  const gunzip = createGunzip();
  const extract = tar.extract();
  // An object, not `let`s: the gunzip listeners set it, which flow analysis cannot see.
  const progress = {
    unpacked: 0,
    received: 0,
    failure: undefined as RegistryError | undefined,
    /** The body's start when it is a web page (core/markup.ts), read off its first chunk. */
    page: undefined as string | undefined,
  };
  const stop = (failure?: RegistryError) => {
    progress.failure ??= failure;
    source.destroy();
    gunzip.destroy();
    extract.destroy();
  };
  const tooLarge = () =>
    new RegistryError(
      'TOO_LARGE',
      `chart archive unpacks to more than ${MAX_UNPACKED_BYTES} bytes (Helm's limit)`,
    );
  source.on('error', () => gunzip.destroy());
  gunzip.on('error', (err: NodeJS.ErrnoException) => {
    // zlib says which: a stream cut short (a partial upload or download) is not "not gzip".
    const truncated = err.code === 'Z_BUF_ERROR' || /unexpected end/i.test(err.message);
    extract.destroy(
      new Error(
        progress.received === 0
          ? 'the body is empty: a chart archive (.tgz) was expected'
          : progress.page !== undefined
            ? `the body is a web page (it starts with ${JSON.stringify(progress.page)}), not a .tgz: an error page saved in place of the chart?`
            : truncated
              ? 'the gzip stream is truncated'
              : 'not a gzip stream',
      ),
    );
  });
  gunzip.on('data', (chunk: Buffer) => {
    // A gzip inside the gzip (a .tgz gzipped again): tar-stream would only say "Unexpected end
    // of data". Two bytes of a tar's first header (its entry name) are never 1f 8b.
    if (progress.unpacked === 0 && chunk[0] === 0x1f && chunk[1] === 0x8b) {
      stop(
        new RegistryError(
          'BAD_REQUEST',
          'not a chart archive (a gzipped tar): the gzip stream holds another gzip stream, not a tar (compressed twice?)',
        ),
      );
      return;
    }
    progress.unpacked += chunk.length;
    if (progress.unpacked > MAX_UNPACKED_BYTES) stop(tooLarge());
  });
  // Counted only to tell an empty body from a truncated one.
  source.on('data', (chunk: Buffer) => {
    if (progress.received === 0) progress.page = markupStart(chunk.subarray(0, MARKUP_SNIFF_BYTES));
    progress.received += chunk.length;
  });
  source.pipe(gunzip).pipe(extract);
  let entries = 0;
  // Sum of the entries' declared sizes: refused at the header, before their bytes are inflated.
  let declared = 0;
  let found: { bytes: Buffer; dir: string } | undefined;
  /** The archive's one top folder (whatever its name: Helm's loader takes any). */
  let top: string | undefined;
  /** Files of the top folder Helm reads that were seen (each may appear once). */
  const topFiles = new Set<string>();
  try {
    for await (const entry of extract) {
      if (++entries > MAX_ENTRIES) {
        throw new RegistryError(
          'TOO_LARGE',
          `chart archive holds more than ${MAX_ENTRIES} entries`,
        );
      }
      const { type, name, size } = entry.header;
      // Regular files and folders only (pax and GNU long-name headers are read by tar-stream and
      // never reach here): a symlink or hard link (`templates/x.yaml -> /etc/passwd`), device
      // or FIFO is no chart content, and whatever later unpacks the stored archive might follow it.
      // (`type` is null at run time for a type flag tar-stream does not know: refused too.)
      if (!CHART_ENTRY_TYPES.has(type)) {
        throw new RegistryError(
          'BAD_REQUEST',
          `chart archive entry ${JSON.stringify(name)} is a ${ENTRY_TYPE_NAMES[type] ?? 'tar entry of an unknown type'}: a chart archive holds regular files and folders only`,
        );
      }
      declared += size;
      if (declared > MAX_UNPACKED_BYTES) throw tooLarge();
      const parts = archivePath(name);
      if (parts.length === 0) {
        entry.resume();
        continue;
      }
      const isFile = type === 'file' || type === 'contiguous-file';
      top ??= parts[0];
      if (isFile && parts.length === 1) {
        // A flat archive (`tar czf x.tgz Chart.yaml values.yaml`): say where the files belong.
        throw new RegistryError(
          'BAD_REQUEST',
          `chart archive entry ${JSON.stringify(name)} is at the archive's top level: a chart archive holds one folder, <name>/Chart.yaml (e.g. \`helm package\` or \`tar czf web-1.0.0.tgz web/\`)`,
        );
      }
      if (parts[0] !== top) {
        throw new RegistryError(
          'BAD_REQUEST',
          `chart archive entry ${JSON.stringify(name)} is outside its top folder "${top ?? ''}" (a chart archive holds one folder)`,
        );
      }
      const inside = parts.slice(1).join('/');
      if (parts.length === 2 && READ_TOP_FILES.has(inside)) {
        // Helm's loader applies the last of two same-named entries: what we index and what
        // `helm install` sees would differ.
        if (topFiles.has(inside)) {
          throw new RegistryError(
            'BAD_REQUEST',
            `chart archive holds ${top ?? ''}/${inside} twice (Helm would read the last one)`,
          );
        }
        topFiles.add(inside);
      }
      if (isFile && parts.length === 2 && inside === 'Chart.yaml') {
        if (size > MAX_CHART_YAML_BYTES) {
          throw new RegistryError(
            'BAD_REQUEST',
            `Chart.yaml is larger than ${MAX_CHART_YAML_BYTES} bytes`,
          );
        }
        const chunks: Buffer[] = [];
        for await (const chunk of entry) chunks.push(chunk as Buffer);
        found = { bytes: Buffer.concat(chunks), dir: top ?? '' };
        continue;
      }
      entry.resume();
    }
  } catch (err) {
    const failure =
      progress.failure ??
      (err instanceof RegistryError
        ? err
        : new RegistryError(
            'BAD_REQUEST',
            `not a chart archive (a gzipped tar): ${err instanceof Error ? err.message : String(err)}`,
          ));
    stop(failure);
    throw failure;
  }
  stop();
  if (progress.failure !== undefined) throw progress.failure;
  if (found === undefined) {
    throw new RegistryError('BAD_REQUEST', 'chart archive has no <chart>/Chart.yaml');
  }
  return found;
}

/** tar-stream's entry types a chart archive may hold. */
const CHART_ENTRY_TYPES: ReadonlySet<string> = new Set(['file', 'contiguous-file', 'directory']);

/** How a refused entry type is named in the 400. */
const ENTRY_TYPE_NAMES: Readonly<Record<string, string>> = {
  symlink: 'symbolic link',
  link: 'hard link',
  'character-device': 'character device',
  'block-device': 'block device',
  fifo: 'FIFO',
};

/**
 * Files of a chart's top folder Helm's loader reads (pkg/chart/loader): a second entry of one of
 * them would override the first, so an archive holding one twice is refused.
 */
const READ_TOP_FILES: ReadonlySet<string> = new Set([
  'Chart.yaml',
  'values.yaml',
  'values.schema.json',
  'requirements.yaml',
  'requirements.lock',
  'Chart.lock',
]);

/**
 * The segments of a tar entry name as Helm's loader cleans it (`\` as `/`, `.` and empty segments
 * dropped). BAD_REQUEST for an absolute path or a `..` segment (Helm refuses both).
 */
function archivePath(name: string): string[] {
  const slashed = name.replace(/\\/g, '/');
  if (slashed.startsWith('/') || /^[A-Za-z]:/.test(slashed)) {
    throw new RegistryError(
      'BAD_REQUEST',
      `chart archive entry ${JSON.stringify(name)} is an absolute path`,
    );
  }
  const parts = slashed.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) {
    throw new RegistryError(
      'BAD_REQUEST',
      `chart archive entry ${JSON.stringify(name)} leaves the chart folder ("..")`,
    );
  }
  return parts;
}

/** Helm's ChartVersion as JSON: the fields index.yaml carries for one chart version. */
export type IndexEntry = Record<string, unknown> & {
  readonly name: string;
  readonly version: string;
};

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function bad(message: string): RegistryError {
  return new RegistryError('BAD_REQUEST', `invalid Chart.yaml: ${message}`);
}

/**
 * Copies `meta[key]` to `out` when it is a non-empty string; BAD_REQUEST naming the field by
 * `path` (its place in Chart.yaml, e.g. `maintainers[0].`: trial 19 fmts F6, "name must be a
 * string" did not say which name) when it is not a string.
 */
function optionalString(
  meta: Json,
  key: string,
  out: Json,
  path = '',
  sourceOf: (key: string) => WrittenScalar | undefined = () => undefined,
  tagged = false,
): void {
  const value = meta[key];
  if (value === undefined || value === null) return;
  // An upstream index entry's value Helm cannot read (upstream-index.ts, helmIndexScalars).
  if (value instanceof HelmRefusal) throw bad(`${path}${key} ${value.message}`);
  // YAML reads `appVersion: 1.10` as a number, which Helm's YAML-to-JSON conversion turns into
  // the text "1.1" (it warns). A number whose text is the same either way (`appVersion: 2`,
  // `1.5`) is kept as that text; one whose text changes is refused, as `version: 1.0` is: the
  // author meant 1.20, and `kubeVersion: 1.2` is another constraint (trial 20 fmts F2).
  // Helm's reading is worked out from the text as written (helmNumberText: go-yaml's YAML 1.1
  // rules and a float32 rounding), not from the JS parse: `1.23456789` is 1.2345679 to Helm, and
  // `1_000`, a string to YAML 1.2, is 1000 to it.
  // YAML 1.1 booleans too (trial 22 F4): `appVersion: yes` is "true" to Helm, and
  // `appVersion: true` is taken by Helm as "true".
  // An explicit tag (trial 23 fmts F1) asks for the type: `!!bool yes` is stored as Helm reads
  // it ("true"), and one go-yaml cannot decode (`!!float 1e400`, `!!bool maybe`) is refused.
  // The source is parsed again only when Helm may read the value otherwise: a number, a boolean,
  // text that would be one unquoted (a plain `v1.2.3` is read as written by every reader), or
  // a document with a tag in it.
  const versionKey = key === 'appVersion' || key === 'kubeVersion';
  const mayDiffer = tagged || typeof value !== 'string' || helmScalarText(value) !== undefined;
  const written = versionKey && mayDiffer ? sourceOf(key) : undefined;
  const read = written === undefined ? undefined : helmWrittenScalar(written);
  if (read !== undefined && 'refused' in read) {
    throw bad(
      `${path}${key} is ${written?.tag?.replace(/^tag:yaml\.org,2002:/, '!!')} ${written?.source} in YAML, which Helm cannot read (${read.refused}): quote it without the tag (${key}: "${written?.source}")`,
    );
  }
  if (written !== undefined && read !== undefined) {
    if (written.tag === undefined && read.text !== written.source) {
      throw bad(
        `${path}${key} is the ${read.kind} ${written.source} in YAML, which Helm reads as ${read.text}: quote it (${key}: "${written.source}")`,
      );
    }
    if (read.text !== undefined && read.text !== '') out[key] = read.text;
    return;
  }
  if (versionKey && typeof value !== 'string' && written !== undefined) {
    // A value the JS reader makes a number and Helm keeps as text (`1e400`: past float64, so
    // go-yaml keeps it as written, where the JS reader says Infinity).
    out[key] = written.source;
    return;
  }
  if ((typeof value === 'number' || typeof value === 'boolean') && versionKey) {
    out[key] = String(value);
    return;
  }
  if (typeof value !== 'string') throw bad(`${path}${key} must be a string`);
  if (value !== '') out[key] = value;
}

/** What a YAML value that is not a string is, for a message: "a number", "a mapping"... */
function kindOf(value: unknown): string {
  if (value === null || value === undefined) return 'empty';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return typeof value === 'boolean' ? 'a boolean' : `a ${typeof value}`;
}

/** `annotations.foo`, or `annotations["a.b/c"]` for a key that is not a plain word. */
function keyPath(prefix: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)
    ? `${prefix}.${key}`
    : `${prefix}[${JSON.stringify(key)}]`;
}

/**
 * `value` as a list of strings (undefined when absent); BAD_REQUEST naming the first element
 * that is not a string (`keywords[1] is a number`: trial 20 fmts F2).
 */
function stringList(value: unknown, key: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw bad(`${key} must be a list of strings`);
  const at = value.findIndex((v) => typeof v !== 'string');
  if (at >= 0) {
    throw bad(`${key} must be a list of strings: ${key}[${at}] is ${kindOf(value[at])}`);
  }
  return value as string[];
}

const DEPENDENCY_STRINGS = ['name', 'version', 'repository', 'condition', 'alias'] as const;

/**
 * Validates parsed Chart.yaml metadata and returns it as an index entry's metadata part (only
 * Helm's Metadata fields, each of the type Helm's Go struct expects, so one chart can never make
 * the whole index.yaml unreadable to clients). Throws BAD_REQUEST, naming a nested field by its
 * path (`maintainers[0].name`). `sourceOf(key)`: the text a top-level scalar was written as in
 * the YAML (chartYamlSource), so a number is quoted as written (`1.0`, not `1`); absent for
 * metadata that was not read from YAML text.
 */
export function chartMetadata(
  parsed: unknown,
  sourceOf: (key: string) => WrittenScalar | undefined = () => undefined,
  tagged = false,
): IndexEntry {
  if (!isObject(parsed)) throw bad('not a mapping');
  const out: Json = {};
  const apiVersion = parsed['apiVersion'];
  if (apiVersion !== 'v1' && apiVersion !== 'v2') throw bad('apiVersion must be v1 or v2');
  out['apiVersion'] = apiVersion;
  const name = parsed['name'];
  // `name: 123` is the number 123 to YAML, not a missing name (trial 18 fmts F5).
  if (typeof name === 'number') {
    const written = sourceOf('name')?.source ?? String(name);
    throw bad(`name is the number ${written} in YAML, not a string: quote it (name: "${written}")`);
  }
  if (typeof name !== 'string' || !isChartName(name)) {
    throw bad(
      `name ${typeof name === 'string' ? `${JSON.stringify(name.slice(0, 260))} is not a chart name` : 'is missing'}: ${CHART_NAME_RULE}`,
    );
  }
  out['name'] = name;
  const version = parsed['version'];
  if (typeof version === 'number') {
    // `version: 1.0` is the number 1 to YAML (and to Helm, which refuses it the same way); the
    // message quotes what was written (trial 19 fmts F6: it said "the number 1").
    const written = sourceOf('version')?.source ?? String(version);
    const suggested = isChartVersion(written)
      ? written
      : /^\d+\.\d+$/.test(written)
        ? `${written}.0`
        : '1.0.0';
    throw bad(
      `version is the number ${written} in YAML, not a string: quote a SemVer 2 version (version: "${suggested}")`,
    );
  }
  if (typeof version !== 'string' || !isChartVersion(version)) {
    throw bad(
      `version ${JSON.stringify(version)} is not a SemVer 2 version (MAJOR.MINOR.PATCH, optionally with a leading v, -prerelease and +build)`,
    );
  }
  out['version'] = version;
  for (const key of ['appVersion', 'description', 'home', 'icon', 'kubeVersion']) {
    optionalString(parsed, key, out, '', sourceOf, tagged);
  }
  const type = parsed['type'];
  if (type !== undefined && type !== null) {
    if (type !== 'application' && type !== 'library')
      throw bad('type must be application or library');
    out['type'] = type;
  }
  const deprecated = parsed['deprecated'];
  if (deprecated !== undefined && deprecated !== null) {
    if (typeof deprecated !== 'boolean') throw bad('deprecated must be true or false');
    if (deprecated) out['deprecated'] = true;
  }
  for (const key of ['keywords', 'sources']) {
    const list = stringList(parsed[key], key);
    if (list && list.length > 0) out[key] = list;
  }
  const maintainers = parsed['maintainers'];
  if (maintainers !== undefined && maintainers !== null) {
    if (!Array.isArray(maintainers)) throw bad('maintainers must be a list');
    out['maintainers'] = maintainers.map((m, i) => {
      if (!isObject(m)) throw bad(`maintainers[${i}] must be a mapping`);
      const one: Json = {};
      for (const key of ['name', 'email', 'url']) optionalString(m, key, one, `maintainers[${i}].`);
      return one;
    });
  }
  const dependencies = parsed['dependencies'];
  if (dependencies !== undefined && dependencies !== null) {
    if (!Array.isArray(dependencies)) throw bad('dependencies must be a list');
    out['dependencies'] = dependencies.map((d, i) => {
      const at = `dependencies[${i}]`;
      if (!isObject(d)) throw bad(`${at} must be a mapping`);
      const one: Json = {};
      for (const key of DEPENDENCY_STRINGS) optionalString(d, key, one, `${at}.`);
      if (typeof one['name'] !== 'string') throw bad(`${at} needs a name`);
      const tags = stringList(d['tags'], `${at}.tags`);
      if (tags) one['tags'] = tags;
      if (d['enabled'] !== undefined) {
        if (typeof d['enabled'] !== 'boolean') throw bad(`${at}.enabled must be a boolean`);
        one['enabled'] = d['enabled'];
      }
      if (d['import-values'] !== undefined) one['import-values'] = jsonCopy(d['import-values']);
      return one;
    });
  }
  const annotations = parsed['annotations'];
  if (annotations !== undefined && annotations !== null) {
    if (!isObject(annotations)) throw bad('annotations must map strings to strings');
    const odd = Object.entries(annotations).find(([, v]) => typeof v !== 'string');
    if (odd) {
      throw bad(
        `annotations must map strings to strings: ${keyPath('annotations', odd[0])} is ${kindOf(odd[1])}`,
      );
    }
    if (Object.keys(annotations).length > 0) out['annotations'] = annotations;
  }
  return out as IndexEntry;
}

/**
 * A YAML value kept as it is (`import-values`) as plain JSON: YAML aliases can make it circular
 * (`- &d {name: x, import-values: [*d]}`), which JSON.stringify (entryFragment) cannot write.
 */
function jsonCopy(value: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    throw bad('dependencies[].import-values must be plain data (no recursive aliases)');
  }
}

/** Reads, parses and validates the Chart.yaml of an archive stream. */
export async function readChartMetadata(source: Readable): Promise<IndexEntry> {
  const { bytes } = await readChartYaml(source);
  // The top folder's name is not the chart's: Helm's loader and ChartMuseum take any single
  // folder and the name from Chart.yaml (`helm package` just happens to use the chart name).
  const text = bytes.toString('utf8');
  // A `!` anywhere may be a tag (`appVersion: !!bool yes`): only then is a text value's source
  // looked up (trial 23 fmts F1).
  return chartMetadata(
    parseBoundedYaml(text, 'Chart.yaml'),
    (key) => chartYamlSource(text, key),
    text.includes('!'),
  );
}

/**
 * The text a top-level scalar of `text` (already parsed by parseBoundedYaml) was written as:
 * `1.0` for `version: 1.0`, which YAML reads as the number 1. Parsed again, only on the way to
 * a 400 or for a version field Helm may read otherwise (optionalString). undefined when the key
 * is not a plain scalar with no tag.
 */
function chartYamlSource(text: string, key: string): WrittenScalar | undefined {
  try {
    // No alias expansion here (toJS is never called), and the depth was bounded by
    // parseBoundedYaml before.
    const node = parseDocument(text, {
      uniqueKeys: false,
      prettyErrors: false,
      strict: false,
    }).get(key, true);
    return writtenScalar(node);
  } catch {
    return undefined;
  }
}

/**
 * How a YAML node was written, when it is a scalar: its text, explicit tag and whether it is
 * plain. A quoted "1.20" or `!!str 1.20` is text to every reader (trial 22 F4); a tagged one is
 * resolved by go-yaml as its tag says (trial 23 fmts F1).
 */
export function writtenScalar(node: unknown): WrittenScalar | undefined {
  if (!isScalar(node) || typeof node.source !== 'string') return undefined;
  return { source: node.source, tag: node.tag, plain: node.type === 'PLAIN' };
}

/**
 * The chart name and version a provenance file signs, and the digest it signs for the chart's
 * archive: the YAML of its clear-signed message (Chart.yaml, then `...` and the `files:`
 * section mapping `<name>-<version>.tgz` to `sha256:<hex>`;
 * https://helm.sh/docs/topics/provenance/). `chartDigest`: that `sha256:<hex>` as written, or
 * undefined when the section names no such file. Throws BAD_REQUEST when it is not a
 * provenance file.
 */
export function provenanceChart(text: string): {
  name: string;
  version: string;
  chartDigest: string | undefined;
} {
  const begin = text.indexOf('-----BEGIN PGP SIGNED MESSAGE-----');
  const sig = text.indexOf('-----BEGIN PGP SIGNATURE-----');
  if (begin < 0 || sig < begin) {
    throw new RegistryError('BAD_REQUEST', 'not a provenance file (a PGP clear-signed message)');
  }
  const afterHeader = text.indexOf('\n\n', begin);
  const signed = text.slice(afterHeader < 0 ? begin : afterHeader + 2, sig);
  const [firstDoc = '', filesDoc = ''] = signed.split(/^\.\.\.\s*$/m);
  const parsed = parseBoundedYaml(firstDoc, 'provenance file');
  if (!isObject(parsed)) throw new RegistryError('BAD_REQUEST', 'provenance file names no chart');
  const { name, version } = parsed;
  if (
    typeof name !== 'string' ||
    !isChartName(name) ||
    typeof version !== 'string' ||
    !isChartVersion(version)
  ) {
    throw new RegistryError('BAD_REQUEST', 'provenance file names no valid chart name and version');
  }
  const files: unknown =
    filesDoc.trim() === '' ? undefined : parseBoundedYaml(filesDoc, 'provenance file');
  const listed =
    isObject(files) && isObject(files['files'])
      ? files['files'][`${name}-${version}.tgz`]
      : undefined;
  const chartDigest =
    typeof listed === 'string' && /^sha256:[0-9a-fA-F]{64}$/.test(listed.trim())
      ? listed.trim() // as written: helm verify compares it with the archive's digest exactly
      : undefined;
  return { name, version, chartDigest };
}

/**
 * One index entry as a JSON text safe to embed in YAML (JSON is YAML 1.2 flow style): characters
 * YAML parsers refuse or treat as line breaks (C1 controls, U+2028/9, BOM, other
 * non-printables) are written as `\uXXXX` escapes.
 */
export function entryFragment(entry: Record<string, unknown>): string {
  return JSON.stringify(entry).replace(
    /[\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
