/**
 * The Warehouse JSON API (`GET /pypi/<project>/json` and `/pypi/<project>/<version>/json`, as
 * pypi.org answers them; read by poetry's legacy paths, pip-audit, renovate, dependabot and
 * scripts): `info` (the release's core metadata, `version` = the latest release: non-yanked
 * final before pre-release before yanked, by PEP 440 precedence), `releases` (project JSON only:
 * every release → its files), `urls` (the files of `info.version`), file objects with
 * `digests` {md5, sha256, blake2b_256}, `upload_time(_iso_8601)`, `yanked(_reason)`, `url`.
 *
 * Pure functions over the stored project; the caller supplies how a file's URL is spelled.
 */
import type { ReleaseMeta, StoredFile, StoredProject, StoredRelease } from './store.ts';
import { compareVersions, parseVersion } from './versions.ts';

/** Builds a file's `url` (absolute or relative to the JSON document: the routes decide). */
export type FileUrl = (project: string, filename: string) => string;

export interface WarehouseFile {
  readonly comment_text: string;
  readonly digests: { readonly md5: string; readonly sha256: string; readonly blake2b_256: string };
  readonly downloads: number;
  readonly filename: string;
  readonly has_sig: boolean;
  readonly md5_digest: string;
  readonly packagetype: string;
  readonly python_version: string;
  readonly requires_python: string | null;
  readonly size: number;
  /** `YYYY-MM-DDTHH:MM:SS` (UTC, no zone, as Warehouse). */
  readonly upload_time: string;
  /** ISO 8601 with microseconds and `Z`. */
  readonly upload_time_iso_8601: string;
  readonly url: string;
  readonly yanked: boolean;
  readonly yanked_reason: string | null;
}

export interface WarehouseJson {
  readonly info: Readonly<Record<string, unknown>>;
  readonly last_serial: number;
  readonly releases?: Readonly<Record<string, readonly WarehouseFile[]>>;
  readonly urls: readonly WarehouseFile[];
  readonly vulnerabilities: readonly never[];
}

/** `GET /pypi/<project>/json`. */
export function projectJson(project: StoredProject, fileUrl: FileUrl): WarehouseJson {
  const releases = sortedReleases(project);
  const latest = latestRelease(releases);
  const byRelease: Record<string, WarehouseFile[]> = {};
  for (const release of releases) {
    byRelease[release.version] = filesOf(project, release).map((f) =>
      fileJson(project.name, f, release, fileUrl),
    );
  }
  return {
    info: info(project, latest),
    last_serial: lastSerial(project),
    releases: byRelease,
    urls: latest === undefined ? [] : (byRelease[latest.version] ?? []),
    vulnerabilities: [],
  };
}

/**
 * `GET /pypi/<project>/<version>/json`: `version` in any PEP 440-equal spelling; undefined when
 * there is no such release.
 */
export function versionJson(
  project: StoredProject,
  version: string,
  fileUrl: FileUrl,
): WarehouseJson | undefined {
  const key = parseVersion(version)?.key;
  const release = project.releases.find((r) => r.versionKey === key || r.version === version);
  if (release === undefined) return undefined;
  const files = filesOf(project, release);
  if (files.length === 0) return undefined;
  return {
    info: info(project, release),
    last_serial: lastSerial(project),
    urls: files.map((f) => fileJson(project.name, f, release, fileUrl)),
    vulnerabilities: [],
  };
}

/** Releases that have files, oldest first by PEP 440 precedence. */
function sortedReleases(project: StoredProject): StoredRelease[] {
  const withFiles = new Set(project.files.map((f) => f.versionKey));
  return project.releases
    .filter((r) => withFiles.has(r.versionKey))
    .sort((a, b) => compareVersions(a.version, b.version));
}

/** Latest non-yanked final release, else non-yanked pre-release, else the latest of all. */
function latestRelease(sorted: readonly StoredRelease[]): StoredRelease | undefined {
  const newestFirst = [...sorted].reverse();
  return (
    newestFirst.find((r) => r.yanked === false && !isPrerelease(r.version)) ??
    newestFirst.find((r) => r.yanked === false) ??
    newestFirst[0]
  );
}

