/**
 * The shared half of the formats' browse sources (src/ui/types.ts): the list of a repository's
 * names, paged and searched in SQL over the format's own version rows, and the access filtering
 * every format needs. A format describes its version rows once (`VersionRows`: one SQL select
 * yielding `repo, name, version, at, bytes`) and writes only its detail page.
 *
 * Cost: a list page is one aggregate query (`GROUP BY name … LIMIT/OFFSET`), one count and one
 * query for the versions of the page's names only (for "newest version" by the format's own
 * order), however many names and versions the repository holds. When the principal may not read
 * every path of the repository (path rules, a scoped token), the matching names alone are read
 * and filtered one by one with the same `AccessControl.can` the format's routes use, then the
 * page's aggregates are asked for those names only. A proxy listing its cache (`cached`) reads
 * its names from the per-name summaries of the UI's cache index (cache-index.ts) by index: a
 * page costs its page's names, not the cache's rows.
 *
 * Which repositories are listed: a hosted repository its own rows; a group the rows of its hosted
 * members (recursively, in member order); a proxy what its cache holds when the format lists
 * cached names (`VersionRows.proxied`, `VersionRows.cached`: rows of the metadata store, never
 * the upstream), marked cached.
 */
import { type Kysely, sql, type RawBuilder } from 'kysely';
import type { AccessControl, Principal } from '../auth/access.ts';
import type { FormatName } from '../config/schema.ts';
import type { Repository, RepositoryRegistry } from '../repos/repository.ts';
import type { CurationGate } from '../curation/types.ts';
import { curatedVersions } from './curation.ts';
import type {
  BrowseDetail,
  BrowseEntry,
  BrowseList,
  BrowseQuery,
  BrowseRequest,
  BrowseSource,
} from './types.ts';

/** Most names read at once when filtering by access (names only, never versions). */
export const MAX_FILTERED_NAMES = 100_000;

/** Largest offset a list honours (past it: an empty page). */
export const MAX_OFFSET = 1_000_000_000;

/** How a format's version rows are read. */
export interface VersionRows {
  /**
   * A SELECT (constant SQL written by the format, never request data) yielding one row per
   * version — or per file of a version: `version` repeats, `bytes` add up — with the columns
   * `repo`, `name` (as the format's URLs write it), `version`, `at` (ms since the epoch) and
   * `bytes`.
   */
  readonly select: string;
  /**
   * Newest-first order of two versions of one name (the format's own: semver, PEP 440, Maven);
   * undefined: the most recently stored is the newest (OCI tags have no order).
   */
  readonly newestFirst?: ((a: string, b: string) => number) | undefined;
  /**
   * The newest version of each of `names` when the format names one itself (npm's `latest`
   * dist-tag); names it leaves out fall back to `newestFirst`.
   */
  readonly latest?: (
    repos: readonly string[],
    names: readonly string[],
  ) => Promise<Map<string, string>>;
  /** One line of description per name, for the page's names only. */
  readonly descriptions?: (
    repos: readonly string[],
    names: readonly string[],
  ) => Promise<Map<string, string>>;
  /** True when proxy repositories' cached names are rows of `select` too (npm's proxy index). */
  readonly proxied?: boolean | undefined;
  /**
   * A proxy's cache as rows (PyPI, Cargo, Go, Helm, Maven): listed with `select`'s rows and
   * answering a proxy member's detail page, marked cached. Read from the metadata store only,
   * never from the upstream.
   */
  readonly cached?: CachedRows | undefined;
}

/**
 * How a format's proxy cache is shown (`VersionRows.cached`). Its rows are the UI's cache index
 * (cache-index.ts: `ui_proxy_files`, `ui_proxy_names`), which the format's migration keeps from
 * its proxy rows (`CacheIndexSource`).
 */
export interface CachedRows {
  /** The client command fetching `version` (newest cached) of `name` through the repository. */
  readonly install: (name: string, version: string | undefined, request: BrowseRequest) => string;
  /**
   * The upstream's publish time (ms) of each version of `name` that proxy `repo` knows without
   * asking the upstream (PyPI: its cached project page's PEP 700 upload-time), as the format's
   * download passes it to curation: the min release age counts from it there and here. Absent,
   * or a version missing: the first-seen time, as the download judges it then.
   */
  readonly publishedAt?: (
    repo: Repository,
    name: string,
  ) => Promise<ReadonlyMap<string, number> | undefined>;
}

/** What a format's browse source reads: the app's database, access control and repositories. */
export interface BrowseDeps {
  // Any format's tables: `select` is the format's own constant SQL.
  readonly db: Kysely<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  readonly access: AccessControl;
  readonly repositories: RepositoryRegistry;
  /**
   * The app's curation gate (FormatContext.curation): a proxy's cached versions carry its
   * verdict (src/ui/curation.ts); absent, none.
   */
  readonly curation?: CurationGate | undefined;
}

