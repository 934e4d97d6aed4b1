/**
 * A scripted upstream simple index on loopback for the PyPI proxy tests: several index roots
 * (`/<root>/simple/`), each answering PEP 691 JSON or PEP 503 HTML, with files under
 * `/<root>/files/` (outside the index prefix, as a CDN would be), optional `.metadata` files,
 * ETags (304 on If-None-Match), and a log of every request. Plus a minimal zip writer for
 * hand-made wheels.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { crc32 } from 'node:zlib';

export interface FixtureFile {
  readonly filename: string;
  readonly body: Buffer;
  /** The sha256 the page states: the body's by default, `null` for none, or another one. */
  readonly sha256?: string | null;
  readonly yanked?: string;
  readonly requiresPython?: string;
  /** Served at `<file>.metadata` and advertised (with `metadataSha256`, default its own). */
  readonly metadata?: Buffer;
  readonly metadataSha256?: string;
  /** The href as written (HTML) / url (JSON) instead of the computed one. */
  readonly href?: string;
}

export interface FixtureIndex {
  format: 'json' | 'html';
  projects: Map<string, FixtureFile[]>;
  /** Answer every page request with this status instead. */
  status?: number;
  /** Replace every page body with this (Content-Type as `format` says). */
  body?: Buffer | (() => Iterable<Buffer>);
  /** Serve ETags and honour If-None-Match. */
  etags: boolean;
  /** Files answer Range requests with 206 (default true). */
  ranges?: boolean;
  /** Basic credentials `user:password` every request of this root must carry. */
  auth?: string;
  /** Answer every file request with this status instead. */
  filesStatus?: number;
  /** Milliseconds to wait before answering a page. */
  delayMs?: number;
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export class FixtureUpstream {
  readonly indexes = new Map<string, FixtureIndex>();
  readonly requests: {
    method: string;
    url: string;
    ifNoneMatch: string | undefined;
    range: string | undefined;
    status: number;
  }[] = [];
  #server: http.Server | undefined;
  base = '';

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      void this.#handle(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.#server = server;
    this.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    this.#server = undefined;
  }

  index(root: string, format: 'json' | 'html', etags = true): FixtureIndex {
    const index: FixtureIndex = { format, projects: new Map(), etags };
    this.indexes.set(root, index);
    return index;
  }

  /** The index URL of a root, as pip's --index-url takes it. */
  url(root: string): string {
    return `${this.base}/${root}/simple/`;
  }

