/**
 * Maven's web UI browse source (src/ui/types.ts, src/ui/browse-sql.ts): a name is a GA written
 * `groupId:artifactId` (a detail page also takes its layout path, `com/example/lib`); its
 * versions newest first in Maven's own order (ComparableVersion: version.ts), with their files'
 * total size, the POM's packaging and a SNAPSHOT mark. Access rules see the GA's folder path
 * (`com/example/lib`), as the routes see its files' paths below it. Proxy repositories: the
 * files fetched through them (`maven_proxy_files`: `<group path>/<artifact>/<version>/<file>`,
 * files named `<artifact>-…`, checksums and metadata left out), marked cached.
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
import type { BrowseSource } from '../../ui/types.ts';
import { compareMavenVersions } from './version.ts';

/** A segment of a Maven path or coordinate: no traversal, no separator, no control character. */
const SEGMENT = /^(?!\.{1,2}$)[^/\\:\u0000-\u001f\u007f]+$/; // eslint-disable-line no-control-regex

/**
 * `groupId:artifactId` from what a URL names: the GA itself, or its layout path
 * (`com/example/lib`, a trailing `/` allowed). '' when malformed (`..`, empty segments…).
 */
export function gaOf(name: string): string {
  if (name.includes(':')) {
    const [group = '', artifact = '', ...rest] = name.split(':');
    const ok =
      rest.length === 0 && group.split('.').every((s) => SEGMENT.test(s)) && SEGMENT.test(artifact);
    return ok ? `${group}:${artifact}` : '';
  }
  const segments = name.replace(/\/$/, '').split('/');
  if (segments.length < 2 || !segments.every((s) => SEGMENT.test(s))) return '';
  const artifact = segments.pop() ?? '';
  return `${segments.join('.')}:${artifact}`;
}

/** The layout path of a GA (`com.example:lib` → `com/example/lib`): what access rules see. */
export function gaPath(ga: string): string {
  const [group = '', artifact = ''] = ga.split(':');
  return `${group.replaceAll('.', '/')}/${artifact}`;
}

/** Checksum and signature companions: not files of a version. */
const COMPANIONS = ['sha1', 'md5', 'sha256', 'sha512', 'asc'];

/**
 * A Maven proxy's cached files, split from the right of their layout path in SQL (`rtrim(p,
 * <p without '/'>)` is `p` up to its last `/`): file, version folder, artifact folder, group.
 * Each level is a subquery with `LIMIT -1` (no limit) so that SQLite does not flatten it into the
 * next: flattened, every use of a level's column repeats its whole expression, which doubles at
 * each level (2,657 VDBE instructions and ~290 µs per row, against 210 and ~8 µs kept apart).
 */
export const MAVEN_CACHE: CacheIndexSource = {
  id: 'maven',
  table: 'maven_proxy_files',
  keyColumn: 'path',
  columns: ['fetched_at', 'size', 'sha256'],
  filter: (row) => COMPANIONS.map((c) => `${row}path NOT LIKE '%.${c}'`).join(' AND '),
  select: (from) => `SELECT repository, path AS key,
      replace(substr(g, 1, length(g) - 1), '/', '.') || ':' || artifact AS name,
      version, fetched_at AS at, size AS bytes, file, 'sha256:' || sha256 AS digest
    FROM (SELECT *, substr(b, length(g) + 1) AS artifact
      FROM (SELECT *, rtrim(b, replace(b, '/', '')) AS g
        FROM (SELECT *, substr(a, length(v) + 1) AS version, substr(v, 1, length(v) - 1) AS b
          FROM (SELECT *, rtrim(a, replace(a, '/', '')) AS v
            FROM (SELECT repository, path, fetched_at, size, sha256,
                substr(path, length(d) + 1) AS file, substr(d, 1, length(d) - 1) AS a
              FROM (SELECT *, rtrim(path, replace(path, '/', '')) AS d FROM ${from}
                WHERE ${MAVEN_CACHE.filter('')} LIMIT -1)
              LIMIT -1) LIMIT -1) LIMIT -1) LIMIT -1) LIMIT -1)
    WHERE g <> '' AND substr(file, 1, length(artifact) + 1) = artifact || '-'`,
};

