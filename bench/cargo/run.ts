/**
 * Cargo benchmarks: NORA's proxy side by side with nginx serving a static sparse index (the
 * upstream, and the physical limit), in one run on this machine. Not part of `npm test`.
 *
 *   npx node bench/cargo/run.ts [fetch] [index] [crate]      (default: all three)
 *   BENCH_ROUNDS=3 BENCH_SECONDS=5 BENCH_CARGO_TREE=/tmp/tree npx node bench/cargo/run.ts
 *   BENCH_NORA_CPU_PROF=/tmp/prof npx node bench/cargo/run.ts fetch   (NORA under --cpu-prof)
 *
 * The tree: bench/cargo/make_tree.py, the crate sources of Debian's librust-*-dev packages
 * (/usr/share/cargo/registry, ≥ 100 crates) as `.crate` files + a sparse index laid out like
 * crates.io's; BENCH_CARGO_TREE names a tree to reuse (made when missing, kept afterwards).
 *
 * - fetch: `cargo fetch` of a lockfile holding every crate of the tree (a project depending on
 *   each, resolved once against nginx), empty CARGO_HOME each time, crates-io replaced by the
 *   registry under test. Directly from nginx vs through NORA's default `/cargo/` group with
 *   NORA_CARGO_PROXY=<nginx>/index/. Each of BENCH_ROUNDS rounds (default 5) starts a NORA on
 *   empty storage, warms the process (config.json and a 404 index file, no crate of the set),
 *   then times cold (every index file and `.crate` fetched from nginx) and warm (a second fetch);
 *   a direct fetch runs next to each, the order alternating by round. Reported: medians, min–max
 *   and ratios to direct. Targets: cold ≤ 1.2×, warm ≤ 1.0×. With them, unless
 *   BENCH_BASELINES=0, the floors of a Node server here (bench/node-baselines.ts): a node relay
 *   to nginx timed in each round's cold phase, a node static server of the tree in its warm
 *   phase, next to NORA (config.json's `dl` rewritten by each to its own origin).
 * - index: GET req/s of a warm proxied index file (tokio's, through the group), wrk -t2 -c64,
 *   vs nginx serving NORA's answer as a static file. Target ≥ 0.5× nginx.
 * - crate: GET throughput of the tree's largest `.crate`, cached, wrk -t2 -c16, vs nginx
 *   serving it from the tree. Target ≥ 0.7× nginx.
 *
 * The GET figures: the median ratio of BENCH_PAIRS (default 3) alternating NORA/nginx wrk runs
 * of BENCH_SECONDS after an untimed warm-up of each (bench/wrk.ts compareRates).
 *
 * Every server listens on 127.0.0.1 on a free port and is stopped by PID at the end.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { freePort, startNoraProcess, type NoraProcess } from '../../test/helpers/process.ts';
import { run } from '../../test/helpers/tools.ts';
import { cargoFetch, lockedConsumer } from './common.ts';
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
  tmp,
  verdict,
} from '../harness.ts';
import { compareRates, describeComparison, PAIRS } from '../wrk.ts';
import {
  makeTree,
  type Nginx,
  startNginx,
  type TreeManifest,
} from '../../test/e2e/cargo-proxy/real-tree.ts';
import { BASELINES, baselineSummary, startBaselines } from '../node-baselines.ts';

const ROUNDS = Math.max(1, Math.floor(Number(process.env['BENCH_ROUNDS'] ?? 5)) || 1);
const SECONDS = Math.max(1, Math.floor(Number(process.env['BENCH_SECONDS'] ?? 5)) || 5);
const sections = new Set(process.argv.slice(2));
const all = sections.size === 0;
const results: Record<string, unknown> = {};

async function startNora(upstream: string): Promise<NoraProcess> {
  const dir = await tmp('nora-bench-cargo-', { readable: true });
  const nora = await startNoraProcess({
    port: await freePort(),
    ...noraCommand(),
    env: {
      NORA_STORAGE_PATH: path.join(dir, 'storage'),
      NORA_CARGO_PROXY: upstream,
      NORA_LOG_LEVEL: 'warn',
      // Benchmarks measure the server, not the limiter (NORA's own benchmarks do the same).
      NORA_RATE_LIMIT_ENABLED: 'false',
    },
  });
  stopOnExit(nora.child);
  return nora;
}

/**
 * BENCH_NORA_CPU_PROF=<dir>: NORA runs under `node --cpu-prof` and writes its profile there when
 * the bench stops it (SIGTERM → graceful exit). For finding where a cold fill's CPU goes.
 */
