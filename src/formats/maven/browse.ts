/**
 * Maven's web UI browse source (src/ui/types.ts, src/ui/browse-sql.ts): a name is a GA written
 * `groupId:artifactId` (a detail page also takes its layout path, `com/example/lib`); its
 * versions newest first in Maven's own order (ComparableVersion: version.ts), with their files'
 * total size, the POM's packaging and a SNAPSHOT mark. Access rules see the GA's folder path
 * (`com/example/lib`), as the routes see its files' paths below it. Proxy repositories: nothing
 * listed.
 */
import { sql } from 'kysely';
import {
  descending,
  firstHolder,
  sqlBrowseSource,
  sqlList,
  type BrowseDeps,
} from '../../ui/browse-sql.ts';
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
            marks: version.endsWith('-SNAPSHOT') ? ['snapshot'] : [],
          };
        }),
        install: [
          '<dependency>',
          `  <groupId>${groupId}</groupId>`,
          `  <artifactId>${artifactId}</artifactId>`,
          `  <version>${newest}</version>`,
          ...(packaging && packaging !== 'jar' && packaging !== 'bundle'
            ? [`  <type>${packaging}</type>`]
            : []),
          '</dependency>',
          `<!-- repository: <url>${request.repositoryUrl}/</url> -->`,
        ].join('\n'),
        facts: [
          ['Repository', holder],
          ['Packaging', packaging ?? 'jar'],
          ...newestFiles.map((f) => [f.path, `${f.size} bytes, sha256:${f.sha256}`] as const),
        ],
      };
    },
  });
}
