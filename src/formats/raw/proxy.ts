/**
 * Raw proxy repositories: a cache of any HTTP origin (the "generic remote" of Nexus and
 * Artifactory: release downloads, tool archives). A file is fetched from the first upstream that
 * has it (`<upstream base>/<path>`), streamed to the client while it is written to the blob store
 * (the shared engine's stream-through fill, src/proxy/fill.ts: one upstream GET however many
 * clients ask at once, committed even if they all leave) and recorded in the engine's freshness
 * state (`proxy_entries`, key `file:<path>`: digest, upstream ETag or Last-Modified, fetch time).
 *
 * Freshness is the engine's one rule (src/proxy/freshness.ts) with the repository's
 * `metadata_ttl`, else `[raw] proxy_ttl` (default -1: cached forever). A stale copy is
 * revalidated with If-None-Match / If-Modified-Since against the upstream that gave it (304 →
 * kept, 200 → replaced, 404/410 → forgotten: a withdrawn file never comes back as stale), and
 * served stale when every upstream fails (`serve_stale`). A 404 is remembered for
 * `negative_cache_ttl`. Upstream origins carry no digests, so bytes are verified
 * against the announced Content-Length only; their sha256 is computed and becomes the ETag.
 * The file is the body as the upstream sent it (no Accept-Encoding asked, a Content-Encoding not
 * undone): what `curl -O` or `wget` saves from the origin, so a release download keeps matching
 * its published checksum and a gzip bomb stays its compressed size. NORA answers it without a
 * Content-Encoding (the bytes are the file, as for any stored raw file).
 */
import { quarantineCheck } from '../../curation/quarantine.ts';
import type { CurationGate } from '../../curation/types.ts';
import { formatDigest, parseDigest, tryParseDigest } from '../../core/digest.ts';
import { RegistryError } from '../../core/errors.ts';
import type { AppConfig } from '../../config/schema.ts';
import { isUpstreamFailure, type ProxyEngine } from '../../proxy/engine.ts';
import { BlobFill } from '../../proxy/fill.ts';
import { ABSENT, askInOrder, repositoryTargets } from '../../proxy/in-order.ts';
import { isFresh } from '../../proxy/freshness.ts';
import { type CachedEntry, lastModifiedOf } from '../../proxy/state.ts';
import {
  answeredAbsent,
  declaredLength,
  joinUrl,
  toUpstreamError,
  type UpstreamResponse,
  type UpstreamTarget,
} from '../../proxy/upstream-client.ts';
import { conditionalHeaders, validatorsOf } from '../../proxy/validators.ts';
import type { Repository } from '../../repos/repository.ts';
import type { BlobStore } from '../../storage/blob-store.ts';
import { NegativeCache, noteMiss, rememberedMissText } from '../../proxy/negative-cache.ts';
import type { OpenedRawFile, RawListing, RawMissNotes, RawSource } from './model.ts';
import { encodePath } from './paths.ts';

export interface RawProxyDeps {
  readonly config: () => AppConfig;
  readonly blobs: BlobStore;
  readonly proxy: ProxyEngine;
  /** Curation (src/curation/): internal namespaces, `*` rules of raw paths and quarantine. */
  readonly curation?: CurationGate | undefined;
}

type Fetched =
  | {
      readonly kind: 'file';
      readonly file: OpenedRawFile;
      /** A fill is running: the flight stays joinable until it is recorded. */
      readonly filling: boolean;
      /** True once every byte arrived (a later request should not join but look again). */
      readonly arrived?: () => boolean;
      /** Settles once the fill is recorded (or failed). */
      readonly recorded?: Promise<void>;
    }
  | { readonly kind: 'absent' }
  /** The upstream redirected `<path>` to `<path>/`: a folder there (never cached as a file). */
  | { readonly kind: 'folder' };

interface Flight {
  readonly fetched: Promise<Fetched>;
  /** When its upstream request began, epoch ms (the stale deadline counts from it). */
  readonly startedAt: number;
}

export class RawProxy implements RawSource {
  readonly #deps: RawProxyDeps;
  /** In-flight fetches by repository and path, kept until their fill has committed. */
  readonly #flights = new Map<string, Flight>();
  readonly #misses = new NegativeCache();
  /**
   * Paths an upstream answered with a folder redirect (`sub` → `sub/`), remembered for the
   * proxy's TTL as a cached file would be: NORA's own redirect is answered without asking again.
   */
  readonly #folders = new NegativeCache();

