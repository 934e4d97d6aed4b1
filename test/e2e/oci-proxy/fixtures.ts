/**
 * Loopback upstreams for the pull-through tests:
 * - `startDistribution`: Debian's docker-registry (CNCF Distribution) on a free port, anonymous or
 *   behind htpasswd basic auth, started as a child process and stopped by PID;
 * - `startFront`: a small Node reverse proxy in front of it that counts requests, can play dead,
 *   and can demand Docker-Hub-style bearer tokens from its own token endpoint;
 * - `buildOciLayout`: OCI image layouts with real (uncompressed) tar layers, single or multi-arch.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { freePort } from '../../helpers/process.ts';
import { run } from '../../helpers/tools.ts';

export { freePort };

export interface Distribution {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  log(): string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startDistribution(
  dir: string,
  options: {
    htpasswd?: { user: string; password: string };
    port?: number;
    /** Run Distribution as a pull-through cache of this upstream (`proxy: remoteurl:`). */
    proxyRemote?: string;
    logLevel?: string;
  } = {},
): Promise<Distribution> {
  const port = options.port ?? (await freePort());
  const dataDir = path.join(dir, 'data');
  await fs.mkdir(dataDir, { recursive: true });
  let auth = '';
  if (options.htpasswd) {
    const file = path.join(dir, 'htpasswd');
    await run('htpasswd', ['-Bbc', file, options.htpasswd.user, options.htpasswd.password]);
    auth = `auth:\n  htpasswd:\n    realm: test-realm\n    path: ${file}\n`;
  }
  const proxy =
    options.proxyRemote === undefined ? '' : `proxy:\n  remoteurl: ${options.proxyRemote}\n`;
  const config = path.join(dir, 'config.yml');
  await fs.writeFile(
    config,
    `version: 0.1\nlog:\n  level: ${options.logLevel ?? 'info'}\n  accesslog:\n    disabled: false\nstorage:\n  cache:\n    blobdescriptor: inmemory\n  filesystem:\n    rootdirectory: ${dataDir}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${auth}${proxy}`,
  );
  let child: ChildProcess | undefined;
  let output = '';
  const url = `http://127.0.0.1:${port}`;
  const start = async (): Promise<void> => {
    child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    await waitFor(async () => {
      const res = await fetch(`${url}/v2/`).catch(() => undefined);
      await res?.arrayBuffer();
      return res !== undefined && (res.status === 200 || res.status === 401);
    }, 15_000);
  };
  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) =>
      proc.once('exit', () => {
        resolve();
      }),
    );
    proc.kill('SIGKILL');
    await exited;
  };
  await start();
  return { url, host: `127.0.0.1:${port}`, port, dataDir, log: () => output, stop, start };
}

export interface FrontRequest {
  readonly method: string;
  readonly path: string;
}

export interface Front {
  readonly url: string;
  readonly host: string;
  readonly requests: FrontRequest[];
  /** true: every request gets a 503 (or the socket is destroyed when `hang` is chosen). */
  down: false | '503' | 'reset';
  /** Bytes per second for response bodies (simulates a slow upstream), 0 = unlimited. */
  throttle: number;
  tokensIssued: number;
  count(method: string, pattern: RegExp): number;
  close(): Promise<void>;
}

/**
 * A counting reverse proxy to `target`. With `token`, /v2/* needs `Bearer` tokens issued by
 * `/token` (optionally only to `token.user:token.password`), the Docker Hub flow.
 */
export async function startFront(
  target: string,
  token?: { user?: string; password?: string; expiresIn?: number },
): Promise<Front> {
  const issued = new Map<string, string>();
  const front: Front = {
    url: '',
    host: '',
    requests: [],
    down: false,
    throttle: 0,
    tokensIssued: 0,
    count: (method, pattern) =>
      front.requests.filter((r) => r.method === method && pattern.test(r.path)).length,
    close: () => Promise.resolve(),
  };
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (front.down === 'reset') {
      req.socket.destroy();
      return;
    }
    if (front.down === '503') {
      res.writeHead(503).end();
      return;
    }
    if (token && url.startsWith('/token')) {
      const expected =
        token.user === undefined
          ? undefined
          : `Basic ${Buffer.from(`${token.user}:${token.password ?? ''}`).toString('base64')}`;
      if (expected !== undefined && req.headers.authorization !== expected) {
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end('{"details":"bad credentials"}');
        return;
      }
      const scope = new URL(url, 'http://x').searchParams.get('scope') ?? '';
      const value = randomBytes(16).toString('hex');
      issued.set(value, scope);
      front.tokensIssued += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          token: value,
          access_token: value,
          expires_in: token.expiresIn ?? 300,
          issued_at: new Date().toISOString(),
        }),
      );
      return;
    }
    front.requests.push({ method: req.method ?? 'GET', path: url });
    if (token && url.startsWith('/v2/')) {
      const name = /^\/v2\/(.+?)\/(?:manifests|blobs|tags)\//.exec(url)?.[1];
      const scope = name === undefined ? '' : `repository:${name}:pull`;
      const presented = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const granted = presented === undefined ? undefined : issued.get(presented);
      if (granted === undefined || (scope !== '' && !granted.split(' ').includes(scope))) {
        res
          .writeHead(401, {
            'content-type': 'application/json',
            'www-authenticate': `Bearer realm="${front.url}/token",service="fixture-registry"${scope === '' ? '' : `,scope="${scope}"`}`,
          })
          .end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        return;
      }
    }
    const headers = { ...req.headers };
    delete headers.authorization;
    delete headers.host;
    const upstream = http.request(`${target}${url}`, { method: req.method, headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      const rate = front.throttle;
      const stages = rate > 0 ? [upRes, throttle(rate), res] : [upRes, res];
      pipeline(stages).catch(() => undefined);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    pipeline(req, upstream).catch(() => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  Object.assign(front, {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  });
  return front;
}

/** Passes bytes at about `bytesPerSecond`, in 64 KiB slices. */
function throttle(bytesPerSecond: number): Transform {
  const slice = 64 * 1024;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const parts: Buffer[] = [];
      for (let i = 0; i < chunk.length; i += slice) parts.push(chunk.subarray(i, i + slice));
      const push = () => {
        const part = parts.shift();
        if (part === undefined) {
          callback();
          return;
        }
        this.push(part);
        setTimeout(push, (part.length / bytesPerSecond) * 1000);
      };
      push();
    },
  });
}

