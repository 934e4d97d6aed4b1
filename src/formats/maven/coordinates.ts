/**
 * Maven 2 repository layout paths (the "default" layout of Maven's repository-layout spec,
 * https://maven.apache.org/repository/layout.html): what a repository-relative path names.
 *
 *   <groupId as dirs>/<artifactId>/<version>/<artifactId>-<version>[-<classifier>].<extension>
 *   <groupId as dirs>/<artifactId>/<version>/…/<file>.md5|.sha1|.sha256|.sha512   (checksums)
 *   <dir>/maven-metadata.xml (+ checksums)                                        (metadata)
 *
 * A snapshot version directory `1.0-SNAPSHOT` holds timestamped builds
 * (`demo-1.0-20261130.101010-3.jar`, what mvn 3 deploys) and non-unique files
 * (`demo-1.0-SNAPSHOT.jar`, old Gradle). Every segment is percent-decoded once and checked: no
 * empty, `.` or `..` segment, no encoded separator or NUL, a small character set and bounded
 * lengths, so a parsed path can never leave the repository (or storage). Pure functions, no I/O.
 */
import { RegistryError } from '../../core/errors.ts';
import type { ChecksumName } from './model.ts';
import { isSnapshot } from './version.ts';

export const METADATA_FILE = 'maven-metadata.xml';
export const SNAPSHOT_SUFFIX = '-SNAPSHOT';

/** Longest repository-relative path we take, in characters (after decoding). */
export const MAX_PATH_LENGTH = 1024;
const MAX_SEGMENT_LENGTH = 255;
const MAX_SEGMENTS = 64;
/** The characters of Maven coordinates and file names we accept in a segment. */
const SEGMENT = /^[A-Za-z0-9_.+~!-]+$/;
/** The characters of a groupId part / an artifactId (Maven's own id pattern). */
const ID = /^[A-Za-z0-9_.-]+$/;
/** `yyyyMMdd.HHmmss-<buildNumber>` after the base version of a timestamped snapshot file. */
const SNAPSHOT_STAMP = /^(\d{8}\.\d{6})-(\d{1,9})/;
const CHECKSUM_EXT = /\.(md5|sha1|sha256|sha512)$/;

/** One file inside a version directory, understood. */
export interface MavenFileCoordinate {
  /** `org.example` */
  readonly groupId: string;
  readonly artifactId: string;
  /** The directory version: `1.0` or `1.0-SNAPSHOT`. */
  readonly version: string;
  /** `demo-1.0-20261130.101010-3.jar` */
  readonly filename: string;
  /** Empty when none. */
  readonly classifier: string;
  /** `jar`, `pom`, `tar.gz`, `jar.asc`… */
  readonly extension: string;
  /** Timestamped snapshot builds only: `20261130.101010` and the build number. */
  readonly snapshot: { readonly timestamp: string; readonly buildNumber: number } | undefined;
  /** The repository-relative path (`org/example/demo/1.0/demo-1.0.jar`). */
  readonly path: string;
}

/**
 * What a path names:
 * - `file`: any validated path that is not metadata or a checksum (coordinate when it parses as
 *   one; proxies also serve non-coordinate files such as `archetype-catalog.xml`);
 * - `checksum`: `<target>.<alg>`, where the target is a file or a metadata document;
 * - `metadata`: `<dir>/maven-metadata.xml` (`dir` may be empty for a root document);
 * - `dir`: a path ending in `/` (DELETE of a version or an artifact).
 */
export type MavenPath =
  | {
      readonly kind: 'file';
      readonly path: string;
      readonly coordinate: MavenFileCoordinate | undefined;
    }
  | { readonly kind: 'metadata'; readonly path: string; readonly dir: string }
  | {
      readonly kind: 'checksum';
      readonly path: string;
      readonly algorithm: ChecksumName;
      readonly target: Exclude<
        MavenPath,
        { kind: 'checksum' } | { kind: 'dir' } | { kind: 'root' }
      >;
    }
  | { readonly kind: 'dir'; readonly path: string; readonly segments: readonly string[] }
  | { readonly kind: 'root' };

function bad(message: string): RegistryError {
  return new RegistryError('BAD_REQUEST', message);
}

/**
 * Decodes and validates the raw (undecoded) path after the mount prefix, e.g.
 * `/org/example/demo/1.0/demo-1.0.jar`. Throws BAD_REQUEST (400) for traversal (`..`, `.`, also
 * percent-encoded), encoded `/` or `\`, NUL, empty segments, characters outside
 * `[A-Za-z0-9_.+~!-]`, or lengths past the bounds.
 */
