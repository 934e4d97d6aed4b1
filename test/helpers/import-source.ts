/**
 * A fixture server that answers as an Artifactory or a Nexus 3 for `nora import` tests: the
 * listing and download APIs the sources use (src/import/artifactory.ts, nexus.ts), over files
 * held in memory (read from the machine's local Maven repository, or made up).
 *
 * Artifactory: `GET /api/repositories`, `GET /api/storage/<repo>/?list&deep=1&listFolders=0`,
 * `GET /<repo>/<path>`. Nexus: `GET /service/rest/v1/repositories`,
 * `GET /service/rest/v1/assets?repository=<r>[&continuationToken=<t>]` (`pageSize` items a
 * page), `GET /repository/<repo>/<path>`.
 *
 * Permissions (`--with-permissions`, src/import/permissions.ts), when `security` is given:
 * Artifactory `GET /api/v2/security/permissions[/<name>]` and
 * `GET /api/security/groups/<name>?includeUsers=true` (404 for a group `groups` lacks); Nexus
 * `GET /service/rest/v1/security/{privileges,roles,users,anonymous}`. Without it, 403 as for a
 * credential that is no admin.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FixtureFile {
  readonly data: Buffer;
  /** The sha256 the listing gives: a wrong one makes a checksum mismatch; null lists none. */
  readonly sha256?: string | null;
  /** The sha1 the listing gives (default: the real one); null lists none. */
  readonly sha1?: string | null;
}

export interface FixtureRepo {
  readonly name: string;
  /** Artifactory packageType (`maven`, `generic`, …); Nexus format (`maven2`, `raw`). */
  readonly packageType: string;
  readonly kind: 'local' | 'remote' | 'virtual';
  readonly files: ReadonlyMap<string, FixtureFile>;
  /**
   * The repository's package API (path under its root → JSON or text body): Artifactory
   * `/api/<packageType>/<repo>/<path>`, Nexus `/repository/<repo>/<path>` — e.g. Cargo's sparse
   * index `index/3/a/abc`, npm's packument `@scope%2fname`.
   */
  readonly api?: ReadonlyMap<string, string>;
}

export interface SourceFixtureOptions {
  readonly flavour: 'artifactory' | 'nexus';
  readonly repos: readonly FixtureRepo[];
  /** Required `Authorization` header value; anything else gets 401. */
  readonly authorization?: string;
  /** Nexus: items per page (default 10). */
  readonly pageSize?: number;
  /** Each download waits this long before its body (to interrupt a run). */
  readonly delayMs?: number;
  /**
   * Awaited before each download's answer, with the file's path in its repository (to hold one
   * download until the test has done something else; the request is already in `requests`).
   */
  readonly beforeDownload?: (path: string) => Promise<void>;
  /** The security APIs' answers (see the module comment); absent: 403. */
  readonly security?: ArtifactorySecurity | NexusSecurity;
}

/** Artifactory: permission target name → its v2 document; group name → member names. */
export interface ArtifactorySecurity {
  readonly permissionTargets: Readonly<Record<string, unknown>>;
  readonly groups: Readonly<Record<string, readonly string[]>>;
}

/** Nexus: the four documents as the Security API answers them. */
export interface NexusSecurity {
  readonly privileges: readonly unknown[];
  readonly roles: readonly unknown[];
  readonly users: readonly unknown[];
  readonly anonymous: unknown;
}

export interface SourceFixture extends AsyncDisposable {
  readonly url: string;
  /** Every request's method and URL, in order. */
  readonly requests: string[];
}

const sha = (algorithm: string, data: Buffer): string =>
  createHash(algorithm).update(data).digest('hex');

/** The security API's answer to `pathname`, or undefined (403 without `sec`, else 404). */
function security(
  sec: ArtifactorySecurity | NexusSecurity | undefined,
  pathname: string,
  parts: readonly string[],
): unknown {
  if (sec === undefined) return undefined;
  if ('permissionTargets' in sec) {
    if (pathname === '/api/v2/security/permissions') {
      return Object.keys(sec.permissionTargets).map((name) => ({ name, uri: `/${name}` }));
    }
    if (parts[2] === 'security' && parts[3] === 'permissions' && parts.length === 5) {
      return sec.permissionTargets[parts[4] ?? ''];
    }
    if (parts[1] === 'security' && parts[2] === 'groups' && parts.length === 4) {
      const members = sec.groups[parts[3] ?? ''];
      return members === undefined ? undefined : { name: parts[3], userNames: members };
    }
    return undefined;
  }
  const which = parts[4];
  if (which === 'privileges') return sec.privileges;
  if (which === 'roles') return sec.roles;
  if (which === 'users') return sec.users;
  if (which === 'anonymous') return sec.anonymous;
  return undefined;
}