export interface SqlBrowseOptions extends BrowseDeps {
  readonly format: FormatName;
  readonly rows: VersionRows;
  /**
   * The path access rules see for a listed name (`com/example/lib` for `com.example:lib`);
   * default: the name itself.
   */
  readonly accessPath?: ((name: string) => string | undefined) | undefined;
  /**
   * The detail of `name`, read from `repos` (the stored repositories `repo` reads, in member
   * order). Called only once the principal may read `name`; undefined when absent. `repo` is
   * the repository addressed (for access checks below `name`).
   */
  readonly detail: (
    repos: readonly string[],
    name: string,
    request: BrowseRequest,
    repo: Repository,
  ) => Promise<BrowseDetail | undefined>;
  /** The stored spelling of a name as typed in a URL (PyPI's PEP 503 form); default as is. */
  readonly canonical?: ((name: string) => string) | undefined;
}

interface Aggregate {
  name: string;
  versions: number;
  at: number | null;
  bytes: number | null;
}

/** A BrowseSource over `options.rows` (see the module comment). */
export function sqlBrowseSource(options: SqlBrowseOptions): BrowseSource {
  const { db, access, rows } = options;
  const accessPath = options.accessPath ?? ((name: string): string | undefined => name);
  const cached = rows.cached;
  const from = sql.raw(
    cached === undefined
      ? `(${rows.select})`
      : `(${rows.select} UNION ALL SELECT repository AS repo, name, version, at, bytes
          FROM ui_proxy_files)`,
  );
  /**
   * The per-name summaries a proxy's page reads by index (PRIMARY KEY (repository, name)) when
   * `repos` is one proxy of a format listing its cache; undefined otherwise (hosted rows and
   * groups are grouped from `from`).
   */
  const summaries = (repos: readonly string[]): RawBuilder<unknown> | undefined =>
    cached !== undefined &&
    repos.length === 1 &&
    options.repositories.get(repos[0] ?? '')?.kind === 'proxy'
      ? sql`(SELECT repository AS repo, name, versions, at, bytes FROM ui_proxy_names)`
      : undefined;

  const stored = (repo: Repository): string[] =>
    storedRepositories(options.repositories, repo, rows.proxied === true || cached !== undefined);

  const readable = (principal: Principal, repo: Repository, name: string): boolean =>
    access.can(principal, repo, 'read', accessPath(name));

  const inList = (values: readonly string[]): RawBuilder<unknown> =>
    sql.join(values.map((v) => sql`${v}`));

  const aggregates = async (
    repos: readonly string[],
    filter: RawBuilder<unknown>,
    page: { offset: number; limit: number } | undefined,
  ): Promise<Aggregate[]> => {
    const limit = page === undefined ? sql`` : sql`LIMIT ${page.limit} OFFSET ${page.offset}`;
    const summary = summaries(repos);
    const result =
      summary === undefined
        ? await sql<Aggregate>`SELECT name, COUNT(DISTINCT version) AS versions,
            MAX(at) AS at, SUM(bytes) AS bytes
          FROM ${from} AS v WHERE repo IN (${inList(repos)}) AND ${filter}
          GROUP BY name ORDER BY name ${limit}`.execute(db)
        : await sql<Aggregate>`SELECT name, versions, at, bytes FROM ${summary} AS v
          WHERE repo IN (${inList(repos)}) AND ${filter} ORDER BY name ${limit}`.execute(db);
    return result.rows;
  };

  const entries = async (repos: readonly string[], found: Aggregate[]): Promise<BrowseEntry[]> => {
    if (found.length === 0) return [];
    const names = found.map((a) => a.name);
    const versions = await sql<{ name: string; version: string; at: number }>`
      SELECT name, version, MAX(at) AS at FROM ${from} AS v
      WHERE repo IN (${inList(repos)}) AND name IN (${inList(names)})
      GROUP BY name, version`.execute(db);
    const byName = new Map<string, { version: string; at: number }[]>();
    for (const row of versions.rows) {
      byName.set(row.name, [...(byName.get(row.name) ?? []), row]);
    }
    const named = (await rows.latest?.(repos, names)) ?? new Map<string, string>();
    const descriptions = (await rows.descriptions?.(repos, names)) ?? new Map<string, string>();
    return found.map((a) => ({
      name: a.name,
      versions: a.versions,
      latest: named.get(a.name) ?? newestOf(byName.get(a.name) ?? [], rows.newestFirst),
      updatedAt: a.at === null ? undefined : a.at,
      bytes: a.bytes === null ? undefined : a.bytes,
      description: descriptions.get(a.name) || undefined,
    }));
  };

  /**
   * `listed` marked `cached` when only a proxy's cache holds them: all of a proxy's names; a
   * group's names that none of its other members (`repos` less the proxies) holds.
   */
  const cachedMark = async (
    repo: Repository,
    repos: readonly string[],
    listed: BrowseEntry[],
  ): Promise<BrowseEntry[]> => {
    if (repo.kind === 'proxy') return listed.map((e) => ({ ...e, cached: true }));
    const others = repos.filter((r) => options.repositories.get(r)?.kind !== 'proxy');
    if (repo.kind !== 'group' || others.length === repos.length || listed.length === 0) {
      return listed;
    }
    const held =
      others.length === 0
        ? []
        : (
            await sql<{ name: string }>`SELECT DISTINCT name FROM ${from} AS v
              WHERE repo IN (${inList(others)})
              AND name IN (${inList(listed.map((e) => e.name))})`.execute(db)
          ).rows.map((r) => r.name);
    const hosted = new Set(held);
    return listed.map((e) => (hosted.has(e.name) ? e : { ...e, cached: true }));
  };

  return {
    format: options.format,
    async list(repo: Repository, asked: BrowseQuery, request: BrowseRequest): Promise<BrowseList> {
      const repos = stored(repo);
      if (repos.length === 0) return { entries: [], total: 0 };
      // Bounded whatever the caller sent: a search term of 200 characters at most, an offset
      // SQLite binds as an integer.
      const q = asked.q.slice(0, 200).toLowerCase();
      const query = {
        ...asked,
        offset: Math.min(Math.max(0, Math.floor(asked.offset)), MAX_OFFSET),
      };
      const match = q === '' ? sql`1 = 1` : sql`instr(lower(name), ${q}) > 0`;
      const { principal } = request;
      const names = summaries(repos) ?? from;
      if (access.can(principal, repo, 'read') && access.readsEveryPath(principal, repo)) {
        const found = await aggregates(repos, match, query);
        const total = await sql<{ n: number }>`SELECT COUNT(DISTINCT name) AS n FROM ${names} AS v
          WHERE repo IN (${inList(repos)}) AND ${match}`.execute(db);
        return {
          entries: await cachedMark(repo, repos, await entries(repos, found)),
          total: total.rows[0]?.n ?? 0,
        };
      }
      // Path rules or a scoped credential: filter names one by one, as the routes would.
      const listed = await sql<{ name: string }>`SELECT DISTINCT name FROM ${names} AS v
        WHERE repo IN (${inList(repos)}) AND ${match} ORDER BY name
        LIMIT ${MAX_FILTERED_NAMES}`.execute(db);
      const visible = listed.rows.map((r) => r.name).filter((n) => readable(principal, repo, n));
      const pageNames = visible.slice(query.offset, query.offset + query.limit);
      if (pageNames.length === 0) return { entries: [], total: visible.length };
      const found = await aggregates(repos, sql`name IN (${inList(pageNames)})`, undefined);
      return {
        entries: await cachedMark(repo, repos, await entries(repos, found)),
        total: visible.length,
      };
    },
    async detail(
      repo: Repository,
      name: string,
      request: BrowseRequest,
    ): Promise<BrowseDetail | undefined> {
      const wanted = options.canonical?.(name) ?? name;
      if (wanted === '' || !readable(request.principal, repo, wanted)) return undefined;
      const repos = stored(repo);
      if (repos.length === 0) return undefined;
      if (cached === undefined) return options.detail(repos, wanted, request, repo);
      // Member order, as a read through a group answers: a proxy member from its cache rows,
      // each run of other members from the format's own detail.
      let run: string[] = [];
      for (const member of [...repos, undefined]) {
        const proxy = member !== undefined && options.repositories.get(member)?.kind === 'proxy';
        if (member !== undefined && !proxy) {
          run.push(member);
          continue;
        }
        if (run.length > 0) {
          const found = await options.detail(run, wanted, request, repo);
          if (found !== undefined) return found;
          run = [];
        }
        if (member === undefined) return undefined;
        const found = await cachedDetail(member, wanted, request);
        if (found !== undefined) return found;
      }
      return undefined;
    },
  };

  /**
   * The detail of `name` as proxy `repo`'s cache holds it: its cached versions (newest first by
   * the format's order), each marked cached, the newest one's files in the facts; undefined
   * when nothing of it is cached.
   */
  async function cachedDetail(
    repo: string,
    name: string,
    request: BrowseRequest,
  ): Promise<BrowseDetail | undefined> {
    if (cached === undefined) return undefined;
    const files = await sql<{
      version: string;
      at: number;
      bytes: number;
      file: string;
      digest: string;
    }>`SELECT version, at, bytes, file, digest FROM ui_proxy_files
      WHERE repository = ${repo} AND name = ${name} ORDER BY file`.execute(db);
    if (files.rows.length === 0) return undefined;
    const byVersion = new Map<string, typeof files.rows>();
    for (const f of files.rows) byVersion.set(f.version, [...(byVersion.get(f.version) ?? []), f]);
    const newest = newestOf(
      [...byVersion.entries()].map(([version, fs]) => ({
        version,
        at: Math.max(...fs.map((f) => f.at)),
      })),
      rows.newestFirst,
    );
    // The publish times the format's download judges the min release age by (PyPI's cached
    // page: PEP 700 upload-time), so the page's verdict names the same date in the same words.
    const member = options.repositories.get(repo);
    const published =
      member !== undefined &&
      (options.curation?.timeSettings(options.format).minReleaseAge ?? 0) > 0
        ? await cached.publishedAt?.(member, name)
        : undefined;
    const sorted = [...byVersion.entries()].map(([version, fs]) => ({
      version,
      publishedAt: Math.max(...fs.map((f) => f.at)),
      bytes: fs.reduce((n, f) => n + f.bytes, 0),
      // One digest per file: shown for a single-file version only, the newest's in the facts.
      digest: fs.length === 1 ? fs[0]?.digest : undefined,
      cached: true,
    }));
    sorted.sort(
      rows.newestFirst === undefined
        ? (a, b) => b.publishedAt - a.publishedAt
        : (a, b) => rows.newestFirst?.(a.version, b.version) ?? 0,
    );
    // Curation's verdict on each version, as its download gets it (a quarantine hold is by the
    // file's digest): a refused version is marked and never the install line's.
    const curated = curatedVersions(options.curation, sorted, (v) =>
      (byVersion.get(v.version) ?? []).map((f) => ({
        registry: options.format,
        name,
        version: v.version,
        digest: f.digest,
        publishedAt: published?.get(v.version),
      })),
    );
    const versions = curated.versions;
    const install =
      newest !== undefined && curated.served(newest)
        ? newest
        : versions.find((v) => curated.served(v.version))?.version;
    const refusal = curated.fact;
    return {
      name,
      versions,
      install: install === undefined ? undefined : cached.install(name, install, request),
      facts: [
        { label: 'repository', value: repo },
        ...(refusal === undefined ? [] : [refusal]),
        ...(byVersion.get(newest ?? '') ?? []).map((f) => ({
          file: f.file,
          bytes: f.bytes,
          digest: f.digest,
        })),
      ],
    };
  }
}

