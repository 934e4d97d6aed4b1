/**
 * Go's web UI browse source (src/ui/types.ts, src/ui/browse-sql.ts): a name is a module path;
 * its versions newest first by semver (x/mod/semver order), pseudo-versions marked, with the
 * `.mod` + `.zip` sizes, the zip's digest and the `.info` time. Proxy repositories: the
 * versions whose files were fetched through them (`rows.cached` below), marked cached.
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
import { compareSemver } from './module.ts';
import { shellCommand, shellQuote } from '../../ui/shell.ts';

/**
 * A Go proxy's cached files for the UI: the proxy engine's `<kind>:<module>@<version>` rows of a
 * version's files (.info, .mod, .zip); `list:` and `latest:` rows name no version.
 */
export const GO_CACHE: CacheIndexSource = {
  id: 'go',
  table: 'proxy_entries',
  keyColumn: 'key',
  columns: ['fetched_at', 'size', 'digest'],
  filter: (row) =>
    `(substr(${row}key, 1, 4) IN ('mod:', 'zip:') OR substr(${row}key, 1, 5) = 'info:')`,
  select: (from) => `SELECT repository, key, substr(key, c + 1, a - c - 1) AS name,
      substr(key, a + 1) AS version, fetched_at AS at, size AS bytes,
      substr(key, a + 1) || '.' || substr(key, 1, c - 1) AS file, digest
    FROM (SELECT repository, key, fetched_at, size, digest, instr(key, ':') AS c,
        instr(key, '@') AS a
      FROM ${from} WHERE ${GO_CACHE.filter('')})
    WHERE a > c`,
};

export function goBrowse(deps: BrowseDeps): BrowseSource {
  const { db } = deps;
  return sqlBrowseSource({
    format: 'go',
    ...deps,
    rows: {
      select: `SELECT repo, module AS name, version, created_at AS at, mod_size + zip_size AS bytes
        FROM go_module_versions`,
      newestFirst: descending(compareSemver),
      cached: {
        // A module fetched through a proxy is a public one: the checksum database knows it.
        install: (name, version, request) =>
          `GOPROXY=${shellQuote(request.repositoryUrl)} ${shellCommand('go', 'get', `${name}${version === undefined ? '' : `@${version}`}`)}`,
      },
    },
    async detail(repos, name, request) {
      const versions = firstHolder(
        (
          await sql<{
            repo: string;
            version: string;
            pseudo: number;
            mod_size: number;
            zip_size: number;
            zip_blob: string;
            created_at: number;
            time: string;
          }>`SELECT repo, version, pseudo, mod_size, zip_size, zip_blob, created_at, time
            FROM go_module_versions
            WHERE repo IN (${sqlList(repos)}) AND module = ${name}`.execute(db)
        ).rows,
        repos,
      );
      const holder = versions[0]?.repo;
      if (holder === undefined) return undefined;
      const sorted = versions.sort((a, b) => compareSemver(b.version, a.version));
      const newest = sorted.find((v) => v.pseudo === 0) ?? sorted[0];
      return {
        name,
        versions: sorted.map((v) => ({
          version: v.version,
          publishedAt: v.created_at,
          bytes: v.mod_size + v.zip_size,
          digest: v.zip_blob,
          marks: v.pseudo !== 0 ? [{ mark: 'pseudoVersion' }] : [],
        })),
        // A hosted module is unknown to the public checksum database: GONOSUMDB skips it for
        // this module only (go's own refusal names GOPRIVATE / GONOSUMDB).
        install: `GOPROXY=${shellQuote(request.repositoryUrl)} GONOSUMDB=${shellQuote(name)} ${shellCommand('go', 'get', `${name}${newest === undefined ? '' : `@${newest.version}`}`)}`,
        facts: [{ label: 'repository', value: holder }],
      };
    },
  });
}
