/**
 * Distribution filenames: wheels (the binary distribution format spec: `{name}-{version}
 * (-{build})?-{python}-{abi}-{platform}.whl`) and sdists (the source distribution format spec:
 * `{name}-{version}.tar.gz`, plus the legacy `.zip`). The one place filenames are parsed.
 */
import { RegistryError } from '../../core/errors.ts';
import { isValidProjectName, normalizeProjectName } from './names.ts';
import { parseVersion, type ParsedVersion } from './versions.ts';

const MAX_FILENAME_LENGTH = 255;
const SDIST_SUFFIXES = ['.tar.gz', '.zip'] as const;
const WHEEL_TAG = /^[A-Za-z0-9_.]+$/;
const BUILD_TAG = /^[0-9][A-Za-z0-9_.]*$/;

export type DistKind = 'wheel' | 'sdist';

export interface DistFilename {
  readonly filename: string;
  readonly kind: DistKind;
  /** The project, PEP 503-normalised. */
  readonly project: string;
  /** The version as the filename spells it. */
  readonly version: string;
  readonly parsed: ParsedVersion;
  /**
   * What makes this file one distribution of its release, normalised the way installers compare
   * files: `sdist` (a release has one source distribution, whatever its name or suffix), or
   * `wheel <build>-<python>-<abi>-<platform>` with the tags lowercased and their compressed
   * sets (`py2.py3`) sorted, and the build tag as (number, rest) — so
   * `My_Pkg-1.0-py3-none-any.whl` and `my_pkg-1.0.0-py3-none-any.whl` share it. Two files of
   * one release (same project and `parsed.key`) never may.
   */
  readonly identity: string;
}

/**
 * A filename that is safe as one path segment of a URL and of storage: no separators, no `..`,
 * no control characters, at most 255 bytes. Every filename from a client or an upstream passes
 * here before it is used.
 */
export function isSafeFilename(filename: string): boolean {
  return (
    filename.length > 0 &&
    Buffer.byteLength(filename) <= MAX_FILENAME_LENGTH &&
    filename !== '.' &&
    filename !== '..' &&
    // eslint-disable-next-line no-control-regex
    !/[/\\\u0000-\u001f\u007f]/.test(filename)
  );
}

/**
 * Parses a wheel or sdist filename. `project`, when given (the upload's `name` field), settles
 * where an sdist's name ends (legacy names may contain `-`). Undefined when it does not parse.
 */
export function parseDistFilename(filename: string, project?: string): DistFilename | undefined {
  if (!isSafeFilename(filename)) return undefined;
  if (filename.endsWith('.whl')) return parseWheel(filename);
  const suffix = SDIST_SUFFIXES.find((s) => filename.endsWith(s));
  if (suffix === undefined) return undefined;
  return parseSdist(filename, filename.slice(0, -suffix.length), project);
}

function parseWheel(filename: string): DistFilename | undefined {
  const parts = filename.slice(0, -'.whl'.length).split('-');
  if (parts.length !== 5 && parts.length !== 6) return undefined;
  const [name, version] = parts as [string, string];
  if (parts.length === 6 && !BUILD_TAG.test(parts[2] ?? '')) return undefined;
  if (!parts.slice(-3).every((tag) => WHEEL_TAG.test(tag))) return undefined;
  const build = parts.length === 6 ? buildKey(parts[2] ?? '') : '';
  const tags = parts.slice(-3).map(tagSetKey).join('-');
  return distFilename(filename, 'wheel', name, version, `wheel ${build}-${tags}`);
}

/** A build tag as installers order it (packaging: leading digits as a number, then the rest). */
function buildKey(build: string): string {
  const digits = /^[0-9]+/.exec(build)?.[0] ?? '';
  return `${digits.replace(/^0+(?=[0-9])/, '')}${build.slice(digits.length)}`;
}

/** A compressed tag set (`py3.py2`) as a set: lowercased, sorted, without repeats. */
function tagSetKey(tags: string): string {
  return [...new Set(tags.toLowerCase().split('.'))].sort().join('.');
}

function parseSdist(
  filename: string,
  stem: string,
  project: string | undefined,
): DistFilename | undefined {
  if (project !== undefined) {
    // The name part may be spelled differently (`My_Pkg` for `my-pkg`): compare normalised.
    const wanted = normalizeProjectName(project);
    for (let i = stem.indexOf('-'); i > 0; i = stem.indexOf('-', i + 1)) {
      if (normalizeProjectName(stem.slice(0, i)) === wanted) {
        return distFilename(filename, 'sdist', stem.slice(0, i), stem.slice(i + 1), 'sdist');
      }
    }
    return undefined;
  }
  // Without a known name: the version starts after the last `-` (names rarely end in digits
  // after a dash; versions never contain one once normalised).
  const dash = stem.lastIndexOf('-');
  if (dash <= 0) return undefined;
  return distFilename(filename, 'sdist', stem.slice(0, dash), stem.slice(dash + 1), 'sdist');
}

function distFilename(
  filename: string,
  kind: DistKind,
  name: string,
  version: string,
  identity: string,
): DistFilename | undefined {
  if (!isValidProjectName(name)) return undefined;
  const parsed = parseVersion(version);
  if (parsed === undefined) return undefined;
  return { filename, kind, project: normalizeProjectName(name), version, parsed, identity };
}

/** parseDistFilename, or BAD_REQUEST naming what a distribution filename must look like. */
export function checkDistFilename(filename: string, project?: string): DistFilename {
  const parsed = parseDistFilename(filename, project);
  if (parsed === undefined) {
    throw new RegistryError(
      'BAD_REQUEST',
      `invalid distribution filename: ${JSON.stringify(filename.slice(0, 300))} (expected a wheel "{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl" or an sdist "{name}-{version}.tar.gz")`,
    );
  }
  return parsed;
}
