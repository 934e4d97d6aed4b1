/**
 * A scripted sparse-index upstream on loopback for the Cargo proxy tests, laid out like
 * crates.io's: `<root>/config.json` (`dl` a template or a base), index files at prefix paths
 * under `<root>/`, `.crate` files wherever `dl` says (here `/dl/...`, outside the index root, as
 * crates.io's static host is), ETags (304 on If-None-Match), scripted failures, and a log of every
 * request.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { indexPath } from '../../../src/formats/cargo/upstream.ts';

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A `.crate`-shaped body (a gzip of a fake tar; the proxy never looks inside). */
export function fakeCrate(name: string, version: string): Buffer {
  return gzipSync(Buffer.from(`${name}-${version}/Cargo.toml\n[package]\nname = "${name}"\n`));
}

export interface FixtureVersion {
  readonly vers: string;
  readonly body: Buffer;
  /** The cksum the index states: the body's by default. */
  readonly cksum?: string;
  readonly deps?: readonly Record<string, unknown>[];
}

export class CargoFixtureUpstream {
  /** Index root path, e.g. `/index/`. */
  root = '/index/';
  /** `dl` as config.json gives it, `{base}` replaced by the server's origin. */
  dl = '{base}/dl/{crate}/{version}/{sha256-checksum}';
  readonly crates = new Map<string, { name: string; versions: FixtureVersion[] }>();
  /** Raw index file bodies that replace the generated ones, by lower-cased name. */
  readonly rawIndex = new Map<string, string>();
  indexStatus: number | undefined;
  crateStatus: number | undefined;
  etags = true;
  /** A hung upstream: every request is accepted and never answered (until stop()). */
  hang = false;
  /** Answers held until the promise settles, by request URL (logged when they arrive). */
  readonly held = new Map<string, Promise<void>>();
  readonly requests: {
    url: string;
    ifNoneMatch: string | undefined;
    userAgent: string | undefined;
    status: number;
  }[] = [];
  #server: http.Server | undefined;
  base = '';

  async start(port = 0): Promise<void> {
    const server = http.createServer((req, res) => {
      const held = this.held.get(req.url ?? '/');
      if (held === undefined) this.#handle(req, res);
      else {
        this.requests.push({
          url: req.url ?? '/',
          ifNoneMatch: undefined,
          userAgent: undefined,
          status: 0,
        });
        void held.then(() => {
          this.#handle(req, res, false);
        });
      }
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
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

  /** The index URL to configure. */
  get url(): string {
    return `${this.base}${this.root}`;
  }

  add(name: string, version: FixtureVersion): void {
    const key = name.toLowerCase();
    const crate = this.crates.get(key) ?? { name, versions: [] };
    crate.versions.push(version);
    this.crates.set(key, crate);
  }

  count(predicate: (url: string) => boolean): number {
    return this.requests.filter((r) => predicate(r.url)).length;
  }

  indexBody(key: string): string | undefined {
    const raw = this.rawIndex.get(key);
    if (raw !== undefined) return raw;
    const crate = this.crates.get(key);
    if (!crate) return undefined;
    return crate.versions
      .map(
        (v) =>
          `${JSON.stringify({
            name: crate.name,
            vers: v.vers,
            deps: v.deps ?? [],
            cksum: v.cksum ?? sha256(v.body),
            features: {},
            yanked: false,
            pubtime: '2026-01-01T00:00:00Z',
          })}\n`,
      )
      .join('');
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse, logged = true): void {
    const url = req.url ?? '/';
    const ifNoneMatch = req.headers['if-none-match'];
    const log = { url, ifNoneMatch, userAgent: req.headers['user-agent'], status: 0 };
    if (logged) this.requests.push(log);
    if (this.hang) return;
    const send = (status: number, body: Buffer | string = '', headers = {}): void => {
      log.status = status;
      res.writeHead(status, headers).end(body);
    };
    if (url === `${this.root}config.json`) {
      send(200, JSON.stringify({ dl: this.dl.replace('{base}', this.base), api: this.base }), {
        'content-type': 'application/json',
      });
      return;
    }
    if (url.startsWith('/dl/')) {
      if (this.crateStatus !== undefined) {
        send(this.crateStatus, 'scripted failure');
        return;
      }
      const [, , name, vers] = url.split('/');
      const crate = this.crates.get(decodeURIComponent(name ?? '').toLowerCase());
      const version = crate?.versions.find((v) => v.vers === decodeURIComponent(vers ?? ''));
      if (!version) {
        send(404, 'no such crate');
        return;
      }
      send(200, version.body, { 'content-length': version.body.length });
      return;
    }
    if (url.startsWith(this.root)) {
      if (this.indexStatus !== undefined) {
        send(this.indexStatus, 'scripted failure');
        return;
      }
      const rest = url.slice(this.root.length);
      const name = rest.slice(rest.lastIndexOf('/') + 1);
      if (indexPath(name) !== rest) {
        send(404, 'not an index path');
        return;
      }
      const body = this.indexBody(name);
      if (body === undefined) {
        send(404, 'no such crate');
        return;
      }
      const etag = `"${sha256(body).slice(0, 16)}"`;
      if (this.etags && ifNoneMatch === etag) {
        send(304, '', { etag });
        return;
      }
      send(200, body, this.etags ? { etag } : {});
      return;
    }
    send(404, 'not found');
  }
}
