/**
 * Go module paths and versions: the checks, the case-encoding and the version order the `go`
 * command applies (golang.org/x/mod/module and golang.org/x/mod/semver, rewritten here; the Go
 * modules reference, "Module paths", "Versions", "Pseudo-versions", "Case-encoding").
 *
 * Every `check*` function returns the reason the input is refused (a short English phrase fit for
 * a 4xx body), or `undefined` when it is valid. The `unescape*` functions throw
 * {@link GoInputError} instead, since their callers always need the decoded value.
 */

/** Refused module input (path, version, escaped URL element); `message` is the 4xx body. */
export class GoInputError extends Error {
  override readonly name = 'GoInputError';
}

// ---------------------------------------------------------------------------------------------
// Paths (x/mod/module CheckPath, CheckImportPath, CheckFilePath)
// ---------------------------------------------------------------------------------------------

const PathKind = { Module: 0, Import: 1, File: 2 } as const;
type PathKind = (typeof PathKind)[keyof typeof PathKind];

/** Characters of the first element of a module path (the would-be host name). */
function firstPathOK(c: string): boolean {
  return c === '-' || c === '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
}

function modPathOK(c: string): boolean {
  return (
    c === '-' ||
    c === '.' ||
    c === '_' ||
    c === '~' ||
    (c >= '0' && c <= '9') ||
    (c >= 'A' && c <= 'Z') ||
    (c >= 'a' && c <= 'z')
  );
}

function importPathOK(c: string): boolean {
  return modPathOK(c) || c === '+';
}

const FILE_NAME_PUNCT = '!#$%&()+,-.=@[]^_{}~ ';
const LETTER = /^\p{L}$/u;

function fileNameOK(c: string): boolean {
  const code = c.codePointAt(0) ?? 0;
  if (code < 0x80) {
    return (
      (c >= '0' && c <= '9') ||
      (c >= 'A' && c <= 'Z') ||
      (c >= 'a' && c <= 'z') ||
      FILE_NAME_PUNCT.includes(c)
    );
  }
  return LETTER.test(c);
}

/** Names Windows reserves, refused as the part of any element before its first dot. */
const BAD_WINDOWS_NAMES = new Set([
  'CON',
  'PRN',
  'AUX',
  'NUL',
  ...Array.from({ length: 9 }, (_, i) => `COM${i + 1}`),
  ...Array.from({ length: 9 }, (_, i) => `LPT${i + 1}`),
]);

/** True when `s` is well-formed UTF-16 (no lone surrogate), i.e. came from valid UTF-8. */
function isWellFormed(s: string): boolean {
  return s.isWellFormed();
}

function checkElem(elem: string, kind: PathKind): string | undefined {
  if (elem === '') return 'empty path element';
  if (/^\.+$/.test(elem)) return `invalid path element "${elem}"`;
  if (elem.startsWith('.') && kind === PathKind.Module) return 'leading dot in path element';
  if (elem.endsWith('.')) return 'trailing dot in path element';
  for (const c of elem) {
    const ok =
      kind === PathKind.Module
        ? modPathOK(c)
        : kind === PathKind.Import
          ? importPathOK(c)
          : fileNameOK(c);
    if (!ok) return `invalid char ${JSON.stringify(c)}`;
  }
  const dot = elem.indexOf('.');
  const short = dot >= 0 ? elem.slice(0, dot) : elem;
  if (BAD_WINDOWS_NAMES.has(short.toUpperCase())) {
    return `"${short}" disallowed as path element component on Windows`;
  }
  if (kind === PathKind.File) return undefined;
  // "~" followed by digits looks like a Windows 8.3 short name (FOO~1), which could alias.
  const tilde = short.lastIndexOf('~');
  if (tilde >= 0 && tilde < short.length - 1 && /^[0-9]+$/.test(short.slice(tilde + 1))) {
    return 'trailing tilde and digits in path element';
  }
  return undefined;
}

function checkPathKind(path: string, kind: PathKind): string | undefined {
  if (!isWellFormed(path)) return 'invalid UTF-8';
  if (path === '') return 'empty string';
  if (path.startsWith('-') && kind !== PathKind.File) return 'leading dash';
  if (path.includes('//')) return 'double slash';
  if (path.endsWith('/')) return 'trailing slash';
  for (const elem of path.split('/')) {
    const err = checkElem(elem, kind);
    if (err !== undefined) return err;
  }
  return undefined;
}

/**
 * Why `path` is not a valid module path, or undefined (x/mod/module.CheckPath): slash-separated
 * elements of ASCII letters, digits and `-._~`, no leading/trailing dot per element, a first
 * element that looks like a lowercase host name with a dot, and a well-formed major version
 * suffix (`/vN` with N ≥ 2, or `gopkg.in/x.vN`).
 */
