/**
 * NORA's own CPU per cold and warm Maven resolve — the figure that stays meaningful on a shared,
 * loaded machine where wall-time ratios are noise (not part of `npm test`):
 *
 *   npx node bench/maven/cold-cpu.ts        BENCH_RUNS=2 BENCH_WARM=0 BENCH_CPU_PROF=<dir>
 *                                           BENCH_HEAP_PROF=<dir> (profiles are kept there)
 *                                           BENCH_TREE=central BENCH_BUILDS=<root>,<root>
 *
 * BENCH_TREE=central: the upstream serves a Central-like tree (each file with its `.sha1` and
 * `.md5`, as run.ts resolve and trace.ts) instead of the bare local repository (every checksum
 * 404). BENCH_BUILDS: checkouts (their bin/nora.js) taken in turn, pair by pair in alternating
 * order (a b, b a, …): BENCH_RUNS pairs of interleaved builds on the same upstream.
 *
 * Each run: a fresh NORA proxying nginx (serving the machine's local Maven repository), two
 * unrelated POMs fetched untimed (a server in service has compiled its hot code), then the same
 * `mvn -C package` as bench/maven/run.ts's resolve section with a fresh local repository, cold
 * (empty cache) and warm; printed: NORA's utime + stime (all threads, /proc/<pid>/stat) over each
 * build, and the wall time (noise on a shared machine). With BENCH_CPU_PROF the profile holds the
 * warm-up too: skip its first seconds (the start-up) when reading it.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { M2_REPOSITORY, mavenMissing, startNginx } from '../../test/helpers/maven.ts';
import { freePort, startNoraProcess } from '../../test/helpers/process.ts';
import { cpuSeconds, log } from '../harness.ts';
import {
  centralLikeTree,
  mavenBuilder,
  noraCommand,
  noraEnv,
  threadDelta,
  threadSeconds,
  warmUp,
  writeBenchProject,
} from './common.ts';

const RUNS = Math.max(1, Number(process.env['BENCH_RUNS'] ?? 2));
const PROF = process.env['BENCH_CPU_PROF'];
const HEAP_PROF = process.env['BENCH_HEAP_PROF'];
const WARM = process.env['BENCH_WARM'] !== '0';
const CENTRAL = process.env['BENCH_TREE'] === 'central';
const BUILDS = (process.env['BENCH_BUILDS'] ?? '').split(',').filter((root) => root !== '');

const missing = mavenMissing();
if (missing !== false) {
  process.stderr.write(`${missing}\n`);
  process.exit(2);
}

const work = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-bench-maven-cold-'));
const stops: (() => Promise<void>)[] = [];
try {
  await fs.chmod(work, 0o755);
  let tree = M2_REPOSITORY;
  if (CENTRAL) {
    tree = path.join(work, 'central');
    await centralLikeTree(M2_REPOSITORY, tree);
  }
  const nginx = await startNginx(tree, path.join(work, 'nginx'), { accessLog: false });
  stops.push(() => nginx.stop());
  const project = path.join(work, 'project');
  await writeBenchProject(project);
  const build = mavenBuilder(work);
  const order = (pair: number): (string | undefined)[] =>
    BUILDS.length === 0 ? [undefined] : pair % 2 === 0 ? BUILDS : [...BUILDS].reverse();
  const runs = Array.from({ length: RUNS }, (_, pair) => order(pair)).flat();
  for (const [i, root] of runs.entries()) {
    const port = await freePort();
    const nora = await startNoraProcess({
      port,
      command: noraCommand({ cpuProfDir: PROF, heapProfDir: HEAP_PROF, root }),
      env: noraEnv(path.join(work, `nora-${i}`), nginx.url),
    });
    const stop = async () => {
      nora.child.kill('SIGINT');
      await nora.exited;
    };
    stops.push(stop);
    const pid = nora.child.pid;
    await warmUp(nora.url);
    let before = await cpuSeconds(pid);
    const threads = await threadSeconds(pid);
    const cold = await build(project, `${nora.url}/maven2/`, true);
    const coldCpu = (await cpuSeconds(pid)) - before;
    const label = root === undefined ? '' : ` ${path.basename(root)}`;
    let line = `run ${i + 1}${label} (load ${os.loadavg()[0]?.toFixed(1)}): cold NORA CPU ${coldCpu.toFixed(2)} s [${threadDelta(threads, await threadSeconds(pid))}] (${cold.seconds.toFixed(2)} s wall, ${cold.files} files)`;
    if (WARM) {
      before = await cpuSeconds(pid);
      const warm = await build(project, `${nora.url}/maven2/`, true);
      line += `, warm NORA CPU ${((await cpuSeconds(pid)) - before).toFixed(2)} s (${warm.seconds.toFixed(2)} s wall)`;
    }
    log(line);
    await stop();
    stops.pop();
  }
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await fs.rm(work, { recursive: true, force: true });
}
