/**
 * Cold `cargo fetch` CPU of several NORA checkouts, interleaved round by round (for bisecting a
 * CPU rise between commits: `git worktree add --detach <dir> <commit>` for each, node_modules
 * linked). Not part of `npm test`.
 *
 *   BENCH_NORA_ROOTS=/tmp/a,/tmp/b BENCH_ROUNDS=4 node bench/cargo/compare.ts
 *
 * Each round starts, for every root in turn (the order rotating by round), a NORA from that
 * checkout on empty storage with NORA_CARGO_PROXY=<nginx>/index/, warms it as bench/cargo/run.ts
 * does (config.json and a 404 index file), then times a cold and a warm `cargo fetch` of the
 * tree's lockfile and reads NORA's CPU (utime+stime) around each. Reported: per root, the cold
 * and warm CPU and wall of every round and their medians.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { freePort, NODE_FLAGS, startNoraProcess } from '../../test/helpers/process.ts';
import { run } from '../../test/helpers/tools.ts';
import { cargoFetch, lockedConsumer } from './common.ts';
import {
  cpuSeconds,
  log,
  median,
  onCleanup,
  runCleanups,
  startInspectorProfiler,
  stop,
  stopOnExit,
  tmp,
} from '../harness.ts';
import { makeTree, startNginx } from '../../test/e2e/cargo-proxy/real-tree.ts';

const ROUNDS = Math.max(1, Math.floor(Number(process.env['BENCH_ROUNDS'] ?? 4)) || 1);
const ROOTS = (process.env['BENCH_NORA_ROOTS'] ?? '')
  .split(',')
  .filter((r) => r !== '')
  .map((r) => path.resolve(r));
/** BENCH_NORA_WRAP: a command NORA runs under (space-separated, e.g. `strace -f -c -o /tmp/x`). */
const WRAP = (process.env['BENCH_NORA_WRAP'] ?? '').split(' ').filter((w) => w !== '');

/** user and system seconds of the main thread and of every other thread (libuv's pool, V8's). */
async function threadTimes(pid: number | undefined): Promise<number[]> {
  const out = [0, 0, 0, 0];
  if (pid === undefined) return out;
  for (const tid of await fs.readdir(`/proc/${pid}/task`).catch(() => [])) {
    const stat = await fs.readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const at = tid === String(pid) ? 0 : 2;
    out[at] = (out[at] ?? 0) + Number(fields[11]) / 100;
    out[at + 1] = (out[at + 1] ?? 0) + Number(fields[12]) / 100;
  }
  return out;
}

/**
 * BENCH_CPU_PROF_DIR: NORA runs with `--inspect` on a free loopback port and V8's sampling profiler
 * (100 µs) covers the cold round only; `<checkout>-<round>.cpuprofile` is written there (read it
 * with `node bench/profile-top.ts FILE`). The profiler's own cost is in that round's CPU figure.
 */
const PROF_DIR =
  process.env['BENCH_CPU_PROF_DIR'] !== undefined && process.env['BENCH_CPU_PROF_DIR'] !== ''
    ? path.resolve(process.env['BENCH_CPU_PROF_DIR'])
    : undefined;