export function checkPath(path: string): string | undefined {
  const err = checkPathKind(path, PathKind.Module);
  if (err !== undefined) return `malformed module path "${path}": ${err}`;
  let i = path.indexOf('/');
  if (i < 0) i = path.length;
  if (i === 0) return `malformed module path "${path}": leading slash`;
  const first = path.slice(0, i);
  if (!first.includes('.')) {
    return `malformed module path "${path}": missing dot in first path element`;
  }
  if (path.startsWith('-')) {
    return `malformed module path "${path}": leading dash in first path element`;
  }
  for (const c of first) {
    if (!firstPathOK(c)) {
      return `malformed module path "${path}": invalid char ${JSON.stringify(c)} in first path element`;
    }
  }
  if (!splitPathVersion(path).ok) return `malformed module path "${path}": invalid version`;
  return undefined;
}

/** Why `path` is not a valid package import path, or undefined (x/mod/module.CheckImportPath). */
export function checkImportPath(path: string): string | undefined {
  const err = checkPathKind(path, PathKind.Import);
  return err === undefined ? undefined : `malformed import path "${path}": ${err}`;
}

/**
 * Why `path` (slash-separated, relative to the module root) is not a valid file path inside a
 * module zip, or undefined (x/mod/module.CheckFilePath): letters of any script, ASCII digits and
 * ``!#$%&()+,-.=@[]^_{}~ ``; no empty, `.` or `..` elements; no Windows reserved names.
 */
export function checkFilePath(path: string): string | undefined {
  const err = checkPathKind(path, PathKind.File);
  return err === undefined ? undefined : `malformed file path "${path}": ${err}`;
}

/**
 * Splits a module path into the prefix and the major version suffix (`/v2`, `.v1`, or ``),
 * x/mod/module.SplitPathVersion. `ok` is false for a malformed suffix (`/v0`, `/v1`, `/v2.0`).
 */
export function splitPathVersion(path: string): {
  prefix: string;
  pathMajor: string;
  ok: boolean;
} {
  if (path.startsWith('gopkg.in/')) return splitGopkgIn(path);
  let i = path.length;
  let dot = false;
  while (
    i > 0 &&
    ((path.charAt(i - 1) >= '0' && path.charAt(i - 1) <= '9') || path[i - 1] === '.')
  ) {
    if (path[i - 1] === '.') dot = true;
    i--;
  }
  if (i <= 1 || i === path.length || path[i - 1] !== 'v' || path[i - 2] !== '/') {
    return { prefix: path, pathMajor: '', ok: true };
  }
  const prefix = path.slice(0, i - 2);
  const pathMajor = path.slice(i - 2);
  if (dot || pathMajor.length <= 2 || pathMajor[2] === '0' || pathMajor === '/v1') {
    return { prefix: path, pathMajor: '', ok: false };
  }
  return { prefix, pathMajor, ok: true };
}

function splitGopkgIn(path: string): { prefix: string; pathMajor: string; ok: boolean } {
  let i = path.length;
  if (path.endsWith('-unstable')) i -= '-unstable'.length;
  while (i > 0 && path.charAt(i - 1) >= '0' && path.charAt(i - 1) <= '9') i--;
  if (i <= 1 || path[i - 1] !== 'v' || path[i - 2] !== '.') {
    return { prefix: path, pathMajor: '', ok: false };
  }
  const prefix = path.slice(0, i - 2);
  const pathMajor = path.slice(i - 2);
  if (pathMajor.length <= 2 || (pathMajor[2] === '0' && pathMajor !== '.v0')) {
    return { prefix: path, pathMajor: '', ok: false };
  }
  return { prefix, pathMajor, ok: true };
}

/**
 * Why version `v` cannot belong to a module whose path ends in `pathMajor`, or undefined
 * (x/mod/module.CheckPathMajor): `` takes v0/v1 and `+incompatible`; `/vN` and `.vN` take vN;
 * `gopkg.in/x.v1` also takes v0.0.0 pseudo-versions.
 */
export function checkPathMajor(v: string, pathMajor: string): string | undefined {
  let pm = pathMajor;
  if (pm.startsWith('.v') && pm.endsWith('-unstable')) pm = pm.slice(0, -'-unstable'.length);
  if (v.startsWith('v0.0.0-') && pm === '.v1') return undefined;
  const m = semverMajor(v);
  let want: string;
  if (pm === '') {
    if (m === 'v0' || m === 'v1' || semverBuild(v) === '+incompatible') return undefined;
    want = 'v0 or v1';
  } else {
    if (m === pm.slice(1)) return undefined;
    want = pm.slice(1);
  }
  return `invalid version ${v}: should be ${want}, not ${m}`;
}

