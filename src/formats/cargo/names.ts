/**
 * Crate names and versions as Cargo and crates.io check them (Cargo book, "Registry web API",
 * publish; crates.io's name rules): ASCII letters, digits, `-` and `_`, starting with a letter,
 * at most 64 characters, not a reserved name. Two names that differ only in case or `-`/`_` are
 * one crate (crates.io's "canonical name"), so a registry never holds both.
 */
import semver from 'semver';
import { RegistryError } from '../../core/errors.ts';

export const MAX_NAME_LENGTH = 64;

/**
 * Names no crate may take (compared canonically): the standard library's crates, and the
 * device names Windows cannot have as a file or directory (a checkout would break).
 */
const RESERVED = new Set(
  [
    'std',
    'core',
    'alloc',
    'proc_macro',
    'test',
    'compiler_builtins',
    'con',
    'prn',
    'aux',
    'nul',
    ...Array.from({ length: 9 }, (_, i) => `com${i + 1}`),
    ...Array.from({ length: 9 }, (_, i) => `lpt${i + 1}`),
  ].map(canonicalName),
);

/** crates.io's canonical form: lower-cased, `-` as `_` (`Foo-Bar` and `foo_bar` are one crate). */
export function canonicalName(name: string): string {
  return name.toLowerCase().replace(/-/g, '_');
}

/**
 * The spellings of `name` (lower-cased) looked up in a proxy's upstream for one crate: as given,
 * then every `-` as `_` and every `_` as `-` (duplicates dropped). crates.io names are unique
 * modulo `-`/`_`, so at most one exists upstream; mixed spellings (`a-b_c` for `a_b-c`) are not
 * tried: 2ⁿ look-ups per miss, while crates.io names use one separator (Cargo's own fallback
 * search is what finds those).
 */
export function separatorSpellings(lower: string): string[] {
  return [...new Set([lower, lower.replaceAll('_', '-'), lower.replaceAll('-', '_')])];
}

/** One comparator of a Cargo version requirement: `*`, or an optional operator and a partial version. */
const REQ_COMPARATOR =
  /^(?:[*xX]|(?:=|>=|<=|>|<|~|\^)?\s*\d+(?:\.(?:\d+|[*xX]))?(?:\.(?:\d+|[*xX]))?(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)$/;

/**
 * True when `req` is a version requirement Cargo can read (the Cargo book, "Specifying
 * dependencies": comma-separated comparators such as `^1.2`, `>=1, <2`, `1.*`, `=1.0.0-rc.1`).
 * crates.io refuses anything else at publish: an index line Cargo cannot parse makes that version
 * unusable (Cargo skips it), and its number could never be published again.
 */
export function isCargoVersionReq(req: string): boolean {
  return req.split(',').every((part) => REQ_COMPARATOR.test(part.trim()));
}

/** Why `name` cannot be a crate name, or undefined when it can. */
export function crateNameProblem(name: string): string | undefined {
  if (name === '') return 'the crate name is empty';
  if (name.length > MAX_NAME_LENGTH) {
    return `the crate name is longer than ${MAX_NAME_LENGTH} characters`;
  }
  if (!/^[A-Za-z]/.test(name)) return 'a crate name must start with an ASCII letter';
  if (!/^[A-Za-z0-9_-]+$/.test(name)) {
    return 'a crate name may only hold ASCII letters, digits, "-" and "_"';
  }
  if (RESERVED.has(canonicalName(name))) return `"${name}" is a reserved name`;
  return undefined;
}

export function isValidCrateName(name: string): boolean {
  return crateNameProblem(name) === undefined;
}

/** `name` when it is a valid crate name; BAD_REQUEST naming the rule otherwise. */
export function checkCrateName(name: string): string {
  const problem = crateNameProblem(name);
  if (problem !== undefined) {
    throw new RegistryError(
      'BAD_REQUEST',
      `invalid crate name ${JSON.stringify(name.slice(0, 100))}: ${problem}`,
    );
  }
  return name;
}

/** A parsed SemVer 2.0.0 version and its precedence key (build metadata dropped, SemVer §10). */
export interface CrateVersion {
  /** As published (`1.0.0+build.5`). */
  readonly text: string;
  /** `1.0.0`: versions with one key are one version (`1.0.0+a` == `1.0.0+b`). */
  readonly key: string;
}

/** Parses a strict SemVer version (what Cargo.toml's `version` must be); undefined otherwise. */
export function parseCrateVersion(text: string): CrateVersion | undefined {
  if (text.length > 256) return undefined;
  const parsed = semver.parse(text, { loose: false });
  if (parsed === null) return undefined;
  // semver.parse also accepts a leading "v" or "=" and whitespace around (`1.0.0\n`): Cargo
  // does not. Only a text that is exactly the version it parses to is one.
  const build = parsed.build.length > 0 ? `+${parsed.build.join('.')}` : '';
  if (`${parsed.version}${build}` !== text) return undefined;
  return { text, key: parsed.version };
}

/** The version when valid SemVer; BAD_REQUEST otherwise. */
export function checkCrateVersion(text: string): CrateVersion {
  const parsed = parseCrateVersion(text);
  if (parsed === undefined) {
    throw new RegistryError(
      'BAD_REQUEST',
      `invalid version ${JSON.stringify(text.slice(0, 100))}: not a SemVer 2.0.0 version`,
    );
  }
  return parsed;
}