export interface LayoutImage {
  /** Manifest (or index) digest. */
  readonly digest: string;
  /** Layer digests with their sizes, every platform. */
  readonly layers: { digest: string; size: number }[];
}

/**
 * Writes an OCI image layout at `dir` with one tag. `platforms` > 1 makes a multi-arch index.
 * Each layer is an uncompressed tar holding one file of `layerSizes[i]` random bytes.
 */
export async function buildOciLayout(
  dir: string,
  tag: string,
  options: { layerSizes: readonly number[]; platforms?: readonly string[] },
): Promise<LayoutImage> {
  const blobs = path.join(dir, 'blobs', 'sha256');
  await fs.mkdir(blobs, { recursive: true });
  await fs.writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const writeJson = async (value: unknown) => {
    const bytes = Buffer.from(JSON.stringify(value));
    const hex = createHash('sha256').update(bytes).digest('hex');
    await fs.writeFile(path.join(blobs, hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  const platforms = options.platforms ?? ['linux/amd64'];
  const layers: { digest: string; size: number }[] = [];
  const manifests: { digest: string; size: number; platform: string }[] = [];
  for (const platform of platforms) {
    const own: { digest: string; size: number }[] = [];
    for (const [index, size] of options.layerSizes.entries()) {
      const layer = await writeTarLayer(blobs, `${platform.replace('/', '-')}-${index}.bin`, size);
      own.push(layer);
      layers.push(layer);
    }
    const [os, architecture] = platform.split('/');
    const config = await writeJson({
      architecture,
      os,
      config: { Cmd: ['/bin/true'] },
      rootfs: { type: 'layers', diff_ids: own.map((l) => l.digest) },
    });
    const manifest = await writeJson({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: own.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l })),
    });
    manifests.push({ ...manifest, platform });
  }
  let top: { digest: string; size: number; mediaType: string };
  if (manifests.length === 1) {
    const only = manifests[0]!;
    top = {
      digest: only.digest,
      size: only.size,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
    };
  } else {
    const index = await writeJson({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: manifests.map((m) => {
        const [os, architecture] = m.platform.split('/');
        return {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: m.digest,
          size: m.size,
          platform: { os, architecture },
        };
      }),
    });
    top = { ...index, mediaType: 'application/vnd.oci.image.index.v1+json' };
  }
  await fs.writeFile(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
  return { digest: top.digest, layers };
}

/** An uncompressed tar with one regular file of `size` random bytes; returns its digest. */
async function writeTarLayer(
  blobs: string,
  fileName: string,
  size: number,
): Promise<{ digest: string; size: number }> {
  const header = Buffer.alloc(512);
  header.write(fileName, 0, 100, 'utf8');
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  header.write(
    `${Math.floor(Date.now() / 1000)
      .toString(8)
      .padStart(11, '0')}\0`,
    136,
  );
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const padding = (512 - (size % 512)) % 512;
  const temp = path.join(blobs, `tmp-${randomBytes(6).toString('hex')}`);
  const hash = createHash('sha256');
  function* chunks() {
    yield header;
    let left = size;
    while (left > 0) {
      const n = Math.min(left, 1024 * 1024);
      yield randomBytes(n);
      left -= n;
    }
    yield Buffer.alloc(padding + 1024);
  }
  let total = 0;
  await pipeline(
    Readable.from(chunks()),
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        hash.update(chunk);
        total += chunk.length;
        yield chunk;
      }
    },
    createWriteStream(temp),
  );
  const hex = hash.digest('hex');
  await fs.rename(temp, path.join(blobs, hex));
  return { digest: `sha256:${hex}`, size: total };
}

/** skopeo copy of a layout (all platforms) to a registry over plain HTTP. */
export async function pushLayout(
  dir: string,
  tag: string,
  destination: string,
  creds?: string,
): Promise<void> {
  await run('skopeo', [
    'copy',
    '--all',
    '--dest-tls-verify=false',
    ...(creds === undefined ? [] : ['--dest-creds', creds]),
    `oci:${dir}:${tag}`,
    `docker://${destination}`,
  ]);
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline((await fs.open(file)).createReadStream(), hash);
  return `sha256:${hash.digest('hex')}`;
}
