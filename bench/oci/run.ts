/**
 * OCI benchmark: NORA vs Debian's docker-registry (CNCF Distribution), side by side in one run,
 * with nginx serving the same 100 MB file as the loopback limit. Not part of `npm test`.
 *
 *   npx node bench/oci/run.ts            # needs wrk, docker-registry, nginx (scripts/install-test-clients.sh)
 *   BENCH_SECONDS=10 BENCH_BIG_MB=2048 BENCH_PUSH_ROUNDS=5 npx node bench/oci/run.ts
 *
 * Measures: blob GET (100 MB, 1 and 4 connections), manifest GET by tag (req/s), blob push
 * monolithic and chunked (MB/s), NORA's peak RSS while pushing and then pulling a big layer.
 * Every server listens on 127.0.0.1 on a free port and is stopped by its PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';
import { NODE_FLAGS, waitForUrl } from '../../test/helpers/process.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 8);
const BIG_MB = Number(process.env['BENCH_BIG_MB'] ?? 2048);
const PUSH_ROUNDS = Number(process.env['BENCH_PUSH_ROUNDS'] ?? 5);
const BLOB_MB = 100;
const CHUNK = 8 * 1024 * 1024;
const NAME = 'bench/app';

interface Server {
  readonly label: string;
  readonly base: string;
  readonly child: ChildProcess;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => {
        if (typeof address === 'object' && address) resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

function start(
  label: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): ChildProcess {
  const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000);
  });
  child.on('exit', (code) => {
    if (code !== 0 && code !== null) console.error(`${label} exited ${code}: ${stderr}`);
  });
  return child;
}

function runTool(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', () => {
      resolve(out);
    });
  });
}

interface WrkResult {
  readonly rps: number;
  readonly bytesPerSec: number;
}

async function wrk(url: string, connections: number, headers: string[] = []): Promise<WrkResult> {
  const threads = Math.min(2, connections);
  const out = await runTool('wrk', [
    `-t${threads}`,
    `-c${connections}`,
    `-d${SECONDS}s`,
    ...headers.flatMap((h) => ['-H', h]),
    url,
  ]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const transfer = /Transfer\/sec:\s+([\d.]+)(B|KB|MB|GB)/.exec(out);
  const unit = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[transfer?.[2] ?? 'B'] ?? 1;
  if (/Non-2xx/.test(out)) console.error(`wrk ${url}: non-2xx responses\n${out}`);
  return { rps, bytesPerSec: Number(transfer?.[1] ?? 0) * unit };
}

/** Monolithic push: POST to open a session, one PUT with the whole body. Returns MB/s. */
async function pushMonolithic(
  base: string,
  file: string,
  digest: string,
  size: number,
): Promise<number> {
  const t0 = performance.now();
  const location = await openUpload(base);
  const put = await request(withDigest(base, location, digest), {
    method: 'PUT',
    body: createReadStream(file, { highWaterMark: 1024 * 1024 }),
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
  });
  await put.body.dump();
  if (put.statusCode !== 201) throw new Error(`monolithic push: ${put.statusCode}`);
  return size / 1024 / 1024 / ((performance.now() - t0) / 1000);
}

/** Chunked push: PATCH in CHUNK pieces with Content-Range, then PUT. Returns MB/s. */
async function pushChunked(
  base: string,
  file: string,
  digest: string,
  size: number,
): Promise<number> {
  const t0 = performance.now();
  let location = await openUpload(base);
  for (let offset = 0; offset < size; offset += CHUNK) {
    const end = Math.min(size, offset + CHUNK) - 1;
    const patch = await request(absolute(base, location), {
      method: 'PATCH',
      body: createReadStream(file, { start: offset, end, highWaterMark: 1024 * 1024 }),
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(end - offset + 1),
        'content-range': `${offset}-${end}`,
      },
    });
    await patch.body.dump();
    if (patch.statusCode !== 202) throw new Error(`chunked push: PATCH ${patch.statusCode}`);
    location = String(patch.headers['location']);
  }
  const put = await request(withDigest(base, location, digest), { method: 'PUT' });
  await put.body.dump();
  if (put.statusCode !== 201) throw new Error(`chunked push: PUT ${put.statusCode}`);
  return size / 1024 / 1024 / ((performance.now() - t0) / 1000);
}

async function openUpload(base: string): Promise<string> {
  const post = await request(`${base}/v2/${NAME}/blobs/uploads/`, { method: 'POST' });
  await post.body.dump();
  if (post.statusCode !== 202) throw new Error(`POST upload: ${post.statusCode}`);
  return String(post.headers['location']);
}

function absolute(base: string, location: string): string {
  return location.startsWith('http') ? location : `${base}${location}`;
}

function withDigest(base: string, location: string, digest: string): string {
  const url = new URL(absolute(base, location));
  url.searchParams.set('digest', digest);
  return url.toString();
}