/** True for a pre- or dev release (PEP 440, normalised spelling). */
export function isPrerelease(version: string): boolean {
  const normalized = parseVersion(version)?.normalized ?? version;
  return /\d(?:a|b|rc)\d+|\.dev\d+/.test(normalized);
}

function filesOf(project: StoredProject, release: StoredRelease): StoredFile[] {
  return project.files
    .filter((f) => f.versionKey === release.versionKey)
    .sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0));
}

function lastSerial(project: StoredProject): number {
  return project.files.reduce((max, f) => Math.max(max, f.uploadTime), project.createdAt);
}

function text(meta: ReleaseMeta, key: string): string {
  const value = meta[key];
  return typeof value === 'string' ? value : '';
}

function list(meta: ReleaseMeta, key: string): string[] | null {
  const value = meta[key];
  if (value === undefined) return null;
  return typeof value === 'string' ? [value] : [...value];
}

/** `Project-URL: Label, https://…` entries → {label: url}. */
function projectUrls(meta: ReleaseMeta): Record<string, string> | null {
  const entries = list(meta, 'project_urls');
  if (entries === null) return null;
  const pairs: [string, string][] = [];
  for (const entry of entries) {
    const comma = entry.indexOf(',');
    if (comma < 0) continue;
    pairs.push([entry.slice(0, comma).trim(), entry.slice(comma + 1).trim()]);
  }
  // fromEntries defines own keys: a label `__proto__` stays a label (`urls[label] = …` would set
  // the object's prototype and lose it).
  return Object.fromEntries(pairs);
}

function info(project: StoredProject, release: StoredRelease | undefined): Record<string, unknown> {
  return warehouseInfo(project.displayName, release);
}

/**
 * Warehouse's `info` object of the release `release` (its core metadata in `meta`) of the project
 * displayed as `displayName`; every field present, empty/null when the metadata lacks it.
 */
export function warehouseInfo(
  displayName: string,
  release: Pick<StoredRelease, 'version' | 'yanked' | 'meta'> | undefined,
): Record<string, unknown> {
  const meta = release?.meta ?? {};
  const platform = list(meta, 'platform');
  return {
    author: text(meta, 'author'),
    author_email: text(meta, 'author_email'),
    bugtrack_url: null,
    classifiers: list(meta, 'classifiers') ?? [],
    description: text(meta, 'description'),
    description_content_type: text(meta, 'description_content_type') || null,
    docs_url: null,
    download_url: text(meta, 'download_url'),
    downloads: { last_day: -1, last_month: -1, last_week: -1 },
    dynamic: list(meta, 'dynamic'),
    home_page: text(meta, 'home_page'),
    keywords: text(meta, 'keywords'),
    license: text(meta, 'license'),
    license_expression: text(meta, 'license_expression') || null,
    maintainer: text(meta, 'maintainer'),
    maintainer_email: text(meta, 'maintainer_email'),
    name: displayName,
    platform: platform === null ? null : platform.join(', '),
    project_urls: projectUrls(meta),
    provides_extra: list(meta, 'provides_extra'),
    requires_dist: list(meta, 'requires_dist'),
    requires_python: text(meta, 'requires_python'),
    summary: text(meta, 'summary'),
    version: release?.version ?? '',
    yanked: release !== undefined && release.yanked !== false,
    yanked_reason: release === undefined || release.yanked === false ? null : release.yanked,
  };
}

function fileJson(
  project: string,
  file: StoredFile,
  release: StoredRelease,
  fileUrl: FileUrl,
): WarehouseFile {
  const iso = new Date(file.uploadTime).toISOString();
  return {
    comment_text: '',
    digests: { md5: file.md5, sha256: file.sha256, blake2b_256: file.blake2_256 },
    downloads: -1,
    filename: file.filename,
    has_sig: false,
    md5_digest: file.md5,
    packagetype: file.packagetype,
    python_version: file.pythonVersion,
    requires_python: file.requiresPython ?? null,
    size: file.size,
    upload_time: iso.slice(0, 19),
    // Warehouse prints microseconds: 2024-01-02T03:04:05.678000Z.
    upload_time_iso_8601: `${iso.slice(0, 23)}000Z`,
    url: fileUrl(project, file.filename),
    yanked: release.yanked !== false,
    yanked_reason: release.yanked === false ? null : release.yanked,
  };
}
