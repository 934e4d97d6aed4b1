/**
 * PyPI benchmarks: NORA side by side with nginx serving a static PEP 503 tree (the upstream, and
 * the physical limit), in one run on this machine. Not part of `npm test`.
 *
 *   npx node bench/pypi/run.ts [install] [page] [file]      (default: all three)
 *   BENCH_ROUNDS=3 BENCH_SECONDS=5 BENCH_PYPI_TREE=/tmp/tree npx node bench/pypi/run.ts
 *
 * The tree: bench/pypi/make_tree.py (Debian's python3: real PyPI wheels found on the machine,
 * the pure-Python distributions Debian installed repacked as wheels, a dependency chain built with
 * `python3 -m build --no-isolation --wheel`, a project with 500 small files, a ~6 MB wheel; PEP
 * 658 `.metadata` files and `data-core-metadata` as PyPI has them). BENCH_PYPI_TREE names a tree
 * to reuse (made when the directory does not exist yet, kept afterwards).
 *
 * - install: `pip install` of the whole install set (≥ 30 projects, one command, all their
 *   dependencies inside the set) into a fresh venv (`python3 -m venv --without-pip`, pip run with
 *   `--python`), `--no-cache-dir --no-compile`, pip's configuration files and PIP_* variables
 *   ignored. Directly from nginx vs through NORA's default `/simple/` group with
 *   NORA_PYPI_PROXY=<nginx>/simple/. Each of BENCH_ROUNDS rounds (default 5) starts a NORA on
 *   empty storage, warms the process (one untimed page + file + .metadata of a project outside
 *   the set, as a server in service has compiled its hot code), then times: cold = the first
 *   install through NORA (every page, .metadata and wheel fetched from nginx), warm = a second
 *   install in another fresh venv; a direct install runs next to each, the order alternating by
 *   round. Reported: medians and min–max, ratios of the medians to direct.
 *   Targets: cold ≤ 1.2×, warm ≤ 1.0× the direct time. `--no-compile`: byte-compiling the
 *   installed files is the same client CPU either way and doubles the time (11.5 → 5.1 s here).
 *   With them, unless BENCH_BASELINES=0, the floors of a Node server here
 *   (bench/node-baselines.ts): a node relay to nginx timed in each round's cold phase, a node
 *   static server of the tree in its warm phase, next to NORA in the alternating order.
 * - page: GET req/s of the 500-file project page, warm, wrk -t2 -c64, vs nginx serving the same
 *   bytes as a static file (NORA's page saved into nginx's root: the same page, not merely the
 *   same files): proxied (`bench-many`, from the tree through NORA's proxy) and hosted
 *   (`bench-hosted-many`, 500 wheels uploaded through the legacy upload API), as HTML
 *   (`Accept: text/html`), and as PEP 691 JSON with pip's Accept header, identity and gzip-coded
 *   (pip sends `Accept-Encoding: gzip`; nginx then serves the page's `.gz` by gzip_static).
 *   Target ≥ 0.5× nginx.
 * - file: GET throughput of one ~6 MB wheel, wrk -t2 -c16, proxied (cached after a first GET)
 *   and hosted, vs nginx serving it from the tree. Target ≥ 0.7× nginx.
 *
 * BENCH_CPU_PROF=<dir>: NORA runs with `--cpu-prof --cpu-prof-dir <dir>` (one .cpuprofile per
 * NORA process, written when it stops), and each line reports NORA's CPU seconds.
 * Every server listens on 127.0.0.1 on a free port and is stopped by PID at the end.
 * The GET figures: the median ratio of BENCH_PAIRS (default 3) alternating NORA/nginx wrk runs
 * of BENCH_SECONDS after an untimed warm-up of each (bench/wrk.ts compareRates).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { freePort, startNoraProcess, type NoraProcess } from '../../test/helpers/process.ts';
import { missingTools, run } from '../../test/helpers/tools.ts';
import { compareRates, describeComparison, PAIRS, wrk } from '../wrk.ts';
import { BASELINES, baselineSummary, startBaselines } from '../node-baselines.ts';
import {
  cpuProfCommand,
  cpuSeconds,
  log,
  median,
  runCleanups,
  spread,
  startStaticNginx,
  stop,
  stopOnExit,
  tmp,
  verdict,
} from '../harness.ts';

const PYTHON = '/usr/bin/python3';
/**
 * The pip that installs: BENCH_PIP=system is Debian's (`python3 -m pip`, 23.0.1 on bookworm);
 * otherwise a pip wheel run as `python3 <wheel>/pip` — BENCH_PIP names one, by default the newest
 * pip wheel bundled with a pyenv Python here (pip 24.2). Debian's pip 23.0.1 has the PEP 714 bug:
 * it crashes (`TypeError: unhashable type: 'dict'`) on a PEP 691 JSON page that carries the
 * `dist-info-metadata` key.
 */