  constructor(deps: RawProxyDeps) {
    this.#deps = deps;
  }

  #settings(repo: Repository) {
    const raw = this.#deps.config().raw;
    return {
      ttl: repo.metadataTtl ?? raw.proxy_ttl,
      serveStale: repo.serveStale ?? raw.serve_stale,
      timeout: repo.proxyTimeout ?? raw.proxy_timeout,
      negativeTtl: raw.negative_cache_ttl,
      maxBytes: raw.proxy_max_file_size,
    };
  }

  #targets(repo: Repository): UpstreamTarget[] {
    return repositoryTargets(this.#deps.proxy, repo, {
      timeoutSeconds: this.#settings(repo).timeout,
    });
  }

  /** Proxies have no listing: an HTTP origin has no listing protocol. */
  list(): Promise<RawListing | undefined> {
    return Promise.resolve(undefined);
  }

  /**
   * The file at `path`: cached and fresh, revalidated, or fetched now (streamed while it fills).
   * Undefined when every upstream says 404 (remembered for negative_cache_ttl: `miss` is told
   * which upstreams said it, when, and for how long, so a file just put on the origin that is
   * still a 404 here says why; trial 23 fmts F2). Throws the upstream error (502/504 class) when
   * an upstream failed and nothing usable is cached.
   */
  async openFile(
    repo: Repository,
    path: string,
    miss?: RawMissNotes,
  ): Promise<OpenedRawFile | undefined> {
    const gate = this.#deps.curation;
    if (repo.kind === 'proxy' && gate !== undefined) {
      // A raw file is named by its path (no versions): only name-level rules (`*`) apply, and
      // the quarantine keys it by path (its digest is not known before it is served).
      if (gate.isInternal('raw', path)) return undefined;
      gate.guard({ registry: 'raw', name: path });
    }
    const opened = await this.#open(repo, path);
    if (opened === FOLDER) {
      if (miss !== undefined) miss.upstreamFolder = true;
      return undefined;
    }
    const file = opened;
    if (file !== undefined && repo.kind === 'proxy') {
      quarantineCheck(gate, { registry: 'raw', name: path }, file.filled === true);
    }
    if (file === undefined && miss !== undefined) {
      const key = `${repo.name}\n${path}`;
      // Only a miss of the current upstream list (a reload that changed them forgets it).
      if (this.#misses.has(key, repo.upstreams)) {
        const ttl = this.#settings(repo).negativeTtl;
        const note = rememberedMissText(this.#misses, key, repo, ttl, 'raw');
        if (note !== undefined) noteMiss(miss, note);
      }
    }
    return file;
  }

  async #open(repo: Repository, path: string): Promise<OpenedRawFile | typeof FOLDER | undefined> {
    if (repo.kind !== 'proxy' || repo.upstreams.length === 0) return undefined;
    const metrics = this.#deps.proxy.metrics;
    const flightKey = `${repo.name}\n${path}`;
    const settings = this.#settings(repo);
    const running = this.#flights.get(flightKey);
    if (running !== undefined) {
      // Only a revalidation of a cached copy may be cut short (serve_stale): read it then.
      const cached = settings.serveStale ? await this.#cached(repo, path) : undefined;
      const joined = await this.#withinDeadline(repo, path, running, cached).catch(() => undefined);
      if (joined === 'late' && cached !== undefined) return this.#stale(repo, cached);
      if (joined !== 'late' && joined?.kind === 'file' && joined.arrived?.() === true) {
        // That download is over: wait for its record, then answer as a new request would (a
        // TTL of 0 revalidates even right after a fill).
        await joined.recorded;
      } else {
        metrics.record(repo.name, 'coalesced');
        return filledFile(await running.fetched);
      }
    }
    const cached = await this.#cached(repo, path);
    if (cached !== undefined && isFresh(cached.fetchedAt, settings.ttl)) {
      metrics.record(repo.name, 'hit');
      return this.#fromStore(cached);
    }
    const missKey = flightKey;
    // The upstream list asked now: a miss is remembered for it (a reload may replace it meanwhile).
    const upstreams = repo.upstreams;
    if (cached === undefined && this.#misses.has(missKey, upstreams)) return undefined;
    if (cached === undefined && this.#folders.has(missKey, upstreams)) {
      metrics.record(repo.name, 'hit');
      return FOLDER;
    }
    const flight: Flight = { fetched: this.#fetch(repo, path, cached), startedAt: Date.now() };
    this.#flights.set(flightKey, flight);
    const forget = (): void => {
      if (this.#flights.get(flightKey) === flight) this.#flights.delete(flightKey);
    };
    flight.fetched.then((fetched) => {
      if (fetched.kind === 'absent') this.#misses.add(missKey, settings.negativeTtl, upstreams);
      if (fetched.kind === 'folder') this.#folders.add(missKey, settings.ttl, upstreams);
      if (fetched.kind !== 'file' || !fetched.filling) forget();
    }, forget);
    const fetched = await this.#withinDeadline(repo, path, flight, cached);
    if (fetched === 'late' && cached !== undefined) return this.#stale(repo, cached);
    if (fetched === 'late') return undefined;
    if (fetched.kind === 'file') {
      this.#misses.delete(missKey);
      this.#folders.delete(missKey);
    }
    return filledFile(fetched);
  }

  /**
   * The flight's answer, or 'late' once the engine's stale deadline passed while it revalidates
   * a cached copy that may be served stale (a hung upstream costs 5 s, not proxy_timeout).
   */
  #withinDeadline(
    repo: Repository,
    path: string,
    flight: Flight,
    cached: CachedEntry | undefined,
  ): Promise<Fetched | 'late'> {
    if (cached === undefined || !this.#settings(repo).serveStale) return flight.fetched;
    const digest = parseDigest(cached.digest);
    return this.#deps.proxy.withinStaleDeadline({
      registry: repo.name,
      key: `file:${path}`,
      startedAt: flight.startedAt,
      revalidation: flight.fetched,
      usable: async () => (await this.#deps.blobs.stat(digest)) !== undefined,
    });
  }

  #stale(repo: Repository, cached: CachedEntry): OpenedRawFile {
    this.#deps.proxy.metrics.record(repo.name, 'stale');
    return { ...this.#fromStore(cached), stale: true };
  }

  /**
   * See RawSource.cached: a cached copy whose bytes are in the store. A fill under way (the GET
   * that served the file a moment ago may still be recording it) is waited for, not asked again.
   */
  async cached(repo: Repository, path: string): Promise<boolean> {
    if (repo.kind !== 'proxy') return false;
    const running = this.#flights.get(`${repo.name}\n${path}`);
    if (running !== undefined) {
      const fetched = await running.fetched.catch(() => undefined);
      if (fetched?.kind === 'file') await fetched.recorded;
    }
    return (await this.#cached(repo, path)) !== undefined;
  }

  async #cached(repo: Repository, path: string): Promise<CachedEntry | undefined> {
    const entry = await this.#deps.proxy.lookup(repo.name, `file:${path}`);
    if (entry === undefined) return undefined;
    const digest = tryParseDigest(entry.digest);
    if (digest === undefined || (await this.#deps.blobs.stat(digest)) === undefined)
      return undefined;
    return entry;
  }

  #fromStore(entry: CachedEntry): OpenedRawFile {
    const digest = parseDigest(entry.digest);
    const blobs = this.#deps.blobs;
    return {
      size: entry.size,
      sha256: digest.hex,
      // The upstream's Last-Modified when it sent one (kept through 304s), else the fetch time.
      modifiedAt: lastModifiedOf(entry),
      open: (range) => blobs.open(digest, range),
    };
  }

  /** Asks the upstreams in order (see the module comment). */
  async #fetch(repo: Repository, path: string, cached: CachedEntry | undefined): Promise<Fetched> {
    const engine = this.#deps.proxy;
    const settings = this.#settings(repo);
    const targets = this.#targets(repo);
    const key = `file:${path}`;
    const asked = await askInOrder(targets, async (target): Promise<Fetched | typeof ABSENT> => {
      const headers = { accept: '*/*', ...conditionalHeaders(cached, target) };
      const asked = encodePath(path) === '' ? '/' : `/${encodePath(path)}`;
      const response = await engine.client.request(target, {
        method: 'GET',
        path: asked,
        headers,
        // The bytes a plain download (curl -O, wget) saves, Content-Encoding or not: a release
        // `.tar.gz` a server labels `Content-Encoding: gzip` stays the published file.
        contentCoding: 'keep',
      });
      if (response.status === 304 && cached !== undefined) {
        response.body.destroy();
        const now = Date.now();
        const sent = validatorsOf(response);
        await engine.state.touch(repo.name, key, now, sent);
        engine.metrics.record(repo.name, 'revalidated');
        return {
          kind: 'file',
          file: this.#fromStore({
            ...cached,
            fetchedAt: now,
            etag: sent.etag ?? cached.etag,
            modifiedAt: sent.modifiedAt ?? cached.modifiedAt,
          }),
          filling: false,
        };
      }
      if (isFolderRedirect(response, joinUrl(target.baseUrl, asked))) {
        // Whatever `<path>/` answered (a listing page, a 403): not the file `<path>`, so nothing
        // is cached under it, and a path is never both a file and a folder (trial 32).
        response.body.destroy();
        return { kind: 'folder' };
      }
      if (answeredAbsent(response, target.label, path, [404, 410])) return ABSENT;
      const announced = declaredLength(response.header('content-length'));
      if (announced !== undefined && announced > settings.maxBytes) {
        response.body.destroy();
        throw new RegistryError(
          'UPSTREAM_FAILED',
          `upstream ${target.label} announced ${announced} bytes for ${path}, past proxy_max_file_size`,
        );
      }
      const fill = await BlobFill.start(
        this.#deps.blobs,
        { body: response.body, size: announced, label: target.label },
        { maxBytes: settings.maxBytes },
      );
      const validators = validatorsOf(response);
      const flightKey = `${repo.name}\n${path}`;
      const blobs = this.#deps.blobs;
      let committed: string | undefined;
      const forget = (): void => {
        this.#flights.delete(flightKey);
      };
      const recorded = fill.done
        .then(async (result) => {
          await engine.remember(repo.name, key, {
            digest: formatDigest(result.digest),
            size: result.size,
            mediaType: response.header('content-type'),
            ...validators,
            upstream: target.label,
          });
          committed = result.digest.hex;
          // Recorded: from now on a request finds the state row, so the flight may go.
          forget();
        })
        .catch(forget);
      engine.metrics.record(repo.name, 'miss');
      return {
        kind: 'file',
        file: {
          size: fill.size,
          get sha256() {
            return committed;
          },
          modifiedAt: validators.modifiedAt ?? Date.now(),
          open: (range) =>
            committed !== undefined
              ? blobs.open({ algorithm: 'sha256', hex: committed }, range)
              : Promise.resolve(fill.reader(range)),
        },
        filling: true,
        arrived: () => fill.state !== 'running',
        recorded,
      };
    });
    if (asked.kind === 'hit' && asked.value.kind !== 'folder') return asked.value;
    if (asked.kind !== 'failed') {
      // Withdrawn by the origin (or now its folder): forget the cached copy, so a 404 is
      // remembered for negative_cache_ttl (a miss is only consulted when nothing is cached) and
      // the file does not come back as stale when the upstream later fails (trial 32).
      if (cached !== undefined) await engine.state.delete(repo.name, key);
      return asked.kind === 'hit' ? asked.value : { kind: 'absent' };
    }
    if (cached !== undefined && settings.serveStale)
      return { kind: 'file', file: this.#stale(repo, cached), filling: false };
    engine.metrics.record(repo.name, 'error');
    throw asUpstreamError(asked.error, path);
  }
}

