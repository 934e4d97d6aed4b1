/**
 * Curation list files: parsing with errors that name the line and the field, and the matching
 * of names and versions. Shapes (NORA's, docs/curation.md):
 *
 * - blocklist `{"version": 1, "rules": [{"registry", "name", "version", "reason"}]}`
 * - allowlist `{"version": 1, "entries": [{"registry", "name", "version", "integrity"?}]}`
 *
 * `registry` is a format name (`docker`, `npm`, `pypi`, `maven`, `cargo`, `go`, `raw`, `helm`) or
 * `*`. `name` is exact in the registry's canonical spelling or a pattern (`prefix/**`,
 * `prefix.**`, `prefix*`, `*`: `namePattern`). `version` is `*`, or by registry: a SemVer range
 * (node-semver syntax) for npm, Cargo, Helm and Go (a leading `v` is ignored); a PEP 440
 * specifier set (`<2,>=1.4`, `==1.2.*`) or one exact version for PyPI; one exact version for
 * the others (Maven, Docker tags, raw), whose versions have no range syntax NORA can trust.
 */
import {
  satisfies as pep440Satisfies,
  validRange as pep440Range,
  parse as pep440Parse,
} from '@renovatebot/pep440';
import { findNodeAtLocation, type ParseError, parseTree } from 'jsonc-parser';
import semver from 'semver';
import { FORMAT_NAMES } from '../config/schema.ts';
import type { CurationRegistry, CurationSubject } from './types.ts';

/** One problem of a list file: where (1-based line, JSON path) and what. */
export interface PolicyIssue {
  readonly line: number | undefined;
  readonly path: string;
  readonly message: string;
}

/** A list file that cannot be used; `issues` are all the problems found, in file order. */
export class PolicyError extends Error {
  readonly file: string;
  readonly issues: readonly PolicyIssue[];
  constructor(file: string, issues: readonly PolicyIssue[]) {
    super(
      issues
        .map(
          (i) =>
            `${file}${i.line === undefined ? '' : `:${i.line}`}: ${i.path === '' ? '' : `${i.path}: `}${i.message}`,
        )
        .join('\n'),
    );
    this.name = 'PolicyError';
    this.file = file;
    this.issues = issues;
  }
}

export interface BlockRule {
  /** 1-based position in `rules`. */
  readonly index: number;
  readonly line: number | undefined;
  readonly registry: CurationRegistry | '*';
  readonly name: NamePattern;
  readonly version: VersionMatcher;
  readonly reason: string;
}

export interface AllowEntry {
  readonly index: number;
  readonly line: number | undefined;
  readonly registry: CurationRegistry | '*';
  readonly name: NamePattern;
  readonly version: VersionMatcher;
  readonly integrity: string | undefined;
}

export type ListKind = 'blocklist' | 'allowlist';

export interface Blocklist {
  readonly kind: 'blocklist';
  readonly file: string;
  readonly rules: readonly BlockRule[];
}

export interface Allowlist {
  readonly kind: 'allowlist';
  readonly file: string;
  readonly entries: readonly AllowEntry[];
}

// ------------------------------------------------------------------ names

/** A name pattern of a rule or of `internal_namespaces`. */
export interface NamePattern {
  readonly source: string;
  matches(registry: CurationRegistry, name: string): boolean;
}

/**
 * The spelling names are compared in: PyPI's PEP 503 form (`Foo.Bar_baz` → `foo-bar-baz`),
 * Cargo's canonical form (lower case, `-` as `_`), Docker images lower case; others as written.
 */
export function canonicalName(registry: CurationRegistry, name: string): string {
  switch (registry) {
    case 'pypi':
      return name.replace(/[-_.]+/g, '-').toLowerCase();
    case 'cargo':
      return name.toLowerCase().replaceAll('-', '_');
    case 'docker':
      return name.toLowerCase();
    case 'npm':
    case 'maven':
    case 'go':
    case 'raw':
    case 'helm':
      return name;
  }
}

/**
 * `pattern` → matcher. `*` every name; `prefix/**` the names under `prefix/` (npm scopes
 * `@acme/**`, Go `github.com/acme/**`, Docker `acme/**`); `prefix.**` the name `prefix` and
 * the names under `prefix.` or `prefix:` (Maven groups `com.acme.**`); `prefix*` names starting
 * with `prefix`; anything else exactly that name. Compared in the registry's canonical spelling.
 */