async function pushManifest(base: string, layerDigest: string, layerSize: number): Promise<void> {
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [] },
    }),
  );
  const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
  const location = await openUpload(base);
  const put = await request(withDigest(base, location, configDigest), {
    method: 'PUT',
    body: config,
  });
  await put.body.dump();
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: configDigest,
      size: config.length,
    },
    layers: [
      { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layerSize },
    ],
  });
  const response = await request(`${base}/v2/${NAME}/manifests/latest`, {
    method: 'PUT',
    body: manifest,
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
  });
  await response.body.dump();
  if (response.statusCode !== 201) throw new Error(`manifest PUT: ${response.statusCode}`);
}

async function rssMb(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function makeFile(file: string, mb: number): Promise<string> {
  const hash = createHash('sha256');
  const block = randomBytes(1024 * 1024);
  await pipeline(
    Readable.from(
      (function* () {
        for (let i = 0; i < mb; i++) {
          // Vary each MiB so nothing dedups or compresses.
          block.writeUInt32LE(i, 0);
          hash.update(block);
          yield Buffer.from(block);
        }
      })(),
    ),
    createWriteStream(file),
  );
  return `sha256:${hash.digest('hex')}`;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? 0)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

async function main(): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-bench-oci-'));
  const children: ChildProcess[] = [];
  try {
    // nginx workers run unprivileged: the directory and the file must be world-readable.
    await fs.chmod(dir, 0o755);
    const blobFile = path.join(dir, 'blob100m.bin');
    const blobDigest = await makeFile(blobFile, BLOB_MB);
    await fs.chmod(blobFile, 0o644);
    const blobSize = BLOB_MB * 1024 * 1024;

    // NORA
    const noraPort = await freePort();
    const noraData = path.join(dir, 'nora');
    await fs.writeFile(
      path.join(dir, 'nora.toml'),
      [
        '[server]',
        'host = "127.0.0.1"',
        `port = ${noraPort}`,
        'log_level = "warn"',
        'body_limit_mb = 8192',
        '[storage]',
        `path = "${noraData}"`,
        '[rate_limit]',
        'enabled = false # the benchmark measures the server, not the limiter',
        '[docker]',
        'upstreams = []',
        'max_upload_session_size_mb = 8192',
        '',
      ].join('\n'),
    );
    const nodeBin = process.execPath;
    const nora = start('nora', nodeBin, [
      ...NODE_FLAGS,
      path.join(ROOT, 'bin', 'nora.js'),
      'serve',
      '-c',
      path.join(dir, 'nora.toml'),
    ]);
    children.push(nora);

    // docker-registry
    const regPort = await freePort();
    await fs.writeFile(
      path.join(dir, 'registry.yml'),
      [
        'version: 0.1',
        'log: { level: error }',
        'storage:',
        '  cache: { blobdescriptor: inmemory }',
        `  filesystem: { rootdirectory: ${path.join(dir, 'registry')} }`,
        '  delete: { enabled: true }',
        `http: { addr: 127.0.0.1:${regPort} }`,
        '',
      ].join('\n'),
    );
    const registry = start('docker-registry', 'docker-registry', [
      'serve',
      path.join(dir, 'registry.yml'),
    ]);
    children.push(registry);

    // nginx serving the same file (the loopback limit)
    const nginxPort = await freePort();
    await fs.mkdir(path.join(dir, 'nginx'), { recursive: true });
    await fs.writeFile(
      path.join(dir, 'nginx.conf'),
      `worker_processes 2; pid ${dir}/nginx.pid; error_log ${dir}/nginx-error.log; daemon off;
events { worker_connections 1024; }
http { sendfile on; tcp_nopush on; access_log off; keepalive_requests 1000000;
  client_body_temp_path ${dir}/nginx; proxy_temp_path ${dir}/nginx; fastcgi_temp_path ${dir}/nginx;
  uwsgi_temp_path ${dir}/nginx; scgi_temp_path ${dir}/nginx;
  server { listen 127.0.0.1:${nginxPort}; root ${dir}; } }
`,
    );
    const nginx = start('nginx', 'nginx', ['-c', path.join(dir, 'nginx.conf'), '-p', dir]);
    children.push(nginx);

    const servers: Server[] = [
      { label: 'nora', base: `http://127.0.0.1:${noraPort}`, child: nora },
      { label: 'docker-registry', base: `http://127.0.0.1:${regPort}`, child: registry },
    ];
    for (const s of servers)
      await waitForUrl(`${s.base}/v2/`, { gone: () => s.child.exitCode !== null });
    const startupRss = await rssMb(nora.pid ?? 0);
    await waitForUrl(`http://127.0.0.1:${nginxPort}/blob100m.bin`, {
      gone: () => nginx.exitCode !== null,
    });

    const results: Record<string, Record<string, number>> = {
      nora: {},
      'docker-registry': {},
      nginx: {},
    };
    const accept = 'Accept: application/vnd.oci.image.manifest.v1+json';
    // One 100 MB push takes ~0.3 s and its speed swings with the disk's write-back: push in
    // alternating order over several rounds and keep the median of each server.
    const pushes = new Map(
      servers.map((s) => [s.label, { mono: [] as number[], chunked: [] as number[] }]),
    );
    for (let round = 0; round < PUSH_ROUNDS; round++) {
      const order = round % 2 === 0 ? servers : [...servers].reverse();
      for (const s of order) {
        const samples = pushes.get(s.label);
        samples?.mono.push(await pushMonolithic(s.base, blobFile, blobDigest, blobSize));
        samples?.chunked.push(await pushChunked(s.base, blobFile, blobDigest, blobSize));
      }
    }
    for (const s of servers) {
      const r = results[s.label] ?? {};
      r['push_mono_MBps'] = median(pushes.get(s.label)?.mono ?? []);
      r['push_chunked_MBps'] = median(pushes.get(s.label)?.chunked ?? []);
      await pushManifest(s.base, blobDigest, blobSize);
      const blobUrl = `${s.base}/v2/${NAME}/blobs/${blobDigest}`;
      r['blob_c1_MBps'] = (await wrk(blobUrl, 1)).bytesPerSec / 1024 / 1024;
      r['blob_c4_MBps'] = (await wrk(blobUrl, 4)).bytesPerSec / 1024 / 1024;
      r['manifest_rps'] = (await wrk(`${s.base}/v2/${NAME}/manifests/latest`, 64, [accept])).rps;
    }
    const nginxUrl = `http://127.0.0.1:${nginxPort}/blob100m.bin`;
    results['nginx'] = {
      blob_c1_MBps: (await wrk(nginxUrl, 1)).bytesPerSec / 1024 / 1024,
      blob_c4_MBps: (await wrk(nginxUrl, 4)).bytesPerSec / 1024 / 1024,
    };

    // RSS while pushing then pulling a big layer through NORA.
    await fs.rm(blobFile);
    const bigFile = path.join(dir, 'big.bin');
    const bigDigest = await makeFile(bigFile, BIG_MB);
    const bigSize = BIG_MB * 1024 * 1024;
    let peak = 0;
    const pid = nora.pid ?? 0;
    const sampler = setInterval(() => {
      void rssMb(pid).then((mb) => {
        peak = Math.max(peak, mb);
      });
    }, 100);
    const baseline = await rssMb(pid);
    const nora0 = servers[0];
    if (!nora0) throw new Error('no nora');
    const bigPush = await pushMonolithic(nora0.base, bigFile, bigDigest, bigSize);
    await fs.rm(bigFile);
    const t0 = performance.now();
    const pull = await request(`${nora0.base}/v2/${NAME}/blobs/${bigDigest}`);
    const pullHash = createHash('sha256');
    for await (const chunk of pull.body) pullHash.update(chunk as Buffer);
    const pullMBps = BIG_MB / ((performance.now() - t0) / 1000);
    clearInterval(sampler);
    if (`sha256:${pullHash.digest('hex')}` !== bigDigest)
      throw new Error('big layer came back different');

    const n = results['nora'] ?? {};
    const d = results['docker-registry'] ?? {};
    const x = results['nginx'] ?? {};
    const ratio = (a = 0, b = 0) => (b === 0 ? 'n/a' : `${fmt(a / b, 2)}x`);
    const rows: [string, number | undefined, number | undefined, number | undefined, string][] = [
      [
        'blob GET 100 MB, 1 conn (MB/s)',
        n['blob_c1_MBps'],
        d['blob_c1_MBps'],
        x['blob_c1_MBps'],
        '≥1.0x reg, ≥0.7x nginx',
      ],
      [
        'blob GET 100 MB, 4 conns (MB/s)',
        n['blob_c4_MBps'],
        d['blob_c4_MBps'],
        x['blob_c4_MBps'],
        '≥1.0x reg, ≥0.7x nginx',
      ],
      [
        'manifest GET by tag, 64 conns (req/s)',
        n['manifest_rps'],
        d['manifest_rps'],
        undefined,
        '≥5x reg',
      ],
      [
        'blob push monolithic 100 MB, median of rounds (MB/s)',
        n['push_mono_MBps'],
        d['push_mono_MBps'],
        undefined,
        '≥1.0x reg',
      ],
      [
        'blob push chunked 8 MiB x 13, median (MB/s)',
        n['push_chunked_MBps'],
        d['push_chunked_MBps'],
        undefined,
        '≥1.0x reg',
      ],
    ];
    console.log(`\nOCI bench (${SECONDS}s per wrk run, ${os.cpus().length} CPUs)\n`);
    console.log(
      '| measure | nora | docker-registry | nginx | nora/registry | nora/nginx | target |',
    );
    console.log('|---|---:|---:|---:|---:|---:|---|');
    for (const [label, a, b, c, target] of rows) {
      console.log(
        `| ${label} | ${fmt(a ?? 0)} | ${fmt(b ?? 0)} | ${c === undefined ? '' : fmt(c)} | ${ratio(a, b)} | ${c === undefined ? '' : ratio(a, c)} | ${target} |`,
      );
    }
    console.log(
      `\nNORA RSS: ${fmt(startupRss)} MB after start, ${fmt(baseline)} MB after the runs above, peak ${fmt(peak)} MB while pushing (${fmt(bigPush)} MB/s) then pulling (${fmt(pullMBps)} MB/s) a ${BIG_MB} MiB layer (target < 200 MB)`,
    );
  } finally {
    for (const child of children)
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    await fs.rm(dir, { recursive: true, force: true });
  }
}

await main();
