/**
 * Cargo proxy repositories on the shared proxy engine (src/proxy/engine.ts), a `CargoSource`
 * over sparse-index upstreams laid out like crates.io's (RFC 2789; Cargo book, "Registry index"):
 *
 * - The index root of each upstream comes from its configured URL by `indexRoot` (upstream.ts):
 *   `sparse+` is dropped, crates.io's web site means `https://index.crates.io/`, any other URL is
 *   the index root itself.
 * - Index files are mutable metadata, key `cargo-index:<name>`: `engine.resolve` with
 *   ttl = repo.metadataTtl ?? [cargo].metadata_ttl, ETag revalidation (If-None-Match to the
 *   upstream that gave the copy), single-flight, served stale (`stale: true`) when every upstream
 *   fails. The upstream's bytes are stored as they came (blob store); lines we cannot read are
 *   left out when parsed (parseIndexFile). While a copy is fresh it is served from memory without
 *   touching SQL (#fresh), and the same `entries` array is handed out for as long as the copy is
 *   unchanged, so the routes' render cache recognises it by identity.
 * - Several upstreams: FIRST HIT in order (the first that has the crate supplies its whole index
 *   file), never a merge, for the dependency-confusion reason the PyPI proxy gives; a crate cached
 *   from an earlier upstream is not switched to a later one while the earlier fails.
 * - config.json of each upstream (key `cargo-config:<n>`) is metadata too (same TTL, stale when
 *   down): only its `dl` is used, to find `.crate` files. The config.json we serve names our own
 *   `dl` (routes), so clients never see the upstream's.
 * - `.crate` files are immutable blobs addressed by the index entry's `cksum` (sha256): fetched
 *   once through the engine's verified stream-through fill (a body that does not hash to `cksum`
 *   commits nothing and fails the request), then cached forever under `cargo-crate:<name>/<vers>`.
 *   Credentials go to the dl host only when it is the index's own origin (Cargo sends its token
 *   to `dl` only for registries that require auth, which are one origin in practice).
 *
 * - Prefetch ([cargo] prefetch, see #prefetchDependencies): an index file filled from the upstream
 *   queues the index files of the crates its newest versions depend on, which cargo asks in its
 *   next resolution wave; each through #resolveIndex as cargo's own request would (single-flight:
 *   cargo's request arriving meanwhile joins the fill), bounded by the shared queue
 *   (src/proxy/prefetch.ts). No `.crate` is prefetched: see the method.
 *
 * Upstream errors are RegistryErrors for which `isUpstreamFailure` is true, so a group treats
 * this member as "not here"; a proxy addressed alone answers 502/504 for an uncached miss.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { ByteLru } from '../../core/byte-lru.ts';
import { type Digest, formatDigest, parseDigest } from '../../core/digest.ts';
import { RegistryError } from '../../core/errors.ts';
import { readAllBounded } from '../../core/streams.ts';
import type { Refresh } from '../../proxy/engine.ts';
import { type FillSource, fillSourceOf } from '../../proxy/fill.ts';
import { FreshCopies, isFresh } from '../../proxy/freshness.ts';
import { PrefetchQueue } from '../../proxy/prefetch.ts';
import type { CachedEntry } from '../../proxy/state.ts';
import {
  answeredAbsent,
  toUpstreamError,
  type UpstreamTarget,
} from '../../proxy/upstream-client.ts';
import {
  ABSENT,
  fetchRevalidated,
  refreshInOrder,
  repositoryTargets,
  upstreamFailure,
} from '../../proxy/in-order.ts';
import { conditionalHeaders, validatorsOf } from '../../proxy/validators.ts';
import type { Repository } from '../../repos/repository.ts';
import type { FormatContext } from '../format.ts';
import type { CargoSource, IndexEntry, IndexFile, OpenedCrate } from './model.ts';
import {
  downloadUrl,
  indexPath,
  indexRoot,
  isIndexName,
  MAX_CONFIG_BYTES,
  MAX_INDEX_FILE_BYTES,
  parseConfigDl,
  parseIndexFile,
  readIndexFile,
} from './upstream.ts';

/** The largest `.crate` fetched from an upstream (crates.io's limit is 10 MB; some are larger). */
const MAX_CRATE_BYTES = 512 * 1024 * 1024;
/** Memory for parsed index files (estimated, see fileBytes). */
const PARSED_FILES_BYTES = 64 * 1024 * 1024;
/** Fresh index files served without asking the engine (see #fresh). */
const FRESH_FILES = 4096;
/** Cached `.crate` facts kept in memory (name/version → sha256 and size). */
const KNOWN_CRATES = 65_536;
/** Cached `.crate` versions of one crate compared with a new index file (see #pinCachedVersions). */
const PINNED_SCAN = 100_000;
/** Prefetches (see #prefetchDependencies) running at once; more wait their turn. */
const PREFETCH_CONCURRENCY = 4;
/** Prefetches waiting at most; beyond, new ones are dropped (cargo's own request comes). */
export const PREFETCH_QUEUE = 256;
/** Newest versions of an index file whose dependencies are prefetched. */
export const PREFETCH_VERSIONS = 3;
/** Crate names prefetched per index file, at most. */
export const PREFETCH_NAMES = 32;
/** Status codes Cargo reads as "no such crate" from a sparse index. */
const ABSENT_STATUSES = [404, 410, 451];

