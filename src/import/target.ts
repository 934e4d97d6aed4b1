/**
 * The NoraTarget of `nora import`: requests to the running server (`--registry`) over the
 * project's HTTP client (core/http-client.ts: any port, streamed bodies), with the credentials
 * of the environment (never the command line, which `ps` shows):
 * NORA_IMPORT_TARGET_TOKEN (an API token), or NORA_IMPORT_TARGET_USER +
 * NORA_IMPORT_TARGET_PASSWORD.
 *
 * Also finds the target repositories: `/api/v1/repositories` (http/repositories-api.ts) lists
 * each enabled format's mount and the repositories the credential may read or write, with their
 * kind; a server without it (404: an older NORA) is read through `/api/ui/dashboard`, the same
 * shape (any valid credential may read it, docs/ui.md).
 */
import { Readable } from 'node:stream';
import type { FormatName } from '../config/schema.ts';
import { httpRequest } from '../core/http-client.ts';
import type { MirrorCredentials } from '../mirror/client.ts';
import { answerReason } from './put.ts';
import { ImportUsageError, type NoraTarget, type TargetRepository } from './types.ts';

/** The credentials NORA_IMPORT_TARGET_* name (exit 2 for a half-given pair). */
export function targetCredentials(env: NodeJS.ProcessEnv): MirrorCredentials {
  const token = env['NORA_IMPORT_TARGET_TOKEN'];
  const user = env['NORA_IMPORT_TARGET_USER'];
  const password = env['NORA_IMPORT_TARGET_PASSWORD'];
  if (token !== undefined && token !== '') return { kind: 'token', token };
  if ((user ?? '') !== '' || (password ?? '') !== '') {
    if ((user ?? '') === '' || (password ?? '') === '') {
      throw new ImportUsageError(
        'nora import: NORA_IMPORT_TARGET_USER and NORA_IMPORT_TARGET_PASSWORD go together',
      );
    }
    return { kind: 'basic', user: user ?? '', password: password ?? '' };
  }
  return { kind: 'none' };
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** The Authorization header for `path`: see NoraTarget (a token is Basic on `/v2/`). */
function authorization(credentials: MirrorCredentials, path: string): string | undefined {
  switch (credentials.kind) {
    case 'none':
      return undefined;
    case 'basic':
      return basic(credentials.user, credentials.password);
    case 'token':
      return path.startsWith('/v2/')
        ? basic('nora-import', credentials.token)
        : `Bearer ${credentials.token}`;
  }
}

export function createNoraTarget(base: string, credentials: MirrorCredentials): NoraTarget {
  const root = base.replace(/\/+$/, '');
  const target: NoraTarget = {
    base: root,
    async request(method, path, options = {}) {
      const auth = authorization(credentials, path);
      try {
        return await httpRequest(`${root}${path}`, {
          method,
          headers: { ...options.headers, ...(auth === undefined ? {} : { authorization: auth }) },
          ...(options.body === undefined
            ? {}
            : {
                body: Buffer.isBuffer(options.body) ? Readable.from([options.body]) : options.body,
              }),
        });
      } catch (err) {
        throw new Error(`${method} ${path}: ${(err as Error).message}`, { cause: err });
      }
    },
    async exists(path) {
      const answer = await target.request('HEAD', path);
      await answer.discard().catch(() => undefined);
      if (answer.ok) return true;
      if (answer.status === 404) return false;
      throw new Error(await answerReason(answer, 'HEAD', path));
    },
  };
  return target;
}

/** `/api/v1/repositories`' answer, and the part of `/api/ui/dashboard`'s it shares. */
interface RepositoriesJson {
  installation?: unknown;
  registries?: {
    format?: string;
    mount?: string;
    repositories?: { name?: string; kind?: string; default?: boolean }[];
  }[];
}

/** The hosted repositories of the server, by format, and where each one publishes. */
export interface TargetCatalog {
  /**
   * The server's installation id (`installation` of `/api/v1/repositories`, db/installation.ts):
   * another one at the same address means its storage is new. Undefined from an older NORA.
   */
  readonly installation: string | undefined;
  /**
   * Every hosted repository the server lists, by format: name → the URL path it publishes
   * at (the format's mount when it is the repository the mount serves, else
   * `/repository/<name>`; Docker: `/v2` or `/v2/<name>`).
   */
  readonly hosted: ReadonlyMap<FormatName, ReadonlyMap<string, string>>;
  /**
   * Where an import goes by default, by format: the format's default HOSTED repository (a
   * default group's proxy member may be unreachable from an air-gapped host: every HEAD through
   * the group would then be a 502), else the repository behind the mount.
   */
  readonly defaults: ReadonlyMap<FormatName, { readonly name: string; readonly path: string }>;
  /** The format's mount (`/maven2`). */
  readonly mounts: ReadonlyMap<FormatName, string>;
}

/** NORA's repository listing, and the older server's one (the web UI's dashboard). */
const LISTINGS = ['/api/v1/repositories', '/api/ui/dashboard'] as const;

/**
 * Reads `/api/v1/repositories` (`/api/ui/dashboard` when that is a 404). Rejects with an Error
 * naming the status (401: the credentials) — nothing can be imported into a server that cannot
 * be read.
 */
export async function readCatalog(nora: NoraTarget): Promise<TargetCatalog> {
  let path: string = LISTINGS[0];
  let answer = await nora.request('GET', path, { headers: { accept: 'application/json' } });
  if (answer.status === 404) {
    await answer.discard();
    path = LISTINGS[1];
    answer = await nora.request('GET', path, { headers: { accept: 'application/json' } });
  }
  if (!answer.ok) {
    const hint =
      answer.status === 401 || answer.status === 403
        ? ' (set NORA_IMPORT_TARGET_TOKEN, or NORA_IMPORT_TARGET_USER and NORA_IMPORT_TARGET_PASSWORD)'
        : '';
    throw new Error(`${await answerReason(answer, 'GET', `${nora.base}${path}`)}${hint}`);
  }
  const body = JSON.parse(await answer.text()) as RepositoriesJson;
  const hosted = new Map<FormatName, Map<string, string>>();
  const defaults = new Map<FormatName, { name: string; path: string }>();
  const mounts = new Map<FormatName, string>();
  for (const registry of body.registries ?? []) {
    const format = registry.format as FormatName | undefined;
    if (format === undefined || typeof registry.mount !== 'string') continue;
    const mount = registry.mount.replace(/\/+$/, '');
    mounts.set(format, mount);
    const repos = (registry.repositories ?? []).filter(
      (r): r is { name: string; kind?: string; default?: boolean } => typeof r.name === 'string',
    );
    // The mount serves the default group when there is one (its members answer under
    // /repository/<name>/), else the default hosted repository itself (raw).
    const defaultGroup = repos.find((r) => r.default === true && r.kind === 'group');
    const names = new Map<string, string>();
    for (const repo of repos) {
      if (repo.kind !== 'hosted') continue;
      const atMount = repo.default === true && (defaultGroup === undefined || format === 'docker');
      const where = atMount
        ? mount
        : format === 'docker'
          ? `/v2/${repo.name}`
          : `/repository/${encodeURIComponent(repo.name)}`;
      names.set(repo.name, where);
      if (repo.default === true && !defaults.has(format)) {
        defaults.set(format, { name: repo.name, path: where });
      }
    }
    if (!defaults.has(format)) {
      const behind = defaultGroup ?? repos.find((r) => r.default === true);
      defaults.set(format, { name: behind?.name ?? format, path: mount });
    }
    hosted.set(format, names);
  }
  return {
    installation: typeof body.installation === 'string' ? body.installation : undefined,
    hosted,
    defaults,
    mounts,
  };
}

/**
 * Where a source repository goes: `mapped` (from --map) or the source's own name when the server
 * has a hosted repository of that name and format, else the format's default (catalog.defaults).
 * Undefined when the format is not enabled on the server; an ImportUsageError when --map names
 * a repository that is not hosted for that format.
 */
export function resolveTarget(
  catalog: TargetCatalog,
  format: FormatName,
  sourceName: string,
  mapped: string | undefined,
): TargetRepository | undefined {
  const fallback = catalog.defaults.get(format);
  if (fallback === undefined) return undefined;
  const hosted = catalog.hosted.get(format) ?? new Map<string, string>();
  const target = (name: string, path: string): TargetRepository => ({
    name,
    format,
    isDefault: path === catalog.mounts.get(format),
    path,
  });
  if (mapped !== undefined) {
    if (mapped === fallback.name) return target(fallback.name, fallback.path);
    const path = hosted.get(mapped);
    if (path === undefined) {
      throw new ImportUsageError(
        `nora import: --map ${sourceName}=${mapped}: the server has no hosted ${format} repository named ${mapped} (it has ${[...hosted.keys()].join(', ') || 'none'})`,
      );
    }
    return target(mapped, path);
  }
  const own = hosted.get(sourceName);
  return own === undefined ? target(fallback.name, fallback.path) : target(sourceName, own);
}
