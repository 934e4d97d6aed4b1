/**
 * pip's request sequence without pip: NORA's own latency on a cold and a warm install, against
 * nginx serving the same tree, with none of pip's CPU (resolver, unpacking) in the figure. Not
 * part of `npm test`; a companion of bench/pypi/run.ts for finding where NORA's time goes.
 *
 *   BENCH_PYPI_TREE=/tmp/tree npx node bench/pypi/replay.ts      (BENCH_ROUNDS, default 5)
 *
 * What pip 24 does for `pip install <set>` (one keep-alive connection, one request at a time):
 * per project the page (PEP 691 JSON Accept), then the chosen wheel's PEP 658 `.metadata`; once
 * resolved, every wheel. The replay does exactly that, in that order, each request waiting for
 * the previous one's whole body. Per round: a fresh NORA on empty storage (its process warmed on
 * a project outside the set, as run.ts does), then direct (nginx), cold and warm through NORA's
 * `/simple/` group with NORA_PYPI_PROXY=<nginx>/simple/. Reported: medians over the rounds of the
 * total and of each request kind's sum, in ms, and NORA − direct per project.
 * BENCH_CPU_PROF=<dir> runs NORA with `--cpu-prof`. The tree must exist (run.ts makes it).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { freePort, startNoraProcess, type NoraProcess } from '../../test/helpers/process.ts';
import {
  cpuProfCommand,
  cpuSeconds,
  log,
  median,
  runCleanups,
  startStaticNginx,
  stop,
  stopOnExit,
  tmp,
} from '../harness.ts';

const ROUNDS = Math.max(1, Math.floor(Number(process.env['BENCH_ROUNDS'] ?? 5)) || 1);
const CPU_PROF = process.env['BENCH_CPU_PROF'];
const PIP_ACCEPT =
  'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01';

let profiles = 0;
async function startNora(upstream: string): Promise<NoraProcess> {
  const dir = await tmp('nora-replay-');
  const port = await freePort();
  const command = cpuProfCommand(CPU_PROF, `nora-replay-${process.pid}-${profiles++}.cpuprofile`, [
    '--cpu-prof-interval',
    '250',
  ]);
  const nora = await startNoraProcess({
    port,
    ...(command ? { command } : {}),
    env: {
      NORA_STORAGE_PATH: path.join(dir, 'storage'),
      NORA_PYPI_PROXY: upstream,
      NORA_LOG_LEVEL: 'warn',
      NORA_RATE_LIMIT_ENABLED: 'false',
    },
  });
  stopOnExit(nora.child);
  return nora;
}

/** One connection, as pip's session keeps. */
const agent = new Agent({ connections: 1, pipelining: 1 });

async function get(url: string, accept?: string): Promise<Buffer> {
  const res = await request(url, {
    headers: accept === undefined ? {} : { accept },
    dispatcher: agent,
  });
  const body = Buffer.from(await res.body.arrayBuffer());
  if (res.statusCode !== 200)
    throw new Error(`GET ${url}: ${res.statusCode} ${body.toString().slice(0, 200)}`);
  return body;
}

