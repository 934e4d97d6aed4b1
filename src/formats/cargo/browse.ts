/**
 * Cargo's web UI browse source (src/ui/types.ts, src/ui/browse-sql.ts): a name is a crate (its
 * lower-cased index name, what the access rules see); its versions newest first by SemVer, with
 * the `.crate` size, checksum and the yanked mark. Proxy repositories: the
 * `.crate` files fetched through them (`rows.cached` below), marked cached.
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
import { compareVersions } from '../npm/names.ts';
import { shellCommand } from '../../ui/shell.ts';

/** The registry's config lines and `cargo add` of `crate` (`@version` when known). */
function cargoInstall(crate: string, version: string | undefined, repositoryUrl: string): string {
  return [
    '# ~/.cargo/config.toml',
    '[registries.nora]',
    `index = ${JSON.stringify(`sparse+${repositoryUrl}/index/`)}`,
    '',
    shellCommand(
      'cargo',
      'add',
      `${crate}${version === undefined ? '' : `@${version}`}`,
      '--registry',
      'nora',
    ),
  ].join('\n');
}

/** A Cargo proxy's cached `.crate` files (`cargo-crate:<name>/<version>` rows) for the UI. */
export const CARGO_CACHE: CacheIndexSource = {
  id: 'cargo',
  table: 'proxy_entries',
  keyColumn: 'key',
  columns: ['fetched_at', 'size', 'digest'],
  filter: (row) => `substr(${row}key, 1, 12) = 'cargo-crate:'`,
  select: (from) => `SELECT repository, key, lower(crate) AS name, version, fetched_at AS at,
      size AS bytes, crate || '-' || version || '.crate' AS file, digest
    FROM (SELECT repository, key, fetched_at, size, digest,
        substr(key, 13, instr(key, '/') - 13) AS crate,
        substr(key, instr(key, '/') + 1) AS version
      FROM ${from} WHERE ${CARGO_CACHE.filter('')})`,
};

export function cargoBrowse(deps: BrowseDeps): BrowseSource {
  const { db } = deps;
  return sqlBrowseSource({
    format: 'cargo',
    ...deps,
    canonical: (name) => name.toLowerCase(),
    rows: {
      select: `SELECT repo, crate AS name, vers AS version, published_at AS at, size AS bytes
        FROM cargo_versions`,
      newestFirst: descending(compareVersions),
      cached: {
        install: (name, version, request) => cargoInstall(name, version, request.repositoryUrl),
      },
      async descriptions(repos, names) {
        const rows = await sql<{ repo: string; name: string; description: string | null }>`
          SELECT repo, name, description FROM cargo_crates
          WHERE repo IN (${sqlList(repos)}) AND name IN (${sqlList(names)})`.execute(db);
        const out = new Map<string, string>();
        for (const repo of [...repos].reverse()) {
          for (const r of rows.rows)
            if (r.repo === repo && r.description) out.set(r.name, r.description);
        }
        return out;
      },
    },
    async detail(repos, name, request) {
      const versions = firstHolder(
        (
          await sql<{
            repo: string;
            vers: string;
            size: number;
            cksum: string;
            yanked: number;
            published_at: number;
            published_by: string | null;
          }>`SELECT repo, vers, size, cksum, yanked, published_at, published_by FROM cargo_versions
            WHERE repo IN (${sqlList(repos)}) AND crate = ${name}`.execute(db)
        ).rows,
        repos,
      );
      const holder = versions[0]?.repo;
      if (holder === undefined) return undefined;
      const crate = await sql<{ display_name: string; description: string | null }>`
        SELECT display_name, description FROM cargo_crates
        WHERE repo = ${holder} AND name = ${name}`.execute(db);
      const sorted = versions.sort((a, b) => compareVersions(b.vers, a.vers));
      const newest = sorted.find((v) => v.yanked === 0) ?? sorted[0];
      const display = crate.rows[0]?.display_name ?? name;
      return {
        name: display,
        description: crate.rows[0]?.description ?? undefined,
        versions: sorted.map((v) => ({
          version: v.vers,
          publishedAt: v.published_at,
          bytes: v.size,
          digest: `sha256:${v.cksum}`,
          marks: v.yanked !== 0 ? [{ mark: 'yanked' }] : [],
        })),
        // `cargo add` reaches another registry only by name (it has no `--index`): the config
        // lines that name this one come first.
        install: cargoInstall(display, newest?.vers, request.repositoryUrl),
        facts: [{ label: 'repository', value: holder }],
      };
    },
  });
}