let profiles = 0;

function noraCommand(): { command?: string[] } {
  const dir = process.env['BENCH_NORA_CPU_PROF'];
  const command = cpuProfCommand(
    dir === '' ? undefined : dir,
    `nora-cargo-${process.pid}-${profiles++}.cpuprofile`,
  );
  return command === undefined ? {} : { command };
}

async function get(url: string): Promise<Buffer> {
  const res = await fetch(url);
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200)
    throw new Error(`GET ${url}: ${res.status} ${body.toString().slice(0, 300)}`);
  return body;
}

async function fetchRounds(nginx: Nginx, root: string, manifest: TreeManifest): Promise<void> {
  const { consumer, crates } = await lockedConsumer(manifest, nginx.index);
  log(
    `\n== cargo fetch of a lockfile of ${crates} crates (${(manifest.bytes / 1e6).toFixed(1)} MB of .crate files), empty CARGO_HOME; ` +
      `${ROUNDS} round(s), fresh NORA each, order alternating`,
  );
  const times = {
    direct: [] as number[],
    cold: [] as number[],
    warm: [] as number[],
    relay: [] as number[],
    static: [] as number[],
  };
  const noraCpu = { cold: [] as number[], warm: [] as number[] };
  const baselineCpu = { relay: [] as number[], static: [] as number[] };
  // The floors: each phase also times the Node baseline it is to be read against (cold: the
  // relay, warm: the static server), in the same alternating order as direct and NORA.
  // config.json's `dl`, written for nginx, is rewritten by each to its own origin; warmed as a
  // NORA is before its cold round.
  const crate = manifest.crates[0];
  const baselines = BASELINES
    ? await startBaselines({
        upstream: nginx.url,
        root,
        types: { json: 'application/json', crate: 'application/gzip' },
        defaultType: 'application/octet-stream',
        rewrite: /^\/index\/config\.json$/,
        warm: [
          '/index/config.json',
          '/index/no/ra/nora-bench-absent',
          ...(crate === undefined
            ? []
            : [`/crates/${crate.name}/${crate.name}-${crate.vers}.crate`]),
        ],
      })
    : undefined;
  const phaseBaseline = { cold: baselines?.relay, warm: baselines?.static };
  for (let round = 0; round < ROUNDS; round++) {
    const nora = await startNora(nginx.index);
    try {
      await get(`${nora.url}/cargo/index/config.json`);
      await fetch(`${nora.url}/cargo/index/no/ra/nora-bench-absent`).then((r) => r.arrayBuffer());
      const index = `${nora.url}/cargo/index/`;
      for (const phase of ['cold', 'warm'] as const) {
        const baseline = phaseBaseline[phase];
        const order = ['direct', ...(baseline === undefined ? [] : ['baseline']), 'nora'];
        if (round % 2 === 1) order.reverse();
        for (const who of order) {
          if (who === 'direct') {
            const seconds = await cargoFetch(consumer, nginx.index, crates);
            times.direct.push(seconds);
            log(`round ${round + 1}/${ROUNDS}: direct from nginx ${seconds.toFixed(2)} s`);
          } else if (who === 'baseline' && baseline !== undefined) {
            const before = await cpuSeconds(baseline.child.pid);
            const seconds = await cargoFetch(consumer, `${baseline.url}/index/`, crates);
            const cpu = (await cpuSeconds(baseline.child.pid)) - before;
            times[baseline.kind].push(seconds);
            baselineCpu[baseline.kind].push(cpu);
            log(
              `round ${round + 1}/${ROUNDS}: node ${baseline.kind} ${seconds.toFixed(2)} s (its CPU ${cpu.toFixed(2)} s)`,
            );
          } else {
            const before = await cpuSeconds(nora.child.pid);
            const seconds = await cargoFetch(consumer, index, crates);
            const cpu = (await cpuSeconds(nora.child.pid)) - before;
            times[phase].push(seconds);
            noraCpu[phase].push(cpu);
            // Each crate costs Cargo two requests: its index file and its `.crate`.
            log(
              `round ${round + 1}/${ROUNDS}: NORA ${phase} ${seconds.toFixed(2)} s (NORA CPU ${cpu.toFixed(2)} s, ` +
                `${((cpu / (2 * crates)) * 1e3).toFixed(2)} ms per request)`,
            );
          }
        }
      }
    } finally {
      await stop(nora.child);
    }
  }
  const d = median(times.direct);
  const cold = median(times.cold) / d;
  const warm = median(times.warm) / d;
  results['fetch'] = { crates, rounds: ROUNDS, times, noraCpu, baselineCpu, cold, warm };
  log(
    `median (min–max): direct ${spread(times.direct)}; NORA cold ${spread(times.cold)}, warm ${spread(times.warm)}`,
  );
  log(
    `cold ${cold.toFixed(2)}× direct (target ≤ 1.2×) ${verdict(cold <= 1.2)}; ` +
      `warm ${warm.toFixed(2)}× direct (target ≤ 1.0×) ${verdict(warm <= 1.0)}`,
  );
  if (baselines !== undefined)
    for (const line of baselineSummary(times, { ...noraCpu, ...baselineCpu })) log(line);
}

