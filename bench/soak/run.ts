/**
 * Mixed-load soak: does the server's memory level off under a push/pull/publish load, and does it
 * come back once the load stops? Not part of `npm test`.
 *
 *   npx node bench/soak/run.ts                      (200 clients, 300 s of load, 45 s idle)
 *   SOAK_CLIENTS=50 SOAK_SECONDS=60 SOAK_IDLE=30 npx node bench/soak/run.ts
 *
 * Starts `bin/nora.js serve` as a child process on a free 127.0.0.1 port with a temporary storage
 * directory, then runs SOAK_CLIENTS concurrent clients for SOAK_SECONDS. Each client loops over a
 * weighted mix of:
 * - OCI push: a small random layer (1-64 KiB) and config blob (monolithic POST ?digest=), then an
 *   image manifest under a unique tag, into one of 50 image names;
 * - OCI pull: manifest by tag and its layer, of something pushed before;
 * - npm publish: a small package with a unique version, into one of 50 package names;
 * - npm install: abbreviated packument (gzip, as installers ask) and a tarball of it.
 * Every SOAK_SAMPLE seconds (default 5) it reads the server's /metrics
 * (process_resident_memory_bytes, nodejs_heap_size_used_bytes / _total_bytes,
 * nodejs_external_memory_bytes) and prints a row; after the load it idles SOAK_IDLE seconds, sampling on, and prints a summary
 * (RSS at start, peak, at the end of the load and at the end of the idle period).
 *
 * Other knobs: SOAK_UPSTREAMS=default keeps `[docker] upstreams` at its default (an unreachable
 * Docker Hub on this machine; by default the soak runs with none, to measure what the load itself
 * costs), SOAK_NODE_FLAGS adds flags to the server's node (e.g. `--trace-gc` or
 * `--heapsnapshot-signal=SIGUSR2`; SOAK_SNAPSHOT=1 also sends SIGUSR2 at the end of the load and
 * of the idle period, writing Heap.*.heapsnapshot into the storage directory, which is then kept).
 * SOAK_ROOT runs another checkout's bin/nora.js (e.g. an older commit extracted with `git archive`,
 * with this checkout's node_modules linked into it) under the same load.
 * The server is stopped by its PID at the end.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { freePort, NODE_FLAGS, startNoraProcess } from '../../test/helpers/process.ts';
import { PROJECT_ROOT } from '../../test/helpers/tools.ts';
import { publishBody } from '../../test/integration/npm/fixtures.ts';

const CLIENTS = Math.max(1, Number(process.env['SOAK_CLIENTS'] ?? 200));
const SECONDS = Math.max(1, Number(process.env['SOAK_SECONDS'] ?? 300));
const IDLE = Math.max(0, Number(process.env['SOAK_IDLE'] ?? 45));
const SAMPLE = Math.max(1, Number(process.env['SOAK_SAMPLE'] ?? 5));
const SNAPSHOT = process.env['SOAK_SNAPSHOT'] === '1';
const EXTRA_FLAGS = (process.env['SOAK_NODE_FLAGS'] ?? '').split(/\s+/).filter(Boolean);
/** The checkout whose bin/nora.js runs (default this one): compare two versions with one load. */
const ROOT = path.resolve(process.env['SOAK_ROOT'] ?? PROJECT_ROOT);
const NAMES = 50;
const ABBREVIATED = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';
const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';

/** Weights of the operations in the mix (out of their sum). */
const MIX: readonly (readonly [Op, number])[] = [
  ['ociPush', 2],
  ['ociPull', 4],
  ['npmPublish', 2],
  ['npmInstall', 4],
];
type Op = 'ociPush' | 'ociPull' | 'npmPublish' | 'npmInstall';

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-soak-'));
const config = path.join(dir, 'config.toml');
await fs.writeFile(
  config,
  process.env['SOAK_UPSTREAMS'] === 'default' ? '' : '[docker]\nupstreams = []\n',
);
const port = await freePort();
const server = await startNoraProcess({
  port,
  command: [
    process.execPath,
    ...NODE_FLAGS,
    ...EXTRA_FLAGS,
    path.join(ROOT, 'bin/nora.js'),
    'serve',
    '--config',
    config,
  ],
  cwd: path.join(dir),
  env: {
    NORA_STORAGE_PATH: path.join(dir, 'storage'),
    NORA_LOG_LEVEL: 'warn',
    NORA_RATE_LIMIT_ENABLED: 'false',
  },
});
const base = server.url;
const agent = new Agent({ connections: CLIENTS + 8, keepAliveTimeout: 30_000 });

