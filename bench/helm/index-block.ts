/**
 * How long a Helm proxy's large upstream index.yaml holds NORA's event loop (not part of
 * `npm test`; one run on this machine):
 *
 *   node --max-semi-space-size=4 bench/helm/index-block.ts [checkout]   (default: this one)
 *   BENCH_CHARTS=16 BENCH_VERSIONS=1100 BENCH_PROBE_MS=20 …             (the defaults: ~20 MB)
 *
 * A fixture upstream on 127.0.0.1 serves a real-looking index (test/helpers/helm.ts
 * bigUpstreamIndex); the app of `checkout` (its src/app.ts: pass an older checkout to compare)
 * runs in this process on 127.0.0.1 with a proxy repository of it. Two rounds: the first GET of
 * the proxy's index.yaml (upstream fetch, parse, store, render), then the same GET after a
 * restart on the same data (the cached copy re-read and parsed). For each: the request's time,
 * the event loop's largest delay while it ran (perf_hooks monitorEventLoopDelay, 10 ms
 * resolution), the main thread's CPU time (process.threadCpuUsage: what a busy machine does not
 * inflate; the probes' own share included) and how many `GET /health` sent every 20 ms were
 * answered meanwhile.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { bigUpstreamIndex } from '../../test/helpers/helm.ts';
import { log } from '../harness.ts';

const root = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, '..', '..'));
const CHARTS = Number(process.env['BENCH_CHARTS'] ?? 16);
const VERSIONS = Number(process.env['BENCH_VERSIONS'] ?? 1100);
/** Interval of the /health probes, ms; 0: none (the main thread's CPU is then the index's alone). */
const PROBE_MS = Number(process.env['BENCH_PROBE_MS'] ?? 20);

interface App {
  fastify: { listen(o: object): Promise<string>; server: net.Server };
  close(): Promise<void>;
}
const { buildApp } = (await import(pathToFileURL(path.join(root, 'src/app.ts')).href)) as {
  buildApp: (config: unknown, options: object) => Promise<App>;
};
const { parseConfigObject } = (await import(
  pathToFileURL(path.join(root, 'src/config/load.ts')).href
)) as { parseConfigObject: (raw: object, env: object) => { config: unknown } };

const index = Buffer.from(bigUpstreamIndex(CHARTS, VERSIONS));
const upstream = http.createServer((request, response) => {
  if (request.url === '/index.yaml') response.writeHead(200).end(index);
  else response.writeHead(404).end();
});
await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
const upstreamUrl = `http://127.0.0.1:${(upstream.address() as net.AddressInfo).port}/`;
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-bench-helm-block-'));

async function round(name: string): Promise<void> {
  const { config } = parseConfigObject(
    {
      server: { host: '127.0.0.1', port: 0, log_level: 'silent' },
      storage: { mode: 'local', path: path.join(dir, 'storage') },
      rate_limit: { enabled: false },
      auth: { htpasswd_file: path.join(dir, 'users.htpasswd') },
      repositories: [
        {
          name: 'big',
          format: 'helm',
          kind: 'proxy',
          metadata_ttl: -1,
          upstreams: [{ url: upstreamUrl }],
        },
      ],
    },
    {},
  );
  const app = await buildApp(config, { logLevel: 'silent' });
  await app.fastify.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.fastify.server.address() as net.AddressInfo).port}`;
  try {
    await (await fetch(`${url}/health`)).arrayBuffer(); // warm
    const delay = monitorEventLoopDelay({ resolution: 10 });
    const probing = { done: PROBE_MS <= 0, answered: 0 };
    const probes = (async () => {
      while (!probing.done) {
        await (await fetch(`${url}/health`)).arrayBuffer();
        probing.answered++;
        await new Promise((resolve) => setTimeout(resolve, PROBE_MS));
      }
    })();
    delay.enable();
    const cpu = process.threadCpuUsage();
    const started = performance.now();
    const res = await fetch(`${url}/repository/big/index.yaml`);
    const body = await res.arrayBuffer();
    const ms = performance.now() - started;
    const used = process.threadCpuUsage(cpu);
    delay.disable();
    probing.done = true;
    await probes;
    log(
      `${name}: ${res.status}, ${(body.byteLength / 1e6).toFixed(1)} MB in ${(ms / 1000).toFixed(1)} s; ` +
        `event loop max delay ${(delay.max / 1e6).toFixed(0)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(0)} ms; ` +
        `main thread CPU ${((used.user + used.system) / 1e6).toFixed(2)} s; ` +
        `${probing.answered} /health answered meanwhile`,
    );
  } finally {
    await app.close();
  }
}

try {
  log(
    `index.yaml ${(index.length / 1e6).toFixed(1)} MB, ${CHARTS * VERSIONS} versions; app: ${root}`,
  );
  await round('first GET (fetch + parse)');
  await round('after a restart (cached copy re-read)');
} finally {
  upstream.closeAllConnections();
  upstream.close();
  await fs.rm(dir, { recursive: true, force: true });
}
