/**
 * Starts the real app on 127.0.0.1 and a free port, with its own temporary data directory.
 * Real clients (skopeo, npm, …) talk to it over TCP; tests can also use `app.fastify.inject()`.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildApp, type NoraApp } from '../../src/app.ts';
import { parseConfigObject } from '../../src/config/load.ts';
import type { AppConfig } from '../../src/config/schema.ts';
import type { FormatModule } from '../../src/formats/format.ts';
import { type AddressPolicy, DEFAULT_ADDRESS_POLICY } from '../../src/proxy/address-policy.ts';
import { removeDir } from './tmp.ts';

export interface TestServer {
  /** e.g. http://127.0.0.1:40123 */
  readonly url: string;
  /** e.g. 127.0.0.1:40123 (for docker-style references) */
  readonly host: string;
  readonly port: number;
  readonly app: NoraApp;
  readonly config: AppConfig;
  /** The server's data directory (storage + database). */
  readonly dataDir: string;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface TestServerOptions {
  /** TOML-shaped config merged over the test defaults (section by section). */
  readonly config?: Record<string, unknown>;
  /** NORA_* variables applied on top, as in production. */
  readonly env?: Record<string, string>;
  /** Reuse a data directory (restart scenarios); it is then not removed on close. */
  readonly dataDir?: string;
  readonly port?: number;
  readonly formats?: readonly FormatModule[];
  readonly logLevel?: string;
  /** The proxy engine's stale deadline (default STALE_AFTER_MS, 5 s). */
  readonly proxyStaleAfterMs?: number;
  /** Which upstream addresses count as internal (default: the real rule; see publicPorts). */
  readonly proxyAddressPolicy?: AddressPolicy;
  /** Where the server's log lines go instead of stdout (set logLevel too). */
  readonly logStream?: { write(line: string): void };
  /** The retention scheduler's first-pass delay, ms (default 5 s, FIRST_PASS_DELAY_MS). */
  readonly retentionFirstDelayMs?: number;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const ownsDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'nora-srv-')));
  const base: Record<string, unknown> = {
    server: { host: '127.0.0.1', port: options.port ?? 0, log_level: 'silent' },
    storage: { mode: 'local', path: path.join(dataDir, 'storage') },
    // Off unless a test turns it on: real clients in parallel tests share 127.0.0.1.
    rate_limit: { enabled: false },
    // Not the default `users.htpasswd` of the working directory: a checkout where an operator
    // followed the README (htpasswd -B -c users.htpasswd alice) would otherwise decide the
    // passwords of the tests' users (the htpasswd entry wins) and fail their logins.
    auth: { htpasswd_file: path.join(dataDir, 'users.htpasswd') },
  };
  const merged = mergeSections(base, options.config ?? {});
  const { config } = parseConfigObject(merged, options.env ?? {});
  const app = await buildApp(config, {
    logLevel: options.logLevel ?? process.env['NORA_TEST_LOG_LEVEL'] ?? 'silent',
    ...(options.formats ? { formats: options.formats } : {}),
    ...(options.proxyStaleAfterMs === undefined
      ? {}
      : { proxyStaleAfterMs: options.proxyStaleAfterMs }),
    ...(options.proxyAddressPolicy === undefined
      ? {}
      : { proxyAddressPolicy: options.proxyAddressPolicy }),
    ...(options.logStream === undefined ? {} : { logStream: options.logStream }),
    ...(options.retentionFirstDelayMs === undefined
      ? {}
      : { retentionFirstDelayMs: options.retentionFirstDelayMs }),
    // Env-only settings (NORA_CURATION_BYPASS_TOKEN) from `env` alone, never the test's own.
    env: options.env ?? {},
  });
  await app.fastify.listen({ host: '127.0.0.1', port: config.server.port });
  const address = app.fastify.server.address();
  if (address === null || typeof address === 'string')
    throw new Error('server did not bind a TCP port');
  const host = `127.0.0.1:${address.port}`;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await app.close();
    if (ownsDir) await removeDir(dataDir);
  };
  return {
    url: `http://${host}`,
    host,
    port: address.port,
    app,
    config,
    dataDir,
    close,
    [Symbol.asyncDispose]: close,
  };
}

function mergeSections(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? { ...current, ...value } : value;
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * An address policy for redirect tests: every fixture here is on 127.0.0.1, so the real rule
 * would call them all internal; this one counts 127.0.0.1 on these ports as public addresses
 * (a "public" upstream, a "public" CDN) and judges everything else as production does.
 */
export function publicPorts(...ports: number[]): AddressPolicy {
  return {
    isInternal: (address, port) =>
      !(address === '127.0.0.1' && ports.includes(port)) &&
      DEFAULT_ADDRESS_POLICY.isInternal(address, port),
  };
}

/**
 * `[auth] trusted_proxies` for tests that play a reverse proxy on this host: the test client
 * (127.0.0.1 or ::1) sends `X-Forwarded-For` for the clients it stands for. The default too
 * (NORA's); listed so these tests keep their proxy if the default ever changes.
 */
export const LOOPBACK_PROXY: readonly string[] = ['127.0.0.1', '::1'];
