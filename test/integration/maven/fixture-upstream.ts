/**
 * A Maven upstream for proxy tests: a static tree (a copy of a few real artifacts from the
 * machine's ~/.m2/repository, with `.sha1`/`.sha256` files written next to them as a real
 * repository has) served by node:http on 127.0.0.1, with ETag/Last-Modified/304, optional Basic
 * auth, a hit log per path, and stop/start to simulate an outage.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

export interface FixtureUpstream {
  readonly root: string;
  url(): string;
  /** Requests seen (`GET /path`), in order. */
  readonly hits: string[];
  hitsFor(suffix: string): number;
  /** Writes a file (and, unless told otherwise, its .sha1) into the tree. */
  put(
    relative: string,
    body: Buffer | string,
    checksums?: readonly ('sha1' | 'sha256' | 'sha512')[],
  ): Promise<void>;
  remove(relative: string): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Real artifacts copied from ~/.m2/repository when present (path, bytes). */
export async function realArtifacts(): Promise<{ path: string; body: Buffer }[]> {
  const m2 = path.join(os.homedir(), '.m2', 'repository');
  const wanted = [
    'junit/junit/3.8.1/junit-3.8.1.jar',
    'junit/junit/3.8.1/junit-3.8.1.pom',
    'junit/junit/3.8.2/junit-3.8.2.jar',
    'junit/junit/3.8.2/junit-3.8.2.pom',
    'javax/inject/javax.inject/1/javax.inject-1.jar',
    'javax/inject/javax.inject/1/javax.inject-1.pom',
  ];
  const found: { path: string; body: Buffer }[] = [];
  for (const relative of wanted) {
    try {
      found.push({ path: relative, body: await fs.readFile(path.join(m2, relative)) });
    } catch {
      // not on this machine: the tests write synthetic files instead
    }
  }
  return found;
}

export async function startFixtureUpstream(
  options: { credentials?: string; port?: number } = {},
): Promise<FixtureUpstream> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-maven-upstream-'));
  const hits: string[] = [];
  let port = options.port ?? 0;
  let server: http.Server | undefined;

  const handler = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    hits.push(`${req.method ?? ''} ${req.url ?? ''}`);
    if (options.credentials !== undefined) {
      const expected = `Basic ${Buffer.from(options.credentials).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="fixture"' }).end();
        return;
      }
    }
    const relative = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/');
    const file = path.join(root, relative);
    if (!file.startsWith(root + path.sep)) {
      res.writeHead(400).end();
      return;
    }
    let stat;
    try {
      stat = await fs.stat(file);
    } catch {
      res.writeHead(404).end('not found');
      return;
    }
    if (!stat.isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    const body = await fs.readFile(file);
    const etag = `"${createHash('sha1').update(body).digest('hex')}"`;
    const lastModified = stat.mtime.toUTCString();
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag }).end();
      return;
    }
    res.writeHead(200, {
      'content-length': body.length,
      etag,
      'last-modified': lastModified,
      'content-type': 'application/octet-stream',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const start = async (): Promise<void> => {
    server = http.createServer((req, res) => {
      handler(req, res).catch(() => res.writeHead(500).end());
    });
    await new Promise<void>((resolve) => server?.listen(port, '127.0.0.1', resolve));
    const address = server.address();
    port = typeof address === 'object' && address ? address.port : port;
  };
  const stop = async (): Promise<void> => {
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  };
  await start();

  return {
    root,
    url: () => `http://127.0.0.1:${port}`,
    hits,
    hitsFor: (suffix) => hits.filter((h) => h.endsWith(suffix)).length,
    async put(relative, body, checksums = ['sha1']) {
      const file = path.join(root, relative);
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.writeFile(file, body);
      for (const algorithm of checksums) {
        await fs.writeFile(
          `${file}.${algorithm}`,
          createHash(algorithm).update(body).digest('hex'),
        );
      }
    },
    async remove(relative) {
      await fs.rm(path.join(root, relative), { force: true });
    },
    stop,
    start,
    async close() {
      await stop();
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}