export function parseMavenPath(raw: string): MavenPath {
  if (raw === '' || raw === '/') return { kind: 'root' };
  if (!raw.startsWith('/')) throw bad('not a repository path');
  const trailing = raw.endsWith('/');
  const body = raw.slice(1, trailing ? -1 : undefined);
  if (body.length > MAX_PATH_LENGTH * 3) throw bad('path is too long');
  const rawSegments = body.split('/');
  if (rawSegments.length > MAX_SEGMENTS) throw bad('path has too many segments');
  // Nearly every path mvn and Gradle ask for is plain (`[A-Za-z0-9_.+~!-]` and `/`, no `%`):
  // decoding is then the identity and one test covers every segment's characters, so the
  // per-segment decode and tests (~2 µs of a ~4 µs parse, on every Maven request the answer
  // memo does not answer) are skipped. Empty, `.` and `..` segments are still refused below.
  const plain = PLAIN_PATH.test(body);
  const segments = plain ? rawSegments : rawSegments.map(decodeSegment);
  if (plain) for (const segment of segments) checkPlainSegment(segment);
  const path = plain ? body : segments.join('/');
  if (path.length > MAX_PATH_LENGTH) throw bad('path is too long');
  if (trailing) return { kind: 'dir', path, segments };
  return classify(segments, path);
}

/**
 * A path body of SEGMENT's characters and `/` only (no percent-encoding): each segment is then
 * itself, decoded, and needs only `checkPlainSegment`'s checks besides.
 */
const PLAIN_PATH = /^[A-Za-z0-9_.+~!/-]+$/;

/** `decodeSegment`'s checks that a segment of SEGMENT's characters can still fail. */
function checkPlainSegment(segment: string): void {
  if (segment === '') throw bad('empty path segment');
  if (segment === '.' || segment === '..') throw bad('path traversal segments are not allowed');
  if (segment.length > MAX_SEGMENT_LENGTH) throw bad('path segment is too long');
}

function decodeSegment(rawSegment: string): string {
  let segment: string;
  try {
    segment = decodeURIComponent(rawSegment);
  } catch {
    throw bad('malformed percent-encoding in path');
  }
  if (segment === '') throw bad('empty path segment');
  if (segment === '.' || segment === '..') throw bad('path traversal segments are not allowed');
  if (/[/\\\0]/.test(segment)) throw bad('encoded separators are not allowed in a path');
  if (segment.length > MAX_SEGMENT_LENGTH) throw bad('path segment is too long');
  if (!SEGMENT.test(segment))
    throw bad(`invalid characters in path segment "${segment.slice(0, 64)}"`);
  return segment;
}

function classify(segments: readonly string[], path: string): MavenPath {
  const name = segments.at(-1) ?? '';
  const checksum = CHECKSUM_EXT.exec(name);
  if (checksum) {
    const targetSegments = [...segments.slice(0, -1), name.slice(0, checksum.index)];
    if (targetSegments.at(-1) === '') throw bad('a checksum file needs a target');
    const target = classify(targetSegments, targetSegments.join('/'));
    if (target.kind === 'checksum' || target.kind === 'dir' || target.kind === 'root') {
      throw bad('a checksum of a checksum is not served');
    }
    return { kind: 'checksum', path, algorithm: checksum[1] as ChecksumName, target };
  }
  if (name === METADATA_FILE) {
    return { kind: 'metadata', path, dir: segments.slice(0, -1).join('/') };
  }
  return { kind: 'file', path, coordinate: fileCoordinate(segments, path) };
}

/**
 * A snapshot build stamp names a real UTC time (`yyyyMMdd.HHmmss`, month 01–12, day 01–31, hour
 * 00–23, minute and second 00–59) and a build number from 1, as Maven writes them: a stamp like
 * `20261399.999999-0` would sort into the snapshot metadata as the newest build forever.
 */
function isPlausibleStamp(timestamp: string, buildNumber: number): boolean {
  const field = (from: number, to: number) => Number(timestamp.slice(from, to));
  const month = field(4, 6);
  const day = field(6, 8);
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= 31 &&
    field(9, 11) <= 23 &&
    field(11, 13) <= 59 &&
    field(13, 15) <= 59 &&
    buildNumber >= 1
  );
}

/**
 * The coordinate of a file path (`<group dirs>/<artifactId>/<version>/<filename>`), or undefined
 * when the path does not follow the layout (the filename must be
 * `<artifactId>-<version>[-<classifier>].<extension>`; in a `-SNAPSHOT` directory the version
 * part may be a timestamped build of it).
 */
