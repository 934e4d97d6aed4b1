/**
 * Docker pull-through benchmark, one run, side by side (not part of `npm test`):
 * - cold pull of a ~100 MB image through NORA vs directly from the upstream,
 * - warm (cached) pull through NORA vs a pull of the same image from NORA's hosted repository,
 * - upstream requests during a warm pull by tag,
 * - the same cold/warm pulls through Distribution configured as a pull-through proxy
 *   (`proxy: remoteurl:`) of the same upstream.
 * The upstream is Debian's docker-registry; the client is skopeo (`copy … dir:`); NORA runs as a
 * child process (`node src/main.ts serve`). Everything listens on 127.0.0.1; servers are stopped
 * by PID. "Cold" means this image is not cached, not that the server process just started: each
 * proxy (NORA and Distribution alike) first pulls an unrelated small image, untimed, as a server
 * in service has (a fresh Node process also compiles its hot code during its first requests).
 *
 *   npx node bench/oci-proxy/run.ts                 # BENCH_ROUNDS=3 BENCH_LAYERS_MB=40,30,20,10
 *   BENCH_UPSTREAM_MBPS=25 npx node bench/oci-proxy/run.ts
 *     every pull from the upstream (direct, NORA's, Distribution's) goes through a front that
 *     sends each response body at most at 25 MB/s, as a remote registry's CDN does
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, startNoraProcess, type NoraProcess } from '../../test/helpers/process.ts';
import { missingTools, run } from '../../test/helpers/tools.ts';
import {
  buildOciLayout,
  type Distribution,
  pushLayout,
  startDistribution,
  startFront,
} from '../../test/e2e/oci-proxy/fixtures.ts';
import { log } from '../harness.ts';

const MB = 1024 * 1024;
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const LAYERS = (process.env['BENCH_LAYERS_MB'] ?? '40,30,20,10')
  .split(',')
  .map((n) => Number(n) * MB);
const NAME = 'bench/app';
/** An unrelated image each proxy pulls once before it is measured (see the header). */
const WARMUP = 'bench/warmup';
let pulls = 0;
type Key = 'direct' | 'noraCold' | 'noraWarm' | 'noraHosted' | 'distCold' | 'distWarm';
const TAG = 'v1';

const missing = missingTools('skopeo', 'docker-registry');
if (missing !== false) {
  process.stderr.write(`${missing}\n`);
  process.exit(2);
}

