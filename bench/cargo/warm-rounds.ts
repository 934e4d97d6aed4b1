/**
 * What a Cargo warm round costs NORA, round after round (issue 15): one NORA on empty storage
 * behind the bench's nginx tree, one cold `cargo fetch` of the whole lockfile, then WARM (default
 * 3) warm fetches, each with an empty CARGO_HOME. Per round: wall time, NORA's CPU (whole process
 * and main thread, /proc), and with NORA_FLAGS=--trace-gc the collections that ran in it. With
 * METRICS=1 the /metrics counters that moved over the warm rounds (requests, hits, audit events).
 * ROOTS=<dir>,<dir>: NORA checkouts to compare, alternating by pair (PAIRS, default 1). PAUSE=<ms>:
 * a pause before the warm rounds, printing `READY <pid>` (for attaching perf or strace).
 *
 *   ROOTS=$PWD WARM=4 NORA_FLAGS=--trace-gc node bench/cargo/warm-rounds.ts
 *
 * The tree is made once in BENCH_CARGO_TREE (default /tmp/nora-bench-cargo-warm-tree).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { freePort, NODE_FLAGS, startNoraProcess } from '../../test/helpers/process.ts';
import { cargoFetch, lockedConsumer } from './common.ts';
import { cpuSeconds, runCleanups, stop, stopOnExit, tmp } from '../harness.ts';
import { makeTree, startNginx } from '../../test/e2e/cargo-proxy/real-tree.ts';

const ROOTS = (process.env['ROOTS'] ?? process.cwd()).split(',').filter((root) => root !== '');
const WARM = Math.max(1, Number(process.env['WARM'] ?? 3) || 3);
const PAIRS = Math.max(1, Number(process.env['PAIRS'] ?? 1) || 1);
const FLAGS = (process.env['NORA_FLAGS'] ?? '').split(' ').filter((flag) => flag !== '');
const TREE = process.env['BENCH_CARGO_TREE'] ?? '/tmp/nora-bench-cargo-warm-tree';

async function mainThreadCpu(pid: number | undefined): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function counters(text: string): Map<string, number> {
  const map = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    map.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return map;
}

await fs.mkdir(TREE, { recursive: true, mode: 0o755 });
const manifest = await makeTree(TREE);
const nginx = await startNginx(await tmp('nora-bench-cargo-warm-nginx-'), TREE);
const { consumer, crates } = await lockedConsumer(manifest, nginx.index);

const results: Record<string, { cpu: number[]; wall: number[] }> = {};
for (let pair = 0; pair < PAIRS; pair++) {
  for (const root of pair % 2 === 0 ? ROOTS : [...ROOTS].reverse()) {
    const dir = await tmp('nora-bench-cargo-warm-', { readable: true });
    const nora = await startNoraProcess({
      port: await freePort(),
      command: [process.execPath, ...NODE_FLAGS, ...FLAGS, path.join(root, 'bin/nora.js'), 'serve'],
      cwd: root,
      env: {
        NORA_STORAGE_PATH: path.join(dir, 'storage'),
        NORA_CARGO_PROXY: nginx.index,
        NORA_LOG_LEVEL: 'warn',
        NORA_RATE_LIMIT_ENABLED: 'false',
      },
    });
    stopOnExit(nora.child);
    const pid = nora.child.pid;
    try {
      await fetch(`${nora.url}/cargo/index/config.json`).then((res) => res.arrayBuffer());
      const index = `${nora.url}/cargo/index/`;
      const before = await cpuSeconds(pid);
      const cold = await cargoFetch(consumer, index);
      console.log(
        `${root}: cold ${cold.toFixed(2)} s, NORA CPU ${((await cpuSeconds(pid)) - before).toFixed(2)} s`,
      );
      const metricsBefore = counters(await (await fetch(`${nora.url}/metrics`)).text());
      if (process.env['PAUSE'] !== undefined) {
        console.log('READY', pid);
        await new Promise((resolve) => setTimeout(resolve, Number(process.env['PAUSE'])));
      }
      for (let round = 0; round < WARM; round++) {
        const outputAt = nora.output().length;
        const [cpu0, main0] = [await cpuSeconds(pid), await mainThreadCpu(pid)];
        const wall = await cargoFetch(consumer, index);
        const [cpu1, main1] = [await cpuSeconds(pid), await mainThreadCpu(pid)];
        const entry = (results[root] ??= { cpu: [], wall: [] });
        entry.cpu.push(cpu1 - cpu0);
        entry.wall.push(wall);
        console.log(
          `${root}: warm ${round + 1} ${wall.toFixed(2)} s, NORA CPU ${(cpu1 - cpu0).toFixed(2)} s ` +
            `(main thread ${(main1 - main0).toFixed(2)} s; ${(((cpu1 - cpu0) / (2 * crates)) * 1e6).toFixed(0)} µs per request)`,
        );
        if (FLAGS.includes('--trace-gc')) {
          const lines = nora.output().slice(outputAt).split('\n');
          const full = lines.filter((line) => line.includes('Mark-Compact'));
          console.log(
            `  scavenges ${lines.filter((line) => line.includes('Scavenge')).length}, mark-compacts ${full.length}` +
              full
                .map(
                  (line) =>
                    `\n    ${line.replace(/^.*?Mark-Compact/, 'Mark-Compact').slice(0, 120)}`,
                )
                .join(''),
          );
        }
      }
      if (process.env['METRICS'] !== undefined) {
        const after = counters(await (await fetch(`${nora.url}/metrics`)).text());
        for (const [name, value] of after) {
          const delta = value - (metricsBefore.get(name) ?? 0);
          if (delta !== 0 && !/duration|uptime|process_|nodejs/.test(name))
            console.log(`  ${name} +${delta}`);
        }
      }
    } finally {
      await stop(nora.child);
    }
  }
}
console.log(
  `load ${(await fs.readFile('/proc/loadavg', 'utf8')).trim()}; ${crates} crates, ${2 * crates} requests per round`,
);
for (const [root, { cpu, wall }] of Object.entries(results))
  console.log(
    `${root}: CPU ${cpu.map((x) => x.toFixed(2)).join(' ')} s; wall ${wall.map((x) => x.toFixed(2)).join(' ')} s`,
  );
await nginx.stop();
await runCleanups();