const PIP = await choosePip(process.env['BENCH_PIP']);
const ROUNDS = Math.max(1, Math.floor(Number(process.env['BENCH_ROUNDS'] ?? 5)) || 1);
const SECONDS = Math.max(1, Math.floor(Number(process.env['BENCH_SECONDS'] ?? 5)) || 5);
const CPU_PROF = process.env['BENCH_CPU_PROF'];
/** What pip 23 sends for a project page (PEP 691 first). */
const PIP_ACCEPT =
  'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01';
const sections = new Set(process.argv.slice(2));
const all = sections.size === 0;
const results: Record<string, unknown> = {};

interface Manifest {
  install: string[];
  installBytes: number;
  sources: { realWheels: string[]; debianRepacks: string[]; built: string[] };
  projects: number;
  files: number;
  many: { project: string; files: number };
  big: { project: string; filename: string; size: number };
  hostedMany: { project: string; files: number };
  hostedBig: { project: string; filename: string };
}

async function choosePip(wanted: string | undefined): Promise<{ args: string[]; label: string }> {
  if (wanted === 'system') return { args: ['-m', 'pip'], label: 'python3 -m pip (Debian)' };
  let wheel = wanted;
  if (wheel === undefined || wheel === '') {
    const found: { version: number[]; path: string }[] = [];
    const base = '/root/.pyenv/versions';
    for (const v of await fs.readdir(base).catch(() => [] as string[])) {
      const lib = path.join(base, v, 'lib');
      for (const py of await fs.readdir(lib).catch(() => [] as string[])) {
        const bundled = path.join(lib, py, 'ensurepip', '_bundled');
        for (const f of await fs.readdir(bundled).catch(() => [] as string[])) {
          const m = /^pip-(\d+)\.(\d+)(?:\.(\d+))?-py3-none-any\.whl$/.exec(f);
          if (m)
            found.push({
              version: [1, 2, 3].map((i) => Number(m[i] ?? 0)),
              path: path.join(bundled, f),
            });
        }
      }
    }
    found.sort((a, b) => a.version.reduce((acc, x, i) => acc || x - (b.version[i] ?? 0), 0));
    wheel = found.at(-1)?.path;
    if (wheel === undefined) return { args: ['-m', 'pip'], label: 'python3 -m pip (Debian)' };
  }
  return { args: [path.join(wheel, 'pip')], label: path.basename(wheel) };
}

/** The environment pip runs in: none of the machine's PIP_* settings or configuration files. */
function pipEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PIP_')) env[k] = v;
  env['PIP_CONFIG_FILE'] = os.devNull;
  return env;
}

async function makeTree(): Promise<{ root: string; manifest: Manifest }> {
  const given = process.env['BENCH_PYPI_TREE'];
  let root: string;
  if (given !== undefined && given !== '') {
    root = path.resolve(given);
    const exists = await fs.stat(path.join(root, 'manifest.json')).then(
      () => true,
      () => false,
    );
    if (!exists) await generate(root);
  } else {
    root = path.join(await tmp('nora-bench-pypi-tree-'), 'tree');
    await generate(root);
  }
  // nginx workers drop root privileges: every directory on the way must be world-readable.
  await run('chmod', ['-R', 'a+rX', root]);
  await fs.chmod(path.dirname(root), 0o755);
  const manifest = JSON.parse(
    await fs.readFile(path.join(root, 'manifest.json'), 'utf8'),
  ) as Manifest;
  return { root, manifest };
}

async function generate(root: string): Promise<void> {
  const started = performance.now();
  await run(PYTHON, [path.join(import.meta.dirname, 'make_tree.py'), root], {
    timeoutMs: 300_000,
  });
  log(`tree generated in ${((performance.now() - started) / 1000).toFixed(1)} s: ${root}`);
}