/**
 * Why (module path, version) is not a valid module version, or undefined (x/mod/module.Check
 * plus the `go` command's rule that a proxy's version be canonical): a valid path, a canonical
 * semantic version (`v1.2.3`, `v1.2.3-pre`, pseudo-versions, `+incompatible` only when the major
 * version is ≥ 2 and the path has no major suffix), matching the path's major suffix.
 */
export function checkModuleVersion(path: string, version: string): string | undefined {
  const pathErr = checkPath(path);
  if (pathErr !== undefined) return pathErr;
  const vErr = checkVersion(version);
  if (vErr !== undefined) return vErr;
  const { pathMajor } = splitPathVersion(path);
  if (semverBuild(version) === '+incompatible') {
    if (pathMajor !== '') {
      return `invalid version ${version}: +incompatible suffix not allowed: module path has a major version suffix`;
    }
    const m = semverMajor(version);
    if (m === 'v0' || m === 'v1') {
      return `invalid version ${version}: +incompatible suffix not allowed: major version ${m} is compatible`;
    }
  }
  const majErr = checkPathMajor(version, pathMajor);
  return majErr === undefined ? undefined : `${path}@${version}: ${majErr}`;
}

/**
 * Why `version` is not a canonical module version, or undefined: `vMAJOR.MINOR.PATCH`, an
 * optional prerelease, and no build metadata except `+incompatible` (shorthands such as `v1.2`
 * are valid semver for `go` but never what a proxy serves).
 */
