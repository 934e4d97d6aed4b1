/** Running NORA as a real child process (the way the README and operators run it). */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { PROJECT_ROOT } from './tools.ts';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

export interface NoraProcess extends AsyncDisposable {
  readonly child: ChildProcess;
  readonly url: string;
  output(): string;
  /** Resolves with the exit code (or signal name). */
  readonly exited: Promise<number | string>;
}

/**
 * The V8 flags `npm start` and bin/nora.js's shebang run the server with, plus any in
 * BENCH_NODE_FLAGS (space-separated: for trying V8 settings in a bench, e.g. tiering thresholds).
 */
export const NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=4',
  ...(process.env['BENCH_NODE_FLAGS'] ?? '').split(' ').filter((flag) => flag !== ''),
];

/** Starts `node bin/nora.js <args>` (or any command) with env; waits for /health when `port` given. */
export async function startNoraProcess(options: {
  readonly args?: readonly string[];
  readonly env: Record<string, string>;
  readonly port: number;
  readonly command?: readonly string[];
  readonly cwd?: string;
  /** Own process group, so the whole tree can be signalled (as a terminal or systemd does). */
  readonly detached?: boolean;
  /** Called with the child as soon as it is spawned, before /health answers (not awaited). */
  readonly onSpawn?: (child: ChildProcess) => void;
}): Promise<NoraProcess> {
  const [cmd, ...rest] = options.command ?? [
    process.execPath,
    ...NODE_FLAGS,
    path.join(PROJECT_ROOT, 'bin/nora.js'),
    ...(options.args ?? ['serve']),
  ];
  const child = spawn(cmd ?? process.execPath, rest, {
    cwd: options.cwd ?? PROJECT_ROOT,
    env: {
      ...process.env,
      NORA_HOST: '127.0.0.1',
      NORA_PORT: String(options.port),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  options.onSpawn?.(child);
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => {
      resolve(code ?? signal ?? -1);
    }),
  );
  const url = `http://127.0.0.1:${options.port}`;
  try {
    // 60 s: a start on a loaded CI machine (load 15-20 on 2 cores) took over 30 s once.
    await waitForHealth(url, 60_000, exited, () => output);
  } catch (err) {
    // A server that did not answer in time must not outlive the failure: its process handle
    // and pipes would keep the test file's process alive until the runner's timeout.
    child.kill('SIGKILL');
    await exited;
    throw err;
  }
  return {
    child,
    url,
    output: () => output,
    exited,
    // `await using`: SIGTERM unless it has already exited, then its exit awaited.
    async [Symbol.asyncDispose]() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * `nora serve` on a free port (startNoraProcess), the two ways these tests start it: with
 * `{ configFile }`, as `nora serve -c <configFile>` (the file names the storage); with `{ dir }`,
 * from `dir` as its working directory (its ./config.toml, when there is one, is read and SIGHUP
 * reads it again) with NORA_STORAGE_PATH `<dir>/storage`. `env` goes on top. Resolves once
 * /health answers; `await using` stops it.
 */
export async function serveNora(
  where: { readonly configFile: string } | { readonly dir: string },
  env: Record<string, string> = {},
): Promise<NoraProcess> {
  const port = await freePort();
  return 'configFile' in where
    ? startNoraProcess({ port, args: ['serve', '-c', where.configFile], env })
    : startNoraProcess({
        port,
        cwd: where.dir,
        env: { NORA_STORAGE_PATH: path.join(where.dir, 'storage'), ...env },
      });
}

/**
 * Writes `<dir>/config.toml`: a [storage] section with `path` `<dir>/storage`, then `lines`
 * (other sections). Returns the file's path.
 */
export async function writeConfigToml(dir: string, lines: readonly string[]): Promise<string> {
  const file = path.join(dir, 'config.toml');
  const storage = ['[storage]', `path = ${JSON.stringify(path.join(dir, 'storage'))}`];
  await fs.writeFile(file, [...storage, ...lines, ''].join('\n'));
  return file;
}

/**
 * Polls `condition` every 20 ms until it holds. Throws after `timeoutMs`: a bound on a failure
 * only (a server's log line on a loaded machine can take seconds), never a measure.
 */
export async function waitFor(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Polls `url` until `ready(status)` (default: any answer below 500). Throws when `gone()` says
 * the server process has exited, or after `timeoutMs`; `output` adds the server's log to either.
 * Returns the milliseconds it took.
 */
export async function waitForUrl(
  url: string,
  options: {
    readonly timeoutMs?: number;
    readonly ready?: (status: number) => boolean;
    readonly gone?: () => boolean;
    readonly output?: () => string;
  } = {},
): Promise<number> {
  const { timeoutMs = 60_000, ready = (status) => status < 500, gone, output } = options;
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (gone?.() === true)
      throw new Error(`server exited before ${url} answered:\n${output?.() ?? ''}`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (ready(res.status)) return performance.now() - started;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms:\n${output?.() ?? ''}`);
}

export async function waitForHealth(
  url: string,
  timeoutMs: number,
  exited?: Promise<unknown>,
  output?: () => string,
): Promise<number> {
  const state = { exited: false };
  void exited?.then(() => {
    state.exited = true;
  });
  return waitForUrl(`${url}/health`, {
    timeoutMs,
    ready: (status) => status === 200,
    gone: () => state.exited,
    ...(output === undefined ? {} : { output }),
  });
}
