/**
 * Raw files benchmarks, NORA side by side with nginx, one run on this machine (not part of
 * `npm test`):
 *
 *   npx node bench/raw/run.ts [get] [put]          (default: both)
 *   BENCH_SECONDS=5 BENCH_PAIRS=3 BENCH_CONNECTIONS=16 npx node bench/raw/run.ts
 *
 * Each figure is the median ratio of BENCH_PAIRS (default 3) alternating NORA/nginx runs after
 * an untimed warm-up of each (bench/wrk.ts compareRates).
 * - get: the same files (1 KB, 64 KB, 1 MB) uploaded to NORA's `/raw/` by PUT and written into
 *   nginx's root; wrk -t2 -cN GET of each from both. Target ≥ 0.7× nginx (req/s).
 * - put: wrk -t2 -cN PUTs of new files (1 KB and 64 KB bodies; every request a fresh path, since
 *   NORA's files are immutable) to NORA's `/raw/` and to nginx's WebDAV module (`dav_methods
 *   PUT`, `create_full_put_path`), each in its own sub-folder. Target ≥ 1× nginx (req/s). Every
 *   answer must be 201: a non-2xx is reported. Every body is different too (its first bytes
 *   name the request): identical bodies would be deduplicated by NORA's content-addressed
 *   store, measuring no file write at all. NORA runs with its defaults (every file and its
 *   directory fsynced before the 201); `NORA_STORAGE_FSYNC=false` in the environment measures
 *   the opt-out (nginx's WebDAV never fsyncs).
 * Every server listens on 127.0.0.1 on a free port and is stopped by PID at the end; nothing is
 * left behind (the work directory is removed).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, startNoraProcess, waitForUrl } from '../../test/helpers/process.ts';
import { missingTools } from '../../test/helpers/tools.ts';
import { cpuProfCommand, log } from '../harness.ts';
import { compareRates, describeComparison, PAIRS } from '../wrk.ts';

const SECONDS = Math.max(1, Number(process.env['BENCH_SECONDS'] ?? 5));
const CONNECTIONS = Math.max(1, Number(process.env['BENCH_CONNECTIONS'] ?? 16));
const sections = new Set(process.argv.slice(2));
const all = sections.size === 0;

const missing = missingTools('wrk', 'nginx');
if (missing !== false) {
  process.stderr.write(`${missing}\n`);
  process.exit(2);
}

// BENCH_DIR=/dev/shm puts both servers' data on tmpfs (fsync then costs nothing: its share shows).
const work = await fs.mkdtemp(
  path.join(process.env['BENCH_DIR'] ?? os.tmpdir(), 'nora-bench-raw-'),
);
const stops: (() => Promise<void>)[] = [];

function verdict(ok: boolean): string {
  return ok ? 'PASS' : 'MISS';
}

/** A short untimed run first: a server in service has compiled its hot path. */
const WARM_SECONDS = Math.min(2, SECONDS);