let profiles = 0;
async function startNora(upstream: string): Promise<NoraProcess> {
  const dir = await tmp('nora-bench-pypi-');
  const port = await freePort();
  const command = cpuProfCommand(CPU_PROF, `nora-pypi-${process.pid}-${profiles++}.cpuprofile`);
  const nora = await startNoraProcess({
    port,
    ...(command ? { command } : {}),
    env: {
      NORA_STORAGE_PATH: path.join(dir, 'storage'),
      NORA_PYPI_PROXY: upstream,
      NORA_LOG_LEVEL: 'warn',
      // Benchmarks measure the server, not the limiter (NORA's own benchmarks do the same).
      NORA_RATE_LIMIT_ENABLED: 'false',
    },
  });
  stopOnExit(nora.child);
  return nora;
}

async function get(url: string, headers: Record<string, string> = {}): Promise<Buffer> {
  const res = await fetch(url, { headers });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200)
    throw new Error(`GET ${url}: ${res.status} ${body.toString().slice(0, 300)}`);
  return body;
}

/** A fresh venv without pip (pip runs from outside with `--python`): ~50 ms instead of ~3 s. */
async function venv(): Promise<string> {
  const dir = path.join(await tmp('nora-bench-pypi-venv-'), 'venv');
  await run(PYTHON, ['-m', 'venv', '--without-pip', dir]);
  return dir;
}

/**
 * One timed `pip install` of the set from `index` into a fresh venv; checks every project landed.
 * The venv stays until the bench ends (deleting it hands its page cache back to the VM's host,
 * and the next install would pay for that: see docs/performance.md).
 */
async function pipInstall(
  index: string,
  manifest: Manifest,
): Promise<{ seconds: number; pipCpu: number }> {
  const dir = await venv();
  const timing = path.join(path.dirname(dir), 'time.txt');
  const started = performance.now();
  // /usr/bin/time: pip's own CPU (user + system, its children included), a figure the machine's
  // load moves less than wall time.
  await run(
    '/usr/bin/time',
    [
      '-f',
      '%U %S',
      '-o',
      timing,
      PYTHON,
      ...PIP.args,
      '--python',
      path.join(dir, 'bin', 'python'),
      'install',
      '--quiet',
      '--no-cache-dir',
      '--no-compile',
      '--disable-pip-version-check',
      '--progress-bar',
      'off',
      '--index-url',
      index,
      ...manifest.install,
    ],
    { env: pipEnv(), timeoutMs: 600_000 },
  );
  const seconds = (performance.now() - started) / 1000;
  const [user, sys] = (await fs.readFile(timing, 'utf8')).trim().split(/\s+/).slice(-2).map(Number);
  const pipCpu = (user ?? NaN) + (sys ?? NaN);
  const [lib] = await fs.readdir(path.join(dir, 'lib'));
  const site = path.join(dir, 'lib', lib ?? 'python3', 'site-packages');
  const installed = (await fs.readdir(site)).filter((n) => n.endsWith('.dist-info')).length;
  if (installed !== manifest.install.length)
    throw new Error(
      `pip installed ${installed} projects from ${index}, expected ${manifest.install.length}`,
    );
  return { seconds, pipCpu };
}

class UploadsUnavailable extends Error {}

/** The legacy upload API (what twine sends): one multipart POST per file. */
async function upload(base: string, file: string): Promise<void> {
  const bytes = await fs.readFile(file);
  const filename = path.basename(file);
  const [name, version] = filename.split('-');
  const form = new FormData();
  form.set(':action', 'file_upload');
  form.set('protocol_version', '1');
  form.set('metadata_version', '2.1');
  form.set('name', name ?? '');
  form.set('version', version ?? '');
  form.set('filetype', 'bdist_wheel');
  form.set('pyversion', 'py3');
  form.set('sha256_digest', createHash('sha256').update(bytes).digest('hex'));
  form.set('content', new Blob([bytes]), filename);
  const res = await fetch(`${base}/simple/`, { method: 'POST', body: form });
  if (res.status === 501) throw new UploadsUnavailable(await res.text());
  if (res.status !== 200) throw new Error(`upload ${filename}: ${res.status} ${await res.text()}`);
}

/** Uploads a set of files, 8 at a time. */
async function uploadAll(base: string, files: readonly string[]): Promise<void> {
  const queue = [...files];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let f = queue.shift(); f !== undefined; f = queue.shift()) await upload(base, f);
    }),
  );
}

function cpuNote(cpu: number): string {
  return Number.isNaN(cpu) ? '' : `, NORA CPU ${cpu.toFixed(2)} s`;
}