try {
  if (ROOTS.length === 0) throw new Error('BENCH_NORA_ROOTS: comma-separated checkout paths');
  const given = process.env['BENCH_CARGO_TREE'];
  const root =
    given !== undefined && given !== ''
      ? path.resolve(given)
      : path.join(await tmp('nora-bench-cargo-tree-', { readable: true }), 'tree');
  const manifest = await makeTree(root);
  await run('chmod', ['-R', 'a+rX', root]);
  const nginx = await startNginx(await tmp('nora-bench-cargo-nginx-', { readable: true }), root, 2);
  onCleanup(() => nginx.stop());
  const { consumer, crates } = await lockedConsumer(manifest, nginx.index);
  log(`${crates} crates; ${ROUNDS} rounds over ${ROOTS.length} checkouts`);
  const figures = new Map(
    ROOTS.map((r) => [
      r,
      {
        cold: [] as number[],
        warm: [] as number[],
        coldWall: [] as number[],
        warmWall: [] as number[],
      },
    ]),
  );
  for (let round = 0; round < ROUNDS; round++) {
    const order = ROOTS.map((_, i) => ROOTS[(i + round) % ROOTS.length] as string);
    for (const checkout of order) {
      const dir = await tmp('nora-bench-cargo-', { readable: true });
      const port = await freePort();
      const inspectPort = PROF_DIR === undefined ? undefined : await freePort();
      const nora = await startNoraProcess({
        port,
        command: [
          ...WRAP,
          process.execPath,
          ...NODE_FLAGS,
          ...(inspectPort === undefined ? [] : [`--inspect=127.0.0.1:${inspectPort}`]),
          path.join(checkout, 'bin/nora.js'),
          'serve',
        ],
        cwd: checkout,
        env: {
          NORA_STORAGE_PATH: path.join(dir, 'storage'),
          NORA_CARGO_PROXY: nginx.index,
          NORA_LOG_LEVEL: 'warn',
          NORA_RATE_LIMIT_ENABLED: 'false',
        },
      });
      stopOnExit(nora.child);
      try {
        await fetch(`${nora.url}/cargo/index/config.json`).then((r) => r.arrayBuffer());
        await fetch(`${nora.url}/cargo/index/no/ra/nora-bench-absent`).then((r) => r.arrayBuffer());
        const f = figures.get(checkout)!;
        for (const phase of ['cold', 'warm'] as const) {
          // BENCH_STRACE_DIR: syscall counts of NORA's cold round (`strace -f -c`, attached
          // around the round only, every thread).
          const straceDir = process.env['BENCH_STRACE_DIR'];
          const strace =
            phase === 'cold' && straceDir !== undefined && straceDir !== ''
              ? spawn(
                  'strace',
                  [
                    '-f',
                    '-c',
                    '-p',
                    String(nora.child.pid),
                    '-o',
                    path.join(straceDir, `${path.basename(checkout)}-${round + 1}.txt`),
                  ],
                  { stdio: 'ignore' },
                )
              : undefined;
          // BENCH_PERF_DIR: `perf record -F 1999 -g` of NORA's cold round (run with
          // BENCH_NODE_FLAGS=--perf-basic-prof so JavaScript frames get names).
          const perfDir = process.env['BENCH_PERF_DIR'];
          const perf =
            phase === 'cold' && perfDir !== undefined && perfDir !== ''
              ? spawn(
                  'perf',
                  [
                    'record',
                    '-F',
                    '1999',
                    '-g',
                    '-p',
                    String(nora.child.pid),
                    '-o',
                    path.join(perfDir, `${path.basename(checkout)}-${round + 1}.data`),
                  ],
                  { stdio: 'ignore' },
                )
              : undefined;
          if (strace !== undefined || perf !== undefined)
            await new Promise((r) => setTimeout(r, 1500));
          const profiler =
            phase === 'cold' && inspectPort !== undefined
              ? await startInspectorProfiler(inspectPort)
              : undefined;
          const threadsBefore = await threadTimes(nora.child.pid);
          const before = await cpuSeconds(nora.child.pid);
          const wall = await cargoFetch(consumer, `${nora.url}/cargo/index/`, crates);
          const cpu = (await cpuSeconds(nora.child.pid)) - before;
          const threads = (await threadTimes(nora.child.pid)).map(
            (t, i) => t - (threadsBefore[i] ?? 0),
          );
          if (profiler !== undefined && PROF_DIR !== undefined) {
            const file = path.join(PROF_DIR, `${path.basename(checkout)}-${round + 1}.cpuprofile`);
            await fs.writeFile(file, JSON.stringify(await profiler.stop()));
            log(`profile of the cold round: ${file}`);
          }
          for (const tracer of [strace, perf]) {
            if (tracer === undefined) continue;
            const exited = new Promise((r) => tracer.on('exit', r));
            tracer.kill('SIGINT');
            await exited;
          }
          f[phase].push(cpu);
          f[phase === 'cold' ? 'coldWall' : 'warmWall'].push(wall);
          log(
            `round ${round + 1} ${path.basename(checkout)} ${phase}: CPU ${cpu.toFixed(2)} s, wall ${wall.toFixed(2)} s` +
              ` (main thread user ${threads[0]?.toFixed(2)} sys ${threads[1]?.toFixed(2)};` +
              ` other threads user ${threads[2]?.toFixed(2)} sys ${threads[3]?.toFixed(2)})`,
          );
        }
      } finally {
        await stop(nora.child);
      }
    }
  }
  for (const [checkout, f] of figures)
    log(
      `${path.basename(checkout)}: cold CPU median ${median(f.cold).toFixed(3)} s [${f.cold.map((c) => c.toFixed(2)).join(' ')}], ` +
        `wall ${median(f.coldWall).toFixed(2)} s; warm CPU ${median(f.warm).toFixed(3)} s [${f.warm.map((c) => c.toFixed(2)).join(' ')}], wall ${median(f.warmWall).toFixed(2)} s`,
    );
} finally {
  await runCleanups();
}
