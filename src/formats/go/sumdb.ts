/**
 * The checksum-database proxy (Go modules reference, "Checksum database": a module proxy may
 * serve `<proxy>/sumdb/<name>/…` for the databases it mirrors; `go` asks
 * `<proxy>/sumdb/<name>/supported` first and, on 200, reads `lookup/…` and `tile/…` there).
 * With `GOPROXY=<nora>/go`, `GOSUMDB` verification then works on a host whose only way out is
 * NORA.
 *
 * - `supported`: answered here (200, empty) for every database in [go] sumdb, 404 for others
 *   (then `go` uses the database's own URL).
 * - `tile/…` (full and partial tiles alike: a tile of a given width never changes) and
 *   `lookup/<module>@<version>` (a record never changes; the signed tree head in it is an older
 *   one, which `go` reconciles with its newest by proving consistency) are cached forever.
 * - `latest` is revalidated on every read and served stale when the database is unreachable.
 * - A partial hash tile (`tile/H/L/N.p/W`) asked while the database is unreachable is cut from a
 *   cached wider copy of the same tile (its first W hashes: the tree only grows). `go` asks for the
 *   width of the tree head in a lookup it got, and cached lookups carry heads of different sizes,
 *   so a build from cache needs widths nobody fetched while the database was up.
 * - Bytes are passed through unchanged: the `go` command checks the signatures and hashes.
 * - A lookup of a private module ([go] private) is never forwarded: 404, so the name cannot leak.
 *   Nor, through a group, one of a module path a hosted member holds (service.ts checks that).
 */
import type { CurationGate } from '../../curation/types.ts';
import type { AppConfig } from '../../config/schema.ts';
import { formatDigest, parseDigest } from '../../core/digest.ts';
import { isRegistryError, RegistryError } from '../../core/errors.ts';
import { readAllBounded } from '../../core/streams.ts';
import type { ProxyEngine, Refresh } from '../../proxy/engine.ts';
import { asUpstreamError } from '../../proxy/in-order.ts';
import { answeredAbsent, type UpstreamTarget } from '../../proxy/upstream-client.ts';
import type { BlobStore } from '../../storage/blob-store.ts';
import { sumdbUpstreams } from './config.ts';
import { isPrivateModule } from './proxy.ts';

/** Largest checksum-database answer, bytes (a full data tile of 256 records is ~30 KB). */
export const MAX_SUMDB_BYTES = 1024 * 1024;
/** A hash tile path (tlog: `tile/<H>/<L>/<N as x000/…/000>[.p/<W>]`; data tiles excluded). */
const HASH_TILE = /^tile\/(\d{1,2})\/(\d{1,2})\/((?:x\d{3}\/)*\d{3})(?:\.p\/(\d{1,3}))?$/;
/** Bytes of one hash in a tile (SHA-256). */
const HASH_BYTES = 32;

/** The engine's cache namespace of checksum-database answers (shared by every repository). */
export const SUMDB_REGISTRY = 'go-sumdb';

export interface GoSumdbDeps {
  readonly config: () => AppConfig;
  readonly proxy: ProxyEngine;
  readonly blobs: BlobStore;
  /** The curation gate: a module of `[curation] internal_namespaces` is never looked up. */
  readonly curation?: CurationGate | undefined;
}

/** A checksum-database answer. */
export interface SumdbAnswer {
  readonly body: Buffer;
  readonly contentType: string;
  /** true when the database was unreachable and this is the last known copy. */
  readonly stale: boolean;
}

export class GoSumdb {
  readonly #deps: GoSumdbDeps;

  constructor(deps: GoSumdbDeps) {
    this.#deps = deps;
  }