export async function startSourceFixture(options: SourceFixtureOptions): Promise<SourceFixture> {
  const requests: string[] = [];
  const pageSize = options.pageSize ?? 10;
  const repo = (name: string): FixtureRepo | undefined =>
    options.repos.find((r) => r.name === name);
  const listed = (f: FixtureFile): { sha256: string | undefined; sha1: string | undefined } => ({
    sha256: f.sha256 === null ? undefined : (f.sha256 ?? sha('sha256', f.data)),
    sha1: f.sha1 === null ? undefined : (f.sha1 ?? sha('sha1', f.data)),
  });
  const json = (res: http.ServerResponse, body: unknown): void => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const download = (
    res: http.ServerResponse,
    file: FixtureFile | undefined,
    path: string,
  ): void => {
    if (file === undefined) {
      res.writeHead(404).end();
      return;
    }
    const held = options.beforeDownload?.(path) ?? Promise.resolve();
    void held.then(() =>
      setTimeout(() => {
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': file.data.length,
        });
        res.end(file.data);
      }, options.delayMs ?? 0),
    );
  };
  const packageApi = (res: http.ServerResponse, r: FixtureRepo | undefined, path: string) => {
    const body = r?.api?.get(path);
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  };
  const server = http.createServer((req, res) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    if (
      options.authorization !== undefined &&
      req.headers.authorization !== options.authorization
    ) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"errors":[{"status":401,"message":"Bad credentials"}]}');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://fixture');
    const parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
    if (/^\/(api\/(v2\/)?security|service\/rest\/v1\/security)\//.test(url.pathname)) {
      const answer = security(options.security, url.pathname, parts);
      if (answer === undefined) res.writeHead(options.security === undefined ? 403 : 404).end();
      else json(res, answer);
      return;
    }
    if (options.flavour === 'artifactory') {
      if (url.pathname === '/api/repositories') {
        json(
          res,
          options.repos.map((r) => ({
            key: r.name,
            type: r.kind.toUpperCase(),
            packageType: r.packageType,
            url: `http://fixture/${r.name}`,
          })),
        );
        return;
      }
      if (parts[0] === 'api' && parts[1] === 'storage' && url.searchParams.has('list')) {
        const r = repo(parts[2] ?? '');
        if (r === undefined) {
          res.writeHead(404).end();
          return;
        }
        json(res, {
          uri: `http://fixture/api/storage/${r.name}`,
          created: '2026-01-01T00:00:00.000Z',
          files: [...r.files].map(([path, f]) => {
            const sums = listed(f);
            return {
              uri: `/${path}`,
              size: f.data.length,
              lastModified: '2026-01-01T00:00:00.000Z',
              folder: false,
              ...(sums.sha1 === undefined ? {} : { sha1: sums.sha1 }),
              ...(sums.sha256 === undefined ? {} : { sha2: sums.sha256 }),
            };
          }),
        });
        return;
      }
      if (parts[0] === 'api' && repo(parts[2] ?? '')?.packageType === parts[1]) {
        packageApi(res, repo(parts[2] ?? ''), url.pathname.split('/').slice(4).join('/'));
        return;
      }
      const inRepo = parts.slice(1).join('/');
      download(res, repo(parts[0] ?? '')?.files.get(inRepo), inRepo);
      return;
    }
    if (url.pathname === '/service/rest/v1/repositories') {
      json(
        res,
        options.repos.map((r) => ({
          name: r.name,
          format: r.packageType,
          type: { local: 'hosted', remote: 'proxy', virtual: 'group' }[r.kind],
          url: `http://fixture/repository/${r.name}`,
        })),
      );
      return;
    }
    if (url.pathname === '/service/rest/v1/assets') {
      const r = repo(url.searchParams.get('repository') ?? '');
      if (r === undefined) {
        res.writeHead(404).end();
        return;
      }
      const start = Number(url.searchParams.get('continuationToken') ?? '0');
      const all = [...r.files];
      const page = all.slice(start, start + pageSize);
      json(res, {
        items: page.map(([path, f]) => {
          const sums = listed(f);
          return {
            downloadUrl: `http://fixture/repository/${r.name}/${path}`,
            path: `/${path}`,
            id: path,
            repository: r.name,
            format: r.packageType,
            checksum: {
              ...(sums.sha1 === undefined ? {} : { sha1: sums.sha1 }),
              ...(sums.sha256 === undefined ? {} : { sha256: sums.sha256 }),
            },
            fileSize: f.data.length,
          };
        }),
        continuationToken: start + pageSize < all.length ? String(start + pageSize) : null,
      });
      return;
    }
    const apiPath = url.pathname.split('/').slice(3).join('/');
    if (parts[0] === 'repository' && repo(parts[1] ?? '')?.api?.has(apiPath) === true) {
      packageApi(res, repo(parts[1] ?? ''), apiPath);
      return;
    }
    if (parts[0] === 'repository') {
      const inRepo = parts.slice(2).join('/');
      download(res, repo(parts[1] ?? '')?.files.get(inRepo), inRepo);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}