/** What #open answers for a path its upstream serves as a folder. */
const FOLDER = Symbol('folder');

/**
 * True when the upstream answered `asked` through a redirect to `asked` + `/` (same origin,
 * query aside): how web servers (python's http.server, nginx, Apache) answer a folder named
 * without its slash.
 */
function isFolderRedirect(response: UpstreamResponse, asked: URL): boolean {
  if (response.redirectedTo === undefined) return false;
  const to = new URL(response.redirectedTo);
  return to.origin === asked.origin && to.pathname === `${asked.pathname}/`;
}

/** An answer of an upstream flight: marked `filled` (quarantine's first seen) when it streams in. */
function filledFile(fetched: Fetched): OpenedRawFile | typeof FOLDER | undefined {
  if (fetched.kind === 'folder') return FOLDER;
  if (fetched.kind !== 'file') return undefined;
  return fetched.filling ? { ...fetched.file, filled: true } : fetched.file;
}

function asUpstreamError(err: unknown, what: string): RegistryError {
  if (err instanceof RegistryError && isUpstreamFailure(err)) return err;
  if (err instanceof RegistryError) {
    return new RegistryError('UPSTREAM_FAILED', `upstream failed for ${what}: ${err.message}`, {
      cause: err,
    });
  }
  return toUpstreamError(err, what);
}
