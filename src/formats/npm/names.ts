/**
 * npm package names and versions: the one place they are validated. Reads accept legacy names
 * (mixed case, as old packages on public registries have); publishing requires the modern rules.
 */
import { builtinModules } from 'node:module';
import semver, { type SemVer } from 'semver';
import { RegistryError } from '../../core/errors.ts';

const MAX_NAME_LENGTH = 214;
/**
 * The names any route takes (reads of proxied and legacy names included): npm's URL-friendly
 * characters, optionally as `@scope/name`. As validate-npm-package-name, a leading `.` or `_`
 * is refused of the whole name only, and `.` also after the scope: `@corp/_under` is a valid
 * new name (trial 18 authx F4). A scope may hold any character `encodeURIComponent` leaves
 * alone (npm checks the scope only for that); the part after it keeps `-._~` besides letters
 * and digits, as before (`~'!()*` are refused there for new names: newPackageNameProblems).
 */
const READ_NAME = /^(?:@[A-Za-z0-9._~!'()*-]+\/[A-Za-z0-9_~-]|[A-Za-z0-9~-])[A-Za-z0-9._~-]*$/;
/** `READ_NAME` in lower case: what any publish (a new version of a stored name too) may carry. */
const PUBLISH_NAME = /^(?:@[a-z0-9._~!'()*-]+\/[a-z0-9_~-]|[a-z0-9~-])[a-z0-9._~-]*$/;
const TAG = /^[A-Za-z][A-Za-z0-9._-]{0,127}$/;

export function isValidName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_LENGTH && READ_NAME.test(name);
}

/**
 * The rule text of `checkName`'s 400: what any name may be, and that a new package's name has
 * stricter rules (so it does not contradict `checkNewPackageName`'s refusal of `~x`).
 */
const NAME_RULES =
  'npm\'s package name rules: 1-214 characters: letters, digits, "-", ".", "_" ("~" only in names from before npm refused it), optionally as @scope/name; the name cannot start with "." or "_", the part after the scope not with "."; a new package\'s name is also lowercase';

export function checkName(name: string): string {
  if (!isValidName(name)) {
    throw new RegistryError(
      'NAME_INVALID',
      `invalid package name: ${JSON.stringify(name.slice(0, 220))} (${NAME_RULES})`,
    );
  }
  return name;
}

export function checkPublishName(name: string): string {
  if (!PUBLISH_NAME.test(name) || name.length > MAX_NAME_LENGTH) {
    throw new RegistryError(
      'NAME_INVALID',
      `invalid package name for publishing: ${JSON.stringify(name.slice(0, 220))} (lowercase letters, digits, "-", ".", "_", optionally as @scope/name; it cannot start with "." or "_", the part after the scope not with ".")`,
    );
  }
  return name;
}

/** Names npm never accepts (validate-npm-package-name's exclusion list). */
const EXCLUDED_NAMES = new Set(['node_modules', 'favicon.ico']);
/** Node's core module names (`http`, `fs/promises`, `node:test`): npm refuses them as new names. */
const CORE_MODULES = new Set(builtinModules);
const SCOPED_NAME = /^(?:@([^/]+?)[/])?([^/]+?)$/;

/**
 * The rules `name` breaks as the name of a NEW package, in npm's own words: the errors and the
 * "used to be allowed" warnings of validate-npm-package-name 7 (bundled with npm 11), whose
 * `validForNewPackages` is true exactly when this returns []. Rules: not empty; no leading `.`,
 * `-` or `_`; no leading/trailing spaces; not `node_modules` or `favicon.ico`; not a Node core
 * module name (node:module `builtinModules`); at most 214 characters; no capital letters; none of
 * `~'!()*` in the name after the scope; URL-safe (`encodeURIComponent` leaves it alone, or, for
 * `@scope/name`, leaves each part alone; the part after the scope must not start with `.`).
 * Packages that already exist keep their names: callers apply this to creations only.
 */
export function newPackageNameProblems(name: string): string[] {
  const problems: string[] = [];
  if (name.length === 0) problems.push('name length must be greater than zero');
  if (name.startsWith('.')) problems.push('name cannot start with a period');
  if (name.startsWith('-')) problems.push('name cannot start with a hyphen');
  if (name.startsWith('_')) problems.push('name cannot start with an underscore');
  if (name.trim() !== name) problems.push('name cannot contain leading or trailing spaces');
  const lower = name.toLowerCase();
  if (EXCLUDED_NAMES.has(lower)) problems.push(`${lower} is not a valid package name`);
  if (CORE_MODULES.has(lower)) problems.push(`${name} is a core module name`);
  if (name.length > MAX_NAME_LENGTH)
    problems.push(`name can no longer contain more than ${MAX_NAME_LENGTH} characters`);
  if (lower !== name) problems.push('name can no longer contain capital letters');
  if (/[~'!()*]/.test(name.split('/').at(-1) ?? ''))
    problems.push('name can no longer contain special characters ("~\'!()*")');
  if (encodeURIComponent(name) !== name) {
    const match = SCOPED_NAME.exec(name);
    const scope = match?.[1];
    const bare = match?.[2];
    if (bare?.startsWith('.')) problems.push('name cannot start with a period');
    const urlSafe =
      scope !== undefined &&
      bare !== undefined &&
      encodeURIComponent(scope) === scope &&
      encodeURIComponent(bare) === bare;
    if (!urlSafe) problems.push('name can only contain URL-friendly characters');
  }
  return [...new Set(problems)];
}

/**
 * Throws 400 (npm's `{"error"}`) naming every rule of `newPackageNameProblems` that `name`
 * breaks; for `PUT /<name>` when no package of that name exists yet in the target repository.
 */
export function checkNewPackageName(name: string): string {
  const problems = newPackageNameProblems(name);
  if (problems.length > 0) {
    throw new RegistryError(
      'NAME_INVALID',
      `invalid package name ${JSON.stringify(name.slice(0, 220))} for a new package: ${problems.join('; ')} (npm's package name rules)`,
    );
  }
  return name;
}

/**
 * A strict SemVer 2.0.0 version as npm's `semver` parses it, written canonically: no `v`/`=`
 * prefix, no spaces (semver would accept and strip them; a registry key must be the clean form).
 * semver also bounds the length (256) and each number (Number.MAX_SAFE_INTEGER).
 */
function parse(version: string): SemVer | undefined {
  if (version.length > 256) return undefined;
  const parsed = semver.parse(version, { loose: false });
  if (!parsed) return undefined;
  const canonical =
    parsed.build.length > 0 ? `${parsed.version}+${parsed.build.join('.')}` : parsed.version;
  return canonical === version ? parsed : undefined;
}

function parseLoose(version: string): SemVer | undefined {
  return version.length > 256 ? undefined : (semver.parse(version, { loose: true }) ?? undefined);
}

export function isValidVersion(version: string): boolean {
  return parse(version) !== undefined;
}

/**
 * A version as an upstream registry may hold it: anything npm's `semver` parses loosely (old
 * packages carry `v1.0.0` or `1.0.0-01`). Proxied documents keep them, since the clients decide;
 * what is published here must pass `isValidVersion`.
 */
export function isValidUpstreamVersion(version: string): boolean {
  return version.length <= 256 && semver.valid(version, { loose: true }) !== null;
}

export function checkVersion(version: string): string {
  if (!isValidVersion(version)) {
    throw new RegistryError(
      'BAD_REQUEST',
      `invalid version: ${JSON.stringify(version.slice(0, 100))}`,
    );
  }
  return version;
}

export function isValidTag(tag: string): boolean {
  // A tag that parses as a version would shadow it in `npm install name@tag`.
  return TAG.test(tag) && semver.valid(tag) === null;
}

export function checkTag(tag: string): string {
  if (!isValidTag(tag)) {
    throw new RegistryError(
      'BAD_REQUEST',
      `invalid dist-tag: ${JSON.stringify(tag.slice(0, 100))}`,
    );
  }
  return tag;
}

/** `@scope/name` → `name`; `name` → `name`. Tarball file names use the unscoped part. */
export function unscoped(name: string): string {
  const slash = name.indexOf('/');
  return slash === -1 ? name : name.slice(slash + 1);
}

export function scopeOf(name: string): string | undefined {
  return name.startsWith('@') ? name.slice(1, name.indexOf('/')) : undefined;
}

export function tarballFilename(name: string, version: string): string {
  return `${unscoped(name)}-${version}.tgz`;
}

/** The URL path form of a name: scoped names keep a literal `/` (what npm writes in tarball URLs). */
export function namePath(name: string): string {
  return name.startsWith('@')
    ? `@${encodeURIComponent(name.slice(1, name.indexOf('/')))}/${encodeURIComponent(unscoped(name))}`
    : encodeURIComponent(name);
}

/**
 * The SemVer §10 precedence class of a valid version: the version without its build metadata
 * (`3.0.0+b1` → `3.0.0`). Two versions of one package with the same key are one version for
 * npm's clients (semver.eq ignores build metadata), so a registry may hold only one of them.
 * Returns undefined for an invalid version.
 */
export function precedenceKey(version: string): string | undefined {
  return parse(version)?.version;
}

/** Semver precedence via npm's `semver` (build metadata ignored); invalid versions sort first. */
export function compareVersions(a: string, b: string): number {
  // Loose too: proxied documents keep versions such as `1.0.0-01` (isValidUpstreamVersion).
  const pa = parse(a) ?? parseLoose(a);
  const pb = parse(b) ?? parseLoose(b);
  if (!pa || !pb) return pa ? 1 : pb ? -1 : a < b ? -1 : a > b ? 1 : 0;
  return pa.compare(pb) || comparePrereleaseDigits(pa.prerelease, pb.prerelease);
}

/**
 * SemVer §11.4.1 compares numeric prerelease identifiers numerically, at any size; `semver`
 * converts them to JS numbers, so past 2^53 distinct ones (`1.0.0-1733130000000000001`, a
 * nanosecond build stamp) compared equal. Called when `semver` says equal: settles such pairs.
 */
function comparePrereleaseDigits(
  a: readonly (string | number)[],
  b: readonly (string | number)[],
): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = String(a[i]);
    const y = String(b[i]);
    if (x !== y && /^\d+$/.test(x) && /^\d+$/.test(y)) {
      const difference = BigInt(x) - BigInt(y);
      if (difference !== 0n) return difference < 0n ? -1 : 1;
    }
  }
  return 0;
}

export function isPrerelease(version: string): boolean {
  return (parse(version)?.prerelease.length ?? 0) > 0;
}

/** The highest release version (prereleases only when there is nothing else). */
export function highestVersion(versions: Iterable<string>): string | undefined {
  const all = [...versions].filter((v) => parse(v) !== undefined).sort(compareVersions);
  const releases = all.filter((v) => !isPrerelease(v));
  return releases.at(-1) ?? all.at(-1);
}

/**
 * Of `candidates`, the one equal to `version` by SemVer precedence (the exact string first), or
 * undefined. `GET /<name>/3.0.0` finds `3.0.0+b1`, as npm's clients would with `semver.eq`.
 */
export function findEqualVersion(
  version: string,
  candidates: Iterable<string>,
): string | undefined {
  const key = precedenceKey(version);
  if (key === undefined) return undefined;
  let found: string | undefined;
  for (const candidate of candidates) {
    if (candidate === version) return candidate;
    if (found === undefined && precedenceKey(candidate) === key) found = candidate;
  }
  return found;
}