/** What the proxy needs from the composition root (a FormatContext has it all). */
export type CargoProxyContext = Pick<FormatContext, 'config' | 'proxy' | 'blobs' | 'log'> &
  Partial<Pick<FormatContext, 'curation' | 'metrics'>> & {
    /** Prefetch queue bounds (tests); absent: PREFETCH_CONCURRENCY and PREFETCH_QUEUE. */
    readonly prefetchBounds?: { readonly concurrency: number; readonly queue: number };
  };

/** The CargoSource of proxy repositories (index.ts calls this once at registration). */
export function createCargoProxy(context: CargoProxyContext): CargoProxy {
  return new CargoProxy(context);
}

/** The cache key of a crate's index file (lower-cased name): a publish's takeover check reads it. */
export function indexKey(name: string): string {
  return `cargo-index:${name}`;
}
function configKey(upstream: number): string {
  return `cargo-config:${upstream}`;
}
function crateKey(name: string, version: string): string {
  return `cargo-crate:${name}/${version}`;
}

/** One parsed stored index file (per blob digest: the same object while the copy is unchanged). */
interface Parsed {
  readonly file: IndexFile;
  /** By `vers`, for openCrate. */
  readonly byVersion: ReadonlyMap<string, IndexEntry>;
  /** The same file flagged stale, made when first served so. */
  stale?: IndexFile;
}

/**
 * The CargoSource of proxy repositories (one instance serves every proxy repository; state is
 * keyed by repository name). See the module comment for the semantics.
 */
