/**
 * npm package names and versions: the one place they are validated. Reads accept legacy names
 * (mixed case, as old packages on public registries have); publishing requires the modern rules.
 */
import { RegistryError } from '../../core/errors.ts';

const MAX_NAME_LENGTH = 214;
const READ_NAME = /^(?:@[A-Za-z0-9~-][A-Za-z0-9._~-]*\/)?[A-Za-z0-9~-][A-Za-z0-9._~-]*$/;
const PUBLISH_NAME = /^(?:@[a-z0-9~-][a-z0-9._~-]*\/)?[a-z0-9~-][a-z0-9._~-]*$/;
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;
const TAG = /^[A-Za-z][A-Za-z0-9._-]{0,127}$/;

export function isValidName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_LENGTH && READ_NAME.test(name);
}

export function checkName(name: string): string {
  if (!isValidName(name)) {
    throw new RegistryError(
      'NAME_INVALID',
      `invalid package name: ${JSON.stringify(name.slice(0, 220))}`,
    );
  }
  return name;
}

export function checkPublishName(name: string): string {
  if (!PUBLISH_NAME.test(name) || name.length > MAX_NAME_LENGTH) {
    throw new RegistryError(
      'NAME_INVALID',
      `invalid package name for publishing: ${JSON.stringify(name.slice(0, 220))} (lowercase letters, digits, "-", ".", "_", "~", optional @scope/)`,
    );
  }
  return name;
}

export function isValidVersion(version: string): boolean {
  return version.length <= 256 && SEMVER.test(version);
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
  return TAG.test(tag) && !isValidVersion(tag);
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

interface ParsedVersion {
  readonly core: readonly [number, number, number];
  readonly pre: readonly (string | number)[];
}

function parseVersion(version: string): ParsedVersion | undefined {
  const match = SEMVER.exec(version);
  if (!match) return undefined;
  const pre =
    match[4] === undefined ? [] : match[4].split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  return { core: [Number(match[1]), Number(match[2]), Number(match[3])], pre };
}

/** Semver precedence (build metadata ignored); invalid versions sort first. */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (!pa || !pb) return pa ? 1 : pb ? -1 : a.localeCompare(b);
  for (let i = 0; i < 3; i++) {
    const diff = (pa.core[i] ?? 0) - (pb.core[i] ?? 0);
    if (diff !== 0) return Math.sign(diff);
  }
  if (pa.pre.length === 0 || pb.pre.length === 0)
    return pb.pre.length - pa.pre.length === 0 ? 0 : pa.pre.length === 0 ? 1 : -1;
  for (let i = 0; i < Math.max(pa.pre.length, pb.pre.length); i++) {
    const x = pa.pre[i];
    const y = pb.pre[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return Math.sign(x - y);
    if (typeof x === 'number') return -1;
    if (typeof y === 'number') return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

export function isPrerelease(version: string): boolean {
  return (parseVersion(version)?.pre.length ?? 0) > 0;
}

/** The highest release version (prereleases only when there is nothing else). */
export function highestVersion(versions: Iterable<string>): string | undefined {
  const all = [...versions].sort(compareVersions);
  const releases = all.filter((v) => !isPrerelease(v));
  return releases.at(-1) ?? all.at(-1);
}
