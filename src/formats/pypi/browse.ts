/**
 * PyPI's web UI browse source (src/ui/types.ts, src/ui/browse-sql.ts): a name is a project in
 * its PEP 503 normal form (what the simple index and the access rules name); its versions are
 * the releases holding files, newest first by PEP 440, with their files' total size (PEP 658
 * `.metadata` files included, in the list as in the detail), the newest
 * upload time and the yanked mark (PEP 592). Proxy repositories: the files fetched through them
 * (the proxy engine's `pypi-file:<project>/<filename>` rows; the version read from the file name,
 * whose project part is as long as the PEP 503 name), marked cached, never the upstream's.
 */
import { sql } from 'kysely';
import {
  descending,
  firstHolder,
  sqlBrowseSource,
  sqlList,
  type BrowseDeps,
} from '../../ui/browse-sql.ts';
import type { CacheIndexSource } from '../../ui/cache-index.ts';
import type { BrowseSource, BrowseVersion } from '../../ui/types.ts';
import { normalizeProjectName } from './names.ts';
import { publishTimes } from './curated.ts';
import type { ProjectPage } from './model.ts';
import type { Repository } from '../../repos/repository.ts';
import { compareVersions } from './versions.ts';
import { shellCommand } from '../../ui/shell.ts';

/**
 * A PyPI proxy's cached files (`pypi-file:<project>/<filename>`, project in PEP 503 form): the
 * version is what follows `<project>-` in the file name up to the next `-` (a wheel's tags) or
 * the sdist's extension. PEP 658 `.metadata` rows and project pages are no files of a version.
 */
export const PYPI_CACHE: CacheIndexSource = {
  id: 'pypi',
  table: 'proxy_entries',
  keyColumn: 'key',
  columns: ['fetched_at', 'size', 'digest'],
  filter: (row) => `substr(${row}key, 1, 10) = 'pypi-file:'`,
  select: (from) => `SELECT repository, key, project AS name,
      CASE WHEN instr(rest, '-') > 0 THEN substr(rest, 1, instr(rest, '-') - 1)
        WHEN rest LIKE '%.tar.gz' THEN substr(rest, 1, length(rest) - 7)
        WHEN rest LIKE '%.tar.bz2' THEN substr(rest, 1, length(rest) - 8)
        WHEN rest LIKE '%.zip' OR rest LIKE '%.tgz' THEN substr(rest, 1, length(rest) - 4)
        ELSE rest END AS version,
      fetched_at AS at, size AS bytes, file, digest
    FROM (SELECT repository, key, fetched_at, size, digest, project, file,
        substr(file, length(project) + 2) AS rest
      FROM (SELECT repository, key, fetched_at, size, digest,
          substr(key, 11, instr(key, '/') - 11) AS project,
          substr(key, instr(key, '/') + 1) AS file
        FROM ${from} WHERE ${PYPI_CACHE.filter('')}))`,
};

/**
 * pip's `--trusted-host <host>` for an index at `url` when pip needs it: a plain-`http` URL
 * whose host is not one pip counts as secure (its SECURE_ORIGINS: `localhost`, 127.0.0.0/8,
 * `::1`). Without it pip ignores the index ("not a trusted or secure host") and finds nothing
 * (trial 34: the README's pip line had it, the UI's did not). Empty for https or a loopback.
 */
export function pipTrustedHost(url: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [];
  }
  if (parsed.protocol !== 'http:') return [];
  const host = parsed.hostname;
  if (host === 'localhost' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host)) return [];
  return ['--trusted-host', host];
}

/** `pip install` of `project` (`==version` when known) from the repository's simple index. */
function pipInstall(project: string, version: string | undefined, repositoryUrl: string): string {
  const simple = repositoryUrl.endsWith('/simple') ? repositoryUrl : `${repositoryUrl}/simple`;
  return shellCommand(
    'pip',
    'install',
    '--index-url',
    `${simple}/`,
    ...pipTrustedHost(simple),
    `${project}${version === undefined ? '' : `==${version}`}`,
  );
}

