/**
 * Helm's web UI browse source (src/ui/types.ts, src/ui/browse-sql.ts): a name is a chart; its
 * versions newest first by SemVer, with the archive (+ provenance) size, digest, and the
 * description and app version of its index entry. Proxy repositories: the
 * chart files fetched through them (HELM_CACHE), marked cached.
 */
import { sql } from 'kysely';
import { firstHolder, sqlBrowseSource, sqlList, type BrowseDeps } from '../../ui/browse-sql.ts';
import type { CacheIndexSource } from '../../ui/cache-index.ts';
import type { BrowseSource } from '../../ui/types.ts';
import { compareVersionsDesc } from './chart.ts';
import { shellCommand } from '../../ui/shell.ts';

/** A field of an index entry (its JSON text), or undefined. */
function entryValue(entry: string, field: string): unknown {
  try {
    return (JSON.parse(entry) as Record<string, unknown>)[field];
  } catch {
    return undefined;
  }
}

function entryField(entry: string, field: string): string | undefined {
  const value = entryValue(entry, field);
  return typeof value === 'string' ? value : undefined;
}

/**
 * A Helm proxy's cached chart files (the proxy engine's `chart@<upstream id>:<name>-<version>.tgz`
 * rows, and their `.prov`), named by what the proxy recorded when it fetched them (the index
 * entry's name and version, `helm_proxy_charts`): a file name alone cannot be split (a chart
 * `nginx-1-ingress` at `1.2.3-rc.1`). Indexed: both tables' keys are (repository, key).
 */
export const HELM_CACHE: CacheIndexSource = {
  id: 'helm',
  table: 'proxy_entries',
  keyColumn: 'key',
  columns: ['fetched_at', 'size', 'digest'],
  joined: 'helm_proxy_charts',
  filter: (row) => `EXISTS (SELECT 1 FROM helm_proxy_charts AS c
    WHERE c.repository = ${row}repository AND c.key = ${row}key)`,
  select: (from) => `SELECT p.repository AS repository, p.key AS key, c.name AS name,
      c.version AS version, p.fetched_at AS at, p.size AS bytes,
      substr(p.key, instr(p.key, ':') + 1) AS file, p.digest AS digest
    FROM ${from} AS p
    JOIN helm_proxy_charts AS c ON c.repository = p.repository AND c.key = p.key`,
};

/** `helm install` of chart `name` (`--version` when known) from the repository. */
function helmInstall(name: string, version: string | undefined, repositoryUrl: string): string {
  return shellCommand(
    'helm',
    'install',
    name,
    name,
    '--repo',
    `${repositoryUrl}/`,
    ...(version === undefined ? [] : ['--version', version]),
  );
}

export function helmBrowse(deps: BrowseDeps): BrowseSource {
  const { db } = deps;
  return sqlBrowseSource({
    format: 'helm',
    ...deps,
    rows: {
      select: `SELECT repo, name, version, updated_at AS at, size + COALESCE(prov_size, 0) AS bytes
        FROM helm_charts`,
      newestFirst: compareVersionsDesc,
      cached: {
        install: (name, version, request) => helmInstall(name, version, request.repositoryUrl),
      },
    },
    async detail(repos, name, request) {
      const versions = firstHolder(
        (
          await sql<{
            repo: string;
            version: string;
            size: number;
            prov_size: number | null;
            digest: string;
            entry: string;
            updated_at: number;
          }>`SELECT repo, version, size, prov_size, digest, entry, updated_at FROM helm_charts
            WHERE repo IN (${sqlList(repos)}) AND name = ${name}`.execute(db)
        ).rows,
        repos,
      );
      const holder = versions[0]?.repo;
      if (holder === undefined) return undefined;
      const sorted = versions.sort((a, b) => compareVersionsDesc(a.version, b.version));
      const newest = sorted[0];
      const appVersion = newest === undefined ? undefined : entryField(newest.entry, 'appVersion');
      return {
        name,
        description: newest === undefined ? undefined : entryField(newest.entry, 'description'),
        versions: sorted.map((v) => ({
          version: v.version,
          publishedAt: v.updated_at,
          bytes: v.size + (v.prov_size ?? 0),
          digest: v.digest,
          marks: entryValue(v.entry, 'deprecated') === true ? [{ mark: 'deprecated' }] : [],
        })),
        install: helmInstall(name, newest?.version, request.repositoryUrl),
        facts: [
          { label: 'repository', value: holder },
          ...(appVersion === undefined
            ? []
            : [{ label: 'appVersion', value: appVersion } as const]),
        ],
      };
    },
  });
}
