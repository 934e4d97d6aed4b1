/**
 * Cargo's web UI browse source (src/ui/types.ts, src/ui/browse-sql.ts): a name is a crate (its
 * lower-cased index name, what the access rules see); its versions newest first by SemVer, with
 * the `.crate` size, checksum and the yanked mark. Proxy repositories: nothing listed.
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
import { compareVersions } from '../npm/names.ts';
import { shellCommand } from '../../ui/shell.ts';

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
          marks: v.yanked !== 0 ? ['yanked'] : [],
        })),
        // `cargo add` reaches another registry only by name (it has no `--index`): the config
        // lines that name this one come first.
        install: [
          '# ~/.cargo/config.toml',
          '[registries.nora]',
          `index = ${JSON.stringify(`sparse+${request.repositoryUrl}/index/`)}`,
          '',
          shellCommand(
            'cargo',
            'add',
            `${display}${newest === undefined ? '' : `@${newest.vers}`}`,
            '--registry',
            'nora',
          ),
        ].join('\n'),
        facts: [['Repository', holder]],
      };
    },
  });
}