  /** True when `name` is a database this NORA forwards. */
  supports(name: string): boolean {
    return sumdbUpstreams(this.#deps.config().go).has(name);
  }

  /**
   * The answer of database `name` for `path` (`supported`, `latest`, `lookup/…`, `tile/…`, as
   * paths.ts parsed it). Undefined when the database is not configured, the module is private,
   * or the database answered 404/410. Throws an upstream error (502/504) when the database
   * failed and nothing is cached.
   */
  async get(name: string, path: string, module?: string): Promise<SumdbAnswer | undefined> {
    const go = this.#deps.config().go;
    const upstream = sumdbUpstreams(go).get(name);
    if (upstream === undefined) return undefined;
    if (path === 'supported') {
      return { body: Buffer.alloc(0), contentType: 'text/plain; charset=utf-8', stale: false };
    }
    if (module !== undefined && isPrivateModule(go.private, module)) return undefined;
    // An internal module's name must not reach the database either (dependency confusion).
    if (module !== undefined && this.#deps.curation?.isInternal('go', module) === true)
      return undefined;
    const target = this.#deps.proxy.upstream({
      label: `sumdb:${name}`,
      registry: SUMDB_REGISTRY,
      url: upstream.url,
      auth: 'basic',
      timeoutSeconds: go.proxy_timeout,
      readTimeoutSeconds: go.proxy_timeout,
    });
    let resolved;
    try {
      resolved = await this.#deps.proxy.resolve({
        registry: SUMDB_REGISTRY,
        key: `${name}/${path}`,
        ttlSeconds: path === 'latest' ? 0 : -1,
        serveStale: true,
        refresh: () => this.#fetch(target, path),
      });
    } catch (err) {
      const cut = await this.#fromWiderTile(name, path);
      if (cut === undefined) throw unreachableAdvice(err, name, module);
      return cut;
    }
    if (resolved === undefined) return undefined;
    const stream = await this.#deps.blobs.open(parseDigest(resolved.entry.digest));
    const body = await readAllBounded(stream, MAX_SUMDB_BYTES, 'cached checksum database answer');
    return {
      body,
      contentType: resolved.entry.mediaType ?? 'application/octet-stream',
      stale: resolved.stale,
    };
  }

  /**
   * The first W hashes of a cached wider copy of the partial hash tile `path` (the full tile, or
   * the widest cached partial one); undefined when `path` is not a partial hash tile or no wider
   * copy is cached. Only on the failure path: up to 2^H cache lookups.
   */
  async #fromWiderTile(name: string, path: string): Promise<SumdbAnswer | undefined> {
    const m = HASH_TILE.exec(path);
    if (m === null || m[4] === undefined) return undefined;
    const height = Number(m[1]);
    const width = Number(m[4]);
    const full = 2 ** height;
    if (height < 1 || height > 8 || width < 1 || width >= full) return undefined;
    const base = `tile/${m[1]}/${m[2]}/${m[3]}`;
    for (let wider = full; wider > width; wider--) {
      const candidate = wider === full ? base : `${base}.p/${wider}`;
      const entry = await this.#deps.proxy.lookup(SUMDB_REGISTRY, `${name}/${candidate}`);
      if (entry === undefined) continue;
      const stream = await this.#deps.blobs.open(parseDigest(entry.digest));
      const body = await readAllBounded(stream, MAX_SUMDB_BYTES, 'cached checksum database tile');
      if (body.length < width * HASH_BYTES) continue;
      return {
        body: body.subarray(0, width * HASH_BYTES),
        contentType: entry.mediaType ?? 'application/octet-stream',
        stale: false,
      };
    }
    return undefined;
  }

  async #fetch(target: UpstreamTarget, path: string): Promise<Refresh> {
    let response;
    try {
      response = await this.#deps.proxy.client.request(target, { method: 'GET', path: `/${path}` });
    } catch (err) {
      throw asUpstreamError(err, path, target.label);
    }
    if (answeredAbsent(response, target.label, path, [404, 410])) return { kind: 'absent' };
    let stored;
    try {
      stored = await this.#deps.proxy.storeDocument(response.body, { maxBytes: MAX_SUMDB_BYTES });
    } catch (err) {
      throw asUpstreamError(err, path, target.label);
    }
    return {
      kind: 'updated',
      entry: {
        digest: formatDigest(stored.digest),
        size: stored.size,
        mediaType: response.header('content-type') ?? 'application/octet-stream',
        etag: undefined,
        upstream: target.label,
      },
    };
  }
}

/**
 * `err`, an upstream failure of checksum database `name` (502/504), with what to do appended: go
 * prints the text after "server response:", and on an air-gapped host (the default database
 * unreachable) the first `go get` of every module fails here (trial 17 F7). Other errors as they are.
 */
function unreachableAdvice(err: unknown, name: string, module: string | undefined): unknown {
  if (!isRegistryError(err) || (err.status !== 502 && err.status !== 504)) return err;
  const paths = module === undefined ? '<module prefixes>' : module;
  return new RegistryError(
    err.code,
    `${err.message}: NORA cannot reach the checksum database ${name}; on the client set GONOSUMDB=${paths} (or GOSUMDB=off): that is needed in any case, as NORA_GO_SUMDB=none on the server alone only makes go ask ${name} itself`,
    {
      cause: err,
      ...(err.headers === undefined ? {} : { headers: err.headers }),
      ...(err.protocolCode === undefined ? {} : { protocolCode: err.protocolCode }),
    },
  );
}
