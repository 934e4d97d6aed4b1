/**
 * npm benchmarks, NORA side by side with Verdaccio (installed on demand into a temp dir) and
 * nginx, in one run on this machine. Not part of `npm test`.
 *
 *   npx node bench/npm/run.ts [packument] [ci] [tarball]     (default: all three)
 *   BENCH_ROUNDS=3 BENCH_CI_FIXTURE=bench/npm/fixture npx node bench/npm/run.ts ci
 *
 * - packument: GET req/s of a warm 200-version package (abbreviated, gzip, as installers ask),
 *   wrk -t2 -c64. Target: NORA ≥ 5× Verdaccio.
 * - ci: `npm ci` of a ~530-package lockfile (bench/npm/fixture, or the directory holding
 *   package.json + package-lock.json named by BENCH_CI_FIXTURE) through each server's proxy of
 *   the machine's registry (`npm config get registry`), empty client cache every run. Each of
 *   BENCH_ROUNDS rounds (default 3, at least 1) starts both servers afresh, installs cold (empty
 *   server cache) then warm, and alternates which server goes first (NORA, Verdaccio | Verdaccio,
 *   NORA | …) so neither always meets the upstream's colder edge caches. Reported: median and
 *   min–max per server, ratio of the medians. Targets: warm ≤ 0.8×, cold ≤ 1.0× Verdaccio's time.
 * - tarball: GET throughput of one ~5 MB tarball, wrk -t2 -c16, vs nginx serving the same
 *   bytes. Target: ≥ 0.7× nginx.
 * Every server listens on 127.0.0.1 on a free port and is stopped by PID at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  freePort,
  startNoraProcess,
  type NoraProcess,
  waitForUrl,
} from '../../test/helpers/process.ts';
import { envWithoutNpmVars, npmCiFixture } from '../../test/helpers/npm-ci.ts';
import { run } from '../../test/helpers/tools.ts';
import { NpmHttp } from '../../test/integration/npm/client.ts';
import { makeTarball, publishBody } from '../../test/integration/npm/fixtures.ts';
import {
  median,
  runCleanups,
  spread,
  startStaticNginx,
  stop,
  stopOnExit,
  tmp,
  verdict,
} from '../harness.ts';

const VERDACCIO_VERSION = '6.8.0';
const ROUNDS = Math.max(1, Math.floor(Number(process.env['BENCH_ROUNDS'] ?? 3)) || 1);
const CI_FIXTURE = path.resolve(
  process.env['BENCH_CI_FIXTURE'] ?? path.join(import.meta.dirname, 'fixture'),
);
const ABBREVIATED = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';
const sections = new Set(process.argv.slice(2));
const all = sections.size === 0;
const results: Record<string, unknown> = {};
/** How long a stopped server gets before SIGKILL. */
const STOP_GRACE_MS = 5000;

async function startNora(upstream: string): Promise<NoraProcess & { dir: string }> {
  const dir = await tmp('nora-bench-npm-');
  const nora = await startNoraProcess({
    port: await freePort(),
    env: {
      NORA_STORAGE_PATH: path.join(dir, 'storage'),
      NORA_NPM_PROXY: upstream,
      NORA_LOG_LEVEL: 'warn',
      // Benchmarks measure the server, not the limiter (NORA's own benchmarks do the same).
      NORA_RATE_LIMIT_ENABLED: 'false',
    },
  });
  stopOnExit(nora.child, STOP_GRACE_MS);
  return { ...nora, dir };
}

/** Installs Verdaccio once into a temp dir; each server started from it has its own storage. */
async function installVerdaccio(): Promise<string> {
  const dir = await tmp('nora-bench-verdaccio-');
  await fs.writeFile(
    path.join(dir, 'package.json'),
    JSON.stringify({
      name: 'verdaccio-bench',
      private: true,
      overrides: { 'node-fetch': '2.7.0' },
    }),
  );
  console.log(`installing verdaccio@${VERDACCIO_VERSION} into ${dir} …`);
  await run('npm', ['install', '--no-audit', '--no-fund', `verdaccio@${VERDACCIO_VERSION}`], {
    cwd: dir,
    env: envWithoutNpmVars(),
    timeoutMs: 600_000,
  });
  return dir;
}

