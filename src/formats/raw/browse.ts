/**
 * Raw's web UI browse source (src/ui/types.ts, src/ui/browse-sql.ts): a name is a folder (`/`
 * the root, `docs/v1` below it), listed with the files directly in it; a folder's detail is the
 * folder browser: its subfolders and files from the hosted listing code (RawHosted.list, the one
 * `GET <mount>/<dir>/` pages through), each entry filtered by the same access check the raw
 * routes make (`<dir>/<name>`). A name that is a file (no folder there) shows the file page:
 * size, digest, modified, content type, download URL and the curl command, from the first
 * member holding it (a group reads in member order). Proxy repositories: what their cache
 * holds, read from the proxy engine's rows (`proxy_entries`, key `file:<path>`), never from the
 * upstream (an HTTP origin has no listing protocol, and the UI never asks upstream), marked
 * `cached`; their folders are the parents of cached files. A cached file carries curation's
 * verdict on its download (the raw proxy's subject: the path alone, so `*` rules, and the
 * quarantine and min release age from first seen), as other formats' cached versions do.
 */
import type { Repository } from '../../repos/repository.ts';
import { sqlBrowseSource, type BrowseDeps } from '../../ui/browse-sql.ts';
import type { BrowseDetail, BrowseSource, BrowseVersion } from '../../ui/types.ts';
import type { RawHosted } from './hosted.ts';
import type { OpenedRawFile, RawListingEntry } from './model.ts';
import { type Kysely, sql } from 'kysely';
import type { ProxyTables } from '../../proxy/state.ts';
import { compareNames } from './store.ts';
import { contentTypeOf, encodePath, parseRawPath } from './paths.ts';
import { shellCommand } from '../../ui/shell.ts';
import { curatedVersions } from '../../ui/curation.ts';
import type { CurationSubject } from '../../curation/types.ts';

/** The subject a raw proxy's download of `path` is judged by (proxy.ts openFile). */
function rawSubject(path: string): CurationSubject {
  return { registry: 'raw', name: path };
}

/** Most entries a folder page shows (the raw listing API pages through the rest). */
export const FOLDER_PAGE = 1000;

/** Most cached paths a proxy's folder page reads (its files and its subfolders' files). */
export const MAX_CACHED_ROWS = 10_000;

/** The folder path of a browse name (`/` → `` the root), or undefined when it is no valid path. */
export function folderOf(name: string): string | undefined {
  if (name === '/') return '';
  try {
    const encoded = name
      .replace(/\/$/, '')
      .split('/')
      .map((s) => encodeURIComponent(s))
      .join('/');
    const parsed = parseRawPath(`/${encoded}/`);
    return parsed.kind === 'dir' ? parsed.path : undefined;
  } catch {
    // `..`, `.`, `//`, control characters, too deep or too long: refused like the routes refuse.
    return undefined;
  }
}

