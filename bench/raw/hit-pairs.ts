/**
 * NORA's CPU per raw GET, two builds interleaved (A B, B A, …): for comparing a branch with main
 * on a shared machine, where wrk's rates are noise and CPU per request is the figure
 * (docs/performance.md). Not part of `npm test`.
 *
 *   PAIRS_A=/tmp/main PAIRS_B=. PAIRS_N=4 HIT_SIZES=1024,1048576 node bench/raw/hit-pairs.ts
 *
 * PAIRS_A / PAIRS_B: roots of the builds (a tree with bin/nora.js, src and node_modules, e.g.
 * `git archive main` with a node_modules link). Per build and pair: a fresh NORA on empty
 * storage (bench/raw's environment: log level warn, rate limit off), one raw file PUT per size
 * in HIT_SIZES (bytes), then per size `wrk -t2 -c16` for HIT_WARM seconds (2, untimed) and
 * HIT_SECONDS (3) counted, with the process's utime + stime (all threads) read around the
 * counted run. Prints µs of CPU per request per run, then the medians and how many pairs B was
 * cheaper in.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, NODE_FLAGS, startNoraProcess } from '../../test/helpers/process.ts';
import { cpuSeconds, log, median } from '../harness.ts';
import { wrk } from '../wrk.ts';

const N = Math.max(1, Number(process.env['PAIRS_N'] ?? 4));
const SECONDS = Math.max(1, Number(process.env['HIT_SECONDS'] ?? 3));
const WARM = Math.max(1, Number(process.env['HIT_WARM'] ?? 2));
const SIZES = (process.env['HIT_SIZES'] ?? '1024,1048576').split(',').map(Number);
const roots = {
  A: path.resolve(process.env['PAIRS_A'] ?? '.'),
  B: path.resolve(process.env['PAIRS_B'] ?? '.'),
};

/** µs per request, per build and size, in pair order. */
const results = new Map<string, number[]>();

async function measure(build: 'A' | 'B', work: string): Promise<void> {
  const port = await freePort();
  const storage = path.join(work, `${build}-${Date.now()}`);
  const nora = await startNoraProcess({
    command: [process.execPath, ...NODE_FLAGS, path.join(roots[build], 'bin/nora.js'), 'serve'],
    cwd: roots[build],
    port,
    env: {
      NORA_STORAGE_PATH: storage,
      NORA_LOG_LEVEL: 'warn',
      NORA_RATE_LIMIT_ENABLED: 'false',
      NORA_RAW_MAX_FILE_SIZE: String(100 * 1024 * 1024),
    },
  });
  try {
    const line: string[] = [];
    for (const size of SIZES) {
      const url = `${nora.url}/raw/hit/file-${size}.bin`;
      const res = await fetch(url, { method: 'PUT', body: Buffer.alloc(size, 0x61) });
      await res.arrayBuffer();
      if (res.status !== 201) throw new Error(`PUT ${url}: ${res.status}`);
      await wrk(url, { seconds: WARM });
      const before = await cpuSeconds(nora.child.pid);
      const run = await wrk(url, { seconds: SECONDS });
      const micros = (((await cpuSeconds(nora.child.pid)) - before) * 1e6) / run.requests;
      if (run.errors > 0 || run.timeouts > 0) throw new Error(`${url}: errors in the run`);
      const key = `${build} ${size}`;
      results.set(key, [...(results.get(key) ?? []), micros]);
      line.push(`${size} B ${micros.toFixed(1)} µs (${run.rps.toFixed(0)} req/s)`);
    }
    log(`${build}: ${line.join(', ')}  load ${os.loadavg()[0]!.toFixed(1)}`);
  } finally {
    nora.child.kill('SIGTERM');
    await nora.exited;
    await fs.rm(storage, { recursive: true, force: true });
  }
}

const work = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-hit-pairs-'));
try {
  log(`A = ${roots.A}\nB = ${roots.B}`);
  for (let pair = 0; pair < N; pair++) {
    const order: ('A' | 'B')[] = pair % 2 === 0 ? ['A', 'B'] : ['B', 'A'];
    for (const build of order) await measure(build, work);
  }
  for (const size of SIZES) {
    const a = results.get(`A ${size}`) ?? [];
    const b = results.get(`B ${size}`) ?? [];
    const cheaper = b.filter((value, i) => value < (a[i] ?? NaN)).length;
    log(
      `${size} B: median A ${median(a).toFixed(1)} µs, B ${median(b).toFixed(1)} µs; B cheaper in ${cheaper} of ${b.length} pairs`,
    );
  }
} finally {
  await fs.rm(work, { recursive: true, force: true });
}
