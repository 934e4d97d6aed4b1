/**
 * The NoraTarget of `nora import`: requests to the running server (`--registry`) over the
 * project's HTTP client (core/http-client.ts: any port, streamed bodies), with the credentials
 * of the environment (never the command line, which `ps` shows):
 * NORA_IMPORT_TARGET_TOKEN (an API token), or NORA_IMPORT_TARGET_USER +
 * NORA_IMPORT_TARGET_PASSWORD.
 *
 * Also finds the target repositories: `/api/ui/dashboard` lists each enabled format's mount and
 * repositories with their kind (any valid credential may read it, docs/ui.md).
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

interface DashboardJson {
  registries?: {
    format?: string;
    mount?: string;
    repositories?: { name?: string; kind?: string; default?: boolean }[];
  }[];
}

/** The hosted repositories of the server, by format, and each format's mount. */
export interface TargetCatalog {
  /** Named hosted repositories (not the default): format → names. */
  readonly hosted: ReadonlyMap<FormatName, ReadonlySet<string>>;
  /** The format's mount (`/maven2`), where its default repository publishes. */
  readonly mounts: ReadonlyMap<FormatName, string>;
  /** The name of the default repository behind the mount (a group or a hosted one). */
  readonly defaults: ReadonlyMap<FormatName, string>;
}

/**
 * Reads `/api/ui/dashboard`. Rejects with an Error naming the status (401: the credentials) —
 * nothing can be imported into a server that cannot be read.
 */
export async function readCatalog(nora: NoraTarget): Promise<TargetCatalog> {
  const path = '/api/ui/dashboard';
  const answer = await nora.request('GET', path, { headers: { accept: 'application/json' } });
  if (!answer.ok) {
    const hint =
      answer.status === 401 || answer.status === 403
        ? ' (set NORA_IMPORT_TARGET_TOKEN, or NORA_IMPORT_TARGET_USER and NORA_IMPORT_TARGET_PASSWORD)'
        : '';
    throw new Error(`${await answerReason(answer, 'GET', `${nora.base}${path}`)}${hint}`);
  }
  const body = JSON.parse(await answer.text()) as DashboardJson;
  const hosted = new Map<FormatName, Set<string>>();
  const mounts = new Map<FormatName, string>();
  const defaults = new Map<FormatName, string>();
  for (const registry of body.registries ?? []) {
    const format = registry.format as FormatName | undefined;
    if (format === undefined || typeof registry.mount !== 'string') continue;
    mounts.set(format, registry.mount.replace(/\/+$/, ''));
    const names = new Set<string>();
    for (const repo of registry.repositories ?? []) {
      if (typeof repo.name !== 'string') continue;
      if (repo.default === true) defaults.set(format, repo.name);
      else if (repo.kind === 'hosted') names.add(repo.name);
    }
    hosted.set(format, names);
  }
  return { hosted, mounts, defaults };
}

/**
 * Where a source repository goes: `mapped` (from --map) or the source's own name when the server
 * has a hosted repository of that name and format, else the format's default (its mount).
 * Undefined when the format is not enabled on the server; an ImportUsageError when --map names
 * a repository that is not hosted for that format.
 */
export function resolveTarget(
  catalog: TargetCatalog,
  format: FormatName,
  sourceName: string,
  mapped: string | undefined,
): TargetRepository | undefined {
  const mount = catalog.mounts.get(format);
  if (mount === undefined) return undefined;
  const hosted = catalog.hosted.get(format) ?? new Set<string>();
  const named = (name: string): TargetRepository => ({
    name,
    format,
    isDefault: false,
    path: format === 'docker' ? `/v2/${name}` : `/repository/${encodeURIComponent(name)}`,
  });
  const fallback: TargetRepository = {
    name: catalog.defaults.get(format) ?? format,
    format,
    isDefault: true,
    path: mount,
  };
  if (mapped !== undefined) {
    if (mapped === fallback.name) return fallback;
    if (!hosted.has(mapped)) {
      throw new ImportUsageError(
        `nora import: --map ${sourceName}=${mapped}: the server has no hosted ${format} repository named ${mapped}`,
      );
    }
    return named(mapped);
  }
  return hosted.has(sourceName) ? named(sourceName) : fallback;
}
