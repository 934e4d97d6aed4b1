/**
 * Go module benchmarks: NORA's GOPROXY proxy side by side with nginx serving a static GOPROXY
 * tree (the upstream, and the physical limit), in one run on this machine. Not part of `npm test`.
 *
 *   npx node bench/go/run.ts [download] [zip] [list]      (default: all three)
 *   BENCH_ROUNDS=3 BENCH_SECONDS=5 BENCH_GO_SYNTHETIC=45 npx node bench/go/run.ts
 *   BENCH_NORA_CPU_PROF=/tmp/prof npx node bench/go/run.ts download   (NORA under --cpu-prof)
 *
 * The tree: test/helpers/gotree (Go, built offline from Debian's golang-golang-x-mod-dev) zips
 * the real modules of Debian's golang-*-dev packages (plus the versions their go.mod files
 * require of one another) and BENCH_GO_SYNTHETIC generated modules (a require chain, one small
 * package each) by golang.org/x/mod/zip: ≥ 50 module versions.
 *
 * - download: `go mod download all` of a consumer requiring every module of the tree (Debian's
 *   `go`, GOSUMDB=off, GOFLAGS=-mod=mod), empty module cache each time. Directly from nginx vs
 *   through NORA's default `/go` group with NORA_GO_PROXY=<nginx>. Each of BENCH_ROUNDS rounds
 *   starts a NORA on empty storage, warms the process (one untimed list + 404 of a module outside
 *   the set), then times cold (every file fetched from nginx) and warm (a second download with
 *   another empty module cache); a direct download runs next to each, the order alternating by
 *   round. Reported: medians and min–max, ratios of the medians to direct.
 *   Targets: cold ≤ 1.2×, warm ≤ 1.0×.
 * - zip: GET throughput of the largest `.zip`, wrk -t2 -c16, cached, vs nginx. Target ≥ 0.7×.
 * - list: `@v/list` GET req/s (warm, within metadata_ttl), wrk -t2 -c64, vs nginx. Target ≥ 0.5×.
 *
 * The GET figures: the median ratio of BENCH_PAIRS (default 3) alternating NORA/nginx wrk runs
 * of BENCH_SECONDS after an untimed warm-up of each (bench/wrk.ts compareRates).
 *
 * NORA's CPU (user + system, /proc/<pid>/stat) is printed next to each figure: µs per request
 * for the wrk runs, seconds per download; on a shared machine compare those, not the rates.
 *
 * Every server listens on 127.0.0.1 on a free port and is stopped by PID at the end.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  buildGotree,
  buildTree,
  DEBIAN_MODULES,
  goEnv,
  goRun,
  hasXMod,
  missingGo,
  startNginx,
  syntheticModules,
} from '../../test/helpers/go.ts';
import { freePort, startNoraProcess, type NoraProcess } from '../../test/helpers/process.ts';
import { removeDir } from '../../test/helpers/tmp.ts';
import { missingTools, run } from '../../test/helpers/tools.ts';
import {
  cpuProfCommand,
  cpuSeconds,
  log,
  median,
  onCleanup,
  runCleanups,
  spread,
  stop,
  stopOnExit,
} from '../harness.ts';
import { compareRates, describeComparison, PAIRS } from '../wrk.ts';

const ROUNDS = Math.max(1, Math.floor(Number(process.env['BENCH_ROUNDS'] ?? 5)) || 1);
const SECONDS = Math.max(1, Math.floor(Number(process.env['BENCH_SECONDS'] ?? 5)) || 5);
const SYNTHETIC = Math.max(1, Math.floor(Number(process.env['BENCH_GO_SYNTHETIC'] ?? 45)) || 45);
const sections = new Set(process.argv.slice(2));
const all = sections.size === 0;

let started = 0;

async function startNora(upstream: string, work: string): Promise<NoraProcess> {
  const dir = await fs.mkdtemp(path.join(work, 'nora-'));
  // BENCH_NORA_CPU_PROF=<dir>: each NORA writes nora-go-<n>.cpuprofile there when stopped.
  const command = cpuProfCommand(
    process.env['BENCH_NORA_CPU_PROF'],
    `nora-go-${started++}.cpuprofile`,
  );
  const nora = await startNoraProcess({
    port: await freePort(),
    ...(command === undefined ? {} : { command }),
    env: {
      NORA_STORAGE_PATH: path.join(dir, 'storage'),
      NORA_GO_PROXY: upstream,
      NORA_GO_SUMDB: 'none',
      NORA_LOG_LEVEL: 'warn',
      // Benchmarks measure the server, not the limiter (NORA's own benchmarks do the same).
      NORA_RATE_LIMIT_ENABLED: 'false',
    },
  });
  stopOnExit(nora.child);
  return nora;
}

function verdict(ok: boolean): string {
  return ok ? 'met' : 'MISSED';
}

/** `go mod download all` with an empty module cache; seconds. */
async function download(consumer: string, goproxy: string, work: string): Promise<number> {
  const home = await fs.mkdtemp(path.join(work, 'go-'));
  const env = goEnv(home, {
    GOPROXY: goproxy,
    GOSUMDB: 'off',
    GOCACHE: path.join(work, 'gocache'),
  });
  const started = performance.now();
  await goRun(['mod', 'download', 'all'], consumer, env);
  const seconds = (performance.now() - started) / 1000;
  await removeDir(home);
  return seconds;
}