export function checkVersion(version: string): string | undefined {
  if (!isValidSemver(version)) return `invalid version "${version}": not a semantic version`;
  if (canonicalVersion(version) !== version) {
    return `invalid version "${version}": not a canonical version (want ${canonicalVersion(version)})`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Case-encoding (x/mod/module EscapePath / UnescapePath / EscapeVersion / UnescapeVersion)
// ---------------------------------------------------------------------------------------------

function escapeString(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);
}

/** Decodes `!x` → `X`; undefined for an uppercase letter, a non-ASCII char, or a bad `!`. */
function unescapeString(escaped: string): string | undefined {
  let out = '';
  let bang = false;
  for (const c of escaped) {
    if ((c.codePointAt(0) ?? 0) >= 0x80) return undefined;
    if (bang) {
      bang = false;
      if (c < 'a' || c > 'z') return undefined;
      out += c.toUpperCase();
      continue;
    }
    if (c === '!') {
      bang = true;
      continue;
    }
    if (c >= 'A' && c <= 'Z') return undefined;
    out += c;
  }
  return bang ? undefined : out;
}

/** The case-encoded form of a valid module path (`github.com/!azure/x`); throws GoInputError. */
export function escapePath(path: string): string {
  const err = checkPath(path);
  if (err !== undefined) throw new GoInputError(err);
  return escapeString(path);
}

/** Decodes a case-encoded module path from a URL and checks it; throws GoInputError. */
export function unescapePath(escaped: string): string {
  const path = unescapeString(escaped);
  if (path === undefined) throw new GoInputError(`invalid escaped module path "${escaped}"`);
  const err = checkPath(path);
  if (err !== undefined) throw new GoInputError(`invalid escaped module path "${escaped}": ${err}`);
  return path;
}

/** The case-encoded form of a version (any file-name-safe string, not only semver). */
export function escapeVersion(v: string): string {
  if (checkElem(v, PathKind.File) !== undefined || v.includes('!')) {
    throw new GoInputError(`invalid version "${v}": disallowed version string`);
  }
  return escapeString(v);
}

/** Decodes a case-encoded version from a URL (not checked as semver); throws GoInputError. */
export function unescapeVersion(escaped: string): string {
  const v = unescapeString(escaped);
  if (v === undefined) throw new GoInputError(`invalid escaped version "${escaped}"`);
  const err = checkElem(v, PathKind.File);
  if (err !== undefined) throw new GoInputError(`invalid escaped version "${v}": ${err}`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Semantic versions as Go reads them (x/mod/semver: leading `v`, `v1` and `v1.2` shorthands)
// ---------------------------------------------------------------------------------------------

interface Parsed {
  major: string;
  minor: string;
  patch: string;
  /** Dot-separated identifiers with the leading `-`, or ``. */
  prerelease: string;
  /** With the leading `+`, or ``. */
  build: string;
  /** True for `v1` / `v1.2` shorthands. */
  short: boolean;
}

const NUM = '(0|[1-9][0-9]*)';
const PRE_ID = '(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)';
const BUILD_ID = '[0-9A-Za-z-]+';
const SEMVER_RE = new RegExp(
  `^v${NUM}(?:\\.${NUM}(?:\\.${NUM}(-${PRE_ID}(?:\\.${PRE_ID})*)?(\\+${BUILD_ID}(?:\\.${BUILD_ID})*)?)?)?$`,
);

function parse(v: string): Parsed | undefined {
  const m = SEMVER_RE.exec(v);
  if (m === null) return undefined;
  return {
    major: m[1] ?? '0',
    minor: m[2] ?? '0',
    patch: m[3] ?? '0',
    prerelease: m[4] ?? '',
    build: m[5] ?? '',
    short: m[3] === undefined,
  };
}

/** True when `v` is a Go semantic version (`v1`, `v1.2`, `v1.2.3-pre+build`). */
export function isValidSemver(v: string): boolean {
  return parse(v) !== undefined;
}

/** `vMAJOR` of a valid version (`v2`), or `` when invalid. */
export function semverMajor(v: string): string {
  const p = parse(v);
  return p === undefined ? '' : `v${p.major}`;
}

/** The `-prerelease` of a valid version, or ``. */
export function semverPrerelease(v: string): string {
  return parse(v)?.prerelease ?? '';
}

/** The `+build` suffix of a valid version, or ``. */
export function semverBuild(v: string): string {
  return parse(v)?.build ?? '';
}

/** `vX.Y.Z[-pre]` with the build dropped (x/mod/semver.Canonical); `` when invalid. */
export function canonicalSemver(v: string): string {
  const p = parse(v);
  if (p === undefined) return '';
  return `v${p.major}.${p.minor}.${p.patch}${p.prerelease}`;
}

/** {@link canonicalSemver} keeping a `+incompatible` suffix (x/mod/module.CanonicalVersion). */
export function canonicalVersion(v: string): string {
  const cv = canonicalSemver(v);
  return cv !== '' && semverBuild(v) === '+incompatible' ? `${cv}+incompatible` : cv;
}

function compareInt(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function comparePrerelease(a: string, b: string): number {
  if (a === b) return 0;
  if (a === '') return 1;
  if (b === '') return -1;
  const as = a.slice(1).split('.');
  const bs = b.slice(1).split('.');
  for (let i = 0; i < Math.min(as.length, bs.length); i++) {
    const x = as[i] ?? '';
    const y = bs[i] ?? '';
    if (x === y) continue;
    const xn = /^[0-9]+$/.test(x);
    const yn = /^[0-9]+$/.test(y);
    if (xn && yn) return compareInt(x, y);
    if (xn) return -1;
    if (yn) return 1;
    return x < y ? -1 : 1;
  }
  return as.length === bs.length ? 0 : as.length < bs.length ? -1 : 1;
}

/**
 * -1, 0 or 1 as `v` is older than, equal to or newer than `w` (x/mod/semver.Compare): build
 * metadata is ignored, a prerelease sorts before its release, and an invalid version sorts
 * before every valid one (two invalid versions are equal).
 */
export function compareSemver(v: string, w: string): number {
  const pv = parse(v);
  const pw = parse(w);
  if (pv === undefined) return pw === undefined ? 0 : -1;
  if (pw === undefined) return 1;
  return (
    compareInt(pv.major, pw.major) ||
    compareInt(pv.minor, pw.minor) ||
    compareInt(pv.patch, pw.patch) ||
    comparePrerelease(pv.prerelease, pw.prerelease)
  );
}

/** Sorts versions oldest first, ties broken by the string (x/mod/module.Sort); returns a copy. */
export function sortVersions(versions: readonly string[]): string[] {
  return [...versions].sort((a, b) => compareSemver(a, b) || (a < b ? -1 : a > b ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------
// Pseudo-versions (x/mod/module pseudo.go)
// ---------------------------------------------------------------------------------------------

const PSEUDO_RE =
  /^v[0-9]+\.(0\.0-|\d+\.\d+-([^+]*\.)?0\.)\d{14}-[A-Za-z0-9]+(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

/**
 * True when `v` is a pseudo-version (`vX.0.0-yyyymmddhhmmss-abcdef123456`,
 * `vX.Y.Z-pre.0.yyyymmddhhmmss-abc…`, `vX.Y.(Z+1)-0.yyyymmddhhmmss-abc…`).
 */
export function isPseudoVersion(v: string): boolean {
  return (v.match(/-/g)?.length ?? 0) >= 2 && isValidSemver(v) && PSEUDO_RE.test(v);
}

/**
 * The UTC time a pseudo-version encodes, as RFC 3339 (`2019-11-09T02:19:31Z`), or undefined when
 * `v` is not a pseudo-version or its timestamp is not a real date.
 */
export function pseudoVersionTime(v: string): string | undefined {
  if (!isPseudoVersion(v)) return undefined;
  const ts = pseudoTimestamp(v);
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(ts);
  if (m === null) return undefined;
  const [y = '', mo = '', d = '', h = '', mi = '', s = ''] = m.slice(1);
  const date = new Date(Date.UTC(+y, +mo - 1, +d, +h, +mi, +s));
  // Refuse rollovers such as month 13 or 25:00 (Go's time.Parse refuses them too).
  if (
    date.getUTCFullYear() !== +y ||
    date.getUTCMonth() !== +mo - 1 ||
    date.getUTCDate() !== +d ||
    date.getUTCHours() !== +h ||
    date.getUTCMinutes() !== +mi ||
    date.getUTCSeconds() !== +s
  ) {
    return undefined;
  }
  return `${y}-${mo}-${d}T${h}:${mi}:${s}Z`;
}

/** The 14-digit `yyyymmddhhmmss` field of pseudo-version `v` (`v` must be one). */
function pseudoTimestamp(v: string): string {
  const build = semverBuild(v);
  const rest = v.slice(0, v.length - build.length);
  const withoutRev = rest.slice(0, rest.lastIndexOf('-'));
  return withoutRev.slice(Math.max(withoutRev.lastIndexOf('-'), withoutRev.lastIndexOf('.')) + 1);
}

/**
 * The `yyyymmddhhmmss` field of pseudo-version `v` when it is no real UTC date and time
 * (`20201399000000`: month 13, day 99); undefined when `v` is not a pseudo-version or its
 * timestamp is valid. x/mod's PseudoVersionTime fails on such a version.
 */
export function impossiblePseudoTimestamp(v: string): string | undefined {
  if (!isPseudoVersion(v) || pseudoVersionTime(v) !== undefined) return undefined;
  return pseudoTimestamp(v);
}

// ---------------------------------------------------------------------------------------------
// GOPRIVATE-style patterns (x/mod/module.MatchPrefixPatterns)
// ---------------------------------------------------------------------------------------------

/** Go's path.Match pattern as a RegExp (`*`, `?` never cross `/`); undefined when malformed. */
function globToRegExp(glob: string): RegExp | undefined {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charAt(i);
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      i++;
      if (i >= glob.length) return undefined;
      re += escapeRe(glob.charAt(i));
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) return undefined;
      let body = glob.slice(i + 1, end);
      let neg = false;
      if (body.startsWith('^')) {
        neg = true;
        body = body.slice(1);
      }
      if (body === '') return undefined;
      re += `[${neg ? '^' : ''}${body.replace(/[\]\\^]/g, '\\$&')}]`;
      i = end;
    } else re += escapeRe(c);
  }
  try {
    return new RegExp(`^${re}$`, 'u');
  } catch {
    return undefined;
  }
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/**
 * True when `glob` is one well-formed GOPRIVATE-style pattern (path.Match syntax, an optional
 * trailing `/`). `go` silently ignores a malformed one (x/mod's MatchPrefixPatterns drops
 * path.Match's ErrBadPattern), so `[go] private = ["corp.example/[x"]` would never match and
 * private module paths would go to the upstream: the configuration refuses it instead.
 */
export function isPrefixPattern(glob: string): boolean {
  const raw = glob.endsWith('/') ? glob.slice(0, -1) : glob;
  return raw !== '' && !raw.includes(',') && globToRegExp(raw) !== undefined;
}

/**
 * True when a leading run of `target`'s path elements matches one of the comma-separated glob
 * patterns (GOPRIVATE/GONOSUMDB syntax, x/mod/module.MatchPrefixPatterns): `corp.example`
 * matches `corp.example/x/y`; `*.corp.example`, `*\/quote` work element-wise.
 */
export function matchPrefixPatterns(globs: string, target: string): boolean {
  for (let raw of globs.split(',')) {
    if (raw.endsWith('/')) raw = raw.slice(0, -1);
    if (raw === '') continue;
    let n = (raw.match(/\//g) ?? []).length;
    let prefix = target;
    for (let i = 0; i < target.length; i++) {
      if (target[i] === '/') {
        if (n === 0) {
          prefix = target.slice(0, i);
          break;
        }
        n--;
      }
    }
    if (n > 0) continue;
    if (globToRegExp(raw)?.test(prefix) === true) return true;
  }
  return false;
}