interface Sample {
  readonly t: number;
  readonly rss: number;
  readonly heap: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly ops: number;
}

const counts: Record<Op, number> = { ociPush: 0, ociPull: 0, npmPublish: 0, npmInstall: 0 };
const failures = new Map<string, number>();
let opsDone = 0;
const pushed: { name: string; tag: string; layer: string }[] = [];
const published: { name: string; version: string }[] = [];
let serial = 0;

function fail(what: string): void {
  failures.set(what, (failures.get(what) ?? 0) + 1);
}

async function call(
  method: 'GET' | 'POST' | 'PUT' | 'HEAD',
  url: string,
  headers: Record<string, string> = {},
  body?: Buffer | string,
): Promise<{ status: number; headers: Record<string, unknown>; bytes: number }> {
  const res = await request(base + url, {
    method,
    headers,
    body: body ?? null,
    dispatcher: agent,
  });
  let bytes = 0;
  for await (const chunk of res.body) bytes += (chunk as Buffer).length;
  return { status: res.statusCode, headers: res.headers, bytes };
}

const sha = (data: Buffer | string): string =>
  `sha256:${createHash('sha256').update(data).digest('hex')}`;

async function pushBlob(name: string, data: Buffer): Promise<string> {
  const digest = sha(data);
  const res = await call(
    'POST',
    `/v2/${name}/blobs/uploads/?digest=${digest}`,
    { 'content-type': 'application/octet-stream' },
    data,
  );
  if (res.status !== 201) fail(`blob push ${res.status}`);
  return digest;
}

const operations: Record<Op, () => Promise<void>> = {
  async ociPush() {
    const id = serial++;
    const name = `soak/img${id % NAMES}`;
    const layerBytes = randomBytes(1024 + Math.floor(Math.random() * 63 * 1024));
    const layer = await pushBlob(name, layerBytes);
    const configBody = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', id }));
    const configDigest = await pushBlob(name, configBody);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: configDigest,
        size: configBody.length,
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          digest: layer,
          size: layerBytes.length,
        },
      ],
    });
    const tag = `t${id}`;
    const res = await call(
      'PUT',
      `/v2/${name}/manifests/${tag}`,
      { 'content-type': MANIFEST_TYPE },
      manifest,
    );
    if (res.status !== 201) fail(`manifest push ${res.status}`);
    else pushed.push({ name, tag, layer });
  },
  async ociPull() {
    const image = pick(pushed);
    if (!image) return operations.ociPush();
    const manifest = await call('GET', `/v2/${image.name}/manifests/${image.tag}`, {
      accept: MANIFEST_TYPE,
    });
    if (manifest.status !== 200) fail(`manifest pull ${manifest.status}`);
    const blob = await call('GET', `/v2/${image.name}/blobs/${image.layer}`);
    if (blob.status !== 200) fail(`blob pull ${blob.status}`);
  },
  async npmPublish() {
    const id = serial++;
    const name = `soak-pkg-${id % NAMES}`;
    const version = `1.${Math.floor(id / NAMES)}.${id % 1000}`;
    const body = JSON.stringify(
      publishBody(
        { name, version, extra: { readme: randomBytes(512).toString('hex') } },
        `${base}/npm`,
      ),
    );
    const res = await call(
      'PUT',
      `/npm/${name}`,
      { 'content-type': 'application/json', 'npm-command': 'publish' },
      body,
    );
    if (res.status !== 200 && res.status !== 201) fail(`npm publish ${res.status}`);
    else published.push({ name, version });
  },
  async npmInstall() {
    const pkg = pick(published);
    if (!pkg) return operations.npmPublish();
    const doc = await call('GET', `/npm/${pkg.name}`, {
      accept: ABBREVIATED,
      'accept-encoding': 'gzip',
    });
    if (doc.status !== 200) fail(`packument ${doc.status}`);
    const tarball = await call('GET', `/npm/${pkg.name}/-/${pkg.name}-${pkg.version}.tgz`);
    if (tarball.status !== 200) fail(`tarball ${tarball.status}`);
  },
};

function pick<T>(items: readonly T[]): T | undefined {
  if (items.length === 0) return undefined;
  // Mostly recent items, as CI pulls what was just pushed; sometimes anything.
  const recent = Math.random() < 0.8;
  const span = recent ? Math.min(items.length, 200) : items.length;
  return items[items.length - 1 - Math.floor(Math.random() * span)];
}

