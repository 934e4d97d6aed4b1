/**
 * Helm chart repository benchmarks, NORA side by side with nginx, one run on this machine (not
 * part of `npm test`):
 *
 *   npx node bench/helm/run.ts [publish] [index]      (default: both)
 *   BENCH_SECONDS=5 BENCH_VERSIONS=10000 BENCH_PUBLISHES=15 npx node bench/helm/run.ts
 *
 * One NORA process (auth off), real chart archives (test/helpers/helm.ts) uploaded through
 * ChartMuseum's API (`POST /helm/api/charts`) into the default group's helm-hosted:
 * - publish: a hosted repository `small` holds 100 chart versions and helm-hosted BENCH_VERSIONS
 *   (default 10,000: 100 charts × 100 versions, uploaded by 16 concurrent clients, each
 *   repository's index read once so its snapshot is live); then BENCH_PUBLISHES rounds each
 *   publish one more chart (a new chart name) to `small` and to helm-hosted, alternating, so both
 *   sizes see the same machine load. Reported: the median publish time at each size and their
 *   ratio (target ≤ 1.5×), and the first index.yaml GET after a publish (the one render per
 *   change) at 10,000.
 * - index: `GET /helm/index.yaml` with BENCH_VERSIONS versions, wrk -t2 -c16, through the group
 *   and from helm-hosted directly, vs nginx serving the same bytes as a static file (target
 *   ≥ 0.5× nginx, req/s); plus the gzip variant (NORA's pre-compressed copy vs nginx `gzip on`).
 *   Each figure: the median ratio of BENCH_PAIRS (default 3) alternating runs (bench/wrk.ts).
 * Every server listens on 127.0.0.1 on a free port and is stopped by PID at the end.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildChart } from '../../test/helpers/helm.ts';
import { startNginx } from '../../test/helpers/maven.ts';
import { freePort, startNoraProcess } from '../../test/helpers/process.ts';
import { findTool, missingTools } from '../../test/helpers/tools.ts';
import { log, median } from '../harness.ts';
import { compareRates, describeComparison, PAIRS, wrk } from '../wrk.ts';

const SECONDS = Math.max(1, Number(process.env['BENCH_SECONDS'] ?? 5));
const VERSIONS = Math.max(200, Number(process.env['BENCH_VERSIONS'] ?? 10_000));
const PUBLISHES = Math.max(3, Number(process.env['BENCH_PUBLISHES'] ?? 15));
const sections = new Set(process.argv.slice(2));
const all = sections.size === 0;

const missing = missingTools('wrk', 'nginx');
if (missing !== false) {
  process.stderr.write(`${missing}\n`);
  process.exit(2);
}

const work = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-bench-helm-'));
const stops: (() => Promise<void>)[] = [];

function verdict(ok: boolean): string {
  return ok ? 'PASS' : 'MISS';
}

const port = await freePort();
const configPath = path.join(work, 'config.toml');
await fs.writeFile(
  configPath,
  '[[repositories]]\nname = "small"\nformat = "helm"\nkind = "hosted"\n',
);
const nora = await startNoraProcess({
  port,
  env: {
    NORA_CONFIG_PATH: configPath,
    NORA_STORAGE_PATH: path.join(work, 'nora', 'storage'),
    NORA_LOG_LEVEL: 'warn',
    NORA_RATE_LIMIT_ENABLED: 'false',
    NORA_HELM_PROXIES: '',
  },
});
stops.push(async () => {
  nora.child.kill('SIGTERM');
  await nora.exited;
});

async function publish(name: string, version: string, base = '/helm'): Promise<number> {
  const body = await buildChart({ name, version });
  const started = performance.now();
  const res = await fetch(`${nora.url}${base}/api/charts`, { method: 'POST', body });
  await res.arrayBuffer();
  const ms = performance.now() - started;
  if (res.status !== 201) throw new Error(`publish ${name} ${version}: ${res.status}`);
  return ms;
}

/** Fills a repository with `count` versions (charts c000…c099, versions 1.<i>.0), 16 clients. */
async function fill(count: number, base: string): Promise<number> {
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await publish(`c${String(i % 100).padStart(3, '0')}`, `1.${Math.floor(i / 100)}.0`, base);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return (performance.now() - started) / 1000;
}

async function timedIndexGet(base = '/helm'): Promise<{ ms: number; bytes: number }> {
  const started = performance.now();
  const res = await fetch(`${nora.url}${base}/index.yaml`);
  const body = await res.arrayBuffer();
  return { ms: performance.now() - started, bytes: body.byteLength };
}