async function startVerdaccio(
  installDir: string,
  upstream: string,
): Promise<{ url: string; child: ChildProcess; dir: string }> {
  const dir = await tmp('nora-bench-verdaccio-data-');
  const port = await freePort();
  const config = [
    `storage: ${path.join(dir, 'storage')}`,
    `auth: { htpasswd: { file: ${path.join(dir, 'htpasswd')}, max_users: 1000 } }`,
    `uplinks: { upstream: { url: ${JSON.stringify(upstream)}, maxage: 30m, timeout: 60s } }`,
    'packages:',
    "  'bench-*': { access: $all, publish: $authenticated, unpublish: $authenticated }",
    "  '@*/*': { access: $all, publish: $authenticated, proxy: upstream }",
    "  '**': { access: $all, publish: $authenticated, proxy: upstream }",
    'max_body_size: 200mb',
    `listen: 127.0.0.1:${port}`,
    'log: { type: stdout, format: pretty, level: warn }',
    '',
  ].join('\n');
  await fs.writeFile(path.join(dir, 'config.yaml'), config);
  const child = spawn(
    path.join(installDir, 'node_modules', '.bin', 'verdaccio'),
    ['--config', path.join(dir, 'config.yaml')],
    {
      cwd: dir,
      env: envWithoutNpmVars(),
      stdio: 'ignore',
    },
  );
  stopOnExit(child, STOP_GRACE_MS);
  const url = `http://127.0.0.1:${port}`;
  await waitForUrl(`${url}/-/ping`);
  return { url, child, dir };
}

async function wrk(
  url: string,
  connections: number,
  seconds: number,
  headers: Record<string, string> = {},
) {
  const args = ['-t2', `-c${connections}`, `-d${seconds}s`];
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
  const out = (await run('wrk', [...args, url], { timeoutMs: (seconds + 30) * 1000 })).stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  if (non2xx > 0) throw new Error(`wrk saw ${non2xx} error responses from ${url}`);
  return rps;
}

async function loginVerdaccio(url: string): Promise<string> {
  const client = new NpmHttp(url);
  const reply = await client.login('bench', 'bench-password');
  if (reply.status !== 201) throw new Error(`verdaccio adduser: ${reply.status} ${reply.text}`);
  return client.token!;
}

async function publishMany(
  base: string,
  token: string | undefined,
  name: string,
  count: number,
): Promise<void> {
  const deps: Record<string, string> = {};
  for (let i = 0; i < 12; i++) deps[`dep-${i}`] = '^1.0.0';
  for (let i = 0; i < count; i++) {
    const body = publishBody(
      { name, version: `1.${i}.0`, dependencies: deps, description: 'benchmark package' },
      base,
    );
    const res = await fetch(`${base}/${name}`, {
      method: 'PUT',
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify(body),
    });
    if (res.status !== 201 && res.status !== 200)
      throw new Error(`publish to ${base}: ${res.status} ${await res.text()}`);
  }
}

/**
 * One timed `npm ci` in a fresh directory. The directory (client cache + node_modules, ~200 MB)
 * is kept until the bench ends: deleting it hands its page cache back to the VM's host (free page
 * reporting), and the next install then pays a host fault for every page it writes. Measured on
 * the same warm NORA: 14–17 s per install with ~18 s of kernel CPU when each run's directory was
 * deleted before the next, 6–8 s with 3–7 s when none was. That cost belongs to neither server.
 */
async function npmCi(registry: string): Promise<number> {
  const dir = await tmp('nora-bench-ci-');
  const started = performance.now();
  await npmCiFixture(CI_FIXTURE, dir, registry, 900_000);
  return (performance.now() - started) / 1000;
}

type CiServer = 'NORA' | 'Verdaccio';

/**
 * Rounds of cold-then-warm `npm ci` against fresh servers, alternating which server goes first
 * (even rounds NORA first, odd rounds Verdaccio first).
 */
