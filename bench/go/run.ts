/**
 * Go module benchmarks: NORA's GOPROXY proxy side by side with nginx serving a static GOPROXY
 * tree (the upstream, and the physical limit), in one run on this machine. Not part of `npm test`.
 *
 *   npx node bench/go/run.ts [download] [zip] [list]      (default: all three)
 *   BENCH_ROUNDS=3 BENCH_SECONDS=5 BENCH_GO_SYNTHETIC=45 npx node bench/go/run.ts
 *   BENCH_NORA_CPU_PROF=/tmp/prof npx node bench/go/run.ts download   (NORA under --cpu-prof)
 *   BENCH_GO_JIT_WARM=45 npx node bench/go/run.ts download   (cold rounds on a JIT-warm NORA)
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
 *   Targets: cold ≤ 1.2×, warm ≤ 1.0×. With them, unless BENCH_BASELINES=0, the floors of a
 *   Node server here (bench/node-baselines.ts): a node relay to nginx next to NORA cold and a
 *   node static server of the tree next to NORA warm, in the same rounds and alternating order.
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
  hasXMod,
  missingGo,
  startNginx,
  syntheticModules,
} from '../../test/helpers/go.ts';
import { freePort, startNoraProcess, type NoraProcess } from '../../test/helpers/process.ts';
import { removeDir } from '../../test/helpers/tmp.ts';
import { download, writeConsumerModule } from './common.ts';
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
import {
  BASELINES,
  baselineSummary,
  type BaselineServer,
  startBaselines,
} from '../node-baselines.ts';

const ROUNDS = Math.max(1, Math.floor(Number(process.env['BENCH_ROUNDS'] ?? 5)) || 1);
const SECONDS = Math.max(1, Math.floor(Number(process.env['BENCH_SECONDS'] ?? 5)) || 5);
const SYNTHETIC = Math.max(1, Math.floor(Number(process.env['BENCH_GO_SYNTHETIC'] ?? 45)) || 45);
/**
 * BENCH_GO_JIT_WARM=N: before each timed cold download, the fresh NORA downloads (untimed) a
 * chain of N other synthetic modules (`warm.nora.test/…`: other bytes, nothing shared with the
 * timed set), so the cold round runs on a process whose fill path is JIT-compiled, as a server
 * in service has (the node baselines start once and stay warm across rounds). 0 (default): a
 * fresh process, as before.
 */