async function main(): Promise<void> {
  const missing = missingGo() || missingTools('wrk') || ((await hasXMod()) ? false : 'x/mod');
  if (missing !== false) {
    log(`skipped: ${missing}`);
    return;
  }
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-bench-go-'));
  await fs.chmod(work, 0o755);
  onCleanup(() => removeDir(work));
  const gotree = await buildGotree(path.join(work, 'bin'));
  const synthetic = await syntheticModules(path.join(work, 'synthetic'), SYNTHETIC);
  const tree = path.join(work, 'www');
  await buildTree(gotree, tree, [...DEBIAN_MODULES, ...synthetic]);
  const zips = (await run('find', [tree, '-name', '*.zip'])).stdout.trim().split('\n');
  let largest = { file: '', size: 0 };
  for (const file of zips) {
    const { size } = await fs.stat(file);
    if (size > largest.size) largest = { file, size };
  }
  log(
    `tree: ${zips.length} module versions (${DEBIAN_MODULES.length} Debian modules + the versions they require, ${SYNTHETIC} synthetic)`,
  );
  const nginx = await startNginx(path.join(work, 'nginx'), tree);
  onCleanup(() => nginx.stop());

  const consumer = path.join(work, 'consumer');
  await fs.mkdir(consumer, { recursive: true });
  const requires = [...DEBIAN_MODULES, synthetic[0] ?? { path: '', version: '' }]
    .map((m) => `\t${m.path} ${m.version}\n`)
    .join('');
  await fs.writeFile(
    path.join(consumer, 'go.mod'),
    `module example.com/bench\n\ngo 1.19\n\nrequire (\n${requires})\n`,
  );

  if (all || sections.has('download')) {
    const cold: number[] = [];
    const warm: number[] = [];
    const direct: number[] = [];
    const coldCpu: number[] = [];
    const warmCpu: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const nora = await startNora(nginx.url, work);
      // Warm the process as a server in service has: one list and one 404, untimed.
      await fetch(`${nora.url}/go/github.com/pkg/errors/@v/list`).then((r) => r.arrayBuffer());
      await fetch(`${nora.url}/go/example.com/absent/@v/list`).then((r) => r.arrayBuffer());
      const viaNora = `${nora.url}/go`;
      const pid = nora.child.pid;
      const timedCpu = async (into: number[], cpu: number[]): Promise<void> => {
        const before = await cpuSeconds(pid);
        into.push(await download(consumer, viaNora, work));
        cpu.push((await cpuSeconds(pid)) - before);
      };
      if (round % 2 === 0) {
        direct.push(await download(consumer, nginx.url, work));
        await timedCpu(cold, coldCpu);
        await timedCpu(warm, warmCpu);
      } else {
        await timedCpu(cold, coldCpu);
        await timedCpu(warm, warmCpu);
        direct.push(await download(consumer, nginx.url, work));
      }
      await stop(nora.child);
    }
    const d = median(direct);
    log(
      `go mod download all, ${zips.length} module versions, empty module cache, ${ROUNDS} rounds:`,
    );
    log(`  direct from nginx      ${spread(direct)}`);
    log(
      `  NORA cold              ${spread(cold)}  ${(median(cold) / d).toFixed(2)}x  target <= 1.2x: ${verdict(median(cold) / d <= 1.2)}  (NORA CPU ${median(coldCpu).toFixed(2)} s)`,
    );
    log(
      `  NORA warm              ${spread(warm)}  ${(median(warm) / d).toFixed(2)}x  target <= 1.0x: ${verdict(median(warm) / d <= 1.0)}  (NORA CPU ${median(warmCpu).toFixed(2)} s)`,
    );
  }

  if (all || sections.has('zip') || sections.has('list')) {
    const nora = await startNora(nginx.url, work);
    const rel = path.relative(tree, largest.file);
    const listRel = 'github.com/stretchr/testify/@v/list';
    await fetch(`${nora.url}/go/${rel}`).then((r) => r.arrayBuffer());
    await fetch(`${nora.url}/go/${listRel}`).then((r) => r.arrayBuffer());
    if (all || sections.has('zip')) {
      const c = await compareRates(
        { url: `${nora.url}/go/${rel}`, pid: nora.child.pid },
        { url: `${nginx.url}/${rel}` },
        { seconds: SECONDS },
      );
      log(
        `.zip GET (${rel}, ${largest.size} bytes), wrk -t2 -c16, ${PAIRS} pairs of ${SECONDS} s:`,
      );
      log(`  ${describeComparison(c, 'nginx', true)}  target >= 0.7x: ${verdict(c.ratio >= 0.7)}`);
    }
    if (all || sections.has('list')) {
      const c = await compareRates(
        { url: `${nora.url}/go/${listRel}`, pid: nora.child.pid },
        { url: `${nginx.url}/${listRel}` },
        { seconds: SECONDS, connections: 64 },
      );
      log(`@v/list GET (warm), wrk -t2 -c64, ${PAIRS} pairs of ${SECONDS} s:`);
      log(`  ${describeComparison(c)}  target >= 0.5x: ${verdict(c.ratio >= 0.5)}`);
    }
    await stop(nora.child);
  }
}

try {
  await main();
} finally {
  await runCleanups();
}
