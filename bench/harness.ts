/**
 * What the benchmark scripts share (they were copies of each other): output lines, temporary
 * directories and child processes removed at the end in reverse order, the CPU seconds of a
 * process, medians and verdicts, a static nginx and the NORA command line for `--cpu-prof`.
 * One process runs one benchmark, so the cleanup list is this module's state.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type NginxProcess, runNginx } from '../test/helpers/nginx.ts';
import { NODE_FLAGS } from '../test/helpers/process.ts';
import { PROJECT_ROOT } from '../test/helpers/tools.ts';

const cleanups: (() => Promise<void>)[] = [];

export function log(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Runs `cleanup` when `runCleanups` is called (last registered, first run). */
export function onCleanup(cleanup: () => Promise<void>): void {
  cleanups.push(cleanup);
}

/** Runs every registered cleanup, newest first; a failing one does not stop the others. */
export async function runCleanups(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
}

/**
 * A fresh directory under the system temp dir, removed by `runCleanups`. `readable`: mode 0755,
 * for trees nginx's workers (which drop root's privileges) must read.
 */
export async function tmp(prefix: string, options: { readable?: boolean } = {}): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  if (options.readable === true) await fs.chmod(dir, 0o755);
  cleanups.push(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Stops one child we started (SIGTERM, SIGKILL after `graceMs`); a no-op once it has exited. */
export async function stop(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const done = await Promise.race([
    exited.then(() => true),
    new Promise((resolve) => {
      setTimeout(() => {
        resolve(false);
      }, graceMs);
    }),
  ]);
  if (done !== true) child.kill('SIGKILL');
}

/** `stop(child, graceMs)` at `runCleanups`. */
export function stopOnExit(child: ChildProcess, graceMs?: number): void {
  cleanups.push(() => stop(child, graceMs));
}

/**
 * User + system CPU seconds process `pid` has used so far, from /proc/<pid>/stat (utime and
 * stime, fields 14 and 15 of stat(5), in 100 ticks a second); NaN where there is no /proc. On a
 * shared machine this is the figure to compare: wall-clock rates are noise.
 */
export async function cpuSeconds(pid: number | undefined): Promise<number> {
  if (pid === undefined) return NaN;
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? NaN)
    : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

/** `30.12 s (29.01–31.50)`: the median and the range of the rounds, `digits` decimals. */
export function spread(values: readonly number[], digits = 2): string {
  const s = (n: number) => n.toFixed(digits);
  return `${s(median(values))} s (${s(Math.min(...values))}–${s(Math.max(...values))})`;
}

export function verdict(ok: boolean): string {
  return ok ? 'OK' : 'MISSED';
}

/**
 * nginx (2 workers, sendfile, keep-alive without limit, no access log) serving `root` as static
 * files, in a temp dir named by `prefix`, stopped by `runCleanups`. `http`: extra lines of the
 * `http {}` block (types, gzip_static); `readyPath`: what answers once it is up.
 */
export async function startStaticNginx(
  root: string,
  options: { prefix: string; http?: readonly string[]; readyPath?: string },
): Promise<NginxProcess> {
  const dir = await tmp(options.prefix);
  const nginx = await runNginx(dir, {
    workers: 2,
    http: (listen) => [
      'sendfile on; tcp_nopush on; access_log off; keepalive_requests 1000000;',
      ...(options.http ?? []),
      `server { listen ${listen}; root ${root}; }`,
    ],
    ...(options.readyPath === undefined ? {} : { readyPath: options.readyPath }),
  });
  cleanups.push(() => nginx.stop());
  return nginx;
}

/**
 * The command line that runs NORA under `--cpu-prof` into `dir` (one `<name>.cpuprofile` written
 * when it stops), for `startNoraProcess({ command })`; undefined without `dir` (the default
 * command). `flags`: more node flags (e.g. `--cpu-prof-interval 250`).
 */
export function cpuProfCommand(
  dir: string | undefined,
  name: string,
  flags: readonly string[] = [],
): string[] | undefined {
  if (dir === undefined) return undefined;
  return [
    process.execPath,
    ...NODE_FLAGS,
    '--cpu-prof',
    '--cpu-prof-dir',
    path.resolve(dir),
    ...flags,
    '--cpu-prof-name',
    name,
    path.join(PROJECT_ROOT, 'bin/nora.js'),
    'serve',
  ];
}

/**
 * V8's sampling profiler (100 µs) started over the inspector's WebSocket of a process run with
 * `--inspect=127.0.0.1:<port>`; `stop()` resolves to the `.cpuprofile` object (read it with
 * `node bench/profile-top.ts`). For profiling one round of a bench only, not the start-up.
 */
export async function startInspectorProfiler(port: number): Promise<{ stop(): Promise<unknown> }> {
  const targets = (await fetch(`http://127.0.0.1:${port}/json/list`).then((r) => r.json())) as {
    webSocketDebuggerUrl: string;
  }[];
  const socket = new WebSocket(targets[0]?.webSocketDebuggerUrl ?? '');
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve, { once: true });
    socket.addEventListener('error', reject, { once: true });
  });
  let id = 0;
  const waiting = new Map<number, (result: unknown) => void>();
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) waiting.get(message.id)?.(message.result);
  });
  const send = (method: string, params: object = {}): Promise<unknown> =>
    new Promise((resolve) => {
      id += 1;
      waiting.set(id, resolve);
      socket.send(JSON.stringify({ id, method, params }));
    });
  await send('Profiler.enable');
  await send('Profiler.setSamplingInterval', { interval: 100 });
  await send('Profiler.start');
  return {
    async stop() {
      const result = (await send('Profiler.stop')) as { profile: unknown };
      socket.close();
      return result.profile;
    },
  };
}