export class CargoProxy implements CargoSource {
  readonly #ctx: CargoProxyContext;
  /** `<repo>\n<name>` → the last copy resolved fresh and its fetch time (see the module comment). */
  readonly #fresh = new FreshCopies<{
    readonly fetchedAt: number;
    readonly parsed: Parsed;
    readonly upstream: number;
  }>(FRESH_FILES);
  readonly #parsed = new ByteLru<string, Parsed>(PARSED_FILES_BYTES, fileBytes, {
    largestShare: 1,
  });
  /** `<repo>#<n>` → the upstream's `dl` while its config.json copy is fresh. */
  readonly #dlMemo = new Map<
    string,
    {
      readonly fetchedAt: number;
      readonly dl: string;
      readonly configUrl: string;
      /** The index target it was read through (another after a config reload). */
      readonly target: UpstreamTarget;
    }
  >();
  /** `<repo>\n<name>` → the blob write of the index file just fetched, while it runs. */
  readonly #writes = new Map<string, Promise<unknown>>();
  /** `<repo>\n<name>\n<vers>\n<upstream cksum>` of the cksum changes logged (#pinCachedVersions). */
  readonly #pinWarned = new Set<string>();
  /** `<repo>\n<name>\n<vers>` → the cached crate's sha256 and size. */
  readonly #crates = new Map<
    string,
    { readonly sha256: string; readonly size: number; readonly modifiedAt?: number | undefined }
  >();
  /**
   * Per repository: its index targets and the download targets made for them (see #targets),
   * valid while its `upstreams` array (replaced, never edited, by a config reload) and timeout
   * are the ones they were made from.
   */
  readonly #targetSets = new WeakMap<Repository, TargetSet>();
  /** Prefetches ([cargo] prefetch), keyed `<repo>\n<name>` as #fresh. */
  readonly #prefetches: PrefetchQueue;

  constructor(context: CargoProxyContext) {
    this.#ctx = context;
    this.#prefetches = new PrefetchQueue({
      format: 'cargo',
      concurrency: context.prefetchBounds?.concurrency ?? PREFETCH_CONCURRENCY,
      queue: context.prefetchBounds?.queue ?? PREFETCH_QUEUE,
      enabled: () => context.config().cargo.prefetch,
      log: context.log,
      metrics: context.metrics,
    });
  }

  /** The prefetch queue (tests: its bounds, `idle()`). */
  get prefetches(): PrefetchQueue {
    return this.#prefetches;
  }

  /** Drops the prefetches still waiting and queues none from now on (shutdown). */
  close(): void {
    this.#prefetches.close();
  }

  /**
   * The crate's index file from the first upstream that has it (cached, TTL, revalidated, stale
   * when the upstreams fail). Undefined when every upstream says 404/410/451 (or the name cannot
   * be a crate's); throws an upstream error when none answered and nothing is cached.
   */
  async indexFile(repo: Repository, name: string): Promise<IndexFile | undefined> {
    this.#prefetches.used(`${repo.name}\n${name}`);
    const found = await this.#resolveIndex(repo, name);
    if (!found) return undefined;
    if (!found.stale) return found.parsed.file;
    // One stale object per copy too, so its rendering is reused while the upstream is down.
    found.parsed.stale ??= { ...found.parsed.file, stale: true };
    return found.parsed.stale;
  }

  /**
   * The `.crate` of one version the index lists: from the blob store when cached, else streamed
   * through one verified fill from the upstream's `dl` (committed only when its sha256 is the
   * entry's `cksum`). Undefined when the index does not list the version.
   */
  async openCrate(
    repo: Repository,
    name: string,
    version: string,
  ): Promise<OpenedCrate | undefined> {
    if (repo.kind !== 'proxy' || !isIndexName(name)) return undefined;
    const memo = `${repo.name}\n${name}\n${version}`;
    const blobs = this.#ctx.blobs;
    const known = this.#crates.get(memo);
    if (known) {
      const digest: Digest = { algorithm: 'sha256', hex: known.sha256 };
      const stat = await blobs.stat(digest);
      if (stat !== undefined) {
        this.#ctx.proxy.metrics.record(repo.name, 'hit');
        return {
          ...known,
          modifiedAt: known.modifiedAt ?? stat.modifiedAt.getTime(),
          open: (range) => blobs.open(digest, range),
        };
      }
      this.#crates.delete(memo);
    }
    // The index copy just resolved lists it (Cargo asks the index file first): its `cksum` is
    // the blob's address, so the engine finds a cached copy by itself. No SQL on this path.
    const fresh = this.#fresh.last(`${repo.name}\n${name}`);
    const freshEntry = fresh?.parsed.byVersion.get(version);
    if (fresh !== undefined && freshEntry !== undefined) {
      return this.#openListed(repo, name, version, freshEntry, fresh.upstream);
    }
    const cached = await this.#ctx.proxy.lookup(repo.name, crateKey(name, version));
    if (cached) {
      const digest = parseDigest(cached.digest);
      const stat = await blobs.stat(digest);
      if (stat) {
        this.#ctx.proxy.metrics.record(repo.name, 'hit');
        const facts = { sha256: digest.hex, size: stat.size, modifiedAt: cached.fetchedAt };
        this.#know(memo, facts);
        return { ...facts, open: (range) => blobs.open(digest, range) };
      }
    }
    const listed = await this.#findEntry(repo, name, version);
    if (!listed) return undefined;
    return this.#openListed(repo, name, version, listed.entry, listed.upstream);
  }

  /**
   * The `.crate` of an index entry: the blob addressed by its `cksum` (a hit when stored),
   * else one verified fill from upstream `upstream`.
   */
  async #openListed(
    repo: Repository,
    name: string,
    version: string,
    entry: IndexEntry,
    upstream: number,
  ): Promise<OpenedCrate | undefined> {
    const blobs = this.#ctx.blobs;
    const digest: Digest = { algorithm: 'sha256', hex: entry.cksum };
    const opened = await this.#ctx.proxy.openBlob({
      registry: repo.name,
      digest,
      fetch: () => this.#fetchCrate(repo, upstream, entry),
      fill: { maxBytes: MAX_CRATE_BYTES },
    });
    if (!opened) return undefined;
    if (opened.source === 'cache' && opened.size !== undefined) {
      // Already stored (its row too, unless another repository stored the blob): no SQL write.
      this.#know(`${repo.name}\n${name}\n${version}`, {
        sha256: digest.hex,
        size: opened.size,
        modifiedAt: opened.storedAt,
      });
    } else {
      opened.committed.then(
        (result) => this.#remember(repo, name, version, digest, result?.size, opened.storedAt),
        () => undefined,
      );
    }
    let size = opened.size;
    if (size === undefined) {
      // No length announced: serve once committed (the fill goes on whoever reads it).
      const result = await opened.committed;
      size = result?.size ?? (await blobs.stat(digest))?.size;
      if (size === undefined) return undefined;
    }
    return {
      size,
      sha256: entry.cksum,
      modifiedAt: opened.storedAt,
      filled: opened.source === 'upstream' && opened.started,
      open: (range) => opened.open(range),
    };
  }

  #settings(repo: Repository): {
    ttl: number;
    timeout: number;
    indexTimeout: number;
    serveStale: boolean;
  } {
    const cargo = this.#ctx.config().cargo;
    const timeout = repo.proxyTimeout ?? cargo.proxy_timeout;
    return {
      ttl: repo.metadataTtl ?? cargo.metadata_ttl,
      timeout,
      indexTimeout: Math.min(cargo.index_timeout, timeout),
      serveStale: repo.serveStale ?? cargo.serve_stale,
    };
  }

  /** One target per upstream, at its index root (see indexRoot). */
  #targets(repo: Repository): readonly UpstreamTarget[] {
    return this.#targetSet(repo).index;
  }

  /**
   * The repository's targets, made once per upstream list and timeout: the engine hands out the
   * same target objects for the same definitions, so this only spares the URL parsing and key
   * building of asking it (twice per proxied crate).
   */
  #targetSet(repo: Repository): TargetSet {
    const { timeout, indexTimeout } = this.#settings(repo);
    const kept = this.#targetSets.get(repo);
    if (
      kept !== undefined &&
      kept.upstreams === repo.upstreams &&
      kept.timeout === timeout &&
      kept.indexTimeout === indexTimeout
    ) {
      return kept;
    }
    const set: TargetSet = {
      upstreams: repo.upstreams,
      timeout,
      indexTimeout,
      index: repositoryTargets(this.#ctx.proxy, repo, {
        timeoutSeconds: indexTimeout,
        url: indexRoot,
      }),
      download: new Map(),
    };
    this.#targetSets.set(repo, set);
    return set;
  }

  async #resolveIndex(
    repo: Repository,
    name: string,
  ): Promise<{ parsed: Parsed; stale: boolean; upstream: number } | undefined> {
    if (repo.kind !== 'proxy' || repo.upstreams.length === 0 || !isIndexName(name))
      return undefined;
    const settings = this.#settings(repo);
    const freshKey = `${repo.name}\n${name}`;
    const fresh = this.#fresh.fresh(freshKey, settings.ttl);
    if (fresh !== undefined) {
      this.#ctx.proxy.metrics.record(repo.name, 'hit');
      return { parsed: fresh.parsed, stale: false, upstream: fresh.upstream };
    }
    // A copy whose blob is still being written (see #refreshIndex) is revalidated once it is
    // there, rather than fetched again whole.
    await this.#writes.get(freshKey);
    const resolved = await this.#ctx.proxy.resolve({
      registry: repo.name,
      key: indexKey(name),
      ttlSeconds: settings.ttl,
      serveStale: settings.serveStale,
      refresh: (cached) => this.#refreshIndex(repo, name, cached),
    });
    this.#fresh.delete(freshKey);
    if (!resolved) return undefined;
    const parsed = await this.#load(name, resolved.entry);
    const upstream = upstreamIndex(repo, resolved.entry.upstream);
    if (resolved.result === 'miss') this.#prefetchDependencies(repo, parsed.file);
    if (!resolved.stale) {
      this.#fresh.set(freshKey, { fetchedAt: resolved.entry.fetchedAt, parsed, upstream });
    }
    return { parsed, stale: resolved.stale, upstream };
  }

  /**
   * Prefetch ([cargo] prefetch): cargo's resolver reads the index files of a crate's
   * dependencies once it has read the crate's own (a wave per level of the graph, each wave
   * waiting for the previous one, `cargo fetch` with a lock file included: it resolves again),
   * so an index file filled from the upstream queues the index files of the crates that its
   * PREFETCH_VERSIONS newest unyanked versions (in publish order, the file's) depend on: normal
   * and build dependencies that are not optional (an optional one is read only when a feature
   * turns it on) and come from this registry, at most PREFETCH_NAMES names. A prefetched file
   * filled from the upstream queues its own the same way, so the prefetch runs ahead of cargo's
   * waves. Never a name in a curation internal namespace nor one curation refuses whole (a rule
   * for every version), nor one already fresh here. Each name once per process, queued after
   * this answer's turn (the parse is not on cargo's path).
   *
   * No `.crate` is prefetched: which version cargo downloads is the lock file's (or the
   * resolver's) choice, which the index does not tell, and cargo downloads the `.crate`s of a
   * resolved graph many at a time (HTTP/2, up to its `http.multiplexing` limit), so they do not
   * queue behind each other as the index waves do.
   */
  #prefetchDependencies(repo: Repository, file: IndexFile): void {
    if (!this.#ctx.config().cargo.prefetch) return;
    setImmediate(() => {
      const names = new Set<string>();
      const live = file.entries.filter((entry) => !entry.yanked);
      for (const entry of live.slice(-PREFETCH_VERSIONS).reverse()) {
        for (const dep of entry.deps) {
          if (dep.kind === 'dev' || dep.optional || (dep.registry ?? null) !== null) continue;
          const name = (dep.package ?? dep.name).toLowerCase();
          if (isIndexName(name) && name !== file.name.toLowerCase()) names.add(name);
        }
      }
      let queued = 0;
      for (const name of names) {
        if (queued >= PREFETCH_NAMES) break;
        if (this.#prefetchIndex(repo, name)) queued++;
      }
    });
  }

  /** Queues the prefetch of `name`'s index file (see #prefetchDependencies); whether it was. */
  #prefetchIndex(repo: Repository, name: string): boolean {
    const key = `${repo.name}\n${name}`;
    if (this.#prefetches.has(key)) return false;
    if (this.#fresh.fresh(key, this.#settings(repo).ttl) !== undefined) return false;
    const gate = this.#ctx.curation;
    if (gate !== undefined) {
      if (gate.isInternal('cargo', name)) return false;
      if (gate.mode() !== 'off' && gate.decide({ registry: 'cargo', name }).refuse) return false;
    }
    return this.#prefetches.add(key, () => this.#resolveIndex(repo, name));
  }

  /**
   * The engine's refresh: first hit over the upstreams in order (see the module comment). A 200
   * that is not an index file of `name` (no usable entry and a line that is not one of its
   * entries: an HTML error or captive-portal page), or that has no usable entry while a copy is
   * cached (an empty body: a crate that is gone is a 404, never an empty 200), is that upstream's
   * failure, logged and counted by its circuit breaker: the cached copy is kept and served
   * stale. Stray lines beside usable entries are skipped (and logged), as Cargo skips them.
   */
  #refreshIndex(repo: Repository, name: string, cached: CachedEntry | undefined): Promise<Refresh> {
    // The body `check` read, so #storeIndex does not parse it again.
    let read: { body: Buffer; entries: IndexEntry[] } | undefined;
    return refreshInOrder(
      this.#targets(repo),
      cached?.upstream === undefined ? -1 : upstreamIndex(repo, cached.upstream),
      {
        fetch: (target) =>
          fetchRevalidated(this.#ctx.proxy.client, target, cached, {
            path: `/${indexPath(name)}`,
            absent: ABSENT_STATUSES,
            maxBytes: MAX_INDEX_FILE_BYTES,
            what: `the index file of ${name}`,
            check: (body) => {
              const file = readIndexFile(body, name);
              // A file with usable entries is taken even with stray lines, which are skipped as
              // Cargo skips a line it cannot parse: one odd line upstream must not freeze the
              // crate on a stale copy (or fail it when nothing is cached).
              const reason =
                file.entries.length > 0
                  ? undefined
                  : file.invalidLine !== undefined
                    ? `line ${file.invalidLine} is not an index entry of ${name}`
                    : cached !== undefined
                      ? file.lines === 0
                        ? 'an empty body, while a copy is cached'
                        : 'no usable entry, while a copy is cached'
                      : undefined;
              if (reason === undefined) {
                if (file.invalidLine !== undefined) {
                  this.#ctx.log.warn(
                    {
                      registry: repo.name,
                      upstream: target.label,
                      crate: name,
                      line: file.invalidLine,
                    },
                    'upstream index file has lines that are not entries of the crate: skipped, as Cargo skips them',
                  );
                }
                read = { body, entries: file.entries };
                return undefined;
              }
              this.#ctx.log.warn(
                { registry: repo.name, upstream: target.label, crate: name, reason },
                'upstream answered 200 with a body that is not an index file of the crate: an upstream failure (a cached copy is kept and served stale)',
              );
              return reason;
            },
          }),
        store: (fetched, target) =>
          this.#storeIndex(
            repo,
            name,
            fetched,
            target,
            cached,
            read?.body === fetched.body ? read.entries : undefined,
          ),
        onError: (err, target) => upstreamFailure(err, target.label, name),
        what: name,
      },
    );
  }

  /**
   * A new index file from `target`: parsed, answered from memory, its blob written behind. The
   * lines of versions whose `.crate` is cached keep the `cksum` of the cached bytes (see
   * #pinCachedVersions): what is stored and served is the upstream's file with those lines
   * replaced.
   */
  async #storeIndex(
    repo: Repository,
    name: string,
    upstreamBody: {
      readonly body: Buffer;
      readonly etag: string | undefined;
      readonly modifiedAt: number | undefined;
    },
    target: UpstreamTarget,
    previous: CachedEntry | undefined,
    parsed: IndexEntry[] | undefined,
  ): Promise<Refresh | typeof ABSENT> {
    let entries = parsed ?? parseIndexFile(upstreamBody.body, name);
    if (entries.length === 0) {
      // Nothing Cargo could use: as good as absent from this upstream.
      this.#ctx.log.warn(
        { registry: repo.name, upstream: target.label, crate: name },
        'upstream index file has no readable entry',
      );
      return ABSENT;
    }
    let fetched = upstreamBody;
    const pinned = await this.#pinCachedVersions(
      repo,
      name,
      upstreamBody.body,
      entries,
      previous,
      target,
    );
    if (pinned !== undefined) {
      fetched = { body: pinned, etag: upstreamBody.etag, modifiedAt: upstreamBody.modifiedAt };
      entries = parseIndexFile(pinned, name);
    }
    // The copy is answered from memory (parsed above) while its blob is written: a cold index
    // read does not wait for the store's fsyncs. Until the write lands the engine finds no blob
    // for the row and treats the copy as absent (it refetches), so a failed write costs a
    // refetch, never a wrong answer.
    // Hashed here, once: the store takes the bytes with this digest (storeVerified).
    const hex = createHash('sha256').update(fetched.body).digest('hex');
    const digest = `sha256:${hex}`;
    if (this.#parsed.get(digest) === undefined) this.#parsed.set(digest, toParsed(name, entries));
    const writeKey = `${repo.name}\n${name}`;
    const write = this.#ctx.blobs
      .storeVerified([fetched.body], { algorithm: 'sha256', hex }, fetched.body.length)
      .catch((err: unknown) => {
        this.#ctx.log.warn(
          {
            registry: repo.name,
            crate: name,
            error: err instanceof Error ? err.message : String(err),
          },
          'could not store a proxied index file',
        );
      })
      .finally(() => {
        if (this.#writes.get(writeKey) === write) this.#writes.delete(writeKey);
      });
    this.#writes.set(writeKey, write);
    return {
      kind: 'updated',
      entry: {
        digest,
        size: fetched.body.length,
        mediaType: 'text/plain',
        etag: fetched.etag,
        modifiedAt: fetched.modifiedAt,
        upstream: target.label,
      },
    };
  }

  /**
   * Crate versions are immutable: once a version's `.crate` is cached here (verified against the
   * `cksum` it was fetched under), an upstream that later states another `cksum` for it (a
   * rewritten or compromised index, a re-published version) must not make NORA serve a line
   * that disagrees with the bytes it serves — every fresh `cargo build` would fail "failed to
   * verify the checksum". Such a version's line is taken from the previous copy of the index
   * file when that copy's line matches the cached bytes, else it is the upstream's line with the
   * cached bytes' `cksum`; its `yanked` is the upstream's (a yank is not a change of the bytes).
   * Each change is logged once (crate, version, both checksums). Returns the upstream's body
   * with those lines replaced, or undefined when nothing had to change. A version not cached
   * yet takes the upstream's line. Reads SQL only for a crate with cached `.crate`s (one prefix
   * query per new copy of the index file; a 304 costs nothing here).
   */
  async #pinCachedVersions(
    repo: Repository,
    name: string,
    body: Buffer,
    entries: readonly IndexEntry[],
    previous: CachedEntry | undefined,
    target: UpstreamTarget,
  ): Promise<Buffer | undefined> {
    const prefix = crateKey(name, '');
    const keys = await this.#ctx.proxy.state.keys(repo.name, prefix, PINNED_SCAN);
    if (keys.length === 0) return undefined;
    const upstream = new Map(entries.map((e) => [e.vers, e]));
    const replaced = new Map<string, IndexEntry>();
    let previousFile: Parsed | undefined;
    for (const key of keys) {
      const vers = key.slice(prefix.length);
      const entry = upstream.get(vers);
      if (entry === undefined) continue;
      const cached = await this.#ctx.proxy.lookup(repo.name, key);
      if (cached === undefined) continue;
      const digest = parseDigest(cached.digest);
      if (digest.hex === entry.cksum) continue;
      // The bytes are gone (removed as damaged, or by hand): nothing to disagree with.
      if ((await this.#ctx.blobs.stat(digest)) === undefined) continue;
      if (previousFile === undefined && previous !== undefined) {
        previousFile = await this.#load(name, previous).catch(() => undefined);
      }
      const old = previousFile?.byVersion.get(vers);
      const kept =
        old !== undefined && old.cksum === digest.hex ? old : { ...entry, cksum: digest.hex };
      replaced.set(vers, { ...kept, yanked: entry.yanked });
      const warned = `${repo.name}\n${name}\n${vers}\n${entry.cksum}`;
      if (!this.#pinWarned.has(warned)) {
        if (this.#pinWarned.size >= KNOWN_CRATES) this.#pinWarned.clear();
        this.#pinWarned.add(warned);
        this.#ctx.log.warn(
          {
            registry: repo.name,
            upstream: target.label,
            crate: entry.name,
            version: vers,
            cachedCksum: digest.hex,
            upstreamCksum: entry.cksum,
          },
          `upstream changed the cksum of ${entry.name} ${vers}, whose .crate is cached here ` +
            `(cached ${digest.hex}, upstream now ${entry.cksum}): a published version is ` +
            "immutable, so the index keeps the cached version's line and its .crate is served " +
            'as cached',
        );
      }
    }
    if (replaced.size === 0) return undefined;
    // Line by line, so every other line stays as the upstream wrote it.
    const lines = body
      .toString('utf8')
      .split('\n')
      .map((line) => {
        const entry = parseIndexFile(Buffer.from(line), name)[0];
        const kept = entry === undefined ? undefined : replaced.get(entry.vers);
        return kept === undefined ? line : JSON.stringify(kept);
      });
    return Buffer.from(lines.join('\n'));
  }

  /** The parsed stored copy (one Parsed per blob digest, so `entries` keeps its identity). */
  async #load(name: string, entry: CachedEntry): Promise<Parsed> {
    const known = this.#parsed.get(entry.digest);
    if (known) return known;
    const stream = await this.#ctx.blobs.open(parseDigest(entry.digest));
    const body = await readAllBounded(
      stream,
      MAX_INDEX_FILE_BYTES,
      `the cached index file of ${name}`,
    );
    const parsed = toParsed(name, parseIndexFile(body, name));
    this.#parsed.set(entry.digest, parsed);
    return parsed;
  }

  /**
   * The index entry of `version` and the upstream it came from: from the cached copy as it is
   * when it lists the version (a `.crate` is immutable: no need to revalidate the index to serve
   * one), else from the resolved index file.
   */
  async #findEntry(
    repo: Repository,
    name: string,
    version: string,
  ): Promise<{ entry: IndexEntry; upstream: number } | undefined> {
    // The copy just resolved (a group read asks the index file first): no SQL, no blob read.
    const fresh = this.#fresh.last(`${repo.name}\n${name}`);
    const listed = fresh?.parsed.byVersion.get(version);
    if (fresh !== undefined && listed !== undefined) {
      return { entry: listed, upstream: fresh.upstream };
    }
    const cached = await this.#ctx.proxy.lookup(repo.name, indexKey(name));
    if (cached) {
      try {
        const parsed = await this.#load(name, cached);
        const entry = parsed.byVersion.get(version);
        if (entry) return { entry, upstream: upstreamIndex(repo, cached.upstream) };
      } catch {
        // The cached copy is gone or unreadable: resolve it below.
      }
    }
    const found = await this.#resolveIndex(repo, name);
    const entry = found?.parsed.byVersion.get(version);
    if (!found || !entry) return undefined;
    return { entry, upstream: found.upstream };
  }

  /** The upstream's config.json `dl` (cached as metadata; stale when the upstream is down). */
  async #dl(repo: Repository, upstream: number): Promise<{ dl: string; configUrl: string }> {
    const targets = this.#targets(repo);
    const target = targets[upstream];
    if (!target) throw new RegistryError('UPSTREAM_FAILED', `proxy ${repo.name} has no upstream`);
    const settings = this.#settings(repo);
    const memoKey = `${repo.name}#${upstream}`;
    const memo = this.#dlMemo.get(memoKey);
    if (memo !== undefined && memo.target === target && isFresh(memo.fetchedAt, settings.ttl)) {
      return { dl: memo.dl, configUrl: memo.configUrl };
    }
    const configUrl = new URL('config.json', target.baseUrl).href;
    const resolved = await this.#ctx.proxy.resolve({
      registry: repo.name,
      key: configKey(upstream),
      ttlSeconds: settings.ttl,
      serveStale: settings.serveStale,
      refresh: async (cached) => {
        const conditions = conditionalHeaders(cached, target);
        const revalidate = cached !== undefined && Object.keys(conditions).length > 0;
        let response;
        try {
          response = await this.#ctx.proxy.client.request(target, {
            method: 'GET',
            path: '/config.json',
            headers: { 'accept-encoding': 'identity', ...conditions },
          });
        } catch (err) {
          throw toUpstreamError(err, target.label);
        }
        if (response.status === 304 && revalidate) {
          response.body.destroy();
          return { kind: 'unchanged', ...validatorsOf(response) };
        }
        // Anything but a 200 (or the 304 above) is the upstream's failure: no status means absent.
        answeredAbsent(response, target.label, 'config.json', []);
        const body = await readAllBounded(
          response.body,
          MAX_CONFIG_BYTES,
          `upstream ${target.label}: config.json`,
        ).catch((err: unknown) => {
          throw upstreamFailure(err, target.label, 'config.json');
        });
        parseConfigDl(body, target.label);
        const stored = await this.#ctx.proxy.storeDocument(Readable.from([body]), {
          maxBytes: MAX_CONFIG_BYTES,
          expectedSize: body.length,
        });
        return {
          kind: 'updated',
          entry: {
            digest: formatDigest(stored.digest),
            size: stored.size,
            mediaType: 'application/json',
            ...validatorsOf(response),
            upstream: target.label,
          },
        };
      },
    });
    if (!resolved) {
      throw new RegistryError('UPSTREAM_FAILED', `upstream ${target.label} has no config.json`);
    }
    const stream = await this.#ctx.blobs.open(parseDigest(resolved.entry.digest));
    const dl = parseConfigDl(await readAllBounded(stream, MAX_CONFIG_BYTES), target.label);
    if (!resolved.stale) {
      this.#dlMemo.set(memoKey, { fetchedAt: resolved.entry.fetchedAt, dl, configUrl, target });
    }
    return { dl, configUrl };
  }

  /** GETs the `.crate` of `entry` from the `dl` of upstream `upstream`. */
  async #fetchCrate(
    repo: Repository,
    upstream: number,
    entry: IndexEntry,
  ): Promise<FillSource | undefined> {
    const { dl, configUrl } = await this.#dl(repo, upstream);
    const url = downloadUrl(dl, configUrl, entry.name, entry.vers, entry.cksum);
    const target = this.#dlTarget(repo, upstream, url);
    let response;
    try {
      response = await this.#ctx.proxy.client.request(target, {
        method: 'GET',
        path: url.pathname + url.search,
        headers: { 'accept-encoding': 'identity' },
      });
    } catch (err) {
      throw toUpstreamError(err, target.label);
    }
    return fillSourceOf(response, target.label, `${entry.name} ${entry.vers}`, ABSENT_STATUSES);
  }

  /**
   * The target for a download URL: one per upstream (`<repo>#<n>-dl`) at the URL's origin, with
   * the upstream's credentials only when that is the index's own origin.
   */
  #dlTarget(repo: Repository, upstream: number, url: URL): UpstreamTarget {
    const config = repo.upstreams[upstream];
    if (!config) throw new RegistryError('UPSTREAM_FAILED', `proxy ${repo.name} has no upstream`);
    const set = this.#targetSet(repo);
    const known = set.download.get(upstream);
    if (known?.origin === url.origin) return known.target;
    const sameOrigin = new URL(indexRoot(config.url)).origin === url.origin;
    const { timeout } = set;
    const target = this.#ctx.proxy.upstream({
      label: `${repo.name}#${upstream}-dl`,
      registry: repo.name,
      url: url.origin,
      credentials: sameOrigin ? config.auth : undefined,
      namedBy: config.url,
      auth: 'basic',
      timeoutSeconds: timeout,
      readTimeoutSeconds: timeout,
    });
    set.download.set(upstream, { origin: url.origin, target });
    return target;
  }

  async #remember(
    repo: Repository,
    name: string,
    version: string,
    digest: Digest,
    size: number | undefined,
    storedAt: number,
  ): Promise<void> {
    const known = size ?? (await this.#ctx.blobs.stat(digest))?.size;
    if (known === undefined) return;
    await this.#ctx.proxy.remember(repo.name, crateKey(name, version), {
      digest: formatDigest(digest),
      size: known,
      mediaType: 'application/x-tar',
      etag: undefined,
      upstream: undefined,
    });
    this.#know(`${repo.name}\n${name}\n${version}`, {
      sha256: digest.hex,
      size: known,
      modifiedAt: storedAt,
    });
  }

  #know(
    memo: string,
    facts: { sha256: string; size: number; modifiedAt?: number | undefined },
  ): void {
    if (this.#crates.size >= KNOWN_CRATES) {
      const oldest = this.#crates.keys().next();
      if (oldest.done !== true) this.#crates.delete(oldest.value);
    }
    this.#crates.set(memo, facts);
  }
}

