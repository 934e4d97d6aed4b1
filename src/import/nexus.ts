/**
 * The Nexus Repository 3 source (REST API v1):
 * - `GET /service/rest/v1/repositories` → `[{name, format, type: hosted|proxy|group}]`;
 * - `GET /service/rest/v1/assets?repository=<name>[&continuationToken=…]` → `{items: [{path,
 *   downloadUrl, checksum: {sha1, sha256}, fileSize, lastModified}], continuationToken}`, one
 *   page at a time (the next is fetched when the previous is consumed: memory stays bounded);
 * - a file is downloaded from `/repository/<name>/<path>` (the same origin; `downloadUrl` is not
 *   followed, so a listing cannot point the import elsewhere).
 * `--url` is the Nexus root (`https://host` or `https://host/nexus`).
 */
import { download, hex } from './artifactory.ts';
import { encodePath } from './put.ts';
import { getJson, getRepositoryList, type SourceHttp } from './source-http.ts';
import {
  type ImportSource,
  ImportSourceError,
  type SourceRepoKind,
  type SourceRepository,
} from './types.ts';

/** One page of assets (Nexus sends 10 to 100 items): a larger answer is no page. */
const MAX_PAGE_BYTES = 16 * 1024 * 1024;
/** A runaway source (a token that never ends): stop somewhere. */
const MAX_PAGES = 10_000_000;

const KINDS: Readonly<Record<string, SourceRepoKind>> = {
  hosted: 'local',
  proxy: 'remote',
  group: 'virtual',
};

export function nexusSource(http: SourceHttp, url: string, host: string): ImportSource {
  return {
    kind: 'nexus',
    url,
    host,
    async listRepositories() {
      const body = await getRepositoryList(
        http,
        '/service/rest/v1/repositories',
        'Nexus Repository 3',
        "Nexus' root (https://nexus.example, or https://host/nexus under a context path)",
        MAX_PAGE_BYTES,
      );
      const repos: SourceRepository[] = [];
      for (const entry of body) {
        const r = entry as { name?: unknown; type?: unknown; format?: unknown };
        if (typeof r.name !== 'string') continue;
        repos.push({
          name: r.name,
          packageType: typeof r.format === 'string' ? r.format.toLowerCase() : '',
          kind: KINDS[String(r.type).toLowerCase()] ?? 'remote',
        });
      }
      return repos;
    },
    async *listFiles(repo, signal) {
      let token: string | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const query = new URLSearchParams({ repository: repo.name });
        if (token !== undefined) query.set('continuationToken', token);
        const body = (await getJson(
          http,
          `/service/rest/v1/assets?${query.toString()}`,
          MAX_PAGE_BYTES,
          signal,
        )) as { items?: unknown; continuationToken?: unknown };
        if (!Array.isArray(body.items)) {
          throw new ImportSourceError(`GET ${url}/service/rest/v1/assets: no items array`);
        }
        for (const entry of body.items as unknown[]) {
          const a = entry as Record<string, unknown>;
          if (typeof a['path'] !== 'string') continue;
          const path = a['path'].replace(/^\/+/, '');
          if (path === '') continue;
          const checksum = (a['checksum'] ?? {}) as Record<string, unknown>;
          yield {
            path,
            size: typeof a['fileSize'] === 'number' ? a['fileSize'] : -1,
            sha256: hex(checksum['sha256'], 64),
            sha1: hex(checksum['sha1'], 40),
            lastModified: typeof a['lastModified'] === 'string' ? a['lastModified'] : undefined,
          };
        }
        const next = body.continuationToken;
        if (typeof next !== 'string' || next === '') return;
        if (next === token) {
          throw new ImportSourceError(
            `GET ${url}/service/rest/v1/assets: the continuationToken repeats (${next.slice(0, 40)})`,
          );
        }
        token = next;
      }
    },
    async open(repo, path, signal) {
      return download(
        http,
        `/repository/${encodeURIComponent(repo.name)}/${encodePath(path)}`,
        signal,
      );
    },
    dockerRegistry(repo) {
      const base = `${http.root}/repository/${encodeURIComponent(repo.name)}`;
      // Cargo's sparse index at the repository's root (`sparse+…/repository/<repo>/`).
      return {
        base,
        cargoIndex: '',
        get: (path, headers) => http.get(`${base}${path}`, headers),
      };
    },
  };
}
