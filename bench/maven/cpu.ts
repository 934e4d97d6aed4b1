/**
 * CPU NORA spends per request on Maven's small-file GETs — the figure that stays meaningful on a
 * shared, loaded machine where req/s ratios are noise (not part of `npm test`):
 *
 *   npx node bench/maven/cpu.ts            BENCH_CPU_RUNS=2 BENCH_SECONDS=3 BENCH_CPU_PROF=dir
 *
 * One NORA proxying nginx (serving the machine's local Maven repository) with an artifact of
 * BENCH_METADATA_VERSIONS (default 1,000) versions deployed into maven-hosted; for each URL (the
 * cached POM and its `.sha1` through the group `/maven2/`, the `maven-metadata.xml` through the
 * group and from maven-hosted): an untimed 1 s `wrk -t1 -c8`, then BENCH_CPU_RUNS timed runs of
 * BENCH_SECONDS; printed: the process's utime + stime (all threads, from /proc/<pid>/stat) over
 * the run divided by the requests wrk completed, in µs, and the req/s (noise on a shared machine).
 * BENCH_CPU_ONLY=POM,metadata picks URLs by label. BENCH_CPU_PROF=<dir> runs NORA with `--cpu-prof` into that directory.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { M2_REPOSITORY, mavenMissing, startNginx } from '../../test/helpers/maven.ts';
import { freePort, startNoraProcess } from '../../test/helpers/process.ts';
import { missingTools, run } from '../../test/helpers/tools.ts';
import {
  MANY_VERSIONS_DIR,
  deployManyVersions,
  noraCommand,
  noraEnv,
  thirdPartyPath,
} from './common.ts';

const RUNS = Math.max(1, Number(process.env['BENCH_CPU_RUNS'] ?? 2));
const SECONDS = Math.max(1, Number(process.env['BENCH_SECONDS'] ?? 3));
const VERSIONS = Math.max(1, Number(process.env['BENCH_METADATA_VERSIONS'] ?? 1000));
const PROF = process.env['BENCH_CPU_PROF'];
const HEAP_PROF = process.env['BENCH_HEAP_PROF'];
/** Labels to measure (substring match, comma-separated), e.g. `POM` or `metadata`; default all. */
const ONLY = (process.env['BENCH_CPU_ONLY'] ?? '').split(',').filter((s) => s !== '');

const missing = mavenMissing() || missingTools('wrk');
if (missing !== false) {
  process.stderr.write(`${missing}\n`);
  process.exit(2);
}

/** utime + stime of `pid` in clock ticks (USER_HZ = 100 on Linux). */
async function cpuTicks(pid: number): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

async function wrk(url: string, seconds: number): Promise<{ requests: number; rps: number }> {
  const res = await run('wrk', ['-t1', '-c8', `-d${seconds}s`, url], {
    timeoutMs: (seconds + 30) * 1000,
  });
  if (/Non-2xx/.test(res.stdout)) throw new Error(`non-2xx answers from ${url}`);
  return {
    requests: Number(/(\d+) requests in/.exec(res.stdout)?.[1] ?? 0),
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(res.stdout)?.[1] ?? 0),
  };
}

const work = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-bench-maven-cpu-'));
const stops: (() => Promise<void>)[] = [];
try {
  await fs.chmod(work, 0o755);
  const nginx = await startNginx(M2_REPOSITORY, path.join(work, 'nginx'), { accessLog: false });
  stops.push(() => nginx.stop());
  const port = await freePort();
  const nora = await startNoraProcess({
    port,
    command: noraCommand({ cpuProfDir: PROF, heapProfDir: HEAP_PROF }),
    env: noraEnv(path.join(work, 'storage'), nginx.url),
  });
  stops.push(async () => {
    nora.child.kill('SIGINT');
    await nora.exited;
  });
  const pid = nora.child.pid ?? 0;
  const dir = MANY_VERSIONS_DIR;
  const wanted = (label: string) => ONLY.length === 0 || ONLY.some((s) => label.includes(s));
  if (wanted('metadata')) await deployManyVersions(nora.url, VERSIONS);
  const pom = thirdPartyPath('pom');
  const urls: [string, string][] = [
    ['POM via /maven2/', `${nora.url}/maven2/${pom}`],
    ['POM .sha1 via /maven2/', `${nora.url}/maven2/${pom}.sha1`],
    ['metadata via /maven2/', `${nora.url}/maven2/${dir}/maven-metadata.xml`],
    ['metadata maven-hosted', `${nora.url}/repository/maven-hosted/${dir}/maven-metadata.xml`],
  ];
  for (const [label, url] of urls.filter(([label]) => wanted(label))) {
    const first = await fetch(url);
    const size = (await first.arrayBuffer()).byteLength;
    if (first.status !== 200) throw new Error(`GET ${url}: ${first.status}`);
    await wrk(url, 1);
    const figures: string[] = [];
    for (let i = 0; i < RUNS; i++) {
      const before = await cpuTicks(pid);
      const r = await wrk(url, SECONDS);
      const after = await cpuTicks(pid);
      figures.push(
        `${(((after - before) * 10_000) / r.requests).toFixed(1)} µs (${r.rps.toFixed(0)} req/s)`,
      );
    }
    process.stdout.write(
      `${label.padEnd(24)} ${String(size).padStart(6)} B  ${figures.join(', ')}\n`,
    );
  }
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await fs.rm(work, { recursive: true, force: true });
}