try {
  log(`helm bench: ${VERSIONS} chart versions, ${PUBLISHES} publish rounds, wrk ${SECONDS} s`);
  await fill(100, '/repository/small');
  const fillSeconds = await fill(VERSIONS, '/helm');
  await timedIndexGet('/repository/small');
  await timedIndexGet();
  // Untimed warm-up: a server in service has compiled its upload path.
  for (let i = 0; i < 5; i++) await publish(`warm${i}`, '0.1.0', '/repository/small');
  const small: number[] = [];
  const large: number[] = [];
  for (let i = 0; i < PUBLISHES; i++) {
    small.push(await publish(`probe${i}`, '0.1.0', '/repository/small'));
    large.push(await publish(`probe${i}`, '0.1.0', '/helm'));
  }
  const at100 = median(small);
  const atFull = median(large);
  const render = await timedIndexGet();
  const cached = await timedIndexGet();
  const total = VERSIONS + PUBLISHES;
  if (all || sections.has('publish')) {
    log(
      `\npublish one more chart (POST …/api/charts, median of ${PUBLISHES} alternating rounds; ${VERSIONS} versions filled in ${fillSeconds.toFixed(1)} s by 16 clients)`,
    );
    log(`  small at ~100 versions          ${at100.toFixed(1)} ms`);
    const ratio = atFull / at100;
    log(
      `  helm-hosted at ~${VERSIONS} versions  ${atFull.toFixed(1)} ms  ${ratio.toFixed(2)}×  (target ≤ 1.5×) ${verdict(ratio <= 1.5)}`,
    );
    log(
      `  first index.yaml GET after a publish (the render, ${total} versions, ${(render.bytes / 1024 / 1024).toFixed(1)} MB): ${render.ms.toFixed(0)} ms; next GET ${cached.ms.toFixed(1)} ms`,
    );
  }
  if (all || sections.has('index')) {
    const res = await fetch(`${nora.url}/helm/index.yaml`);
    const yaml = Buffer.from(await res.arrayBuffer());
    const root = path.join(work, 'static');
    await fs.mkdir(path.join(root, 'helm'), { recursive: true });
    await fs.writeFile(path.join(root, 'helm', 'index.yaml'), yaml);
    await fs.chmod(work, 0o755);
    const nginx = await startNginx(root, path.join(work, 'nginx'), { accessLog: false });
    stops.push(() => nginx.stop());
    // A second nginx with gzip on (the same file compressed per request, level 1 by default).
    const gzRoot = path.join(work, 'nginx-gzip');
    const gzNginx = await startNginx(root, gzRoot, { accessLog: false });
    stops.push(() => gzNginx.stop());
    const gzConf = path.join(gzRoot, 'nginx.conf');
    const conf = await fs.readFile(gzConf, 'utf8');
    await gzNginx.stop();
    await fs.writeFile(
      gzConf,
      conf.replace(
        'sendfile on;',
        'sendfile on; gzip on; gzip_types application/x-yaml application/octet-stream; gzip_min_length 0;',
      ),
    );
    const gz = await startNginxWith(gzConf, gzRoot);
    log(
      `\nindex.yaml GET with ${total} versions (${(yaml.length / 1024 / 1024).toFixed(2)} MB), wrk -t2 -c16, ${PAIRS} pairs of ${SECONDS} s runs`,
    );
    for (const [label, url] of [
      ['NORA group /helm/', `${nora.url}/helm/index.yaml`],
      ['NORA helm-hosted', `${nora.url}/repository/helm-hosted/index.yaml`],
    ] as const) {
      const c = await compareRates(
        { url, pid: nora.child.pid },
        { url: `${nginx.url}helm/index.yaml` },
        { seconds: SECONDS },
      );
      log(
        `  ${label.padEnd(20)} ${describeComparison(c, 'nginx', true)}  (target ≥ 0.5×) ${verdict(c.ratio >= 0.5)}`,
      );
    }
    const gzip = { 'accept-encoding': 'gzip' };
    if (gz === undefined) {
      const noraGz = await wrk(`${nora.url}/helm/index.yaml`, { seconds: SECONDS, headers: gzip });
      log(`  gzip: NORA (pre-compressed) ${noraGz.rps.toFixed(0)} req/s`);
    } else {
      const c = await compareRates(
        { url: `${nora.url}/helm/index.yaml`, pid: nora.child.pid },
        { url: `${gz}helm/index.yaml` },
        { seconds: SECONDS, headers: gzip },
      );
      log(`  gzip: NORA pre-compressed vs nginx gzip on: ${describeComparison(c, 'nginx', true)}`);
    }
  }
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await fs.rm(work, { recursive: true, force: true });
}

/** Starts nginx on an existing config (the gzip variant); returns its URL with a trailing slash. */
async function startNginxWith(conf: string, dir: string): Promise<string | undefined> {
  const { spawn } = await import('node:child_process');
  const text = await fs.readFile(conf, 'utf8');
  const listen = /listen 127\.0\.0\.1:(\d+)/.exec(text)?.[1];
  const nginx = findTool('nginx');
  if (listen === undefined || nginx === undefined) return undefined;
  const child = spawn(nginx, ['-c', conf, '-p', dir], { stdio: 'ignore' });
  stops.push(async () => {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  });
  const url = `http://127.0.0.1:${listen}/`;
  for (let i = 0; i < 50; i++) {
    const ok = await fetch(`${url}helm/index.yaml`).then(
      (r) => r.arrayBuffer().then(() => r.status === 200),
      () => false,
    );
    if (ok) return url;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}