/** The POM `<dependency>` of `ga` at `version` (a `<type>` past jar), and the repository URL. */
function mavenDependency(
  ga: string,
  version: string,
  packaging: string | null | undefined,
  repositoryUrl: string,
): string {
  const [groupId = '', artifactId = ''] = ga.split(':');
  return [
    '<dependency>',
    `  <groupId>${groupId}</groupId>`,
    `  <artifactId>${artifactId}</artifactId>`,
    `  <version>${version}</version>`,
    ...(packaging && packaging !== 'jar' && packaging !== 'bundle'
      ? [`  <type>${packaging}</type>`]
      : []),
    '</dependency>',
    `<!-- repository: <url>${repositoryUrl}/</url> -->`,
  ].join('\n');
}

export function mavenBrowse(deps: BrowseDeps): BrowseSource {
  const { db } = deps;
  return sqlBrowseSource({
    format: 'maven',
    ...deps,
    canonical: gaOf,
    accessPath: gaPath,
    rows: {
      select: `SELECT repo, group_id || ':' || artifact_id AS name, version, updated_at AS at,
          size AS bytes FROM maven_files`,
      newestFirst: descending(compareMavenVersions),
      cached: {
        install: (name, version, request) =>
          mavenDependency(name, version ?? '', undefined, request.repositoryUrl),
      },
    },
    async detail(repos, name, request) {
      const [groupId = '', artifactId = ''] = name.split(':');
      const files = firstHolder(
        (
          await sql<{
            repo: string;
            path: string;
            version: string;
            classifier: string;
            extension: string;
            size: number;
            sha256: string;
            packaging: string | null;
            updated_at: number;
          }>`SELECT repo, path, version, classifier, extension, size, sha256, packaging, updated_at
            FROM maven_files WHERE repo IN (${sqlList(repos)})
            AND group_id = ${groupId} AND artifact_id = ${artifactId}`.execute(db)
        ).rows,
        repos,
      );
      const holder = files[0]?.repo;
      if (holder === undefined) return undefined;
      const byVersion = new Map<string, typeof files>();
      for (const f of files) byVersion.set(f.version, [...(byVersion.get(f.version) ?? []), f]);
      const versions = [...byVersion.entries()].sort(([a], [b]) => compareMavenVersions(b, a));
      const newest =
        versions.find(([v]) => !v.endsWith('-SNAPSHOT'))?.[0] ?? versions[0]?.[0] ?? '';
      const packaging = byVersion.get(newest)?.find((f) => f.packaging !== null)?.packaging;
      const newestFiles = (byVersion.get(newest) ?? []).sort((a, b) =>
        a.path.localeCompare(b.path),
      );
      return {
        name,
        versions: versions.map(([version, fs]) => {
          const main = fs.find((f) => f.classifier === '' && f.extension === (packaging ?? 'jar'));
          return {
            version,
            publishedAt: Math.max(...fs.map((f) => f.updated_at)),
            bytes: fs.reduce((n, f) => n + f.size, 0),
            digest: main === undefined ? undefined : `sha256:${main.sha256}`,
            marks: version.endsWith('-SNAPSHOT') ? [{ mark: 'snapshot' }] : [],
          };
        }),
        install: mavenDependency(name, newest, packaging, request.repositoryUrl),
        facts: [
          { label: 'repository', value: holder },
          { label: 'packaging', value: packaging ?? 'jar' },
          ...newestFiles.map((f) => ({
            file: f.path,
            bytes: f.size,
            digest: `sha256:${f.sha256}`,
          })),
        ],
      };
    },
  });
}
