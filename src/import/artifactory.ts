/**
 * The Artifactory source (JFrog REST API):
 * - `GET /api/repositories` → `[{key, type: LOCAL|REMOTE|VIRTUAL|FEDERATED, packageType}]`;
 * - `GET /api/storage/<repo>/?list&deep=1&listFolders=0` (File List) → `{files: [{uri: "/a/b.jar",
 *   size, lastModified, folder, sha1, sha2}]}`, one document per repository, read as it streams
 *   (json-stream.ts) so memory stays bounded;
 * - `GET /<repo>/<path>` downloads a file.
 * `--url` is the Artifactory root (`https://host/artifactory`). FEDERATED repositories hold
 * uploads as LOCAL ones do.
 */
import { jsonArrayItems } from './json-stream.ts';
import { getRepositoryList, redact, type SourceHttp } from './source-http.ts';
import { encodePath } from './put.ts';
import {
  type ImportSource,
  ImportSourceError,
  type SourceBody,
  type SourceFile,
  type SourceRepoKind,
  type SourceRepository,
} from './types.ts';

/** The repository list is small: a larger answer is no repository list. */
const MAX_LIST_BYTES = 16 * 1024 * 1024;

const KINDS: Readonly<Record<string, SourceRepoKind>> = {
  LOCAL: 'local',
  FEDERATED: 'local',
  REMOTE: 'remote',
  VIRTUAL: 'virtual',
};

export function artifactorySource(http: SourceHttp, url: string, host: string): ImportSource {
  return {
    kind: 'artifactory',
    url,
    host,
    async listRepositories() {
      const body = await getRepositoryList(
        http,
        '/api/repositories',
        'Artifactory',
        "Artifactory's root with its context path (https://artifactory.example/artifactory)",
        MAX_LIST_BYTES,
      );
      const repos: SourceRepository[] = [];
      for (const entry of body) {
        const r = entry as { key?: unknown; type?: unknown; packageType?: unknown };
        if (typeof r.key !== 'string') continue;
        repos.push({
          name: r.key,
          packageType: typeof r.packageType === 'string' ? r.packageType.toLowerCase() : '',
          kind: KINDS[String(r.type).toUpperCase()] ?? 'remote',
        });
      }
      return repos;
    },
    async *listFiles(repo, signal) {
      const path = `/api/storage/${encodeURIComponent(repo.name)}/?list&deep=1&listFolders=0`;
      const answer = await http.get(path, { accept: 'application/json' }, signal);
      if (!answer.ok) {
        await answer.discard().catch(() => undefined);
        throw new ImportSourceError(
          `${answer.status} ${answer.statusText} from GET ${http.root}${path}`,
          answer.status,
        );
      }
      try {
        for await (const item of jsonArrayItems(answer.body, 'files')) {
          const file = toFile(item);
          if (file !== undefined) yield file;
        }
      } catch (err) {
        if (err instanceof ImportSourceError) throw err;
        throw new ImportSourceError(`GET ${http.root}${path}: ${(err as Error).message}`);
      }
    },
    async open(repo, path, signal) {
      return download(http, `/${encodeURIComponent(repo.name)}/${encodePath(path)}`, signal);
    },
    dockerRegistry(repo) {
      // The package API of the repository's type: `/api/docker/<repo>` (`/v2/…` under it),
      // `/api/cargo/<repo>` (the sparse index, `/index/…`), `/api/npm/<repo>` (packuments).
      const type = encodeURIComponent(repo.packageType);
      const base = `${http.root}/api/${type}/${encodeURIComponent(repo.name)}`;
      return {
        base,
        cargoIndex: '/index',
        get: (path, headers) => http.get(`${base}${path}`, headers),
      };
    },
  };
}

/** One `files[]` entry → a SourceFile; folders and entries without a usable uri are skipped. */
function toFile(item: unknown): SourceFile | undefined {
  if (typeof item !== 'object' || item === null) return undefined;
  const f = item as Record<string, unknown>;
  if (f['folder'] === true || typeof f['uri'] !== 'string') return undefined;
  const path = f['uri'].replace(/^\/+/, '');
  if (path === '') return undefined;
  return {
    path,
    size: typeof f['size'] === 'number' ? f['size'] : -1,
    sha256: hex(f['sha2'], 64),
    sha1: hex(f['sha1'], 40),
    lastModified: typeof f['lastModified'] === 'string' ? f['lastModified'] : undefined,
  };
}

/** A lower-case hex digest of `length` characters, or undefined. */
export function hex(value: unknown, length: number): string | undefined {
  if (typeof value !== 'string') return undefined;
  const lower = value.toLowerCase();
  return lower.length === length && /^[0-9a-f]+$/.test(lower) ? lower : undefined;
}

/** GETs a file: its body and `Content-Length`; a non-2xx is an ImportSourceError. */
export async function download(
  http: SourceHttp,
  url: string,
  signal?: AbortSignal,
): Promise<SourceBody> {
  const answer = await http.get(url, {}, signal);
  if (!answer.ok) {
    await answer.discard().catch(() => undefined);
    const shown = redact(new URL(url.startsWith('/') ? `${http.root}${url}` : url));
    throw new ImportSourceError(
      `${answer.status} ${answer.statusText} from GET ${shown}`,
      answer.status,
    );
  }
  const length = Number(answer.header('content-length'));
  return { stream: answer.body, length: Number.isSafeInteger(length) ? length : undefined };
}
