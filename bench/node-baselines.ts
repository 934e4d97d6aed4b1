/**
 * Two minimal Node servers, the floors a Node registry can reach on this machine, measured in the
 * client-time benches (pypi install, maven resolve, cargo fetch, go download) next to NORA:
 *
 * - relay: node:http + undici forwarding GET/HEAD to the bench's nginx and piping status, the
 *   headers a client reads and the body straight back. No hashing, no disk, no cache: the floor
 *   of a cold proxy written in Node. It rewrites only what must be rewritten for the client to
 *   keep talking to it (`rewrite`: paths whose bodies name the upstream's origin, e.g. Cargo's
 *   config.json `dl`; a `Location` naming the upstream).
 * - static: node:http serving the bench's tree from disk (small files read synchronously and sent
 *   as one Buffer, as NORA does since that was measured faster here, larger ones streamed),
 *   Content-Type by extension as the bench's nginx has it, Content-Length, keep-alive: the floor
 *   of a warm Node server. `rewrite` names the files whose bodies hold nginx's origin (written
 *   into the tree for nginx), replaced by the static server's own.
 *
 * Each runs as its own process (this file, `node bench/node-baselines.ts relay|static <json>`),
 * with NORA's node flags, on a free 127.0.0.1 port, started once per bench and kept across
 * rounds (nothing in them depends on a round: no cache to empty). The benches run them in the
 * same rounds as NORA, order alternating, unless BENCH_BASELINES=0 (the existing figures alone).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream';
import { freePort, NODE_FLAGS, waitForUrl } from '../test/helpers/process.ts';
import { median, spread, stopOnExit } from './harness.ts';

/** Whether the benches measure the baselines (BENCH_BASELINES=0: they do not). */
export const BASELINES = process.env['BENCH_BASELINES'] !== '0';

interface RelayConfig {
  readonly kind: 'relay';
  readonly port: number;
  /** The upstream's origin; request paths are forwarded as they come. */
  readonly upstream: string;
  /** Source of a RegExp: paths whose bodies get the upstream's origin replaced by the relay's. */
  readonly rewrite?: string;
}

interface StaticConfig {
  readonly kind: 'static';
  readonly port: number;
  readonly root: string;
  /** Extension (no dot) → Content-Type, as the bench's nginx `types {}`. */
  readonly types: Readonly<Record<string, string>>;
  readonly defaultType: string;
  /** Source of a RegExp: paths whose bodies get `from` replaced by the server's own origin. */
  readonly rewrite?: string;
  readonly from?: string;
}

type Config = RelayConfig | StaticConfig;

/** Request headers a client's answer depends on (the rest, hop-by-hop included, stay behind). */
const REQUEST_HEADERS = [
  'accept',
  'accept-encoding',
  'range',
  'if-none-match',
  'if-modified-since',
  'user-agent',
];

/** Response headers a client reads; hop-by-hop ones (connection, transfer-encoding) are node's. */
const RESPONSE_HEADERS = [
  'content-type',
  'content-length',
  'content-encoding',
  'content-range',
  'accept-ranges',
  'etag',
  'last-modified',
  'cache-control',
  'vary',
  'location',
];

/** Above this a file is streamed; up to it, read synchronously (64 KiB, NORA's own threshold). */
const SMALL_FILE = 64 * 1024;

function listen(server: http.Server, port: number): void {
  // Clients (pip, cargo's curl, go, Maven's resolver) keep connections idle between requests.
  server.keepAliveTimeout = 60_000;
  server.listen(port, '127.0.0.1');
}

async function runRelay(config: RelayConfig): Promise<void> {
  const { Agent } = await import('undici');
  // NORA's upstream client's own pool settings (src/proxy/upstream-client.ts).
  const agent = new Agent({
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 600_000,
    connections: 64,
    pipelining: 1,
  });
  const upstream = new URL(config.upstream).origin;
  const self = `http://127.0.0.1:${config.port}`;
  const rewrite = config.rewrite === undefined ? undefined : new RegExp(config.rewrite);
  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    if (method !== 'GET' && method !== 'HEAD') {
      res.writeHead(405, { 'content-length': 0 }).end();
      return;
    }
    const headers: Record<string, string> = {};
    for (const name of REQUEST_HEADERS) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    agent.request({ origin: upstream, path: url, method, headers }).then(
      async (up) => {
        const out: Record<string, string | string[]> = {};
        for (const name of RESPONSE_HEADERS) {
          const value = up.headers[name];
          if (value !== undefined) out[name] = value;
        }
        const location = out['location'];
        if (typeof location === 'string' && location.startsWith(upstream))
          out['location'] = self + location.slice(upstream.length);
        if (rewrite?.test(url.split('?')[0] ?? '') === true && up.statusCode === 200) {
          // Absolute URLs naming the upstream: the client must come back here instead.
          const body = Buffer.from((await up.body.text()).replaceAll(upstream, self));
          out['content-length'] = String(body.length);
          res.writeHead(up.statusCode, out).end(method === 'HEAD' ? undefined : body);
          return;
        }
        res.writeHead(up.statusCode, out);
        pipeline(up.body, res, () => undefined);
      },
      () => {
        if (!res.headersSent) res.writeHead(502, { 'content-length': 0 });
        res.end();
      },
    );
  });
  listen(server, config.port);
}