  count(predicate: (url: string) => boolean): number {
    return this.requests.filter((r) => predicate(r.url)).length;
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const ifNoneMatch = req.headers['if-none-match'];
    const range = req.headers.range;
    const log = { method: req.method ?? 'GET', url, ifNoneMatch, range, status: 0 };
    this.requests.push(log);
    const send = (
      status: number,
      body: Buffer | string = '',
      headers: http.OutgoingHttpHeaders = {},
    ) => {
      log.status = status;
      res.writeHead(status, headers).end(body);
    };
    const match = /^\/([^/]+)\/(simple|files)\/(.*)$/.exec(url);
    const index = match ? this.indexes.get(match[1]!) : undefined;
    if (!match || !index) {
      send(404, 'not found');
      return;
    }
    const [, root, kind, rest] = match as unknown as [string, string, string, string];
    if (
      index.auth !== undefined &&
      req.headers.authorization !== `Basic ${Buffer.from(index.auth).toString('base64')}`
    ) {
      send(401, 'credentials needed', { 'www-authenticate': 'Basic realm="fixture"' });
      return;
    }
    if (kind === 'simple' && index.delayMs !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, index.delayMs));
    }
    if (kind === 'files' && index.filesStatus !== undefined) {
      send(index.filesStatus, 'scripted failure');
      return;
    }
    if (kind === 'files') {
      for (const files of index.projects.values()) {
        for (const file of files) {
          if (rest === encodeURIComponent(file.filename)) {
            const wanted = /^bytes=(\d+)-(\d+)$/.exec(range ?? '');
            if (wanted && index.ranges !== false) {
              const start = Number(wanted[1]);
              const end = Math.min(Number(wanted[2]), file.body.length - 1);
              send(206, file.body.subarray(start, end + 1), {
                'content-range': `bytes ${start}-${end}/${file.body.length}`,
              });
              return;
            }
            send(200, req.method === 'HEAD' ? '' : file.body, {
              'content-length': file.body.length,
            });
            return;
          }
          if (file.metadata && rest === `${encodeURIComponent(file.filename)}.metadata`) {
            send(200, file.metadata);
            return;
          }
        }
      }
      send(404, 'no such file');
      return;
    }
    if (index.status !== undefined) {
      send(index.status, 'scripted failure');
      return;
    }
    const project = rest.replace(/\/$/, '');
    const type =
      index.format === 'json' ? 'application/vnd.pypi.simple.v1+json' : 'text/html; charset=utf-8';
    if (index.body !== undefined) {
      log.status = 200;
      if (Buffer.isBuffer(index.body)) {
        res.writeHead(200, { 'content-type': type }).end(index.body);
        return;
      }
      res.writeHead(200, { 'content-type': type });
      try {
        for (const chunk of index.body()) {
          if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
          if (res.destroyed) return;
        }
        res.end();
      } catch {
        res.destroy();
      }
      return;
    }
    const files = index.projects.get(project);
    if (!files) {
      send(404, 'no such project');
      return;
    }
    const body = index.format === 'json' ? this.#json(root, project, files) : this.#html(files);
    const etag = `"${sha256(body).slice(0, 16)}"`;
    if (index.etags && ifNoneMatch === etag) {
      send(304, '', { etag });
      return;
    }
    send(200, body, { 'content-type': type, ...(index.etags ? { etag } : {}) });
  }

  #json(root: string, project: string, files: FixtureFile[]): string {
    return JSON.stringify({
      meta: { 'api-version': '1.1' },
      name: project,
      files: files.map((f) => ({
        filename: f.filename,
        url: f.href ?? `${this.base}/${root}/files/${encodeURIComponent(f.filename)}`,
        hashes: f.sha256 === null ? {} : { sha256: f.sha256 ?? sha256(f.body) },
        ...(f.requiresPython === undefined ? {} : { 'requires-python': f.requiresPython }),
        ...(f.yanked === undefined ? {} : { yanked: f.yanked === '' ? true : f.yanked }),
        ...(f.metadata === undefined
          ? {}
          : { 'core-metadata': { sha256: f.metadataSha256 ?? sha256(f.metadata) } }),
        size: f.body.length,
        'upload-time': '2024-05-06T07:08:09.123456Z',
      })),
    });
  }

  #html(files: FixtureFile[]): string {
    const esc = (s: string) =>
      s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
    const links = files.map((f) => {
      const href =
        f.href ??
        `../../files/${encodeURIComponent(f.filename)}${f.sha256 === null ? '' : `#sha256=${f.sha256 ?? sha256(f.body)}`}`;
      const attrs = [`href="${esc(href)}"`];
      if (f.requiresPython !== undefined)
        attrs.push(`data-requires-python="${esc(f.requiresPython)}"`);
      if (f.yanked !== undefined) attrs.push(`data-yanked="${esc(f.yanked)}"`);
      if (f.metadata !== undefined)
        attrs.push(`data-dist-info-metadata="sha256=${f.metadataSha256 ?? sha256(f.metadata)}"`);
      return `<a ${attrs.join(' ')}>${esc(f.filename)}</a><br/>`;
    });
    return `<!DOCTYPE html><html><body><h1>Links</h1>\n${links.join('\n')}\n</body></html>`;
  }
}

/** A zip of stored (uncompressed) entries: enough for a hand-made wheel. */
export function makeZip(entries: Record<string, string | Buffer>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, content] of Object.entries(entries)) {
    const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
    const nameBytes = Buffer.from(name);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    locals.push(local, nameBytes, data);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  const count = Object.keys(entries).length;
  end.writeUInt16LE(count, 8);
  end.writeUInt16LE(count, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** A tiny pure-Python wheel `{name}-{version}-py3-none-any.whl` and its METADATA. */
export function makeWheel(
  name: string,
  version: string,
  payload?: Buffer,
): { filename: string; body: Buffer; metadataText: string } {
  const dist = `${name.replace(/-/g, '_')}-${version}`;
  const metadata = `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\nRequires-Python: >=3.7\nSummary: a test wheel\n\n`;
  const body = makeZip({
    [`${name.replace(/-/g, '_')}/__init__.py`]: `VERSION = "${version}"\n`,
    ...(payload === undefined ? {} : { [`${name.replace(/-/g, '_')}/data.bin`]: payload }),
    [`${dist}.dist-info/METADATA`]: metadata,
    [`${dist}.dist-info/WHEEL`]:
      'Wheel-Version: 1.0\nGenerator: nora-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n',
    [`${dist}.dist-info/RECORD`]: '',
  });
  return { filename: `${dist}-py3-none-any.whl`, body, metadataText: metadata };
}