/** nginx serving `root`, GET and WebDAV PUT (new files only: what a release upload does). */
async function startNginx(
  root: string,
  dir: string,
): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const temp = path.join(dir, 'temp');
  await fs.mkdir(temp, { recursive: true });
  const user = process.getuid?.() === 0 ? 'user root root;' : '';
  await fs.writeFile(
    path.join(dir, 'nginx.conf'),
    `${user} worker_processes 2; pid ${dir}/nginx.pid;
error_log ${dir}/error.log; daemon off;
events { worker_connections 1024; }
http {
  sendfile on; tcp_nopush on; keepalive_requests 1000000; access_log off;
  default_type application/octet-stream;
  client_body_temp_path ${temp}; proxy_temp_path ${temp}; fastcgi_temp_path ${temp};
  uwsgi_temp_path ${temp}; scgi_temp_path ${temp};
  client_max_body_size 100m; client_body_buffer_size 128k;
  server {
    listen 127.0.0.1:${port}; root ${root};
    location / { dav_methods PUT; create_full_put_path on; dav_access user:rw group:r all:r; }
  }
}
`,
  );
  const child = spawn('nginx', ['-c', path.join(dir, 'nginx.conf'), '-p', dir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  await waitForUrl(`${url}/`, {
    timeoutMs: 15_000,
    ready: () => true,
    gone: () => child.exitCode !== null,
    output: () => stderr,
  });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  return {
    url,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/**
 * BENCH_NORA_CPU_PROF=<dir>: NORA runs under `node --cpu-prof` and writes its profile there when
 * the bench stops it (SIGTERM → graceful exit).
 */
let profiles = 0;

function noraCommand(): { command?: string[] } {
  const dir = process.env['BENCH_NORA_CPU_PROF'];
  const command = cpuProfCommand(
    dir === '' ? undefined : dir,
    `nora-raw-${process.pid}-${profiles++}.cpuprofile`,
  );
  return command === undefined ? {} : { command };
}

async function startNora(): Promise<{
  url: string;
  pid: number | undefined;
  stop(): Promise<void>;
}> {
  const port = await freePort();
  const nora = await startNoraProcess({
    ...noraCommand(),
    port,
    env: {
      NORA_STORAGE_PATH: path.join(work, 'nora', 'storage'),
      NORA_LOG_LEVEL: 'warn',
      // Benchmarks measure the server, not the limiter (NORA's own benchmarks do the same).
      NORA_RATE_LIMIT_ENABLED: 'false',
      NORA_RAW_MAX_FILE_SIZE: String(100 * 1024 * 1024),
    },
  });
  return {
    url: nora.url,
    pid: nora.child.pid,
    async stop() {
      nora.child.kill('SIGTERM');
      await nora.exited;
    },
  };
}

const SIZES = [
  ['1 KB', 1024],
  ['64 KB', 64 * 1024],
  ['1 MB', 1024 * 1024],
] as const;

async function benchGet(
  noraUrl: string,
  noraPid: number | undefined,
  nginxUrl: string,
  root: string,
): Promise<void> {
  log(`\nGET of one file, wrk -t2 -c${CONNECTIONS}, ${PAIRS} pairs of ${SECONDS} s runs`);
  for (const [label, size] of SIZES) {
    const body = Buffer.alloc(size, 0x61);
    const name = `get/file-${size}.bin`;
    await fs.mkdir(path.join(root, 'get'), { recursive: true });
    await fs.writeFile(path.join(root, name), body);
    const res = await fetch(`${noraUrl}/raw/${name}`, { method: 'PUT', body });
    await res.arrayBuffer();
    if (res.status !== 201) throw new Error(`PUT ${name}: ${res.status}`);
    const c = await compareRates(
      { url: `${noraUrl}/raw/${name}`, pid: noraPid },
      { url: `${nginxUrl}/${name}` },
      { seconds: SECONDS, connections: CONNECTIONS, warmSeconds: WARM_SECONDS },
    );
    log(
      `  ${label.padEnd(6)} ${describeComparison(c, 'nginx', true)}  (target ≥ 0.7×) ${verdict(c.ratio >= 0.7)}`,
    );
  }
}

async function benchPut(
  noraUrl: string,
  noraPid: number | undefined,
  nginxUrl: string,
): Promise<void> {
  const script = path.join(work, 'put.lua');
  await fs.writeFile(
    script,
    `-- A fresh path per request: <prefix>/<thread>-<n>.bin, body of args[2] bytes.
local threads = 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
-- Every body differs (its first bytes name the request, prefix included: the warm-up and each
-- timed run count from 1 again, and the same bytes would be deduplicated, with no file written).
function init(args)
  prefix = args[1]; body = string.rep("x", tonumber(args[2])); counter = 0
end
function request()
  counter = counter + 1
  local name = tid .. "-" .. counter
  local label = prefix .. "/" .. name
  local unique = label .. ":" .. string.sub(body, #label + 2)
  return wrk.format("PUT", prefix .. "/" .. name .. ".bin",
    { ["Content-Type"] = "application/octet-stream" }, unique)
end
`,
  );
  const fsync = process.env['NORA_STORAGE_FSYNC'] ?? 'true';
  log(
    `\nPUT of new files, wrk -t2 -c${CONNECTIONS}, ${PAIRS} pairs of ${SECONDS} s runs (every request a new path and new bytes; NORA fsync = ${fsync})`,
  );
  for (const [label, size] of SIZES.slice(0, 2)) {
    // Run n writes under its own folder: a PUT never meets a path an earlier run made.
    const c = await compareRates(
      {
        url: `${noraUrl}/`,
        pid: noraPid,
        scriptArgs: (n) => [`/raw/put-${size}-${n}`, String(size)],
      },
      { url: `${nginxUrl}/`, scriptArgs: (n) => [`/put-${size}-${n}`, String(size)] },
      { seconds: SECONDS, connections: CONNECTIONS, warmSeconds: WARM_SECONDS, script },
    );
    log(
      `  ${label.padEnd(6)} ${describeComparison(c, 'nginx WebDAV')}  (target ≥ 1×) ${verdict(c.ratio >= 1)}`,
    );
  }
}

try {
  await fs.chmod(work, 0o755);
  const root = path.join(work, 'nginx-root');
  await fs.mkdir(root, { recursive: true });
  const nginx = await startNginx(root, path.join(work, 'nginx'));
  stops.push(() => nginx.stop());
  const nora = await startNora();
  stops.push(() => nora.stop());
  log(
    `raw bench: NORA (local storage) vs nginx 2 workers (sendfile, WebDAV PUT); ${os.cpus().length} CPUs`,
  );
  if (all || sections.has('get')) await benchGet(nora.url, nora.pid, nginx.url, root);
  if (all || sections.has('put')) await benchPut(nora.url, nora.pid, nginx.url);
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await fs.rm(work, { recursive: true, force: true });
}