function runStatic(config: StaticConfig): void {
  const root = path.resolve(config.root);
  const self = `http://127.0.0.1:${config.port}`;
  const rewrite = config.rewrite === undefined ? undefined : new RegExp(config.rewrite);
  const type = (file: string): string =>
    config.types[path.extname(file).slice(1)] ?? config.defaultType;
  const notFound = (res: http.ServerResponse, status = 404): void => {
    res.writeHead(status, { 'content-type': 'text/plain', 'content-length': 9 }).end('not found');
  };
  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      res.writeHead(405, { 'content-length': 0 }).end();
      return;
    }
    let pathname: string;
    try {
      pathname = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/');
    } catch {
      notFound(res, 400);
      return;
    }
    let file = path.join(root, pathname);
    if (pathname.includes('\0') || (file !== root && !file.startsWith(`${root}/`))) {
      notFound(res);
      return;
    }
    try {
      let stat = fs.statSync(file);
      if (stat.isDirectory()) {
        // As nginx: a directory without its slash is redirected, with it its index.html served.
        if (!pathname.endsWith('/')) {
          res.writeHead(301, { location: `${pathname}/`, 'content-length': 0 }).end();
          return;
        }
        file = path.join(file, 'index.html');
        stat = fs.statSync(file);
      }
      if (!stat.isFile()) {
        notFound(res);
        return;
      }
      const headers = { 'content-type': type(file), 'content-length': String(stat.size) };
      if (rewrite?.test(pathname) === true && config.from !== undefined) {
        const body = Buffer.from(fs.readFileSync(file, 'utf8').replaceAll(config.from, self));
        headers['content-length'] = String(body.length);
        res.writeHead(200, headers).end(method === 'HEAD' ? undefined : body);
      } else if (method === 'HEAD') {
        res.writeHead(200, headers).end();
      } else if (stat.size <= SMALL_FILE) {
        res.writeHead(200, headers).end(fs.readFileSync(file));
      } else {
        res.writeHead(200, headers);
        pipeline(fs.createReadStream(file, { highWaterMark: SMALL_FILE }), res, () => undefined);
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      notFound(res, code === 'ENOENT' || code === 'ENOTDIR' ? 404 : 500);
    }
  });
  listen(server, config.port);
}

export interface BaselineServer {
  readonly kind: 'relay' | 'static';
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly child: ChildProcess;
}