function chooseOp(): Op {
  const total = MIX.reduce((sum, [, w]) => sum + w, 0);
  let roll = Math.random() * total;
  for (const [op, weight] of MIX) {
    roll -= weight;
    if (roll < 0) return op;
  }
  return 'ociPull';
}

async function client(until: number): Promise<void> {
  while (performance.now() < until) {
    const op = chooseOp();
    try {
      await operations[op]();
      counts[op]++;
      opsDone++;
    } catch (err) {
      fail(`${op} threw ${(err as Error).message.slice(0, 60)}`);
    }
  }
}

async function sample(started: number): Promise<Sample> {
  const res = await request(`${base}/metrics`, { dispatcher: agent });
  const text = await res.body.text();
  const metric = (name: string): number =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text)?.[1] ?? NaN);
  return {
    t: (performance.now() - started) / 1000,
    rss: metric('process_resident_memory_bytes'),
    heap: metric('nodejs_heap_size_used_bytes'),
    heapTotal: metric('nodejs_heap_size_total_bytes'),
    external: metric('nodejs_external_memory_bytes'),
    ops: opsDone,
  };
}

const mb = (bytes: number): string => (bytes / 1e6).toFixed(1).padStart(7);
const samples: Sample[] = [];
let previousOps = 0;
let previousT = 0;
function print(s: Sample, phase: string): void {
  const rate = s.t > previousT ? (s.ops - previousOps) / (s.t - previousT) : 0;
  previousOps = s.ops;
  previousT = s.t;
  console.log(
    `${s.t.toFixed(0).padStart(5)} s ${phase.padEnd(5)} rss ${mb(s.rss)} MB  heap ${mb(s.heap)} /${mb(s.heapTotal)} MB  external ${mb(s.external)} MB  ops/s ${rate.toFixed(0).padStart(5)}`,
  );
}

console.log(
  `soak: ${CLIENTS} clients, ${SECONDS} s load, ${IDLE} s idle, server pid ${server.child.pid ?? '?'} at ${base}, data ${dir}`,
);
const started = performance.now();
try {
  const first = await sample(started);
  samples.push(first);
  print(first, 'start');
  const until = started + SECONDS * 1000;
  const load = Promise.all(Array.from({ length: CLIENTS }, () => client(until)));
  let loadDone = false;
  void load.finally(() => {
    loadDone = true;
  });
  const finished = (): boolean => loadDone;
  while (!finished()) {
    await Promise.race([load, new Promise((r) => setTimeout(r, SAMPLE * 1000))]);
    const s = await sample(started);
    samples.push(s);
    print(s, finished() ? 'end' : 'load');
  }
  const endOfLoad = samples[samples.length - 1]!;
  if (SNAPSHOT) server.child.kill('SIGUSR2');
  const idleUntil = performance.now() + IDLE * 1000;
  while (performance.now() < idleUntil) {
    await new Promise((r) => setTimeout(r, Math.min(SAMPLE * 1000, idleUntil - performance.now())));
    const s = await sample(started);
    samples.push(s);
    print(s, 'idle');
  }
  if (SNAPSHOT) {
    server.child.kill('SIGUSR2');
    await new Promise((r) => setTimeout(r, 5000));
  }
  const last = samples[samples.length - 1]!;
  const peak = samples.reduce((a, b) => (b.rss > a.rss ? b : a));
  console.log(
    `\nops: ${JSON.stringify(counts)} (${(endOfLoad.ops / SECONDS).toFixed(0)}/s), failures: ${
      failures.size === 0 ? 'none' : JSON.stringify(Object.fromEntries(failures))
    }`,
  );
  console.log(
    `RSS MB: start ${mb(first.rss)}, peak ${mb(peak.rss)} (at ${peak.t.toFixed(0)} s), end of load ${mb(endOfLoad.rss)}, after ${IDLE} s idle ${mb(last.rss)}`,
  );
  console.log(
    `external MB: start ${mb(first.external)}, end of load ${mb(endOfLoad.external)}, after idle ${mb(last.external)}; heap used MB: start ${mb(first.heap)}, end of load ${mb(endOfLoad.heap)}, after idle ${mb(last.heap)}`,
  );
} finally {
  await agent.close();
  server.child.kill('SIGTERM');
  await server.exited;
  if (SNAPSHOT) console.log(`heap snapshots kept in ${dir}`);
  else await fs.rm(dir, { recursive: true, force: true });
}
