/**
 * Versions by PEP 440 (via @renovatebot/pep440): one release per equivalence class, so `1.0`,
 * `1.0.0` and `1.0.0-post0`/`1.0.0.post0` are one release; ordering by PEP 440 precedence.
 */
import { compare, parse, validRange } from '@renovatebot/pep440';

/** PEP 440 caps nothing; we do, so a version string bounds the work it causes. */
const MAX_VERSION_LENGTH = 128;

export interface ParsedVersion {
  /** The normalised form (PEP 440 "Normalization"), e.g. `1.0.0-post0` → `1.0.0.post0`. */
  readonly normalized: string;
  /**
   * The equivalence key: normalised with trailing `.0` release segments removed, so `1.0` and
   * `1.0.0` share it (PEP 440 "Version matching": zero padding). Two files of one release agree
   * on it; two releases never do.
   */
  readonly key: string;
  /** Has a `+local` segment (refused on upload, as the public index does). */
  readonly local: boolean;
}

interface RuntimeVersion {
  readonly epoch: number;
  readonly release: readonly number[];
  readonly pre: readonly [string, number] | null;
  readonly post: readonly [string, number] | null;
  readonly dev: readonly [string, number] | null;
  readonly local: readonly (string | number)[] | null;
}

/** The version parsed by PEP 440, or undefined when it is not a valid PEP 440 version. */
export function parseVersion(version: string): ParsedVersion | undefined {
  if (version.length === 0 || version.length > MAX_VERSION_LENGTH) return undefined;
  // The published types say pre/post/dev are arrays and local a string; at run time absent
  // parts are null and local is an array of segments.
  const parsed = parse(version) as RuntimeVersion | null;
  if (parsed === null) return undefined;
  const epoch = parsed.epoch === 0 ? '' : `${parsed.epoch}!`;
  let tail = '';
  if (parsed.pre !== null) tail += `${parsed.pre[0]}${parsed.pre[1]}`;
  if (parsed.post !== null) tail += `.post${parsed.post[1]}`;
  if (parsed.dev !== null) tail += `.dev${parsed.dev[1]}`;
  const local = parsed.local === null ? '' : `+${parsed.local.join('.')}`;
  const release = [...parsed.release];
  const normalized = `${epoch}${release.join('.')}${tail}${local}`.toLowerCase();
  while (release.length > 1 && release[release.length - 1] === 0) release.pop();
  return {
    normalized,
    key: `${epoch}${release.join('.')}${tail}${local}`.toLowerCase(),
    local: parsed.local !== null,
  };
}

/**
 * Whether `spec` is a PEP 440 version specifier set (`>=3.8`, `<4,>=3.7`, `~=3.10`,
 * `!=3.0.*`; empty = no constraint), as `Requires-Python` must be (core metadata spec).
 */
export function isSpecifierSet(spec: string): boolean {
  return validRange(spec);
}

/** PEP 440 precedence; invalid versions sort before valid ones, then by string. */
export function compareVersions(a: string, b: string): number {
  const va = parse(a) !== null;
  const vb = parse(b) !== null;
  if (va && vb) return compare(a, b);
  if (va !== vb) return va ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A pre-release or development release (pip skips these unless asked, PEP 440 "Handling of pre-releases"). */
export function isPrerelease(version: string): boolean {
  if (version.length === 0 || version.length > MAX_VERSION_LENGTH) return false;
  const parsed = parse(version) as RuntimeVersion | null;
  return parsed !== null && (parsed.pre !== null || parsed.dev !== null);
}