async function startBaseline(config: Omit<RelayConfig, 'port'> | Omit<StaticConfig, 'port'>) {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [...NODE_FLAGS, import.meta.filename, JSON.stringify({ ...config, port })],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let output = '';
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  try {
    // Any answer: the relay's `/` is nginx's, the static server's `/` a 404 or an index.
    await waitForUrl(`${url}/`, {
      timeoutMs: 15_000,
      gone: () => child.exitCode !== null || child.signalCode !== null,
      output: () => output,
    });
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return { kind: config.kind, url, child } satisfies BaselineServer;
}

/**
 * The node relay to `upstream` (any URL of the upstream; its origin is used). `rewrite`: paths
 * whose 200 bodies name the upstream's origin (Cargo's config.json).
 */
function startRelay(upstream: string, rewrite?: RegExp): Promise<BaselineServer> {
  return startBaseline({
    kind: 'relay',
    upstream,
    ...(rewrite === undefined ? {} : { rewrite: rewrite.source }),
  });
}

/**
 * The node static server of `root`, types as the bench's nginx (`types`, `defaultType`);
 * `rewrite.paths`: files whose bodies hold `rewrite.from` (nginx's origin), answered with the
 * static server's origin instead.
 */
function startStatic(
  root: string,
  types: Readonly<Record<string, string>>,
  defaultType: string,
  rewrite?: { readonly paths: RegExp; readonly from: string },
): Promise<BaselineServer> {
  return startBaseline({
    kind: 'static',
    root,
    types,
    defaultType,
    ...(rewrite === undefined ? {} : { rewrite: rewrite.paths.source, from: rewrite.from }),
  });
}

/** Untimed GETs of `paths` (answers of any status): each server's code compiled before round 1. */
async function warmBaselines(
  servers: readonly BaselineServer[],
  paths: readonly string[],
): Promise<void> {
  for (const server of servers)
    for (const p of paths) await fetch(`${server.url}${p}`).then((r) => r.arrayBuffer());
}

/** The two floors a client-time bench measures NORA against. */
export interface Baselines {
  readonly relay: BaselineServer;
  readonly static: BaselineServer;
}

export interface BaselinesOptions {
  /** The bench's nginx (any URL of it): the relay's upstream. */
  readonly upstream: string;
  /** The tree nginx serves, served again by the static server. */
  readonly root: string;
  /** Extension (no dot) → Content-Type and the fallback, as the bench's nginx `types {}`. */
  readonly types: Readonly<Record<string, string>>;
  readonly defaultType: string;
  /**
   * Paths whose bodies name nginx's origin (`upstream`, as written into the tree: Cargo's
   * config.json `dl`), answered by each server with its own origin instead.
   */
  readonly rewrite?: RegExp;
  /** Untimed GETs through both before round 1, the requests a NORA is warmed with. */
  readonly warm: readonly string[];
  /** Hands each started server process to the bench's clean-up (default: harness `stopOnExit`). */
  readonly stopLater?: (child: ChildProcess) => void;
}

/**
 * The node relay to the bench's nginx and the node static server of the tree nginx serves,
 * registered for clean-up and warmed: what every client-time bench (pypi, maven, cargo, go)
 * starts once and times in the same rounds as NORA.
 */
export async function startBaselines(options: BaselinesOptions): Promise<Baselines> {
  const stopLater = options.stopLater ?? stopOnExit;
  const relay = await startRelay(options.upstream, options.rewrite);
  stopLater(relay.child);
  const server = await startStatic(
    options.root,
    options.types,
    options.defaultType,
    options.rewrite === undefined ? undefined : { paths: options.rewrite, from: options.upstream },
  );
  stopLater(server.child);
  await warmBaselines([relay, server], options.warm);
  return { relay, static: server };
}

/** Wall seconds of every round per configuration; `relay`/`static` empty when not measured. */
export interface ClientTimes {
  readonly direct: readonly number[];
  readonly cold: readonly number[];
  readonly warm: readonly number[];
  readonly relay: readonly number[];
  readonly static: readonly number[];
}

/** The server process's CPU seconds per timed run (NORA's, the relay's, the static server's). */
export interface ServerCpu {
  readonly cold: readonly number[];
  readonly warm: readonly number[];
  readonly relay: readonly number[];
  readonly static: readonly number[];
}

/**
 * The lines every client-time bench prints for its baselines: medians (min–max) of the five
 * configurations with each server's median CPU, then the ratios of the medians. NORA cold / relay
 * and NORA warm / static are how far NORA is from the floor of a Node server on this machine;
 * relay / direct and static / direct how far that floor is from nginx.
 */
export function baselineSummary(times: ClientTimes, cpu: ServerCpu): string[] {
  const cpuNote = (values: readonly number[]) =>
    values.length === 0 ? '' : `  (server CPU ${median(values).toFixed(2)} s per run)`;
  const d = median(times.direct);
  const r = (a: readonly number[], b: number) => (median(a) / b).toFixed(2);
  return [
    `node baselines, median (min–max) of ${times.direct.length} direct run(s):`,
    `  direct from nginx   ${spread(times.direct)}`,
    `  NORA cold           ${spread(times.cold)}${cpuNote(cpu.cold)}`,
    `  NORA warm           ${spread(times.warm)}${cpuNote(cpu.warm)}`,
    `  node relay          ${spread(times.relay)}${cpuNote(cpu.relay)}`,
    `  node static         ${spread(times.static)}${cpuNote(cpu.static)}`,
    `  NORA cold / direct ${r(times.cold, d)}×, NORA warm / direct ${r(times.warm, d)}×, ` +
      `relay / direct ${r(times.relay, d)}×, static / direct ${r(times.static, d)}×`,
    `  NORA cold / relay ${r(times.cold, median(times.relay))}×, ` +
      `NORA warm / static ${r(times.warm, median(times.static))}×`,
  ];
}

// Run as a process: `node bench/node-baselines.ts '<config json>'`.
if (process.argv[1] === import.meta.filename) {
  const config = JSON.parse(process.argv[2] ?? '{}') as Config;
  if (config.kind === 'relay') await runRelay(config);
  else runStatic(config);
}
