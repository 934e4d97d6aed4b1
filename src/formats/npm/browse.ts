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
import type { BrowseDetail, BrowseSource, BrowseVersion } from '../../ui/types.ts';
import { curationShown } from '../../ui/curation.ts';
import type { PackageView } from './packument.ts';
import { curatedView } from './service.ts';
import { compareVersions } from './names.ts';
import { shellCommand } from '../../ui/shell.ts';

/** A proxy repository's cached packument of a name (NpmUpstream.peek), never the upstream's. */
export type CachedView = (repo: string, name: string) => Promise<PackageView | undefined>;

/**
 * `curation`: the app's gate (FormatContext.curation); absent, proxied versions show no verdict.
 * `cachedView`: a proxy's cached packument; absent, a proxied package shows its `latest` only.
 */
export function npmBrowse(
  deps: BrowseDeps,
  curation?: CurationGate,
  cachedView?: CachedView,
): BrowseSource {
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
          if (deps.repositories.get(repo)?.kind !== 'proxy' || cachedView === undefined) continue;
          // A proxy's `latest` as its served packument says, after curation hid versions.
          for (const name of names) {
            const view = await cachedView(repo, name);
            const latest = view && curatedView(view, curation).tags['latest'];
            if (latest !== undefined) out.set(name, latest);
          }
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
        const view = await cachedView?.(holder, name);
        return view === undefined
          ? latestOnly(name, p, request.repositoryUrl, curation)
          : proxiedDetail(view, p.description, request.repositoryUrl, curation);
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
        install: npmInstall(name, latest, request.repositoryUrl),
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

/** `npm install name@version` from the repository. */
function npmInstall(name: string, version: string | undefined, repositoryUrl: string): string {
  return shellCommand(
    'npm',
    'install',
    `${name}${version === undefined ? '' : `@${version}`}`,
    '--registry',
    `${repositoryUrl}/`,
  );
}

/**
 * A proxied package from its cached packument, as a client reading it through the proxy sees
 * it: every version the upstream lists, newest first, with its deprecation and curation's
 * verdict (the download's: the packument's `time` and integrity passed as the tarball route
 * passes them); the dist-tags after curation hid versions (`curatedView`, what the served
 * packument says); the install line naming `latest` when it installs, else the newest version a
 * download serves (none: no install line).
 */
function proxiedDetail(
  view: PackageView,
  description: string,
  repositoryUrl: string,
  curation: CurationGate | undefined,
): BrowseDetail {
  const served = curatedView(view, curation);
  const tagsOf = new Map<string, string[]>();
  for (const [tag, version] of Object.entries(served.tags).sort(([a], [b]) => (a < b ? -1 : 1))) {
    tagsOf.set(version, [...(tagsOf.get(version) ?? []), tag]);
  }
  const judged = [...view.versions]
    .sort((a, b) => compareVersions(b.version, a.version))
    .map((v) => ({
      v,
      refused: curationShown(curation, {
        registry: 'npm',
        name: view.name,
        version: v.version,
        integrity: v.integrity,
        publishedAt: v.time === undefined ? undefined : Date.parse(v.time),
      }),
    }));
  const list: BrowseVersion[] = judged.map(({ v, refused }) => {
    const marks = [
      ...(v.deprecated === undefined
        ? []
        : [{ mark: 'deprecated', detail: v.deprecated } as const]),
      ...(refused === undefined ? [] : [refused.mark]),
    ];
    const at = v.time === undefined ? NaN : Date.parse(v.time);
    return {
      version: v.version,
      ...(Number.isFinite(at) ? { publishedAt: at } : {}),
      ...(v.integrity === undefined ? {} : { digest: v.integrity }),
      tags: tagsOf.get(v.version) ?? [],
      ...(marks.length === 0 ? {} : { marks }),
    };
  });
  const installs = judged.filter((j) => j.refused === undefined).map((j) => j.v.version);
  const latest = served.tags['latest'];
  const install = latest !== undefined && installs.includes(latest) ? latest : installs[0];
  const refusal = judged.find((j) => j.refused !== undefined)?.refused;
  return {
    name: view.name,
    description: description || undefined,
    versions: list,
    install: install === undefined ? undefined : npmInstall(view.name, install, repositoryUrl),
    facts: [
      {
        label: 'distTags',
        value: Object.entries(served.tags)
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([tag, version]) => `${tag}: ${version}`)
          .join(', '),
      },
      { label: 'cachedFrom', upstream: true },
      ...(refusal === undefined ? [] : [refusal.fact]),
    ],
  };
}

/**
 * A proxied package whose packument is not in the cache (only its search-index row is): its
 * `latest` as last seen, with curation's verdict on it.
 */
function latestOnly(
  name: string,
  p: { latest: string; modified_at: number; description: string },
  repositoryUrl: string,
  curation: CurationGate | undefined,
): BrowseDetail {
  const refused = curationShown(curation, { registry: 'npm', name, version: p.latest });
  return {
    name,
    description: p.description || undefined,
    versions: [
      {
        version: p.latest,
        publishedAt: p.modified_at,
        tags: ['latest'],
        ...(refused === undefined ? {} : { marks: [refused.mark] }),
      },
    ],
    install: refused === undefined ? npmInstall(name, p.latest, repositoryUrl) : undefined,
    facts: [
      { label: 'cachedFrom', upstream: true },
      ...(refused === undefined ? [] : [refused.fact]),
    ],
  };
}