async function getSections(nginx: Nginx, root: string, manifest: TreeManifest): Promise<void> {
  const nora = await startNora(nginx.index);
  const pid = nora.child.pid;
  try {
    if (all || sections.has('index')) {
      log(
        `\n== index file GET, warm (wrk -t2 -c64, ${PAIRS} pairs of ${SECONDS} s runs) vs nginx serving NORA's answer as a static file`,
      );
      const url = `${nora.url}/cargo/index/to/ki/tokio`;
      const body = await get(url);
      const pages = path.join(root, 'bench-pages');
      await fs.mkdir(pages, { recursive: true, mode: 0o755 });
      await fs.writeFile(path.join(pages, 'tokio'), body, { mode: 0o644 });
      const c = await compareRates(
        { url, pid },
        { url: `${nginx.url}/bench-pages/tokio` },
        { seconds: SECONDS, connections: 64 },
      );
      results['index'] = {
        bytes: body.length,
        noraRps: c.noraRps,
        nginxRps: c.referenceRps,
        ratio: c.ratio,
        noraCpuMicros: c.cpuMicros,
      };
      log(
        `tokio index file ${body.length} B: ${describeComparison(c)} (target ≥ 0.5×) ${verdict(c.ratio >= 0.5)}`,
      );
    }
    if (all || sections.has('crate')) {
      const big = [...manifest.crates].sort((a, b) => b.size - a.size)[0];
      if (big === undefined) throw new Error('empty tree');
      log(
        `\n== .crate GET, cached (wrk -t2 -c16, ${PAIRS} pairs of ${SECONDS} s runs): ${big.name} ${big.vers}, ${(big.size / 1e6).toFixed(2)} MB`,
      );
      const url = `${nora.url}/cargo/api/v1/crates/${big.name}/${big.vers}/download`;
      const body = await get(url);
      if (body.length !== big.size)
        throw new Error(`${url}: ${body.length} bytes, expected ${big.size}`);
      await new Promise((resolve) => setTimeout(resolve, 500)); // the fill commits
      const c = await compareRates(
        { url, pid },
        { url: `${nginx.url}/crates/${big.name}/${big.name}-${big.vers}.crate` },
        { seconds: SECONDS },
      );
      results['crate'] = {
        bytes: big.size,
        noraRps: c.noraRps,
        nginxRps: c.referenceRps,
        ratio: c.ratio,
        noraCpuMicros: c.cpuMicros,
      };
      log(`${describeComparison(c, 'nginx', true)} (target ≥ 0.7×) ${verdict(c.ratio >= 0.7)}`);
    }
  } finally {
    await stop(nora.child);
  }
}

try {
  const given = process.env['BENCH_CARGO_TREE'];
  const root =
    given !== undefined && given !== ''
      ? path.resolve(given)
      : path.join(await tmp('nora-bench-cargo-tree-', { readable: true }), 'tree');
  const started = performance.now();
  const manifest = await makeTree(root);
  await run('chmod', ['-R', 'a+rX', root]);
  log(
    `tree: ${manifest.crates.length} crates in ${((performance.now() - started) / 1000).toFixed(1)} s: ${root}`,
  );
  const nginx = await startNginx(await tmp('nora-bench-cargo-nginx-', { readable: true }), root, 2);
  onCleanup(() => nginx.stop());
  if (all || sections.has('fetch')) await fetchRounds(nginx, root, manifest);
  if (all || sections.has('index') || sections.has('crate'))
    await getSections(nginx, root, manifest);
  log(`\n${JSON.stringify(results)}`);
} finally {
  await runCleanups();
}