export function rawBrowse(deps: BrowseDeps & { readonly hosted: RawHosted }): BrowseSource {
  const { access, hosted, repositories } = deps;
  const db = deps.db as Kysely<ProxyTables>;
  /** A proxy's cached file `path` (its proxy_entries row), undefined when not cached. */
  const cachedFile = async (
    repo: string,
    path: string,
  ): Promise<Pick<OpenedRawFile, 'size' | 'sha256' | 'modifiedAt'> | undefined> => {
    const row = await db
      .selectFrom('proxy_entries')
      .select(['digest', 'size', 'fetched_at', 'modified_at'])
      .where('repository', '=', repo)
      .where('key', '=', `file:${path}`)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    return {
      size: row.size,
      sha256: row.digest.replace(/^sha256:/, ''),
      modifiedAt: row.modified_at ?? row.fetched_at,
    };
  };
  /**
   * The folder `dir` of a proxy's cache: its cached files and the subfolders holding cached
   * files deeper down (the first MAX_CACHED_ROWS cached paths below it, by path), undefined
   * when nothing below it is cached.
   */
  const cachedListing = async (
    repo: string,
    dir: string,
  ): Promise<{ entries: RawListingEntry[]; more: boolean } | undefined> => {
    const prefix = `file:${dir === '' ? '' : `${dir}/`}`;
    const rows = await db
      .selectFrom('proxy_entries')
      .select(['key', 'digest', 'size', 'fetched_at', 'modified_at'])
      .where('repository', '=', repo)
      .where(sql<boolean>`substr(key, 1, ${prefix.length}) = ${prefix}`)
      .orderBy('key')
      .limit(MAX_CACHED_ROWS + 1)
      .execute();
    if (rows.length === 0) return undefined;
    const byName = new Map<string, RawListingEntry>();
    for (const row of rows.slice(0, MAX_CACHED_ROWS)) {
      const rest = row.key.slice(prefix.length);
      const slash = rest.indexOf('/');
      const at = row.modified_at ?? row.fetched_at;
      if (slash === -1) {
        byName.set(rest, {
          kind: 'file',
          name: rest,
          size: row.size,
          sha256: row.digest.replace(/^sha256:/, ''),
          files: undefined,
          modifiedAt: at,
        });
        continue;
      }
      const name = rest.slice(0, slash);
      const folder = byName.get(name);
      byName.set(name, {
        kind: 'dir',
        name,
        size: undefined,
        sha256: undefined,
        files: (folder?.files ?? 0) + 1,
        modifiedAt: Math.max(folder?.modifiedAt ?? 0, at),
      });
    }
    return { entries: [...byName.values()], more: rows.length > MAX_CACHED_ROWS };
  };
  // The file `path` in the first of `repos` holding it, as a file page; undefined when none does.
  const fileDetail = async (
    repos: readonly string[],
    path: string,
    repositoryUrl: string,
  ): Promise<BrowseDetail | undefined> => {
    for (const stored of repos) {
      const member = repositories.get(stored);
      if (member === undefined) continue;
      const file =
        member.kind === 'proxy'
          ? await cachedFile(stored, path)
          : await hosted.openFile(member, path);
      if (file?.size === undefined || file.sha256 === undefined) continue;
      const url = `${repositoryUrl}/${encodePath(path)}`;
      const name = path.slice(path.lastIndexOf('/') + 1);
      const refused =
        member.kind === 'proxy'
          ? curatedVersions(deps.curation, [{ version: path }], (v) => [rawSubject(v.version)]).fact
          : undefined;
      return {
        name: path,
        versions: [],
        // `-o` with the file's own name: `-O` would save it under the percent-encoded one; no
        // command for a file curation refuses (its download is the 403).
        install: refused === undefined ? shellCommand('curl', '-o', name, url) : undefined,
        ...(refused === undefined ? {} : { facts: [refused] }),
        file: {
          bytes: file.size,
          digest: `sha256:${file.sha256}`,
          modifiedAt: file.modifiedAt,
          contentType: contentTypeOf(path),
          url,
        },
      };
    }
    return undefined;
  };
  return sqlBrowseSource({
    format: 'raw',
    db: deps.db,
    access,
    repositories,
    // A folder name is kept as the canonical form of its path ('' never reaches `detail`).
    canonical: (name) => {
      const dir = folderOf(name);
      return dir === undefined ? '' : dir === '' ? '/' : dir;
    },
    accessPath: (name) => (name === '/' ? undefined : name),
    rows: {
      select: `SELECT repo, CASE parent WHEN '' THEN '/' ELSE parent END AS name, name AS version,
          updated_at AS at, size AS bytes FROM raw_files
        UNION ALL SELECT repo, path AS name, NULL AS version, updated_at AS at, 0 AS bytes
          FROM raw_dirs
        UNION ALL SELECT repository AS repo,
          CASE d WHEN '' THEN '/' ELSE substr(d, 1, length(d) - 1) END AS name,
          substr(p, length(d) + 1) AS version, fetched_at AS at, size AS bytes
          FROM (SELECT repository, fetched_at, size, substr(key, 6) AS p,
              rtrim(substr(key, 6), replace(substr(key, 6), '/', '')) AS d
            FROM proxy_entries WHERE substr(key, 1, 5) = 'file:')`,
      // A raw proxy's cached files are rows of proxy_entries (above).
      proxied: true,
    },
    async detail(repos, name, request, repo: Repository) {
      const dir = name === '/' ? '' : name;
      const seen = new Map<string, RawListingEntry>();
      let more = false;
      let found = false;
      // Files listed from a proxy's cache (marked `cached`).
      const cachedFiles = new Set<string>();
      for (const stored of repos) {
        const member = repositories.get(stored);
        if (member === undefined) continue;
        const listing =
          member.kind === 'proxy'
            ? await cachedListing(stored, dir)
            : await hosted.list(member, dir, undefined, FOLDER_PAGE);
        if (listing === undefined) continue;
        found = true;
        more ||= listing.more;
        for (const e of listing.entries) {
          if (seen.has(e.name)) continue;
          seen.set(e.name, e);
          if (member.kind === 'proxy' && e.kind === 'file') cachedFiles.add(e.name);
        }
      }
      if (!found) return dir === '' ? undefined : fileDetail(repos, dir, request.repositoryUrl);
      const visible = [...seen.values()]
        .filter((e) =>
          access.can(request.principal, repo, 'read', dir === '' ? e.name : `${dir}/${e.name}`),
        )
        .sort((a, b) =>
          a.kind !== b.kind ? (a.kind === 'dir' ? -1 : 1) : compareNames(a.name, b.name),
        );
      const listed: BrowseVersion[] = visible.map((e) => ({
        version: e.kind === 'dir' ? `${e.name}/` : e.name,
        publishedAt: e.modifiedAt,
        bytes: e.size,
        digest: e.sha256 === undefined ? undefined : `sha256:${e.sha256}`,
        marks: e.kind === 'dir' ? [{ mark: 'folder', files: e.files ?? 0 } as const] : [],
        cached: e.kind === 'file' && cachedFiles.has(e.name),
      }));
      // A cached file as its download through the proxy is judged (hosted files never are).
      const curated = curatedVersions(deps.curation, listed, (v) =>
        v.cached === true ? [rawSubject(dir === '' ? v.version : `${dir}/${v.version}`)] : [],
      );
      const versions = curated.versions;
      const prefix = dir === '' ? '' : `${encodePath(dir)}/`;
      const firstFile = visible.find((e) => e.kind === 'file' && curated.served(e.name));
      return {
        name: dir === '' ? '/' : `${dir}/`,
        versions,
        install:
          repo.kind !== 'proxy'
            ? // The whole folder, as the README documents it (`-l inf`: each listing page is one
              // level deeper for wget, whose default depth of 5 skips what a sixth page lists).
              shellCommand('wget', '-r', '-np', '-l', 'inf', `${request.repositoryUrl}/${prefix}`)
            : firstFile === undefined
              ? undefined
              : // A proxy has no listing to recurse through: one cached file. `-o` with the
                // file's own name: `-O` would save it under the percent-encoded one.
                shellCommand(
                  'curl',
                  '-o',
                  firstFile.name,
                  `${request.repositoryUrl}/${prefix}${encodePath(firstFile.name)}`,
                ),
        facts: [
          ...(more
            ? [
                {
                  label: 'listing',
                  first: FOLDER_PAGE,
                  rest: `${request.repositoryUrl}/${prefix}`,
                } as const,
              ]
            : []),
          ...(curated.fact === undefined ? [] : [curated.fact]),
        ],
      };
    },
  });
}