async function ciRounds(upstream: string, verdaccioInstall: string) {
  const times: Record<CiServer, { cold: number[]; warm: number[] }> = {
    NORA: { cold: [], warm: [] },
    Verdaccio: { cold: [], warm: [] },
  };
  const orders: CiServer[][] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order: CiServer[] = round % 2 === 0 ? ['NORA', 'Verdaccio'] : ['Verdaccio', 'NORA'];
    orders.push(order);
    const nora = await startNora(upstream);
    const verdaccio = await startVerdaccio(verdaccioInstall, upstream);
    const registries: Record<CiServer, string> = {
      NORA: `${nora.url}/npm/`,
      Verdaccio: `${verdaccio.url}/`,
    };
    try {
      for (const phase of ['cold', 'warm'] as const) {
        for (const server of order) {
          const seconds = await npmCi(registries[server]);
          times[server][phase].push(seconds);
          console.log(`round ${round + 1}/${ROUNDS}: ${server} ${phase} ${seconds.toFixed(1)} s`);
        }
      }
    } finally {
      await stop(nora.child, STOP_GRACE_MS);
      await stop(verdaccio.child, STOP_GRACE_MS);
      // The servers' data directories go at the end of the bench too (see npmCi).
    }
  }
  return { times, orders };
}

try {
  const upstream = (
    await run('npm', ['config', 'get', 'registry'], { env: envWithoutNpmVars() })
  ).stdout.trim();
  // The ci comparison starts its own servers per round; the others share this NORA.
  const nora =
    all || sections.has('packument') || sections.has('tarball')
      ? await startNora(upstream)
      : undefined;
  const noraNpm = nora === undefined ? '' : `${nora.url}/npm`;
  const needVerdaccio = all || sections.has('packument') || sections.has('ci');
  const verdaccioInstall = needVerdaccio ? await installVerdaccio() : undefined;
  const verdaccio =
    verdaccioInstall !== undefined && (all || sections.has('packument'))
      ? (await startVerdaccio(verdaccioInstall, upstream)).url
      : undefined;
  console.log(
    `load average at start: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (${os.cpus().length} cores)`,
  );

  if ((all || sections.has('packument')) && verdaccio) {
    console.log('\n== packument GET, 200 versions, warm, abbreviated + gzip (wrk -t2 -c64 -d10s)');
    const token = await loginVerdaccio(verdaccio);
    await publishMany(noraNpm, undefined, 'bench-big', 200);
    await publishMany(verdaccio, token, 'bench-big', 200);
    const headers = { accept: ABBREVIATED, 'accept-encoding': 'gzip, deflate, br' };
    await wrk(`${noraNpm}/bench-big`, 64, 2, headers);
    const noraRps = await wrk(`${noraNpm}/bench-big`, 64, 10, headers);
    await wrk(`${verdaccio}/bench-big`, 64, 2, headers);
    const verdaccioRps = await wrk(`${verdaccio}/bench-big`, 64, 10, headers);
    const ratio = noraRps / verdaccioRps;
    // Reference point: a 1-version package (what earlier Verdaccio figures were measured on).
    await publishMany(noraNpm, undefined, 'bench-small', 1);
    await publishMany(verdaccio, token, 'bench-small', 1);
    const noraSmall = await wrk(`${noraNpm}/bench-small`, 64, 5, headers);
    const verdaccioSmall = await wrk(`${verdaccio}/bench-small`, 64, 5, headers);
    console.log(
      `1-version package: NORA ${noraSmall.toFixed(0)} req/s, Verdaccio ${verdaccioSmall.toFixed(0)} req/s`,
    );
    results['packument'] = { noraRps, verdaccioRps, ratio, noraSmall, verdaccioSmall };
    console.log(
      `NORA ${noraRps.toFixed(0)} req/s, Verdaccio ${verdaccioRps.toFixed(0)} req/s → ${ratio.toFixed(2)}× (target ≥ 5×) ${verdict(ratio >= 5)}`,
    );
  }

  if ((all || sections.has('ci')) && verdaccioInstall !== undefined) {
    const lock = JSON.parse(
      await fs.readFile(path.join(CI_FIXTURE, 'package-lock.json'), 'utf8'),
    ) as { packages?: Record<string, unknown> };
    const count = Object.keys(lock.packages ?? {}).filter((k) => k !== '').length;
    console.log(
      `\n== npm ci of ${path.relative(process.cwd(), CI_FIXTURE) || '.'} (${count} package${count === 1 ? '' : 's'}), ` +
        `empty client cache each run; ${ROUNDS} round(s), fresh servers each, order alternating`,
    );
    const { times, orders } = await ciRounds(upstream, verdaccioInstall);
    const noraCold = median(times.NORA.cold);
    const verdaccioCold = median(times.Verdaccio.cold);
    const noraWarm = median(times.NORA.warm);
    const verdaccioWarm = median(times.Verdaccio.warm);
    results['ci'] = {
      rounds: ROUNDS,
      orders,
      times,
      noraCold,
      verdaccioCold,
      noraWarm,
      verdaccioWarm,
    };
    console.log(
      `median (min–max) of ${ROUNDS}: cold NORA ${spread(times.NORA.cold, 1)}, Verdaccio ${spread(times.Verdaccio.cold, 1)}; ` +
        `warm NORA ${spread(times.NORA.warm, 1)}, Verdaccio ${spread(times.Verdaccio.warm, 1)}`,
    );
    console.log(
      `cold ${(noraCold / verdaccioCold).toFixed(2)}× (target ≤ 1.0×) ${verdict(noraCold <= verdaccioCold)}; ` +
        `warm ${(noraWarm / verdaccioWarm).toFixed(2)}× (target ≤ 0.8×) ${verdict(noraWarm <= 0.8 * verdaccioWarm)}`,
    );
  }

  if (all || sections.has('tarball')) {
    console.log(
      '\n== tarball GET, one ~5 MB tarball (wrk -t2 -c16 -d10s) vs nginx serving the same bytes',
    );
    const name = 'bench-tarball';
    const tarball = makeTarball({
      'package.json': JSON.stringify({ name, version: '1.0.0' }),
      'data.txt': randomBytes(3_800_000).toString('base64'),
    });
    const body = publishBody({ name, version: '1.0.0' }, noraNpm);
    const attachments = body['_attachments'] as Record<string, { data: string; length: number }>;
    const [key] = Object.keys(attachments);
    const sha = (await import('node:crypto')).createHash('sha512').update(tarball).digest('base64');
    attachments[key!] = { data: tarball.toString('base64'), length: tarball.length };
    const versions = body['versions'] as Record<string, { dist: Record<string, unknown> }>;
    versions['1.0.0']!.dist = { integrity: `sha512-${sha}` };
    const put = await fetch(`${noraNpm}/${name}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (put.status !== 201) throw new Error(`tarball publish: ${put.status} ${await put.text()}`);
    const root = await tmp('nora-bench-www-');
    await fs.writeFile(path.join(root, `${name}-1.0.0.tgz`), tarball, { mode: 0o644 });
    // nginx workers drop root privileges: the directory must be world-readable.
    await fs.chmod(root, 0o755);
    const { url: nginx } = await startStaticNginx(root, { prefix: 'nora-bench-nginx-' });
    const noraUrl = `${noraNpm}/${name}/-/${name}-1.0.0.tgz`;
    const nginxUrl = `${nginx}/${name}-1.0.0.tgz`;
    await wrk(noraUrl, 16, 2);
    const noraRps = await wrk(noraUrl, 16, 10);
    await wrk(nginxUrl, 16, 2);
    const nginxRps = await wrk(nginxUrl, 16, 10);
    // Context: the ceiling of a bare node:http file server (one thread) on the same bytes.
    const bare = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-length': tarball.length });
      createReadStream(path.join(root, `${name}-1.0.0.tgz`), { highWaterMark: 1024 * 1024 }).pipe(
        res,
      );
    });
    await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
    const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}/x`;
    await wrk(bareUrl, 16, 2);
    const bareRps = await wrk(bareUrl, 16, 10);
    await new Promise((resolve) => bare.close(resolve));
    const mb = tarball.length / 1e6;
    const ratio = noraRps / nginxRps;
    results['tarball'] = {
      sizeBytes: tarball.length,
      noraMBps: noraRps * mb,
      nginxMBps: nginxRps * mb,
      bareNodeMBps: bareRps * mb,
      ratio,
    };
    console.log(
      `bare node:http file server ${(bareRps * mb).toFixed(0)} MB/s (context: one JS thread vs 2 nginx workers with sendfile)`,
    );
    console.log(
      `NORA ${(noraRps * mb).toFixed(0)} MB/s, nginx ${(nginxRps * mb).toFixed(0)} MB/s (${tarball.length} bytes) → ${ratio.toFixed(2)}× (target ≥ 0.7×) ${verdict(ratio >= 0.7)}`,
    );
  }
  console.log(
    `\nload average at end: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(JSON.stringify(results));
} finally {
  await runCleanups();
}