export function namePattern(pattern: string): NamePattern {
  const source = pattern.trim();
  if (source === '*' || source === '**') return { source, matches: () => true };
  if (source.endsWith('/**')) {
    const prefix = source.slice(0, -2); // keeps the '/'
    return {
      source,
      matches: (registry, name) =>
        canonicalName(registry, name).startsWith(canonicalPrefix(registry, prefix)),
    };
  }
  if (source.endsWith('.**')) {
    const stem = source.slice(0, -3);
    return {
      source,
      matches: (registry, name) => {
        const n = canonicalName(registry, name);
        const s = canonicalPrefix(registry, stem);
        return n === s || n.startsWith(`${s}.`) || n.startsWith(`${s}:`) || n.startsWith(`${s}/`);
      },
    };
  }
  if (source.endsWith('*')) {
    const prefix = source.slice(0, -1);
    return {
      source,
      matches: (registry, name) =>
        canonicalName(registry, name).startsWith(canonicalPrefix(registry, prefix)),
    };
  }
  return {
    source,
    matches: (registry, name) => canonicalName(registry, name) === canonicalName(registry, source),
  };
}

// A prefix keeps its trailing separator through canonicalisation (PyPI folds `.`/`_` into `-`).
function canonicalPrefix(registry: CurationRegistry, prefix: string): string {
  return registry === 'pypi'
    ? prefix.replace(/[-_.]+/g, '-').toLowerCase()
    : canonicalName(registry, prefix);
}

/**
 * `internal_namespaces` entries: a pattern, optionally qualified by a registry (`npm:@acme/**`).
 * Unqualified patterns apply to every registry.
 */
export interface InternalNamespace {
  readonly registry: CurationRegistry | '*';
  readonly pattern: NamePattern;
}

export function parseInternalNamespace(entry: string): InternalNamespace {
  const colon = entry.indexOf(':');
  const head = colon < 0 ? '' : entry.slice(0, colon);
  if ((FORMAT_NAMES as readonly string[]).includes(head)) {
    return { registry: head as CurationRegistry, pattern: namePattern(entry.slice(colon + 1)) };
  }
  return { registry: '*', pattern: namePattern(entry) };
}

// ------------------------------------------------------------------ versions

export interface VersionMatcher {
  readonly source: string;
  /** `version` undefined (a name-level question) matches only `*`. */
  matches(version: string | undefined): boolean;
}

const SEMVER_REGISTRIES: ReadonlySet<string> = new Set(['npm', 'cargo', 'helm', 'go']);

/** The matcher for `spec` in `registry`, or an error message saying what is expected. */
export function versionMatcher(
  registry: CurationRegistry | '*',
  spec: string,
): VersionMatcher | string {
  const source = spec.trim();
  if (source === '*' || source === '') {
    return { source: '*', matches: () => true };
  }
  if (registry === '*') {
    return `a rule for every registry ("registry": "*") takes only version "*", got ${JSON.stringify(spec)}`;
  }
  if (SEMVER_REGISTRIES.has(registry)) {
    const range = semver.validRange(source.replace(/(^|[\s=<>~^])v(?=\d)/g, '$1'));
    if (range === null) {
      return `${JSON.stringify(spec)} is not a SemVer range (such as "1.2.3", "<4.17.21", ">=1.0.0 <1.4.2 || 2.0.0", "^3.1")`;
    }
    return {
      source,
      matches: (version) => {
        if (version === undefined) return false;
        const v = semver.valid(version.replace(/^v(?=\d)/, ''));
        return v !== null && semver.satisfies(v, range, { includePrerelease: true });
      },
    };
  }
  if (registry === 'pypi') {
    if (pep440Parse(source) !== null) {
      const key = pypiKey(source);
      return { source, matches: (version) => version !== undefined && pypiKey(version) === key };
    }
    if (!pep440Range(source)) {
      return `${JSON.stringify(spec)} is neither a PEP 440 version nor a specifier set (such as "2.31.0", "<2.32,>=2.0", "==1.4.*")`;
    }
    return {
      source,
      matches: (version) =>
        version !== undefined &&
        pep440Parse(version) !== null &&
        pep440Satisfies(version, source, { prereleases: true }),
    };
  }
  // Maven's own ranges (`[1.0,2.0)`, `(,1.0]`) and globs (`1.*`) are no Maven, Docker or raw
  // version: accepted, they would be compared as exact strings and block nothing.
  if (/[\s<>^~|,*?()[\]]/.test(source)) {
    return `${registry} versions have no range syntax here (neither Maven's "[1.0,2.0)" nor a glob "1.*"): write one exact version or "*", got ${JSON.stringify(spec)}`;
  }
  return { source, matches: (version) => version === source };
}

