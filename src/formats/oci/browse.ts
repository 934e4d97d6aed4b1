/**
 * Docker/OCI's web UI browse source (src/ui/types.ts, src/ui/browse-sql.ts): a name is an
 * image; its versions are its tags, most recently pushed first (tags have no order of their
 * own), with the manifest's digest, media type and the size the manifest states. Proxy
 * repositories list the images whose manifests they cached (rows of the same tables); their
 * tags carry curation's verdict on a pull by that tag (the proxy's subject: the image in
 * Docker Hub's spelling, the tag, the manifest's digest), and the pull line names a tag that
 * is served.
 */
import { sql } from 'kysely';
import {
  firstHolder,
  hostOf,
  namedRepositoryOf,
  sqlBrowseSource,
  sqlList,
  type BrowseDeps,
} from '../../ui/browse-sql.ts';
import type { BrowseSource } from '../../ui/types.ts';
import { shellCommand } from '../../ui/shell.ts';
import { curatedVersions } from '../../ui/curation.ts';
import { curationName } from './proxy.ts';

export function ociBrowse(deps: BrowseDeps): BrowseSource {
  const { db } = deps;
  return sqlBrowseSource({
    format: 'docker',
    ...deps,
    rows: {
      select: `SELECT t.repo AS repo, t.name AS name, t.tag AS version, t.updated_at AS at,
          m.size AS bytes
        FROM oci_tags t JOIN oci_manifests m
          ON m.repo = t.repo AND m.name = t.name AND m.digest = t.digest`,
      proxied: true,
    },
    async detail(repos, name, request) {
      const tags = firstHolder(
        (
          await sql<{
            repo: string;
            tag: string;
            digest: string;
            updated_at: number;
            size: number;
            media_type: string;
          }>`SELECT t.repo AS repo, t.tag AS tag, t.digest AS digest, t.updated_at AS updated_at,
              m.size AS size, m.media_type AS media_type
            FROM oci_tags t JOIN oci_manifests m
              ON m.repo = t.repo AND m.name = t.name AND m.digest = t.digest
            WHERE t.repo IN (${sqlList(repos)}) AND t.name = ${name}`.execute(db)
        ).rows,
        repos,
      );
      const holder = tags[0]?.repo;
      if (holder === undefined) return undefined;
      const sorted = tags.sort((a, b) => b.updated_at - a.updated_at || a.tag.localeCompare(b.tag));
      // A proxy's tags as a pull by tag is judged (hosted images are never curated).
      const proxied = deps.repositories.get(holder)?.kind === 'proxy';
      const curated = curatedVersions(
        proxied ? deps.curation : undefined,
        sorted.map((t) => ({
          version: t.tag,
          publishedAt: t.updated_at,
          bytes: t.size,
          digest: t.digest,
        })),
        (v) => [
          {
            registry: 'docker',
            name: curationName(name),
            version: v.version,
            integrity: v.digest,
            digest: v.digest,
          },
        ],
      );
      const pullable = sorted.filter((t) => curated.served(t.tag));
      const newest = pullable.find((t) => t.tag === 'latest') ?? pullable[0];
      const named = namedRepositoryOf(request.repositoryUrl);
      const image = `${hostOf(request.repositoryUrl)}/${named === undefined ? '' : `${named}/`}${name}`;
      return {
        name,
        versions: curated.versions,
        // Every tag refused: no pull line (a pull of any of them is the 403).
        install:
          newest === undefined
            ? undefined
            : shellCommand('docker', 'pull', `${image}:${newest.tag}`),
        facts: [
          { label: 'repository', value: holder },
          { label: 'mediaType', value: (newest ?? sorted[0])?.media_type ?? '' },
          ...(curated.fact === undefined ? [] : [curated.fact]),
        ],
      };
    },
  });
}