/** A repository's targets (see CargoProxy.#targetSet). */
interface TargetSet {
  readonly upstreams: Repository['upstreams'];
  /** Seconds (connect and read) of `.crate` downloads. */
  readonly timeout: number;
  /** Seconds (connect and read) of index files ([cargo] index_timeout). */
  readonly indexTimeout: number;
  /** One per upstream, at its index root. */
  readonly index: readonly UpstreamTarget[];
  /** Per upstream: the target of its `dl` origin (one origin per upstream in practice). */
  readonly download: Map<number, { readonly origin: string; readonly target: UpstreamTarget }>;
}

/** The upstream index of a label `<repo>#<n>` (0 when unknown: the first upstream). */
function upstreamIndex(repo: Repository, label: string | undefined): number {
  if (label === undefined) return 0;
  const prefix = `${repo.name}#`;
  if (!label.startsWith(prefix)) return 0;
  const n = Number(label.slice(prefix.length));
  return Number.isInteger(n) && n >= 0 && n < repo.upstreams.length ? n : 0;
}

function toParsed(name: string, entries: IndexEntry[]): Parsed {
  return {
    file: { name: entries[0]?.name ?? name, entries },
    byVersion: new Map(entries.map((e) => [e.vers, e])),
  };
}

function fileBytes(parsed: Parsed): number {
  // A rough size of the parsed objects: ~600 bytes per entry plus ~150 per dependency.
  let bytes = 256;
  for (const entry of parsed.file.entries) bytes += 600 + 150 * entry.deps.length;
  return bytes;
}
