/**
 * The set-up the auth tests share: a server with auth on and anonymous reads off, store users
 * with the default `read` and `write` roles, a SIGHUP-like reload of `[auth]`, Docker registry
 * tokens from `/v2/token` and pushes with them, API tokens, and for `nora serve` processes a
 * config.toml with its storage and auth keys and a wait for a line of the process's output.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Role } from '../../src/auth/access.ts';
import type { AppConfig } from '../../src/config/schema.ts';
import { startOciServer } from '../integration/oci/helpers.ts';
import { rule } from './auth.ts';
import type { NoraProcess } from './process.ts';
import {
  LOOPBACK_PROXY,
  startTestServer,
  type TestServer,
  type TestServerOptions,
} from './server.ts';

export interface AuthServerOptions {
  /** `[auth]` keys over `enabled = true`, `anonymous_read = false`. */
  readonly auth?: Record<string, unknown>;
  /** Other sections (`docker`, `repositories`, …), as TestServerOptions.config. */
  readonly config?: Record<string, unknown>;
  /** Users created in the metadata store (name → password), with `roles`. */
  readonly users?: Readonly<Record<string, string>>;
  /** The roles of `users` (default read and write, npm adduser's). */
  readonly roles?: readonly Role[];
  /** How the server is started (default startTestServer; OCI tests pass startOciServer). */
  readonly start?: (options: TestServerOptions) => Promise<TestServer>;
}

/** A listening server with auth on, anonymous reads off, and `options.users` in the store. */
export async function startAuthServer(options: AuthServerOptions = {}): Promise<TestServer> {
  const start = options.start ?? startTestServer;
  const server = await start({
    config: {
      ...options.config,
      // Tests stand for clients behind a proxy on this host (X-Forwarded-For, `from`).
      auth: {
        enabled: true,
        anonymous_read: false,
        trusted_proxies: [...LOOPBACK_PROXY],
        ...options.auth,
      },
    },
  });
  const { users } = server.app.context.identity;
  for (const [name, password] of Object.entries(options.users ?? {})) {
    await users.create(name, password, undefined, options.roles ?? ['read', 'write']);
  }
  return server;
}

/** Applies `auth` over the running configuration, as a SIGHUP with the edited file does. */
export async function reloadAuth(
  server: TestServer,
  auth: Partial<AppConfig['auth']>,
): Promise<void> {
  server.app.reload({ ...server.config, auth: { ...server.config.auth, ...auth } });
  await server.app.context.identity.settled();
}

/** `X-Forwarded-For: from` (the client address behind a trusted proxy), or no header. */
const forwardedFor = (from?: string): Record<string, string> =>
  from === undefined ? {} : { 'x-forwarded-for': from };

/**
 * A registry token granting `pull,push` on `name` (as `/v2/<name>` spells it), obtained with
 * `authorization` at `/v2/token`, from `from` when given; asserts 200.
 */
export async function registryToken(
  server: TestServer,
  authorization: string,
  name: string,
  from?: string,
): Promise<string> {
  const res = await fetch(
    `${server.url}/v2/token?service=nora&scope=repository:${name}:pull,push`,
    { headers: { authorization, ...forwardedFor(from) } },
  );
  const body = (await res.json()) as { token: string };
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.token;
}

/** What a registry request answered: its status, body and challenge. */
export interface RegistryAnswer {
  readonly status: number;
  readonly text: string;
  readonly challenge: string | null;
}

/** A monolithic blob push of `content` to `/v2/<name>` with `jwt` (from `from` when given). */
export async function pushBlob(
  server: TestServer,
  jwt: string,
  name: string,
  content: string,
  from?: string,
): Promise<RegistryAnswer> {
  const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
  const res = await fetch(`${server.url}/v2/${name}/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${jwt}`,
      'content-type': 'application/octet-stream',
      ...forwardedFor(from),
    },
    body: content,
  });
  return {
    status: res.status,
    text: await res.text(),
    challenge: res.headers.get('www-authenticate'),
  };
}

/** A new API token made at `endpoint` (default `/api/tokens`) with `body`; asserts 200. */
export async function apiToken(
  server: TestServer,
  authorization: string,
  body: object,
  endpoint = '/api/tokens',
): Promise<{ token: string; id: string }> {
  const res = await fetch(`${server.url}${endpoint}`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { token: string; id: string };
  assert.equal(res.status, 200, JSON.stringify(json));
  return json;
}

/**
 * Writes `<dir>/config.toml` for `nora serve` / `nora token`: `[storage]` under `dir`, `[auth]`
 * enabled with `htpasswd_file` and the `auth` lines, and `more` lines after; returns its path.
 */
export async function writeAuthConfig(
  dir: string,
  htpasswdFile: string,
  auth: readonly string[] = [],
  more: readonly string[] = [],
): Promise<string> {
  const file = path.join(dir, 'config.toml');
  const lines = [
    '[storage]',
    `path = ${JSON.stringify(path.join(dir, 'storage'))}`,
    '[auth]',
    'enabled = true',
    `htpasswd_file = ${JSON.stringify(htpasswdFile)}`,
    ...auth,
    ...more,
    '',
  ];
  await fs.writeFile(file, lines.join('\n'));
  return file;
}

/** Waits until the output of `server` includes `text` (up to `ms`), else fails with it. */
export async function untilOutput(server: NoraProcess, text: string, ms = 15_000): Promise<void> {
  const started = Date.now();
  while (!server.output().includes(text)) {
    if (Date.now() - started > ms) assert.fail(`no "${text}" in:\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * An OCI server (startOciServer) with a hosted Docker repository `team-images` whose `adm/**`
 * a rule naming nobody reserves for admins, alice listed in `admin_users`, registry tokens
 * living an hour, and `auth`/`users` of AuthServerOptions on top: to watch a registry token's
 * rights follow its holder's (admin or not) at each use.
 */
export function startTeamImagesServer(
  options: Pick<AuthServerOptions, 'auth' | 'users'> = {},
): Promise<TestServer> {
  return startAuthServer({
    start: startOciServer,
    config: {
      docker: { upstreams: [] },
      repositories: [{ name: 'team-images', format: 'docker', kind: 'hosted' }],
    },
    auth: {
      admin_users: ['alice'],
      docker_token_ttl: 3600,
      rules: [
        rule({
          repositories: ['team-images'],
          paths: ['adm/**'],
          actions: ['read', 'write', 'delete'],
        }),
      ],
      ...options.auth,
    },
    ...(options.users === undefined ? {} : { users: options.users }),
  });
}
