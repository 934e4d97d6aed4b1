/**
 * nginx in the foreground on a free loopback port, for tests that need a real static upstream
 * (a GOPROXY tree, a sparse Cargo index, a PyPI simple tree). Its PID is ours: `stop` sends
 * SIGTERM to that PID only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { freePort, waitForUrl } from './process.ts';
import { findTool } from './tools.ts';

export interface NginxProcess {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly child: ChildProcess;
  readonly exited: Promise<unknown>;
  /** SIGTERM to the master and waits for it to exit; nothing once it has exited. */
  stop(): Promise<void>;
}

export interface NginxOptions {
  /** The `http {}` block's own lines (types, logs, `server {…}`); `url` is where it listens. */
  readonly http: (listen: string, url: string) => readonly string[];
  /** Path fetched until `readyStatus` answers (default `/`, any status below 500). */
  readonly readyPath?: string;
  readonly readyStatus?: (status: number) => boolean;
  /** Replaces the `readyPath` wait (e.g. a TLS handshake probe); throws when nginx is not up. */
  readonly ready?: (port: number) => Promise<void>;
  /** worker_processes (default 1). */
  readonly workers?: number;
  /** Runs once the port is known, before nginx starts (e.g. files naming `url`). */
  readonly before?: (url: string) => Promise<void>;
}

/**
 * Writes `<dir>/nginx.conf` (pid, error log and temp paths inside `dir`; `http` lines get
 * `listen` = `127.0.0.1:<port>`), starts nginx and waits until `readyPath` answers (10 s) or
 * `ready` resolves;
 * on failure it is stopped before the error is rethrown. nginx's workers drop root's privileges:
 * served trees must be world-readable.
 */
export async function runNginx(dir: string, options: NginxOptions): Promise<NginxProcess> {
  await fs.mkdir(dir, { recursive: true });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  await options.before?.(url);
  await fs.writeFile(
    path.join(dir, 'nginx.conf'),
    [
      `worker_processes ${options.workers ?? 1};`,
      `pid ${path.join(dir, 'nginx.pid')};`,
      `error_log ${path.join(dir, 'error.log')} warn;`,
      'events { worker_connections 1024; }',
      'http {',
      ...options.http(`127.0.0.1:${port}`, url).map((line) => `  ${line}`),
      `  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;`,
      '}',
      '',
    ].join('\n'),
  );
  const child = spawn(
    findTool('nginx') ?? 'nginx',
    ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'],
    { stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exited;
  };
  try {
    await (options.ready?.(port) ??
      waitForUrl(`${url}${options.readyPath ?? '/'}`, {
        timeoutMs: 10_000,
        ready: options.readyStatus ?? ((status) => status < 500),
      }));
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, child, exited, stop };
}