async function installRounds(nginx: string, root: string, manifest: Manifest): Promise<void> {
  log(
    `\n== pip install of ${manifest.install.length} projects (${(manifest.installBytes / 1e6).toFixed(1)} MB of wheels) ` +
      `into a fresh venv with ${PIP.label}, --no-cache-dir --no-compile; ${ROUNDS} round(s), fresh NORA each, order alternating`,
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
  const pipCpus = {
    direct: [] as number[],
    cold: [] as number[],
    warm: [] as number[],
    relay: [] as number[],
    static: [] as number[],
  };
  const direct = `${nginx}/simple/`;
  // The floors: each phase also times the Node baseline it is to be read against (cold: the
  // relay, warm: the static server), in the same alternating order as direct and NORA.
  // The tree's links are relative: nothing to rewrite. Warmed with the page of a project
  // outside the install set, as a NORA is before its cold round.
  const baselines = BASELINES
    ? await startBaselines({
        upstream: nginx,
        root,
        types: { html: 'text/html', json: 'application/json' },
        defaultType: 'application/octet-stream',
        warm: ['/simple/pip/', '/simple/nora-bench-absent/'],
      })
    : undefined;
  const phaseBaseline = { cold: baselines?.relay, warm: baselines?.static };
  for (let round = 0; round < ROUNDS; round++) {
    const nora = await startNora(`${nginx}/simple/`);
    try {
      // Warm the process, not the cache: a project outside the install set.
      const page = (await get(`${nora.url}/simple/pip/`, { accept: 'text/html' })).toString();
      const href = /href="([^"#]+\.whl)[#"]/.exec(page)?.[1];
      if (href === undefined)
        throw new Error(`no wheel on NORA's page of pip:\n${page.slice(0, 500)}`);
      const fileUrl = new URL(href, `${nora.url}/simple/pip/`).href;
      await get(fileUrl);
      await get(`${fileUrl}.metadata`).catch(() => undefined);
      const index = `${nora.url}/simple/`;
      for (const phase of ['cold', 'warm'] as const) {
        const baseline = phaseBaseline[phase];
        const order = ['direct', ...(baseline === undefined ? [] : ['baseline']), 'nora'];
        if (round % 2 === 1) order.reverse();
        for (const who of order) {
          if (who === 'direct') {
            const { seconds, pipCpu } = await pipInstall(direct, manifest);
            times.direct.push(seconds);
            pipCpus.direct.push(pipCpu);
            log(
              `round ${round + 1}/${ROUNDS}: direct from nginx ${seconds.toFixed(2)} s (pip CPU ${pipCpu.toFixed(2)} s)`,
            );
          } else if (who === 'baseline' && baseline !== undefined) {
            const before = await cpuSeconds(baseline.child.pid);
            const { seconds, pipCpu } = await pipInstall(`${baseline.url}/simple/`, manifest);
            const cpu = (await cpuSeconds(baseline.child.pid)) - before;
            times[baseline.kind].push(seconds);
            pipCpus[baseline.kind].push(pipCpu);
            baselineCpu[baseline.kind].push(cpu);
            log(
              `round ${round + 1}/${ROUNDS}: node ${baseline.kind} ${seconds.toFixed(2)} s (pip CPU ${pipCpu.toFixed(2)} s, its CPU ${cpu.toFixed(2)} s)`,
            );
          } else {
            const before = await cpuSeconds(nora.child.pid);
            const { seconds, pipCpu } = await pipInstall(index, manifest);
            const cpu = (await cpuSeconds(nora.child.pid)) - before;
            times[phase].push(seconds);
            pipCpus[phase].push(pipCpu);
            noraCpu[phase].push(cpu);
            log(
              `round ${round + 1}/${ROUNDS}: NORA ${phase} ${seconds.toFixed(2)} s (pip CPU ${pipCpu.toFixed(2)} s${cpuNote(cpu)})`,
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
  const cpuMedians =
    `median CPU seconds: pip direct ${median(pipCpus.direct).toFixed(2)}, through NORA cold ${median(pipCpus.cold).toFixed(2)} ` +
    `(+ NORA ${median(noraCpu.cold).toFixed(2)}), warm ${median(pipCpus.warm).toFixed(2)} (+ NORA ${median(noraCpu.warm).toFixed(2)})` +
    (baselines === undefined
      ? ''
      : `; through the relay ${median(pipCpus.relay).toFixed(2)} (+ relay ${median(baselineCpu.relay).toFixed(2)}), ` +
        `the static server ${median(pipCpus.static).toFixed(2)} (+ static ${median(baselineCpu.static).toFixed(2)})`);
  results['install'] = {
    pipCpus,
    rounds: ROUNDS,
    projects: manifest.install.length,
    times,
    noraCpu,
    baselineCpu,
    cold,
    warm,
  };
  log(
    `median (min–max): direct ${spread(times.direct)}; NORA cold ${spread(times.cold)}, warm ${spread(times.warm)}`,
  );
  log(cpuMedians);
  log(
    `cold ${cold.toFixed(2)}× direct (target ≤ 1.2×) ${verdict(cold <= 1.2)}; ` +
      `warm ${warm.toFixed(2)}× direct (target ≤ 1.0×) ${verdict(warm <= 1.0)}`,
  );
  if (baselines !== undefined)
    for (const line of baselineSummary(times, { ...noraCpu, ...baselineCpu })) log(line);
}

async function pageSection(
  nginx: string,
  root: string,
  nora: NoraProcess,
  manifest: Manifest,
  hosted: boolean,
) {
  log(
    `\n== project page GET, ${manifest.many.files} files, warm (wrk -t2 -c64, ${PAIRS} pairs of ${SECONDS} s runs) vs nginx serving NORA's page as a static file`,
  );
  const pages = path.join(root, 'bench-pages');
  await fs.mkdir(pages, { recursive: true, mode: 0o755 });
  const pid = nora.child.pid;
  const rows: Record<string, unknown> = {};
  const cases: {
    label: string;
    project: string;
    accept: string;
    ext: string;
    gzip?: boolean;
  }[] = [
    { label: 'proxied, HTML', project: manifest.many.project, accept: 'text/html', ext: 'html' },
    {
      label: 'proxied, JSON (pip Accept)',
      project: manifest.many.project,
      accept: PIP_ACCEPT,
      ext: 'json',
    },
    {
      // What pip actually sends: Accept-Encoding: gzip too.
      label: 'proxied, JSON gzip (as pip)',
      project: manifest.many.project,
      accept: PIP_ACCEPT,
      ext: 'json',
      gzip: true,
    },
  ];
  if (hosted)
    cases.push(
      {
        label: 'hosted, HTML',
        project: manifest.hostedMany.project,
        accept: 'text/html',
        ext: 'html',
      },
      {
        label: 'hosted, JSON (pip Accept)',
        project: manifest.hostedMany.project,
        accept: PIP_ACCEPT,
        ext: 'json',
      },
    );
  for (const c of cases) {
    const url = `${nora.url}/simple/${c.project}/`;
    const body = await get(url, { accept: c.accept });
    const count =
      c.ext === 'json'
        ? (JSON.parse(body.toString()) as { files: unknown[] }).files.length
        : (body.toString().match(/<a /g) ?? []).length;
    if (count !== manifest.many.files)
      throw new Error(`${url} (${c.accept}) lists ${count} files, expected ${manifest.many.files}`);
    const file = `${c.project}.${c.ext}`;
    await fs.writeFile(path.join(pages, file), body, { mode: 0o644 });
    const staticUrl = `${nginx}/bench-pages/${file}`;
    const headers: Record<string, string> = { accept: c.accept };
    if (c.gzip === true) {
      headers['accept-encoding'] = 'gzip';
      await fs.writeFile(path.join(pages, `${file}.gz`), gzipSync(body, { level: 6 }), {
        mode: 0o644,
      });
      for (const u of [url, staticUrl]) {
        const res = await fetch(u, { headers });
        await res.arrayBuffer();
        if (res.headers.get('content-encoding') !== 'gzip') throw new Error(`${u}: not gzip-coded`);
      }
    }
    const c2 = await compareRates(
      { url, pid },
      { url: staticUrl },
      { seconds: SECONDS, connections: 64, headers },
    );
    rows[c.label] = {
      bytes: body.length,
      noraRps: c2.noraRps,
      nginxRps: c2.referenceRps,
      ratio: c2.ratio,
      noraCpuMicros: c2.cpuMicros,
      errors: c2.errors,
      timeouts: c2.timeouts,
    };
    log(
      `${c.label.padEnd(27)} ${(body.length / 1000).toFixed(0)} kB: ${describeComparison(c2)} ` +
        `(target ≥ 0.5×) ${verdict(c2.ratio >= 0.5)}`,
    );
  }
  // The tree's own static page (what pip reads from nginx directly), for context.
  const tree = await wrk(`${nginx}/simple/${manifest.many.project}/`, {
    seconds: SECONDS,
    connections: 64,
  });
  rows['nginx, the tree page'] = { rps: tree.rps };
  log(
    `context: nginx serving the tree's own ${manifest.many.project} page ${tree.rps.toFixed(0)} req/s`,
  );
  results['page'] = rows;
}

async function fileSection(
  nginx: string,
  root: string,
  nora: NoraProcess,
  manifest: Manifest,
  hosted: boolean,
) {
  const mb = manifest.big.size / 1e6;
  log(
    `\n== file GET, one ${mb.toFixed(1)} MB wheel (wrk -t2 -c16, ${PAIRS} pairs of ${SECONDS} s runs) vs nginx`,
  );
  const pid = nora.child.pid;
  const urls: { label: string; url: string; size: number }[] = [
    {
      label: 'proxied (cached)',
      url: `${nora.url}/simple/${manifest.big.project}/${manifest.big.filename}`,
      size: manifest.big.size,
    },
  ];
  if (hosted) {
    const { filename, project } = manifest.hostedBig;
    const { size } = await fs.stat(path.join(root, 'upload', filename));
    urls.push({ label: 'hosted', url: `${nora.url}/simple/${project}/${filename}`, size });
  }
  const direct = `${nginx}/packages/${manifest.big.filename}`;
  await get(`${nora.url}/simple/${manifest.big.project}/`);
  for (const { url, size } of urls) {
    const body = await get(url);
    if (body.length !== size) throw new Error(`${url}: ${body.length} bytes, expected ${size}`);
  }
  const rows: Record<string, unknown> = {};
  for (const { label, url, size } of urls) {
    const c = await compareRates({ url, pid }, { url: direct }, { seconds: SECONDS });
    // Bytes per second: the hosted wheel is not the proxied one (a scale, so the median holds).
    const noraMBps = (c.noraRps * size) / 1e6;
    const nginxMBps = c.referenceRps * mb;
    const ratio = (c.ratio * size) / manifest.big.size;
    rows[label] = { noraMBps, nginxMBps, ratio, noraCpuMicros: c.cpuMicros };
    log(
      `${label.padEnd(18)} NORA ${noraMBps.toFixed(0)} MB/s, nginx ${nginxMBps.toFixed(0)} MB/s → ` +
        `${ratio.toFixed(2)}× (rates: ${describeComparison(c)}) (target ≥ 0.7×) ${verdict(ratio >= 0.7)}`,
    );
  }
  results['file'] = rows;
}

const missing = missingTools('nginx', 'wrk');
if (missing !== false) {
  process.stderr.write(`${missing}\n`);
  process.exit(2);
}
const started = performance.now();
try {
  const { root, manifest } = await makeTree();
  const { url: nginx } = await startStaticNginx(root, {
    prefix: 'nora-bench-pypi-nginx-',
    http: [
      // The gzip rows: nginx sends `<page>.gz` (the same zlib level 6 bytes) when asked for gzip.
      'gzip_static on;',
      'types { text/html html; application/json json; } default_type application/octet-stream;',
    ],
    readyPath: '/simple/',
  });
  log(
    `tree: ${manifest.projects} projects, ${manifest.files} files; install set ${manifest.install.length} projects ` +
      `(${manifest.sources.realWheels.length} real PyPI wheels, ${manifest.sources.debianRepacks.length} Debian repacks, ` +
      `${manifest.sources.built.length} built with python -m build)`,
  );
  log(
    `load average at start: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (${os.cpus().length} cores)`,
  );
  if (all || sections.has('install')) await installRounds(nginx, root, manifest);
  if (all || sections.has('page') || sections.has('file')) {
    const nora = await startNora(`${nginx}/simple/`);
    const uploads = path.join(root, 'upload');
    const files = (await fs.readdir(uploads)).map((f) => path.join(uploads, f));
    const t = performance.now();
    let hosted = true;
    try {
      await uploadAll(nora.url, files);
      log(
        `\nuploaded ${files.length} wheels to NORA's hosted repository in ${((performance.now() - t) / 1000).toFixed(1)} s`,
      );
    } catch (err) {
      if (!(err instanceof UploadsUnavailable)) throw err;
      hosted = false;
      log(`\nno hosted figures: the upload API answered 501 (${err.message.trim()})`);
    }
    if (all || sections.has('page')) await pageSection(nginx, root, nora, manifest, hosted);
    if (all || sections.has('file')) await fileSection(nginx, root, nora, manifest, hosted);
    await stop(nora.child);
  }
  log(
    `\nload average at end: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}; ${((performance.now() - started) / 1000).toFixed(0)} s in all`,
  );
  log(JSON.stringify(results));
} finally {
  await runCleanups();
}