const work = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-bench-ociproxy-'));
const stops: (() => Promise<void>)[] = [];
try {
  const upstream = await startDistribution(path.join(work, 'upstream'), { logLevel: 'warn' });
  stops.push(() => upstream.stop());
  const layout = path.join(work, 'layout');
  await buildOciLayout(layout, TAG, { layerSizes: LAYERS });
  await pushLayout(layout, TAG, `${upstream.host}/${NAME}:${TAG}`);
  const warmupLayout = path.join(work, 'warmup-layout');
  await buildOciLayout(warmupLayout, TAG, { layerSizes: [10 * MB, 3 * MB] });
  await pushLayout(warmupLayout, TAG, `${upstream.host}/${WARMUP}:${TAG}`);
  const size = await imageSize(upstream.url);
  log(
    `image ${NAME}:${TAG}: ${(size / MB).toFixed(1)} MB in ${LAYERS.length} layers; ${ROUNDS} rounds, skopeo copy → dir:`,
  );
  // Where pulls from the upstream go: the upstream itself, or a rate-limiting relay in front of it.
  let served: { readonly host: string; readonly url: string } = upstream;
  const upstreamMBps = Number(process.env['BENCH_UPSTREAM_MBPS'] ?? 0);
  if (upstreamMBps > 0) {
    const front = await startFront(upstream.url);
    front.throttle = upstreamMBps * MB;
    stops.push(() => front.close());
    served = front;
    log(`upstream throttled to ${upstreamMBps} MB/s per response`);
  }

  const results: Record<Key, number[]> = {
    direct: [],
    noraCold: [],
    noraWarm: [],
    noraHosted: [],
    distCold: [],
    distWarm: [],
  };
  const warmUpstreamRequests: number[] = [];

  for (let round = 0; round < ROUNDS; round++) {
    results.direct.push(await pull(served.host, `${NAME}:${TAG}`));

    const measureNora = async (): Promise<void> => {
      const nora = await startNora(path.join(work, `nora-${round}`), served.url);
      try {
        await pull(nora.host, `${WARMUP}:${TAG}`);
        results.noraCold.push(await pull(nora.host, `${NAME}:${TAG}`));
        const before = countRequests(upstream);
        results.noraWarm.push(await pull(nora.host, `${NAME}:${TAG}`));
        warmUpstreamRequests.push(countRequests(upstream) - before);
        // The same image pushed into NORA's hosted repository, pulled from there.
        await run('skopeo', [
          'copy',
          '--dest-tls-verify=false',
          `oci:${layout}:${TAG}`,
          `docker://${nora.host}/hosted/app:${TAG}`,
        ]);
        results.noraHosted.push(await pull(nora.host, `hosted/app:${TAG}`));
      } finally {
        nora.child.kill('SIGTERM');
        await nora.exited;
      }
    };
    const measureDistribution = async (): Promise<void> => {
      const dist = await startDistribution(path.join(work, `dist-proxy-${round}`), {
        proxyRemote: served.url,
        logLevel: 'warn',
      });
      try {
        await pull(dist.host, `${WARMUP}:${TAG}`);
        results.distCold.push(await pull(dist.host, `${NAME}:${TAG}`));
        results.distWarm.push(await pull(dist.host, `${NAME}:${TAG}`));
      } finally {
        await dist.stop();
      }
    };
    // Alternate which proxy goes first, so that neither always runs on what the other left behind
    // (page cache, memory the VM has handed back to its host).
    if (round % 2 === 0) {
      await measureNora();
      await measureDistribution();
    } else {
      await measureDistribution();
      await measureNora();
    }
  }

  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
  const m = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)])) as Record<
    Key,
    number
  >;
  const mbps = (seconds: number) => `${(size / MB / seconds).toFixed(0)} MB/s`;
  const row = (label: string, seconds: number) => {
    log(`${label.padEnd(44)} ${seconds.toFixed(3)} s  ${mbps(seconds)}`);
  };
  log('\nmedian wall time of `skopeo copy` (lower is better)');
  row('direct from the upstream', m.direct);
  row('NORA cold (pull-through, empty cache)', m.noraCold);
  row('NORA warm (cached)', m.noraWarm);
  row('NORA hosted (same image pushed to NORA)', m.noraHosted);
  row('Distribution proxy cold', m.distCold);
  row('Distribution proxy warm', m.distWarm);
  log('\nratios (throughput; ≥ target passes)');
  const ratio = (label: string, value: number, target: number) => {
    log(
      `${label.padEnd(44)} ${value.toFixed(2)}×  (target ≥ ${target}) ${value >= target ? 'PASS' : 'FAIL'}`,
    );
  };
  ratio('NORA cold vs direct', m.direct / m.noraCold, 0.9);
  ratio('NORA warm vs NORA hosted', m.noraHosted / m.noraWarm, 0.95);
  ratio('NORA cold vs Distribution proxy cold', m.distCold / m.noraCold, 1);
  ratio('NORA warm vs Distribution proxy warm', m.distWarm / m.noraWarm, 1);
  log(
    `upstream requests during a warm pull by tag: ${warmUpstreamRequests.join(', ')} (target ≤ 1)`,
  );
  log(`raw seconds: ${JSON.stringify(results)}`);
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await fs.rm(work, { recursive: true, force: true });
}

async function startNora(dir: string, upstream: string): Promise<NoraProcess & { host: string }> {
  const port = await freePort();
  const nora = await startNoraProcess({
    port,
    env: {
      NORA_STORAGE_PATH: path.join(dir, 'storage'),
      NORA_DOCKER_UPSTREAMS: upstream,
      NORA_LOG_LEVEL: 'warn',
      // Benchmarks measure the server, not the limiter (NORA's own benchmarks do the same).
      NORA_RATE_LIMIT_ENABLED: 'false',
    },
  });
  return Object.assign(nora, { host: `127.0.0.1:${port}` });
}

async function pull(host: string, reference: string): Promise<number> {
  const out = path.join(work, 'pulled', String(pulls++));
  await fs.mkdir(path.dirname(out), { recursive: true });
  const started = performance.now();
  await run('skopeo', [
    'copy',
    '--src-tls-verify=false',
    `docker://${host}/${reference}`,
    `dir:${out}`,
  ]);
  // The pulled copy stays until the bench ends: deleting it hands its page cache back to the VM's
  // host (free page reporting) and the next pull would pay a host fault per page it writes (see
  // bench/npm's npmCi), a cost of skopeo's, not of the server being measured.
  return (performance.now() - started) / 1000;
}

/** Requests the upstream Distribution has logged so far (its access log lines). */
function countRequests(upstream: Distribution): number {
  return upstream
    .log()
    .split('\n')
    .filter((line) => /"(GET|HEAD) \/v2\/[^ ]+ HTTP/.test(line)).length;
}

async function imageSize(base: string): Promise<number> {
  const res = await fetch(`${base}/v2/${NAME}/manifests/${TAG}`, {
    headers: {
      accept:
        'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
    },
  });
  const manifest = (await res.json()) as { config: { size: number }; layers: { size: number }[] };
  return manifest.layers.reduce((sum, l) => sum + l.size, manifest.config.size);
}