const JIT_WARM = Math.max(0, Math.floor(Number(process.env['BENCH_GO_JIT_WARM'] ?? 0)) || 0);
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
  const warmSet =
    JIT_WARM > 0
      ? await syntheticModules(path.join(work, 'jit-warm'), JIT_WARM, 'warm.nora.test')
      : [];
  const tree = path.join(work, 'www');
  await buildTree(gotree, tree, [...DEBIAN_MODULES, ...synthetic, ...warmSet]);
  const zips = (await run('find', [tree, '-name', '*.zip'])).stdout.trim().split('\n');
  let largest = { file: '', size: 0 };
  for (const file of zips) {
    const { size } = await fs.stat(file);
    if (size > largest.size) largest = { file, size };
  }
  log(
    `tree: ${zips.length} module versions (${DEBIAN_MODULES.length} Debian modules + the versions they require, ${SYNTHETIC} synthetic` +
      (JIT_WARM > 0 ? `, ${JIT_WARM} more for the JIT warm-up of each fresh NORA)` : ')'),
  );
  const nginx = await startNginx(path.join(work, 'nginx'), tree);
  onCleanup(() => nginx.stop());

  const consumer = path.join(work, 'consumer');
  await writeConsumerModule(consumer, [
    ...DEBIAN_MODULES,
    synthetic[0] ?? { path: '', version: '' },
  ]);

  // The consumer of the JIT warm-up set (BENCH_GO_JIT_WARM): its first module requires the rest.
  const warmConsumer = path.join(work, 'jit-warm-consumer');
  if (warmSet[0] !== undefined) {
    await fs.mkdir(warmConsumer, { recursive: true });
    await fs.writeFile(
      path.join(warmConsumer, 'go.mod'),
      `module example.com/warm\n\ngo 1.19\n\nrequire ${warmSet[0].path} ${warmSet[0].version}\n`,
    );
  }

  if (all || sections.has('download')) {
    const cold: number[] = [];
    const warm: number[] = [];
    const direct: number[] = [];
    const coldCpu: number[] = [];
    const warmCpu: number[] = [];
    const relay: number[] = [];
    const statics: number[] = [];
    const relayCpu: number[] = [];
    const staticCpu: number[] = [];
    // Types as nginx's; warmed with the requests a NORA is warmed with before its cold round.
    const baselines = BASELINES
      ? await startBaselines({
          upstream: nginx.url,
          root: tree,
          types: { zip: 'application/zip', info: 'application/json', mod: 'text/plain' },
          defaultType: 'text/plain',
          warm: ['/github.com/pkg/errors/@v/list', '/example.com/absent/@v/list'],
        })
      : undefined;
    const timedBaseline = async (
      server: BaselineServer | undefined,
      into: number[],
      cpu: number[],
    ): Promise<void> => {
      if (server === undefined) return;
      const before = await cpuSeconds(server.child.pid);
      into.push(await download(consumer, server.url, work));
      cpu.push((await cpuSeconds(server.child.pid)) - before);
    };
    for (let round = 0; round < ROUNDS; round++) {
      const nora = await startNora(nginx.url, work);
      // Warm the process as a server in service has: one list and one 404, untimed.
      await fetch(`${nora.url}/go/github.com/pkg/errors/@v/list`).then((r) => r.arrayBuffer());
      await fetch(`${nora.url}/go/example.com/absent/@v/list`).then((r) => r.arrayBuffer());
      if (warmSet.length > 0) await download(warmConsumer, `${nora.url}/go`, work);
      const viaNora = `${nora.url}/go`;
      const pid = nora.child.pid;
      const timedCpu = async (into: number[], cpu: number[]): Promise<void> => {
        const before = await cpuSeconds(pid);
        into.push(await download(consumer, viaNora, work));
        cpu.push((await cpuSeconds(pid)) - before);
      };
      // Each baseline next to the NORA figure it is read against: relay by cold, static by warm.
      if (round % 2 === 0) {
        direct.push(await download(consumer, nginx.url, work));
        await timedBaseline(baselines?.relay, relay, relayCpu);
        await timedCpu(cold, coldCpu);
        await timedCpu(warm, warmCpu);
        await timedBaseline(baselines?.static, statics, staticCpu);
      } else {
        await timedBaseline(baselines?.static, statics, staticCpu);
        await timedCpu(cold, coldCpu);
        await timedCpu(warm, warmCpu);
        await timedBaseline(baselines?.relay, relay, relayCpu);
        direct.push(await download(consumer, nginx.url, work));
      }
      await stop(nora.child);
      const last = (values: number[]) => (values.at(-1) ?? NaN).toFixed(2);
      log(
        `  round ${round + 1}/${ROUNDS}: direct ${last(direct)} s, NORA cold ${last(cold)} s (CPU ${last(coldCpu)} s), ` +
          `warm ${last(warm)} s (CPU ${last(warmCpu)} s)` +
          (baselines === undefined
            ? ''
            : `, node relay ${last(relay)} s (CPU ${last(relayCpu)} s), static ${last(statics)} s (CPU ${last(staticCpu)} s)`),
      );
    }
    const d = median(direct);
    log(
      `go mod download all, ${zips.length - warmSet.length} module versions, empty module cache, ${ROUNDS} rounds` +
        (warmSet.length > 0
          ? ` (each NORA JIT-warmed by ${warmSet.length} other modules first):`
          : ':'),
    );
    log(`  direct from nginx      ${spread(direct)}`);
    log(
      `  NORA cold              ${spread(cold)}  ${(median(cold) / d).toFixed(2)}x  target <= 1.2x: ${verdict(median(cold) / d <= 1.2)}  (NORA CPU ${median(coldCpu).toFixed(2)} s)`,
    );
    log(
      `  NORA warm              ${spread(warm)}  ${(median(warm) / d).toFixed(2)}x  target <= 1.0x: ${verdict(median(warm) / d <= 1.0)}  (NORA CPU ${median(warmCpu).toFixed(2)} s)`,
    );
    if (baselines !== undefined) {
      const lines = baselineSummary(
        { direct, cold, warm, relay, static: statics },
        { cold: coldCpu, warm: warmCpu, relay: relayCpu, static: staticCpu },
      );
      for (const line of lines) log(line);
    }
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
