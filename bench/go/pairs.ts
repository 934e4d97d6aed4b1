/**
 * Two NORA builds interleaved round by round (A B, B A, …) on bench/go's tree and consumer: a
 * fresh NORA on empty storage per round, warmed by one list and one 404, then a cold and a warm
 * `go mod download all`, with NORA's CPU (utime + stime, all threads, and per thread name from
 * /proc/<pid>/task) and the wall time of each; a direct download from nginx after each pair.
 * For comparing a branch with main on a shared machine, where wall ratios are noise and CPU per
 * round is the figure (docs/performance.md). Not part of `npm test`.
 *
 *   PAIRS_A=/tmp/main PAIRS_B=. PAIRS_N=6 node bench/go/pairs.ts
 *
 * PAIRS_A / PAIRS_B: roots of the builds (a tree with bin/nora.js, src and node_modules, e.g.
 * `git archive main` with a node_modules link). PAIRS_PRELOAD=<file>[,<file>]: `--require`d into
 * each NORA (timing hooks). PAIRS_PROF=cold|warm: SIGUSR2 to NORA before and after that round
 * (a preload that starts and stops a profiler on it). The cold round's CPU is read when `go`
 * exits ("cpu") and again 1.5 s later ("+tail": what it left running, after-answer checks and
 * blob writes), so the warm round's figure holds only its own work.
 *
 * BENCH_CPU_PROF_DIR=<dir>: each NORA runs with `--inspect` on a free loopback port and V8's
 * sampling profiler (100 µs) covers its cold round and the 1.5 s tail only;
 * `<A|B>-<pair>.cpuprofile` is written there (read it with `node bench/profile-top.ts FILE`). The
 * profiler's own cost is in that round's CPU figure.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  buildGotree,
  buildTree,
  DEBIAN_MODULES,
  startNginx,
  syntheticModules,
} from '../../test/helpers/go.ts';
import { freePort, NODE_FLAGS, startNoraProcess } from '../../test/helpers/process.ts';
import { removeDir } from '../../test/helpers/tmp.ts';
import { download, writeConsumerModule } from './common.ts';
import {
  cpuSeconds,
  log,
  onCleanup,
  runCleanups,
  startInspectorProfiler,
  stop,
  stopOnExit,
} from '../harness.ts';

const N = Number(process.env['PAIRS_N'] ?? 4);
const roots = {
  A: path.resolve(process.env['PAIRS_A'] ?? '.'),
  B: path.resolve(process.env['PAIRS_B'] ?? '.'),
};
const preload = process.env['PAIRS_PRELOAD'];
const PROF_DIR =
  process.env['BENCH_CPU_PROF_DIR'] !== undefined && process.env['BENCH_CPU_PROF_DIR'] !== ''
    ? path.resolve(process.env['BENCH_CPU_PROF_DIR'])
    : undefined;

/** CPU seconds per thread name (comm) of `pid`. */
async function threadCpu(pid: number | undefined): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (pid === undefined) return out;
  for (const tid of await fs.readdir(`/proc/${pid}/task`).catch(() => [])) {
    const stat = await fs.readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => '');
    if (stat === '') continue;
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const key = tid === String(pid) ? 'main' : comm.replace(/[0-9]+$/, '');
    out.set(key, (out.get(key) ?? 0) + (Number(f[11]) + Number(f[12])) / 100);
  }
  return out;
}

function threadDelta(a: Map<string, number>, b: Map<string, number>): string {
  return [...b]
    .map(([k, v]) => `${k}=${(v - (a.get(k) ?? 0)).toFixed(2)}`)
    .filter((t) => !t.endsWith('=0.00'))
    .join(' ');
}