// Base64 length of each SRI digest (W3C Subresource Integrity §3.5: `<alg>-<base64 digest>`).
const SRI_LENGTHS: Readonly<Record<string, number>> = { sha256: 44, sha384: 64, sha512: 88 };

/**
 * Why `integrity` is not a digest NORA compares, or undefined: an SRI string (`sha256-`,
 * `sha384-`, `sha512-` and the base64 digest of that length, as npm's `dist.integrity`) or
 * `sha256:<64 hex>` (Helm's index digest, OCI). Anything else (`md5-…`, `sha512-`) would match no
 * artifact and refuse every version as an integrity mismatch (trial 27 newC F10).
 */
export function integrityProblem(integrity: string): string | undefined {
  if (/^sha256:[0-9a-f]{64}$/.test(integrity)) return undefined;
  const sri = /^(sha256|sha384|sha512)-([A-Za-z0-9+/]+={0,2})$/.exec(integrity);
  if (sri?.[1] !== undefined && sri[2]?.length === SRI_LENGTHS[sri[1]]) return undefined;
  return `${JSON.stringify(integrity)} is not an integrity NORA can compare: expected "sha512-<88 base64 characters>" (also sha256-/sha384-, as npm's dist.integrity) or "sha256:<64 hex digits>" (Helm, OCI)`;
}

// 1.0 and 1.0.0 are one PyPI release (PEP 440 zero padding).
function pypiKey(version: string): string {
  const parsed = pep440Parse(version) as { public?: string } | null;
  const text = (parsed?.public ?? version).toLowerCase();
  return text.replace(/(\.0)+(?=$|[a-z+])/, '');
}

// ------------------------------------------------------------------ files

/**
 * Parses a list file's text. Throws `PolicyError` listing every problem: JSON syntax (with its
 * line and column), a wrong `version`, unknown or missing fields per rule, bad registries,
 * versions a registry cannot match.
 */
export function parseList(kind: 'blocklist', file: string, text: string): Blocklist;
export function parseList(kind: 'allowlist', file: string, text: string): Allowlist;
export function parseList(kind: ListKind, file: string, text: string): Blocklist | Allowlist;
export function parseList(kind: ListKind, file: string, text: string): Blocklist | Allowlist {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new PolicyError(file, [jsonIssue(text, err)]);
  }
  const issues: PolicyIssue[] = [];
  const key = kind === 'blocklist' ? 'rules' : 'entries';
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new PolicyError(file, [
      { line: 1, path: '', message: `expected an object {"version": 1, "${key}": [...]}` },
    ]);
  }
  const root = doc as Record<string, unknown>;
  if (root.version !== 1) {
    issues.push({
      line: lineOfKey(text, 'version'),
      path: 'version',
      message: `expected 1, got ${root.version === undefined ? 'nothing' : JSON.stringify(root.version)}`,
    });
  }
  for (const extra of Object.keys(root)) {
    if (extra !== 'version' && extra !== key) {
      issues.push({
        line: lineOfKey(text, extra),
        path: extra,
        message: `unknown key (a ${kind} has "version" and "${key}")`,
      });
    }
  }
  const list = root[key];
  if (!Array.isArray(list)) {
    issues.push({
      line: lineOfKey(text, key),
      path: key,
      message: `expected an array of ${kind === 'blocklist' ? 'rules' : 'entries'}`,
    });
    throw new PolicyError(file, issues);
  }
  const lines = elementLines(text, key);
  const parsed: (BlockRule | AllowEntry)[] = [];
  list.forEach((item: unknown, i) => {
    const line = lines[i];
    const at = `${key}[${i}]`;
    const problem = (field: string, message: string): void => {
      issues.push({ line, path: field === '' ? at : `${at}.${field}`, message });
    };
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      problem('', 'expected an object');
      return;
    }
    const entry = item as Record<string, unknown>;
    const allowed =
      kind === 'blocklist'
        ? ['registry', 'name', 'version', 'reason']
        : ['registry', 'name', 'version', 'integrity'];
    for (const field of Object.keys(entry)) {
      if (!allowed.includes(field))
        problem(field, `unknown field (expected ${allowed.join(', ')})`);
    }
    const text = (field: string, required: boolean): string | undefined => {
      const value = entry[field];
      if (value === undefined) {
        if (required) problem(field, 'missing');
        return undefined;
      }
      if (typeof value !== 'string' || value.trim() === '') {
        problem(field, `expected a non-empty string, got ${JSON.stringify(value)}`);
        return undefined;
      }
      return value;
    };
    const registry = text('registry', true);
    const name = text('name', true);
    const version = text('version', true);
    const reason = kind === 'blocklist' ? text('reason', true) : undefined;
    const integrity = kind === 'allowlist' ? text('integrity', false) : undefined;
    if (
      registry !== undefined &&
      registry !== '*' &&
      !(FORMAT_NAMES as readonly string[]).includes(registry)
    ) {
      problem(
        'registry',
        `unknown registry ${JSON.stringify(registry)} (expected one of ${FORMAT_NAMES.join(', ')} or "*")`,
      );
      return;
    }
    if (integrity !== undefined) {
      const bad = integrityProblem(integrity);
      if (bad !== undefined) problem('integrity', bad);
    }
    if (registry === undefined || name === undefined || version === undefined) return;
    const reg = registry as CurationRegistry | '*';
    const matcher = versionMatcher(reg, version);
    if (typeof matcher === 'string') {
      problem('version', matcher);
      return;
    }
    if (kind === 'blocklist') {
      if (reason === undefined) return;
      parsed.push({
        index: i + 1,
        line,
        registry: reg,
        name: namePattern(name),
        version: matcher,
        reason,
      });
    } else {
      parsed.push({
        index: i + 1,
        line,
        registry: reg,
        name: namePattern(name),
        version: matcher,
        integrity,
      });
    }
  });
  if (issues.length > 0) throw new PolicyError(file, issues);
  return kind === 'blocklist'
    ? { kind, file, rules: parsed as BlockRule[] }
    : { kind, file, entries: parsed as AllowEntry[] };
}

