/**
 * npm's web UI browse source (src/ui/types.ts, src/ui/browse-sql.ts): a name is a package; its
 * versions are the live ones (unpublished tombstones left out), newest first by semver, with
 * their dist-tags, deprecation message, integrity and tarball size. Proxy repositories list what
 * their proxy index (`npm_proxy_index`) holds of the packuments they cached; their versions are
 * not stored as rows, so a proxied package's detail shows its `latest` only — with the curation
 * engine's refusal (`decide`, the decision a download of it gets) as a mark and a `Curation`
 * fact when it would be refused, so its `npm install` line does not read as working.
 */
import { sql } from 'kysely';
import {
  descending,
  firstHolder,
  sqlBrowseSource,
  sqlList,
  type BrowseDeps,
} from '../../ui/browse-sql.ts';
import type { CurationGate } from '../../curation/types.ts';
import type { BrowseSource, BrowseVersion } from '../../ui/types.ts';
import { compareVersions } from './names.ts';
import { shellCommand } from '../../ui/shell.ts';

/** `curation`: the app's gate (FormatContext.curation); absent, proxied versions show no verdict. */
export function npmBrowse(deps: BrowseDeps, curation?: CurationGate): BrowseSource {
  const { db } = deps;
  return sqlBrowseSource({
    format: 'npm',
    ...deps,
    rows: {
      select: `SELECT repo, name, version, published_at AS at, size AS bytes FROM npm_versions
        WHERE unpublished_at IS NULL
        UNION ALL SELECT repo, name, latest AS version, modified_at AS at, NULL AS bytes
        FROM npm_proxy_index`,
      proxied: true,
      newestFirst: descending(compareVersions),
      async latest(repos, names) {
        const rows = await sql<{ name: string; version: string; repo: string }>`
          SELECT repo, name, version FROM npm_dist_tags WHERE tag = 'latest'
          AND repo IN (${sqlList(repos)}) AND name IN (${sqlList(names)})`.execute(db);
        const out = new Map<string, string>();
        // Member order: the first member's `latest` is the one a read through the group sees.
        for (const repo of [...repos].reverse()) {
          for (const r of rows.rows) if (r.repo === repo) out.set(r.name, r.version);
        }
        return out;
      },
      async descriptions(repos, names) {
        const rows = await sql<{ name: string; description: string; repo: string }>`
          SELECT repo, name, description FROM npm_packages
          WHERE repo IN (${sqlList(repos)}) AND name IN (${sqlList(names)})
          UNION ALL SELECT repo, name, description FROM npm_proxy_index
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
            version: string;
            size: number;
            published_at: number;
            integrity: string;
            deprecated: string | null;
          }>`SELECT repo, version, size, published_at, integrity, deprecated FROM npm_versions
            WHERE unpublished_at IS NULL AND repo IN (${sqlList(repos)}) AND name = ${name}`.execute(
            db,
          )
        ).rows,
        repos,
      );
      const proxied = firstHolder(
        (
          await sql<{ repo: string; latest: string; modified_at: number; description: string }>`
          SELECT repo, latest, modified_at, description FROM npm_proxy_index
          WHERE repo IN (${sqlList(repos)}) AND name = ${name}`.execute(db)
        ).rows,
        repos,
      );
      const holder = repos.find((r) => versions[0]?.repo === r || proxied[0]?.repo === r);
      if (holder === undefined) return undefined;
      if (versions[0]?.repo !== holder) {
        const p = proxied[0];
        if (p === undefined) return undefined;
        // Not counted, not logged: only a download is a decision (CurationGate.decide).
        const verdict = curation?.decide({ registry: 'npm', name, version: p.latest });
        const refusal = verdict?.refuse === true ? verdict.message : undefined;
        return {
          name,
          description: p.description || undefined,
          versions: [
            {
              version: p.latest,
              publishedAt: p.modified_at,
              tags: ['latest'],
              ...(refusal === undefined ? {} : { marks: [{ mark: 'refusedByCuration' } as const] }),
            },
          ],
          install: shellCommand(
            'npm',
            'install',
            `${name}@${p.latest}`,
            '--registry',
            `${request.repositoryUrl}/`,
          ),
          facts: [
            { label: 'cachedFrom', upstream: true },
            ...(refusal === undefined ? [] : [{ label: 'curation', value: refusal } as const]),
          ],
        };
      }
      const tags = await sql<{
        tag: string;
        version: string;
      }>`SELECT tag, version FROM npm_dist_tags
        WHERE repo = ${holder} AND name = ${name} ORDER BY tag`.execute(db);
      const pkg = await sql<{ description: string }>`SELECT description FROM npm_packages
        WHERE repo = ${holder} AND name = ${name}`.execute(db);
      const tagsOf = new Map<string, string[]>();
      for (const t of tags.rows) tagsOf.set(t.version, [...(tagsOf.get(t.version) ?? []), t.tag]);
      const list: BrowseVersion[] = versions
        .sort((a, b) => compareVersions(b.version, a.version))
        .map((v) => ({
          version: v.version,
          publishedAt: v.published_at,
          bytes: v.size,
          digest: v.integrity,
          tags: tagsOf.get(v.version) ?? [],
          ...(v.deprecated
            ? { marks: [{ mark: 'deprecated', detail: v.deprecated } as const] }
            : {}),
        }));
      const latest = tags.rows.find((t) => t.tag === 'latest')?.version ?? list[0]?.version;
      return {
        name,
        description: pkg.rows[0]?.description || undefined,
        versions: list,
        install: shellCommand(
          'npm',
          'install',
          `${name}${latest === undefined ? '' : `@${latest}`}`,
          '--registry',
          `${request.repositoryUrl}/`,
        ),
        facts: [
          {
            label: 'distTags',
            value: tags.rows.map((t) => `${t.tag}: ${t.version}`).join(', '),
          },
          { label: 'repository', value: holder },
        ],
      };
    },
  });
}