function normalise(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** Wheel links of a page (HTML or PEP 691 JSON), absolute. */
function wheelsOf(body: Buffer, pageUrl: string): string[] {
  const text = body.toString('utf8');
  let hrefs: string[];
  if (text.trimStart().startsWith('{')) {
    hrefs = (JSON.parse(text) as { files: { url: string }[] }).files.map((f) => f.url);
  } else {
    hrefs = [...text.matchAll(/href="([^"]+)"/g)].map((m) => (m[1] ?? '').replace(/&amp;/g, '&'));
  }
  return hrefs
    .map((h) => new URL(h, pageUrl))
    .map((u) => {
      u.hash = '';
      return u.href;
    })
    .filter((u) => u.endsWith('.whl'));
}

/** The newest wheel by its version (numeric-aware filename order is enough for the tree). */
function newest(urls: readonly string[]): string {
  const sorted = [...urls].sort((a, b) =>
    path.basename(a).localeCompare(path.basename(b), 'en', { numeric: true }),
  );
  const last = sorted.at(-1);
  if (last === undefined) throw new Error('no wheel');
  return last;
}

interface Timing {
  total: number;
  page: number;
  metadata: number;
  wheel: number;
  /** ms per request, by `<kind> <project>`. */
  each: Map<string, number>;
}

async function replay(index: string, projects: readonly string[]): Promise<Timing> {
  const t: Timing = { total: 0, page: 0, metadata: 0, wheel: 0, each: new Map() };
  const wheels: string[] = [];
  const started = performance.now();
  for (const project of projects) {
    const pageUrl = `${index}${normalise(project)}/`;
    let s = performance.now();
    const page = await get(pageUrl, PIP_ACCEPT);
    t.page += performance.now() - s;
    t.each.set(`page ${project}`, performance.now() - s);
    const wheel = newest(wheelsOf(page, pageUrl));
    s = performance.now();
    await get(`${wheel}.metadata`);
    t.metadata += performance.now() - s;
    t.each.set(`metadata ${project}`, performance.now() - s);
    wheels.push(wheel);
  }
  for (const wheel of wheels) {
    const s = performance.now();
    await get(wheel);
    t.wheel += performance.now() - s;
    t.each.set(`wheel ${path.basename(wheel)}`, performance.now() - s);
  }
  t.total = performance.now() - started;
  return t;
}

function row(label: string, runs: readonly Timing[]): string {
  const f = (k: 'total' | 'page' | 'metadata' | 'wheel') =>
    median(runs.map((r) => r[k]))
      .toFixed(0)
      .padStart(6);
  return `${label.padEnd(8)} total ${f('total')}  pages ${f('page')}  metadata ${f('metadata')}  wheels ${f('wheel')}`;
}

/**
 * Per kind, the sum over requests of each request's fastest time over the rounds: what the
 * sequence costs when the machine's load left it alone (the load moves medians by 2x here).
 */
function floor(label: string, runs: readonly Timing[]): string {
  const best = new Map<string, number>();
  for (const run of runs)
    for (const [k, v] of run.each) best.set(k, Math.min(best.get(k) ?? Infinity, v));
  const sum = (kind: string) =>
    [...best]
      .filter(([k]) => k.startsWith(`${kind} `))
      .reduce((a, [, v]) => a + v, 0)
      .toFixed(0)
      .padStart(6);
  const all = [...best.values()].reduce((a, v) => a + v, 0);
  return `${label.padEnd(8)} total ${all.toFixed(0).padStart(6)}  pages ${sum('page')}  metadata ${sum('metadata')}  wheels ${sum('wheel')}`;
}

try {
  const given = process.env['BENCH_PYPI_TREE'];
  if (given === undefined || given === '') throw new Error('BENCH_PYPI_TREE names the tree');
  const root = path.resolve(given);
  const manifest = JSON.parse(await fs.readFile(path.join(root, 'manifest.json'), 'utf8')) as {
    install: string[];
  };
  const projects = manifest.install;
  const { url: nginx } = await startStaticNginx(root, {
    prefix: 'nora-replay-nginx-',
    http: [
      'types { text/html html; application/json json; } default_type application/octet-stream;',
    ],
    readyPath: '/simple/',
  });
  log(
    `replay of pip's requests for ${projects.length} projects; ${ROUNDS} rounds; load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const runs = { direct: [] as Timing[], cold: [] as Timing[], warm: [] as Timing[] };
  const cpu = { cold: [] as number[], warm: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    const nora = await startNora(`${nginx}/simple/`);
    try {
      const page = await get(`${nora.url}/simple/pip/`, PIP_ACCEPT);
      const wheel = newest(wheelsOf(page, `${nora.url}/simple/pip/`));
      await get(wheel);
      await get(`${wheel}.metadata`);
      runs.direct.push(await replay(`${nginx}/simple/`, projects));
      // Profiled: quiet gaps around each phase, to find them in the profile's timeline.
      const gap = () => new Promise((resolve) => setTimeout(resolve, CPU_PROF ? 2000 : 0));
      const pid = nora.child.pid;
      await gap();
      let before = await cpuSeconds(pid);
      runs.cold.push(await replay(`${nora.url}/simple/`, projects));
      // Background work (prefetches, blob writes) counts too.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      cpu.cold.push((await cpuSeconds(pid)) - before);
      await gap();
      before = await cpuSeconds(pid);
      runs.warm.push(await replay(`${nora.url}/simple/`, projects));
      cpu.warm.push((await cpuSeconds(pid)) - before);
      await gap();
      log(
        `round ${round + 1}: direct ${runs.direct.at(-1)?.total.toFixed(0)} ms, cold ${runs.cold.at(-1)?.total.toFixed(0)} ms, warm ${runs.warm.at(-1)?.total.toFixed(0)} ms`,
      );
    } finally {
      await stop(nora.child);
    }
  }
  log('medians, ms:');
  for (const [label, r] of Object.entries(runs)) log(row(label, r));
  log('sums of per-request minima over the rounds, ms:');
  for (const [label, r] of Object.entries(runs)) log(floor(label, r));
  const d = median(runs.direct.map((r) => r.total));
  const perProject = (k: 'cold' | 'warm') =>
    ((median(runs[k].map((r) => r.total)) - d) / projects.length).toFixed(2);
  log(
    `NORA CPU seconds, median: cold ${median(cpu.cold).toFixed(2)} (${cpu.cold.map((c) => c.toFixed(2)).join(' ')}), warm ${median(cpu.warm).toFixed(2)}`,
  );
  log(`NORA − direct per project: cold ${perProject('cold')} ms, warm ${perProject('warm')} ms`);
} finally {
  await agent.close();
  await runCleanups();
}