/** Whether a rule or entry applies to `subject` (registry, name, version). */
export function ruleMatches(
  rule: {
    readonly registry: CurationRegistry | '*';
    readonly name: NamePattern;
    readonly version: VersionMatcher;
  },
  subject: CurationSubject,
): boolean {
  return (
    (rule.registry === '*' || rule.registry === subject.registry) &&
    rule.name.matches(subject.registry, subject.name) &&
    rule.version.matches(subject.version)
  );
}

// JSON.parse's message carries a position (V8: "at position 42" and, since Node 22, "(line 3
// column 5)"); the issue names the line either way.
function jsonIssue(text: string, err: unknown): PolicyIssue {
  const message = err instanceof Error ? err.message : String(err);
  const lineCol = /\(line (\d+) column (\d+)\)/.exec(message);
  const position = /at position (\d+)/.exec(message);
  let line: number | undefined;
  let column: number | undefined;
  if (lineCol) {
    line = Number(lineCol[1]);
    column = Number(lineCol[2]);
  }
  // V8 names no position for some errors (an unexpected token, the end of the text): the
  // first fault jsonc-parser's scan reports is where the syntax breaks.
  const offset = position ? Number(position[1]) : lineCol ? undefined : firstFault(text);
  if (offset !== undefined) {
    const before = text.slice(0, offset);
    line = before.split('\n').length;
    column = before.length - before.lastIndexOf('\n');
  }
  // V8 quotes a snippet of the text after the token (newlines and all): the line says where.
  const what = message
    .replace(/\s*\(line \d+ column \d+\)/, '')
    .replace(/, (\.\.\.)?".*$/s, '')
    .replace(/ in JSON at position \d+/, '');
  return {
    line,
    path: '',
    message: `invalid JSON${column === undefined ? '' : ` at column ${column}`}: ${what}`,
  };
}

/** The 1-based line of `offset` in `text`. */
function lineAt(text: string, offset: number): number {
  return text.slice(0, offset).split('\n').length;
}

/** The offset of the first syntax fault of `text` (RFC 8259: no comments), if any. */
function firstFault(text: string): number | undefined {
  const errors: ParseError[] = [];
  parseTree(text, errors, { disallowComments: true, allowTrailingComma: false });
  return errors[0]?.offset;
}

// The line of the root object's `"key":` (jsonc-parser's tree keeps each node's offset).
function lineOfKey(text: string, key: string): number | undefined {
  const tree = parseTree(text);
  const property = tree && findNodeAtLocation(tree, [key])?.parent;
  return property === undefined ? undefined : lineAt(text, property.offset);
}

/** The 1-based line each element of the root object's array `key` starts on, in order. */
function elementLines(text: string, key: string): number[] {
  const tree = parseTree(text);
  const array = tree && findNodeAtLocation(tree, [key]);
  return array?.children?.map((element) => lineAt(text, element.offset)) ?? [];
}