/**
 * `deps.cachedPage`: a proxy's stored project page, never asking the upstream (the proxy's
 * PypiSource.cachedPage): its PEP 700 upload-times are what a download's min release age counts
 * from (curated.ts publishTimes), so a cached version's curation mark names the same date.
 */
export function pypiBrowse(
  deps: BrowseDeps & {
    readonly cachedPage?:
      ((repo: Repository, project: string) => Promise<ProjectPage | undefined>) | undefined;
  },
): BrowseSource {
  const { db } = deps;
  return sqlBrowseSource({
    format: 'pypi',
    ...deps,
    canonical: normalizeProjectName,
    rows: {
      select: `SELECT f.repo AS repo, f.project AS name, r.version AS version,
          f.upload_time AS at, f.size + COALESCE(f.metadata_size, 0) AS bytes
        FROM pypi_files f JOIN pypi_releases r
          ON r.repo = f.repo AND r.project = f.project AND r.version_key = f.version_key`,
      newestFirst: descending(compareVersions),
      cached: {
        install: (name, version, request) => pipInstall(name, version, request.repositoryUrl),
        publishedAt: async (repo, name) => {
          const page = await deps.cachedPage?.(repo, name).catch(() => undefined);
          return page === undefined ? undefined : publishTimes(page);
        },
      },
    },
    async detail(repos, name, request) {
      const files = firstHolder(
        (
          await sql<{
            repo: string;
            filename: string;
            version: string;
            size: number;
            sha256: string;
            upload_time: number;
            yanked: number;
            yanked_reason: string | null;
            requires_python: string | null;
            metadata_size: number | null;
          }>`SELECT f.repo AS repo, f.filename AS filename, r.version AS version, f.size AS size,
              f.metadata_size AS metadata_size,
              f.sha256 AS sha256, f.upload_time AS upload_time, r.yanked AS yanked,
              r.yanked_reason AS yanked_reason, f.requires_python AS requires_python
            FROM pypi_files f JOIN pypi_releases r
              ON r.repo = f.repo AND r.project = f.project AND r.version_key = f.version_key
            WHERE f.repo IN (${sqlList(repos)}) AND f.project = ${name}
            ORDER BY f.filename`.execute(db)
        ).rows,
        repos,
      );
      const holder = files[0]?.repo;
      if (holder === undefined) return undefined;
      const project = await sql<{ display_name: string }>`SELECT display_name FROM pypi_projects
        WHERE repo = ${holder} AND name = ${name}`.execute(db);
      const byVersion = new Map<string, typeof files>();
      for (const f of files) byVersion.set(f.version, [...(byVersion.get(f.version) ?? []), f]);
      const versions: BrowseVersion[] = [...byVersion.entries()]
        .sort(([a], [b]) => compareVersions(b, a))
        .map(([version, fs]) => {
          const first = fs[0];
          return {
            version,
            publishedAt: Math.max(...fs.map((f) => f.upload_time)),
            // What the release holds, as the list and the dashboard count it (retention's
            // adapter): its files and their PEP 658 `.metadata` files.
            bytes: fs.reduce((n, f) => n + f.size + (f.metadata_size ?? 0), 0),
            // One digest per file: shown for a single-file release only, all in the facts.
            digest: fs.length === 1 && first !== undefined ? `sha256:${first.sha256}` : undefined,
            marks:
              first !== undefined && first.yanked !== 0
                ? [{ mark: 'yanked', detail: first.yanked_reason || undefined } as const]
                : [],
          };
        });
      const newest = versions.find((v) => (v.marks ?? []).length === 0) ?? versions[0];
      const display = project.rows[0]?.display_name ?? name;
      return {
        name: display,
        versions,
        install: pipInstall(display, newest?.version, request.repositoryUrl),
        facts: [
          { label: 'repository', value: holder },
          ...(newest === undefined
            ? []
            : (byVersion.get(newest.version) ?? []).map((f) => ({
                file: f.filename,
                bytes: f.size,
                digest: `sha256:${f.sha256}`,
                metadataBytes: f.metadata_size ?? undefined,
                requires: f.requires_python || undefined,
              }))),
        ],
      };
    },
  });
}