/**
 * The repositories whose rows `repo` reads: itself when hosted (or a proxy with `proxied`), a
 * group's members' (depth first, in member order, each once), nothing for another proxy.
 */
export function storedRepositories(
  registry: RepositoryRegistry,
  repo: Repository,
  proxied: boolean,
): string[] {
  const out: string[] = [];
  const visit = (r: Repository, seen: Set<string>): void => {
    if (seen.has(r.name)) return;
    seen.add(r.name);
    if (r.kind === 'hosted' || (r.kind === 'proxy' && proxied)) out.push(r.name);
    else if (r.kind === 'group') for (const m of registry.membersOf(r)) visit(m, seen);
  };
  visit(repo, new Set());
  return out;
}

/** The newest of `versions`: by `newestFirst`, else the most recently stored. */
export function newestOf(
  versions: readonly { version: string; at: number }[],
  newestFirst: ((a: string, b: string) => number) | undefined,
): string | undefined {
  if (versions.length === 0) return undefined;
  const sorted = [...versions].sort(
    newestFirst === undefined ? (a, b) => b.at - a.at : (a, b) => newestFirst(a.version, b.version),
  );
  return sorted[0]?.version;
}

/** `newestFirst` from an ascending comparator. */
export function descending(
  ascending: (a: string, b: string) => number,
): (a: string, b: string) => number {
  return (a, b) => ascending(b, a);
}

/** `repo IN (…)`'s list, for a format's detail query. */
export function sqlList(values: readonly string[]): RawBuilder<unknown> {
  return sql.join(values.map((v) => sql`${v}`));
}

/**
 * The rows of the first of `repos` (member order) holding any: what a read through a group
 * answers with for one name (the first member that has it).
 */
export function firstHolder<T extends { repo: string }>(
  rows: readonly T[],
  repos: readonly string[],
): T[] {
  for (const repo of repos) {
    const held = rows.filter((r) => r.repo === repo);
    if (held.length > 0) return held;
  }
  return [];
}

/** The host (and port) clients address, from a repository URL. */
export function hostOf(repositoryUrl: string): string {
  return new URL(repositoryUrl).host;
}

/** The named repository a repository URL addresses (`…/repository/<name>`), if any. */
export function namedRepositoryOf(repositoryUrl: string): string | undefined {
  const m = /\/repository\/([^/]+)$/.exec(new URL(repositoryUrl).pathname);
  return m?.[1] === undefined ? undefined : decodeURIComponent(m[1]);
}