export function fileCoordinate(
  segments: readonly string[],
  path: string = segments.join('/'),
): MavenFileCoordinate | undefined {
  if (segments.length < 4) return undefined;
  const filename = segments.at(-1) ?? '';
  const version = segments.at(-2) ?? '';
  const artifactId = segments.at(-3) ?? '';
  const groupParts = segments.slice(0, -3);
  if (!ID.test(artifactId) || !groupParts.every((p) => ID.test(p))) return undefined;
  if (!isValidVersion(version)) return undefined;
  const prefix = `${artifactId}-`;
  if (!filename.startsWith(prefix)) return undefined;
  let rest = filename.slice(prefix.length);
  let snapshot: MavenFileCoordinate['snapshot'];
  if (rest.startsWith(version) && isVersionEnd(rest, version.length)) {
    rest = rest.slice(version.length);
  } else if (isSnapshotVersion(version)) {
    // `1.0-SNAPSHOT` → builds named `1.0-<yyyyMMdd.HHmmss>-<n>`.
    const base = version.slice(0, -'SNAPSHOT'.length);
    if (!rest.startsWith(base)) return undefined;
    const stamp = SNAPSHOT_STAMP.exec(rest.slice(base.length));
    if (!stamp || !isPlausibleStamp(stamp[1] ?? '', Number(stamp[2]))) return undefined;
    const consumed = base.length + stamp[0].length;
    if (!isVersionEnd(rest, consumed)) return undefined;
    snapshot = { timestamp: stamp[1] ?? '', buildNumber: Number(stamp[2]) };
    rest = rest.slice(consumed);
  } else {
    return undefined;
  }
  let classifier = '';
  if (rest.startsWith('-')) {
    const dot = rest.indexOf('.');
    if (dot <= 1) return undefined;
    classifier = rest.slice(1, dot);
    rest = rest.slice(dot);
  }
  if (!rest.startsWith('.') || rest.length < 2) return undefined;
  const extension = rest.slice(1);
  // `jar`, `tar.gz`, `jar.asc`: dot-separated words (a `-` there means a misplaced version).
  if (!/^[A-Za-z0-9_+]+(?:\.[A-Za-z0-9_+]+)*$/.test(extension)) return undefined;
  return {
    groupId: groupParts.join('.'),
    artifactId,
    version,
    filename,
    classifier,
    extension,
    snapshot,
    path,
  };
}

function isVersionEnd(rest: string, index: number): boolean {
  const next = rest[index];
  return next === '.' || next === '-';
}

/** A version directory name: Maven's id characters plus `+`, bounded; no `SNAPSHOT` alone. */
export function isValidVersion(version: string): boolean {
  return (
    version.length > 0 &&
    version.length <= 128 &&
    /^[A-Za-z0-9_.+-]+$/.test(version) &&
    /^[A-Za-z0-9]/.test(version) &&
    version !== 'SNAPSHOT'
  );
}

/**
 * True for a snapshot directory version such as `1.0-SNAPSHOT`: it ends with `SNAPSHOT` in any
 * case, as Maven's `ArtifactUtils.isSnapshot` (version.ts `isSnapshot`) decides.
 */
export function isSnapshotVersion(version: string): boolean {
  return isSnapshot(version) && version.toUpperCase().endsWith('SNAPSHOT');
}

/** `org.example` → `org/example`. */
export function groupPath(groupId: string): string {
  return groupId.split('.').join('/');
}

/**
 * The repository-relative path of a file: `org/example/demo/1.0/demo-1.0-tests.jar`.
 * `fileVersion` is the version part of the filename (a timestamped build for snapshots).
 */
export function filePath(
  groupId: string,
  artifactId: string,
  version: string,
  fileVersion: string,
  classifier: string,
  extension: string,
): string {
  const name = `${artifactId}-${fileVersion}${classifier === '' ? '' : `-${classifier}`}.${extension}`;
  return `${groupPath(groupId)}/${artifactId}/${version}/${name}`;
}

/** `1.0-SNAPSHOT` + `20261130.101010` + 3 → `1.0-20261130.101010-3`. */
export function timestampedVersion(
  version: string,
  timestamp: string,
  buildNumber: number,
): string {
  return `${version.slice(0, -'SNAPSHOT'.length)}${timestamp}-${buildNumber}`;
}

/**
 * Maven's plugin prefix for an artifactId (maven-plugin-tools' PluginDescriptor.getGoalPrefix
 * default): `foo-maven-plugin` → `foo`, `maven-foo-plugin` → `foo`, otherwise the artifactId.
 */
export function pluginPrefix(artifactId: string): string {
  const trailing = /^(.+)-maven-plugin$/.exec(artifactId);
  if (trailing?.[1]) return trailing[1];
  const leading = /^maven-(.+)-plugin$/.exec(artifactId);
  if (leading?.[1]) return leading[1];
  return artifactId;
}

/**
 * What the path `segments` is to a file stored at `held` (a path at or under it): `group` when
 * it is a groupId's directory or a leading part of one (`org/`, `org/example/` above
 * `org/example/demo/1.0/demo-1.0.jar`), `artifact` (`…/demo`), `version` (`…/demo/1.0`), `file`
 * (the file itself); undefined when `held` is not a layout path or not at or under `segments`.
 */
export function dirRole(
  segments: readonly string[],
  held: string,
): 'group' | 'artifact' | 'version' | 'file' | undefined {
  const heldSegments = held.split('/');
  if (segments.length > heldSegments.length) return undefined;
  if (!segments.every((segment, i) => segment === heldSegments[i])) return undefined;
  if (fileCoordinate(heldSegments, held) === undefined) return undefined;
  const groupDepth = heldSegments.length - 3;
  if (segments.length <= groupDepth) return 'group';
  if (segments.length === groupDepth + 1) return 'artifact';
  if (segments.length === groupDepth + 2) return 'version';
  return 'file';
}