async function main(): Promise<void> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-pairs-go-'));
  await fs.chmod(work, 0o755);
  onCleanup(() => removeDir(work));
  const gotree = await buildGotree(path.join(work, 'bin'));
  const synthetic = await syntheticModules(path.join(work, 'synthetic'), 45);
  const tree = path.join(work, 'www');
  await buildTree(gotree, tree, [...DEBIAN_MODULES, ...synthetic]);
  const nginx = await startNginx(path.join(work, 'nginx'), tree);
  onCleanup(() => nginx.stop());
  const consumer = path.join(work, 'consumer');
  await writeConsumerModule(consumer, [
    ...DEBIAN_MODULES,
    synthetic[0] ?? { path: '', version: '' },
  ]);
  for (let i = 0; i < N; i++) {
    const order: ('A' | 'B')[] = i % 2 === 0 ? ['A', 'B'] : ['B', 'A'];
    const line: string[] = [];
    for (const which of order) {
      const dir = await fs.mkdtemp(path.join(work, 'nora-'));
      const inspectPort = PROF_DIR === undefined ? undefined : await freePort();
      const nora = await startNoraProcess({
        port: await freePort(),
        cwd: roots[which],
        command: [
          process.execPath,
          ...NODE_FLAGS,
          ...(preload ? preload.split(',').flatMap((p) => ['--require', p]) : []),
          ...(inspectPort === undefined ? [] : [`--inspect=127.0.0.1:${inspectPort}`]),
          path.join(roots[which], 'bin/nora.js'),
          'serve',
        ],
        env: {
          NORA_STORAGE_PATH: path.join(dir, 'storage'),
          NORA_GO_PROXY: nginx.url,
          NORA_GO_SUMDB: 'none',
          NORA_LOG_LEVEL: 'warn',
          NORA_RATE_LIMIT_ENABLED: 'false',
        },
      });
      stopOnExit(nora.child);
      await fetch(`${nora.url}/go/github.com/pkg/errors/@v/list`).then((r) => r.arrayBuffer());
      await fetch(`${nora.url}/go/example.com/absent/@v/list`).then((r) => r.arrayBuffer());
      const pid = nora.child.pid;
      const prof = process.env['PAIRS_PROF'];
      const toggle = async (): Promise<void> => {
        if (prof !== undefined) {
          process.kill(pid ?? 0, 'SIGUSR2');
          await new Promise((r) => setTimeout(r, 300));
        }
      };
      if (prof === 'cold') await toggle();
      const profiler =
        inspectPort === undefined ? undefined : await startInspectorProfiler(inspectPort);
      const t0 = await threadCpu(pid);
      const c0 = await cpuSeconds(pid);
      const cold = await download(consumer, `${nora.url}/go`, work);
      const c1a = await cpuSeconds(pid);
      const t1 = await threadCpu(pid);
      // What the cold round left running (after-answer checks, blob writes): not the warm round's.
      await new Promise((r) => setTimeout(r, 1500));
      if (prof === 'cold') await toggle();
      if (profiler !== undefined && PROF_DIR !== undefined) {
        const file = path.join(PROF_DIR, `${which}-${i + 1}.cpuprofile`);
        await fs.writeFile(file, JSON.stringify(await profiler.stop()));
        log(`profile of ${which}'s cold round: ${file}`);
      }
      if (prof === 'warm') await toggle();
      const c1 = await cpuSeconds(pid);
      const tw = await threadCpu(pid);
      const warm = await download(consumer, `${nora.url}/go`, work);
      if (prof === 'warm') await toggle();
      const c2 = await cpuSeconds(pid);
      const t2 = await threadCpu(pid);
      const t1b = tw;
      await stop(nora.child);
      line.push(
        `${which} cold ${cold.toFixed(2)} s cpu ${(c1a - c0).toFixed(2)} +tail ${(c1 - c1a).toFixed(2)} | warm ${warm.toFixed(2)} s cpu ${(c2 - c1).toFixed(2)} [cold ${threadDelta(t0, t1)}; warm ${threadDelta(t1b, t2)}]`,
      );
    }
    const direct = await download(consumer, nginx.url, work);
    log(
      `pair ${i + 1}: ${line.join(' || ')} || direct ${direct.toFixed(2)} s  (load ${os.loadavg()[0]?.toFixed(1)})`,
    );
  }
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => void runCleanups());
