/**
 * PyPI proxy repositories on the shared proxy engine (src/proxy/engine.ts), a `PypiSource`:
 *
 * - Project pages are mutable metadata, key `pypi-page:<project>`: `engine.resolve` with
 *   ttl = repo.metadataTtl ?? [pypi].metadata_ttl, ETag revalidation (If-None-Match to the
 *   upstream that gave the copy), single-flight, served stale (`stale: true`) when every upstream
 *   fails. The stored document is the parsed, normalised page as JSON in the blob store (as npm
 *   stores packuments), with the upstream file URLs kept internal (clients get relative links).
 * - Several upstreams (repo.upstreams: `--index-url` first, then the `--extra-index-url`s):
 *   FIRST HIT, not pip's merge. The first upstream in order that has the project supplies its
 *   whole page; the next ones are asked only when it says 404/410 or fails. Merging would let
 *   anyone who can publish a project name on a later index (the public one, typically) inject
 *   files into a project of an earlier (private) one: the dependency confusion that
 *   `--extra-index-url` is known for. Put your private index first. An upstream that fails while
 *   a later one answers is not fatal, except that a project cached from an earlier upstream is
 *   not switched to a later one while the earlier one fails (the cached copy is served stale).
 * - Files are immutable blobs addressed by their sha256 (the upstream's, checked by the engine's
 *   verified fill: a mismatch commits nothing), fetched once and cached forever
 *   (`pypi-file:<project>/<filename>` remembers the digest so a warm hit costs one lookup).
 *   Files an upstream lists without a sha256 (a plain directory listing, say) are downloaded and
 *   hashed when the page is fetched (at most `MAX_HASHED_PER_REFRESH` per refresh, newest versions
 *   first; the hashes are kept with the stored page, so each file is hashed once): every page we
 *   serve carries a sha256 for each file it lists, and a file not yet hashed is not listed.
 *   Bytes that cannot be verified against an upstream-stated sha256 are fetched only from the
 *   index's own origin (see #onIndexOrigin).
 * - PEP 658/714 core metadata: offered for every wheel. The upstream's `<url>.metadata` when it
 *   offers one (verified against its sha256 when stated); otherwise extracted from the wheel
 *   (fetched through the same verified fill and cached, which pip downloads next anyway), stored
 *   as a blob and remembered under `pypi-meta:<project>/<filename>`. Pages advertise
 *   `core-metadata: true` (sha256 unknown) for wheels whose metadata we extract, since the hash is
 *   only known after extraction: PEP 714 allows it and pip accepts it.
 * - The project list: only the projects cached here (a public index lists ~600k; a proxy's root
 *   page is for browsing what it holds, and pip never reads it).
 *
 * Upstream errors are RegistryErrors for which `isUpstreamFailure` is true, so a group treats
 * this member as "not here"; a proxy addressed alone answers 502/504 for an uncached miss.
 */
import { Readable } from 'node:stream';
import { ByteLru, ownedBuffer, retainedBytes } from '../../core/byte-lru.ts';
import {
  type Digest,
  digestOf,
  formatDigest,
  parseDigest,
  tryParseDigest,
} from '../../core/digest.ts';
import { RegistryError } from '../../core/errors.ts';
import { readAllBounded, readExactly } from '../../core/streams.ts';
import { isUpstreamFailure, type OpenedBlob, type Refresh } from '../../proxy/engine.ts';
import { type FillSource, fillSourceOf } from '../../proxy/fill.ts';
import { FreshCopies } from '../../proxy/freshness.ts';
import { PrefetchQueue } from '../../proxy/prefetch.ts';
import { SingleFlight } from '../../proxy/single-flight.ts';
import type { CachedEntry } from '../../proxy/state.ts';
import { joinUrl, toUpstreamError, type UpstreamTarget } from '../../proxy/upstream-client.ts';
import {
  fetchRevalidated,
  refreshInOrder,
  repositoryTargets,
  upstreamFailure,
} from '../../proxy/in-order.ts';
import type { Repository } from '../../repos/repository.ts';
import type { FormatContext } from '../format.ts';
import { MAX_CORE_METADATA_BYTES, readWheelCoreMetadata } from './core-metadata.ts';
import { isSafeFilename, parseDistFilename } from './filenames.ts';
import type { DistFile, OpenedDistFile, ProjectPage, PypiSource } from './model.ts';
import {
  MAX_UPSTREAM_PAGE_BYTES,
  parseUpstreamPage,
  UPSTREAM_PAGE_ACCEPT,
  type UpstreamFile,
} from './upstream-page.ts';
import { compareVersions, isPrerelease } from './versions.ts';

/** The largest distribution file fetched from an upstream (PyPI's own limit is a few GB). */
const MAX_FILE_BYTES = 4 * 1024 * 1024 * 1024;
/** Files without an upstream sha256 hashed per page refresh (the rest on later refreshes). */
export const MAX_HASHED_PER_REFRESH = 64;
const HASH_CONCURRENCY = 4;
/** Memory for parsed stored pages (estimated as 3x their JSON). */
const PARSED_PAGES_BYTES = 64 * 1024 * 1024;
/** Memory for core metadata files served without touching the store (see #metadata). */
const METADATA_BYTES = 16 * 1024 * 1024;
/** Prefetches (see #prefetch) running at once; more wait their turn. */
const PREFETCH_CONCURRENCY = 4;
/** Prefetches waiting at most; beyond, new ones are dropped (the client's own request comes). */
const PREFETCH_QUEUE = 256;
/** Wheels of the newest release whose metadata is fetched ahead; more (platform wheels): none. */
const PREFETCH_METADATA_WHEELS = 4;
/** Files remembered as prefetched once (each is tried once per process, then forgotten). */
const PREFETCHED_KEPT = 100_000;
/** Memory for small cached files served without touching the store (see #files). */
const SMALL_FILES_BYTES = 64 * 1024 * 1024;
/** The largest file kept in #files: most pure-Python wheels are smaller (the bench's: 230 kB). */
const SMALL_FILE_MAX_BYTES = 1024 * 1024;
/** Fresh proxied pages served without asking the engine (see #fresh). */
const FRESH_PAGES = 256;
/** The most projects the root page of a proxy lists (the ones cached here). */
const MAX_LISTED_PROJECTS = 100_000;
/** Wheels at least this large get their metadata by HTTP ranges; smaller ones are fetched whole. */
const RANGED_METADATA_MIN_BYTES = 1024 * 1024;
/** File hosts per upstream with their own circuit breaker; more share one label. */
const MAX_FILE_HOSTS = 8;

/** What the proxy needs from the composition root (a FormatContext has it all). */
export type PypiProxyContext = Pick<FormatContext, 'config' | 'proxy' | 'blobs' | 'log'> &
  Partial<Pick<FormatContext, 'metrics' | 'curation'>>;

/** One file of a stored page: the upstream's facts plus which upstream listed it. */
interface StoredFile extends UpstreamFile {
  /** Index into repo.upstreams of the upstream whose page listed it. */
  readonly upstream: number;
  /** true when the sha256 was computed here (the upstream stated none). */
  readonly sha256Computed?: boolean;
}

/** The stored document of `pypi-page:<project>` (JSON in the blob store). */
interface StoredPage {
  readonly v: 1;
  readonly name: string;
  readonly files: readonly StoredFile[];
}

function pageKey(project: string): string {
  return `pypi-page:${project}`;
}
function fileKey(project: string, filename: string): string {
  return `pypi-file:${project}/${filename}`;
}
function metaKey(project: string, filename: string): string {
  return `pypi-meta:${project}/${filename}`;
}

/**
 * The PypiSource of proxy repositories (one instance serves every proxy repository; state is
 * keyed by repository name). See the module comment for the semantics.
 */
export class PypiProxy implements PypiSource {
  readonly #ctx: PypiProxyContext;
  /**
   * `<repo>\n<project>` → the last page the engine resolved fresh, with its entry's fetch time:
   * while that is within the TTL the page is served from here without asking the engine (which
   * reads the state row and stats the page blob per read). Only this process writes the state.
   */
  readonly #fresh = new FreshCopies<{ readonly fetchedAt: number; readonly page: StoredPage }>(
    FRESH_PAGES,
  );
  readonly #pages = new ByteLru<string, StoredPage>(PARSED_PAGES_BYTES, pageBytes, {
    largestShare: 1,
  });
  readonly #metadataFlights = new SingleFlight<Buffer | undefined>();
  /**
   * `<repo>\n<pypi-meta key>` → the core metadata bytes: what a cold `.metadata` request fetched
   * (served from here while its blob is still being written) and what warm ones read (a PEP 658
   * file is a few kB, and pip asks for one per candidate: no SQL, no stat, no open per read).
   * Metadata of a file is immutable, as the `pypi-meta:` entry it mirrors.
   */
  readonly #metadata = new ByteLru<string, KeptBytes>(
    METADATA_BYTES,
    (m) => retainedBytes(m.bytes) + 256,
  );
  /**
   * `<repo>\n<pypi-file key>` → the bytes of a small cached file: a warm GET then costs no SQL
   * lookup, stat, open, read or close (five thread-pool round trips, the most of what a warm pip
   * install waits on here beyond nginx). Valid forever as the `pypi-file:` entry it mirrors:
   * that entry is written once, after the verified fill of the file committed, and never
   * rewritten (a warm read never refills); the bytes are the committed blob's, read back from
   * the content-addressed store. Filled when a fill commits and on a warm store hit.
   */
  readonly #files = new ByteLru<string, KeptBytes>(
    SMALL_FILES_BYTES,
    (m) => retainedBytes(m.bytes) + 256,
  );
  /** Loads into #files under way (each once). */
  readonly #fileLoads = new Set<string>();
  /**
   * Blob writes of documents already served from memory (pages, core metadata), by digest: the
   * client is not kept waiting for the fsyncs (see #persist); a read of the blob waits for its
   * write first.
   */
  readonly #writes = new Map<string, Promise<void>>();
  /**
   * `<repo>\n<project>` → the write of the page last fetched: the engine takes an entry whose
   * blob is missing for "not cached", so a read that must ask the engine (TTL over, or 0) waits
   * for it, and revalidates the page rather than fetching it whole again.
   */
  readonly #pageWrites = new Map<string, Promise<void>>();
  /** Prefetches (see #prefetch): bounded, each key once, closed on shutdown. */
  readonly #prefetches: PrefetchQueue;
  #closed = false;
  readonly #fileHosts = new Map<string, number>();
  readonly #views = new WeakMap<StoredPage, readonly DistFile[]>();
  /** Changed checksums already logged (see #pinCached): `<repo>\n<file>\n<upstream sha256>`. */
  readonly #changedWarned = new Set<string>();

  constructor(context: PypiProxyContext) {
    this.#ctx = context;
    this.#prefetches = new PrefetchQueue({
      format: 'pypi',
      concurrency: PREFETCH_CONCURRENCY,
      queue: PREFETCH_QUEUE,
      kept: PREFETCHED_KEPT,
      enabled: () => context.config().pypi.prefetch,
      log: context.log,
      metrics: context.metrics,
    });
  }

  /** The projects cached in this proxy (never the whole upstream index), normalised, sorted. */
  async projectNames(repo: Repository): Promise<readonly string[]> {
    if (repo.kind !== 'proxy') return [];
    const prefix = pageKey('');
    const keys = await this.#ctx.proxy.state.keys(repo.name, prefix, MAX_LISTED_PROJECTS);
    return keys.map((key) => key.slice(prefix.length));
  }

  /**
   * The project's page from the first upstream that has it (cached, TTL, revalidated, stale when
   * the upstreams fail). Undefined when every upstream says 404; throws an upstream error when
   * none answered and nothing is cached.
   */
  async projectPage(repo: Repository, project: string): Promise<ProjectPage | undefined> {
    const found = await this.#page(repo, project);
    if (!found) return undefined;
    const files = this.#view(found.page);
    return { name: project, files, ...(found.stale ? { stale: true } : {}) };
  }

  /** See PypiSource.cachedPage: the stored page, whatever its age; an unreadable one is none. */
  async cachedPage(repo: Repository, project: string): Promise<ProjectPage | undefined> {
    if (repo.kind !== 'proxy') return undefined;
    await this.#pageWrites.get(`${repo.name}\n${project}`);
    const entry = await this.#ctx.proxy.lookup(repo.name, pageKey(project));
    if (!entry) return undefined;
    try {
      return { name: project, files: this.#view(await this.#load(project, entry)) };
    } catch {
      return undefined;
    }
  }

  /** The DistFiles of a stored page, built once per parsed page (warm pages cost no mapping). */
  #view(page: StoredPage): readonly DistFile[] {
    const known = this.#views.get(page);
    if (known) return known;
    const files: DistFile[] = [];
    for (const file of page.files) {
      if (file.sha256 === undefined) continue;
      files.push({
        filename: file.filename,
        version: file.version,
        sha256: file.sha256,
        size: file.size,
        requiresPython: file.requiresPython,
        yanked: file.yanked,
        uploadTime: file.uploadTime,
        coreMetadata:
          file.coreMetadata ?? (file.filename.endsWith('.whl') ? { sha256: undefined } : undefined),
      });
    }
    this.#views.set(page, files);
    return files;
  }

  /**
   * A file of the project: from the blob store when cached, else streamed through one verified
   * fill from the upstream that listed it (cached forever once its sha256 checks out).
   */
  async openFile(
    repo: Repository,
    project: string,
    filename: string,
  ): Promise<OpenedDistFile | undefined> {
    if (repo.kind !== 'proxy' || !isSafeFilename(filename)) return undefined;
    const key = fileKey(project, filename);
    const memo = `${repo.name}\n${key}`;
    this.#prefetches.used(memo);
    const kept = this.#files.get(memo);
    if (kept) {
      this.#ctx.proxy.metrics.record(repo.name, 'hit');
      return inMemory(kept);
    }
    const known = await this.#fromKey(repo, key);
    if (known) {
      if (known.size <= SMALL_FILE_MAX_BYTES) {
        this.#keepFile(memo, known.sha256, known.size, known.modifiedAt ?? Date.now());
      }
      return known;
    }
    const file = await this.#findFile(repo, project, filename);
    if (file?.sha256 === undefined) return undefined;
    const opened = await this.#openBlob(repo, project, file, file.sha256);
    if (!opened) return undefined;
    let size = opened.size ?? file.size;
    if (size === undefined) {
      // No length announced: serve once committed (the fill goes on whoever reads it).
      const result = await opened.committed;
      size = result?.size ?? (await this.#ctx.blobs.stat(sha256Digest(file.sha256)))?.size;
      if (size === undefined) return undefined;
    }
    return {
      size,
      sha256: file.sha256,
      modifiedAt: opened.storedAt,
      filled: opened.source === 'upstream' && opened.started,
      open: (range) => opened.open(range),
    };
  }

  /**
   * PEP 658: the core metadata of a wheel (or of any file whose upstream offers it): the
   * upstream's `.metadata` file when offered, else extracted from the (cached) wheel.
   */
  async openCoreMetadata(
    repo: Repository,
    project: string,
    filename: string,
    options?: { readonly prefetch?: boolean },
  ): Promise<OpenedDistFile | undefined> {
    if (options?.prefetch !== false) {
      this.#prefetches.used(`${repo.name}\n${metaKey(project, filename)}`);
    }
    const opened = await this.#coreMetadata(repo, project, filename);
    // pip downloads the wheel whose metadata it read unless the resolver drops it: fetch it now.
    if (opened && filename.endsWith('.whl') && options?.prefetch !== false) {
      this.#prefetchFile(repo, project, filename);
    }
    return opened;
  }

  async #coreMetadata(
    repo: Repository,
    project: string,
    filename: string,
  ): Promise<OpenedDistFile | undefined> {
    if (repo.kind !== 'proxy' || !isSafeFilename(filename)) return undefined;
    const key = metaKey(project, filename);
    const memo = `${repo.name}\n${key}`;
    const kept = this.#metadata.get(memo);
    if (kept) {
      this.#ctx.proxy.metrics.record(repo.name, 'hit');
      return inMemory(kept);
    }
    const known = await this.#fromKey(repo, key);
    if (known) return known;
    const file = await this.#findFile(repo, project, filename);
    const sha256 = file?.sha256;
    if (file === undefined || sha256 === undefined) return undefined;
    const flight = this.#metadataFlights.run(memo, async () => {
      const advertised = file.coreMetadata?.sha256;
      // Unverifiable bytes are taken only from the index's own origin (see #onIndexOrigin).
      if (
        file.coreMetadata &&
        (advertised !== undefined || this.#onIndexOrigin(repo, file.upstream, file.url))
      ) {
        try {
          const bytes = await this.#upstreamMetadata(repo, project, file, advertised);
          if (bytes) return bytes;
        } catch (err) {
          // The upstream is down or its file unusable: a cached wheel's METADATA serves when it
          // hashes as the page advertised (PyPI's .metadata is that file, byte for byte).
          if ((await this.#ctx.blobs.stat(sha256Digest(sha256))) === undefined) throw err;
          const extracted = await this.#extractMetadata(repo, project, file, sha256);
          if (extracted && (advertised === undefined || sha256Hex(extracted) === advertised)) {
            return extracted;
          }
          throw err;
        }
      }
      if (!file.filename.endsWith('.whl')) return undefined;
      const ranged = await this.#rangedMetadata(repo, project, file, sha256);
      if (ranged) return ranged;
      return this.#extractMetadata(repo, project, file, sha256);
    });
    const bytes = await flight.promise;
    if (!bytes) return undefined;
    const hex = sha256Hex(bytes);
    const now = Date.now();
    if (!flight.joined) {
      // Served from memory now; the blob and the `pypi-meta:` entry follow (see #persist).
      const owned = ownedBuffer(bytes);
      this.#metadata.set(memo, { bytes: owned, sha256: hex, modifiedAt: now });
      void this.#persist(owned, sha256Digest(hex), MAX_CORE_METADATA_BYTES, (digest) =>
        this.#remember(repo, key, digest),
      );
    }
    return inMemory({ bytes, sha256: hex, modifiedAt: now });
  }

  /**
   * Writes a document the client was already served from memory (a parsed page, core metadata)
   * into the blob store in the background, then runs `then` (the state entry that names it).
   * Why not before answering: the write is a spool file, an fsync, a rename and a directory
   * fsync, ~10 thread-pool round trips, all on the client's critical path when it is awaited, and
   * pip asks for a page and a `.metadata` file per project, one at a time. What is given up: only
   * the cache entry's durability for those few milliseconds (a crash loses the entry, and the
   * document is fetched again from the upstream). What is kept: the blob write is the same
   * verified, atomic ingest (nothing half-written is ever visible: spool, digest check, fsync,
   * rename), and an entry is written only after its blob is committed, or for a page (the engine
   * writes its entry) is treated as not cached while its blob is missing. Pending writes are
   * awaited on shutdown (`settle`).
   */
  #persist(
    body: Buffer,
    digest: Digest,
    maxBytes: number,
    then?: (digest: Digest) => Promise<unknown>,
  ): Promise<void> {
    const id = formatDigest(digest);
    const previous = this.#writes.get(id);
    const write = (async () => {
      await previous;
      await this.#ctx.proxy.storeDocument(Readable.from([body]), { maxBytes, expected: digest });
      await then?.(digest);
    })().catch((err: unknown) => {
      this.#ctx.log.warn(
        { digest: id, error: describe(err) },
        'could not store a proxied PyPI document (it is fetched again when next needed)',
      );
    });
    this.#writes.set(id, write);
    void write.finally(() => {
      if (this.#writes.get(id) === write) this.#writes.delete(id);
    });
    return write;
  }

  /**
   * Resolves once every background write (#persist) has finished (tests); `close` also drops the
   * prefetches still waiting and starts no new one (shutdown).
   */
  async settle(close = false): Promise<void> {
    if (close) {
      this.#closed = true;
      this.#prefetches.close();
    }
    while (this.#writes.size > 0) await Promise.all(this.#writes.values());
  }

  /**
   * Prefetch ([pypi] prefetch): what pip asks for next, fetched while it is still busy with the
   * previous answer, so its next request is a cache hit or joins the fill already running. pip
   * reads a project page, then the PEP 658 metadata of the candidate it picks (the newest
   * release it can use), and downloads that wheel once the whole set is resolved. Hence: a page
   * fetched from the upstream fetches the metadata of its newest final release's wheels (at most
   * PREFETCH_METADATA_WHEELS of them: a release with more is platform wheels, and which one the
   * client takes is not guessed), and a client's metadata request fetches its wheel. Everything
   * goes through the same verified paths as a client's request (the wheel through the engine's
   * fill, digest checked before commit); the cost is upstream traffic for a candidate the
   * resolver drops. Bounded: PREFETCH_CONCURRENCY at once, PREFETCH_QUEUE waiting, each key once.
   */
  #prefetch(key: string, task: () => Promise<unknown>): void {
    this.#prefetches.add(key, task);
  }

  /** Prefetches the metadata of the newest final release's wheels of a fetched page. */
  #prefetchMetadata(repo: Repository, project: string, page: StoredPage): void {
    if (!this.#ctx.config().pypi.prefetch) return;
    let newest: string | undefined;
    let wheels: StoredFile[] = [];
    for (const file of page.files) {
      if (
        !file.filename.endsWith('.whl') ||
        file.sha256 === undefined ||
        file.coreMetadata?.sha256 === undefined ||
        file.yanked !== false ||
        isPrerelease(file.version)
      ) {
        continue;
      }
      const order = newest === undefined ? 1 : compareVersions(file.version, newest);
      if (order > 0) {
        newest = file.version;
        wheels = [file];
      } else if (order === 0) {
        wheels.push(file);
      }
    }
    if (wheels.length === 0 || wheels.length > PREFETCH_METADATA_WHEELS) return;
    for (const file of wheels) {
      this.#prefetch(`${repo.name}\n${metaKey(project, file.filename)}`, () =>
        this.#coreMetadata(repo, project, file.filename),
      );
    }
  }

  /** Prefetches a wheel into the cache (the engine's verified fill, as a client's GET). */
  #prefetchFile(repo: Repository, project: string, filename: string): void {
    const key = fileKey(project, filename);
    this.#prefetch(`${repo.name}\n${key}`, async () => {
      if (await this.#ctx.proxy.lookup(repo.name, key)) return;
      const file = await this.#findFile(repo, project, filename);
      if (file?.sha256 === undefined) return;
      const opened = await this.#openBlob(repo, project, file, file.sha256, true);
      await opened?.committed;
    });
  }

  #settings(repo: Repository) {
    const pypi = this.#ctx.config().pypi;
    return {
      ttl: repo.metadataTtl ?? pypi.metadata_ttl,
      serveStale: repo.serveStale ?? pypi.serve_stale,
      timeout: repo.proxyTimeout ?? pypi.proxy_timeout,
    };
  }

  #targets(repo: Repository): UpstreamTarget[] {
    const { timeout } = this.#settings(repo);
    return repositoryTargets(this.#ctx.proxy, repo, { timeoutSeconds: timeout });
  }

  async #page(
    repo: Repository,
    project: string,
  ): Promise<{ page: StoredPage; stale: boolean } | undefined> {
    if (repo.kind !== 'proxy' || repo.upstreams.length === 0) return undefined;
    const settings = this.#settings(repo);
    const freshKey = `${repo.name}\n${project}`;
    const fresh = this.#fresh.fresh(freshKey, settings.ttl);
    if (fresh !== undefined) {
      this.#ctx.proxy.metrics.record(repo.name, 'hit');
      return { page: fresh.page, stale: false };
    }
    await this.#pageWrites.get(freshKey);
    const resolved = await this.#ctx.proxy.resolve({
      registry: repo.name,
      key: pageKey(project),
      ttlSeconds: settings.ttl,
      serveStale: settings.serveStale,
      refresh: (cached) => this.#refresh(repo, project, cached),
    });
    if (!resolved) {
      this.#fresh.delete(freshKey);
      return undefined;
    }
    const page = await this.#load(project, resolved.entry);
    if (resolved.result === 'miss' || resolved.result === 'revalidated') {
      this.#prefetchMetadata(repo, project, page);
    }
    this.#fresh.delete(freshKey);
    if (!resolved.stale) {
      this.#fresh.set(freshKey, { fetchedAt: resolved.entry.fetchedAt, page });
    }
    return { page, stale: resolved.stale };
  }

  /** The engine's refresh: first hit over the upstreams in order (see the module comment). */
  #refresh(repo: Repository, project: string, cached: CachedEntry | undefined): Promise<Refresh> {
    const targets = this.#targets(repo);
    return refreshInOrder(
      targets,
      cached?.upstream === undefined ? -1 : targets.findIndex((t) => t.label === cached.upstream),
      {
        fetch: (target) =>
          fetchRevalidated(this.#ctx.proxy.client, target, cached, {
            path: `/${project}/`,
            accept: UPSTREAM_PAGE_ACCEPT,
            absent: [404, 410],
            maxBytes: MAX_UPSTREAM_PAGE_BYTES,
            refuseDeclared: true,
            what: `the page of ${project}`,
          }),
        store: async (fetched, target, index) => {
          const pageUrl = joinUrl(target.baseUrl, `/${project}/`).href;
          const parsed = await parseUpstreamPage(fetched.body, fetched.type, pageUrl, project);
          const previous = cached
            ? await this.#load(project, cached).catch(() => undefined)
            : undefined;
          // A page listing no file where the cached copy listed some is not taken: it is what a
          // captive portal's or an error page sent with 200 parses to, and taking it would drop
          // every version (and the cached files with them). The cached copy is served stale, as
          // for any upstream failure. A first fetch may list no file (a project with none).
          if (parsed.files.length === 0 && previous !== undefined && previous.files.length > 0) {
            throw new RegistryError(
              'UPSTREAM_FAILED',
              `upstream ${target.label} sent a page of ${project} listing no files (the cached copy lists ${previous.files.length})`,
              {
                detail: {
                  upstream: target.label,
                  reason: `sent a page of ${project} listing no files`,
                },
              },
            );
          }
          const files = await this.#pinCached(
            repo,
            project,
            await this.#hashMissing(repo, project, index, parsed.files, previous),
          );
          const doc: StoredPage = { v: 1, name: project, files };
          const json = Buffer.from(JSON.stringify(doc));
          const maxBytes = 4 * MAX_UPSTREAM_PAGE_BYTES;
          if (json.length > maxBytes) {
            throw new RegistryError(
              'TOO_LARGE',
              `the page of ${project} exceeds ${maxBytes} bytes`,
            );
          }
          // Answered from the parsed page; its blob is written behind the answer (see #persist).
          const address = digestOf(json);
          const digest = formatDigest(address);
          this.#pages.set(digest, doc);
          const written = this.#persist(json, address, maxBytes);
          const freshKey = `${repo.name}\n${project}`;
          this.#pageWrites.set(freshKey, written);
          void written.finally(() => {
            if (this.#pageWrites.get(freshKey) === written) this.#pageWrites.delete(freshKey);
          });
          return {
            kind: 'updated',
            entry: {
              digest,
              size: json.length,
              mediaType: 'application/json',
              etag: fetched.etag,
              modifiedAt: fetched.modifiedAt,
              upstream: target.label,
            },
          };
        },
        onError: (err, target) => upstreamFailure(err, target.label, project),
        what: project,
      },
    );
  }

  /**
   * Files are immutable: a file cached here keeps its own sha256 (and size) in the page we store,
   * whatever the upstream now states for that filename (a re-upload PyPI forbids: a rebuilt
   * mirror or a compromise), so the page (HTML, PEP 691 JSON) and the JSON API always describe
   * the bytes we serve, stale copies included (pip failed "DO NOT MATCH THE HASHES" otherwise).
   * Its core metadata is then extracted from the cached file (the upstream's belongs to the other
   * bytes). Run once per changed page (one range read of the cached-file index), not per request;
   * each change is logged once per process.
   */
  async #pinCached(repo: Repository, project: string, files: StoredFile[]): Promise<StoredFile[]> {
    const prefix = fileKey(project, '');
    const cached = new Map<string, CachedEntry>();
    for (const entry of await this.#ctx.proxy.state.entries(repo.name, prefix)) {
      cached.set(entry.key.slice(prefix.length), entry);
    }
    if (cached.size === 0) return files;
    return files.map((file) => {
      const entry = cached.get(file.filename);
      const digest = entry === undefined ? undefined : tryParseDigest(entry.digest);
      if (
        entry === undefined ||
        digest?.algorithm !== 'sha256' ||
        file.sha256 === undefined ||
        file.sha256 === digest.hex
      ) {
        return file;
      }
      const warned = `${repo.name}\n${file.filename}\n${file.sha256}`;
      if (!this.#changedWarned.has(warned)) {
        if (this.#changedWarned.size >= 10_000) this.#changedWarned.clear();
        this.#changedWarned.add(warned);
        this.#ctx.log.warn(
          {
            registry: repo.name,
            project,
            version: file.version,
            file: file.filename,
            cached: `sha256:${digest.hex}`,
            upstream: `sha256:${file.sha256}`,
          },
          'upstream changed the checksum of a cached file: serving the cached file with its own checksum',
        );
      }
      return {
        ...file,
        sha256: digest.hex,
        size: entry.size,
        sha256Computed: false,
        coreMetadata: undefined,
      };
    });
  }

  /**
   * The page's files with the upstream index they came from; files without a sha256 take the one
   * computed before (same URL) or are downloaded and hashed now (bounded, newest first).
   */
  async #hashMissing(
    repo: Repository,
    project: string,
    upstream: number,
    files: readonly UpstreamFile[],
    previous: StoredPage | undefined,
  ): Promise<StoredFile[]> {
    const computed = new Map<string, string>();
    for (const file of previous?.files ?? []) {
      if (file.sha256Computed === true && file.sha256 !== undefined)
        computed.set(file.url, file.sha256);
    }
    const out: StoredFile[] = files.map((file) => {
      if (file.sha256 !== undefined) return { ...file, upstream };
      const sha256 = computed.get(file.url);
      return {
        ...file,
        upstream,
        sha256Computed: true,
        ...(sha256 === undefined ? {} : { sha256 }),
      };
    });
    const todo = out
      .map((file, index) => ({ file, index }))
      .filter(
        ({ file }) => file.sha256 === undefined && this.#onIndexOrigin(repo, upstream, file.url),
      )
      .sort((a, b) => compareVersions(b.file.version, a.file.version))
      .slice(0, MAX_HASHED_PER_REFRESH);
    const worker = async (): Promise<void> => {
      for (let next = todo.shift(); next !== undefined; next = todo.shift()) {
        const { file, index } = next;
        try {
          const source = await this.#fetchFile(repo, file, file.url);
          if (!source) continue;
          const stored = await this.#ctx.proxy.storeDocument(source.body, {
            maxBytes: MAX_FILE_BYTES,
          });
          this.#ctx.proxy.metrics.record(repo.name, 'miss');
          await this.#remember(repo, fileKey(project, file.filename), stored.digest);
          out[index] = { ...file, sha256: stored.digest.hex };
        } catch (err) {
          // Not listed this time; tried again at the next refresh.
          this.#ctx.log.warn(
            { registry: repo.name, project, filename: file.filename, error: describe(err) },
            'could not hash an upstream file that has no sha256',
          );
        }
      }
    };
    await Promise.all(Array.from({ length: HASH_CONCURRENCY }, worker));
    return out;
  }

  async #load(project: string, entry: CachedEntry): Promise<StoredPage> {
    const known = this.#pages.get(entry.digest);
    if (known) return known;
    await this.#writes.get(entry.digest);
    const stream = await this.#ctx.blobs.open(parseDigest(entry.digest));
    const body = await readAllBounded(
      stream,
      4 * MAX_UPSTREAM_PAGE_BYTES,
      `cached page of ${project}`,
    );
    let doc: unknown;
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch {
      doc = undefined;
    }
    if (
      typeof doc !== 'object' ||
      doc === null ||
      (doc as { v?: unknown }).v !== 1 ||
      !Array.isArray((doc as { files?: unknown }).files)
    ) {
      throw new RegistryError('INTERNAL', `the cached page of ${project} is unreadable`);
    }
    const page = doc as StoredPage;
    this.#pages.set(entry.digest, page);
    return page;
  }

  /**
   * The listing of `filename`: from the cached page as it is when it lists it (files are
   * immutable: no need to revalidate the page to serve one), else from the resolved page.
   */
  async #findFile(
    repo: Repository,
    project: string,
    filename: string,
  ): Promise<StoredFile | undefined> {
    const entry = await this.#ctx.proxy.lookup(repo.name, pageKey(project));
    if (entry) {
      try {
        const cached = await this.#load(project, entry);
        const file = cached.files.find((f) => f.filename === filename);
        if (file?.sha256 !== undefined) return file;
      } catch {
        // The cached copy is gone or unreadable: ask the upstream below.
      }
    }
    const found = await this.#page(repo, project);
    return found?.page.files.find((f) => f.filename === filename);
  }

  async #fromKey(repo: Repository, key: string): Promise<OpenedDistFile | undefined> {
    const known = await this.#ctx.proxy.lookup(repo.name, key);
    if (!known) return undefined;
    const digest = parseDigest(known.digest);
    const stat = await this.#ctx.blobs.stat(digest);
    if (!stat) return undefined;
    // Served without the engine's openBlob: count the hit here (as npm's warm path does).
    this.#ctx.proxy.metrics.record(repo.name, 'hit');
    const blobs = this.#ctx.blobs;
    return {
      size: stat.size,
      sha256: digest.hex,
      modifiedAt: known.fetchedAt,
      open: (range) => blobs.open(digest, range),
    };
  }

  /**
   * Reads a small committed file into #files in the background (never on a client's path; a
   * failure only leaves it served from the store).
   */
  #keepFile(memo: string, sha256: string, size: number, modifiedAt: number): void {
    if (this.#closed || this.#files.has(memo) || this.#fileLoads.has(memo)) return;
    if (size <= 0 || size > SMALL_FILE_MAX_BYTES) return;
    this.#fileLoads.add(memo);
    void (async () => {
      // A whole read: the blob store verifies it (a file damaged on disk throws, is removed,
      // and a fill repairs it), and a file this small is one read of its size (FsDriver.read),
      // whose chunk is the kept bytes (no copies).
      const stream = await this.#ctx.blobs.open(sha256Digest(sha256));
      const bytes = await readExactly(stream, size, memo);
      this.#files.set(memo, { bytes, sha256, modifiedAt });
    })()
      .catch(() => undefined)
      .finally(() => this.#fileLoads.delete(memo));
  }

  async #remember(repo: Repository, key: string, digest: Digest): Promise<void> {
    const stat = await this.#ctx.blobs.stat(digest);
    if (!stat) return;
    await this.#ctx.proxy.remember(repo.name, key, {
      digest: formatDigest(digest),
      size: stat.size,
      mediaType: 'application/octet-stream',
      etag: undefined,
      upstream: undefined,
    });
  }

  /** The file through the engine: store hit, or the one verified single-flight fill. */
  async #openBlob(
    repo: Repository,
    project: string,
    file: StoredFile,
    sha256: string,
    background = false,
  ): Promise<OpenedBlob | undefined> {
    const digest = sha256Digest(sha256);
    const opened = await this.#ctx.proxy.openBlob({
      registry: repo.name,
      digest,
      background,
      fetch: () => this.#fetchFile(repo, file, file.url),
      fill: {
        maxBytes: MAX_FILE_BYTES,
        // Only an upstream-stated size alongside an upstream-stated hash is checked.
        ...(file.size !== undefined && file.sha256Computed !== true
          ? { expectedSize: file.size }
          : {}),
      },
    });
    if (!opened) return undefined;
    if (opened.source === 'upstream' && opened.started) {
      // A fill, the client's or the metadata prefetch's (pip reads a wheel's metadata first, and
      // the prefetch may have stored the wheel before pip asks): the quarantine's first seen.
      this.#ctx.curation?.recordFirstSeen({
        registry: 'pypi',
        name: project,
        version: parseDistFilename(file.filename, project)?.version,
        digest: `sha256:${sha256}`,
      });
    }
    const key = fileKey(project, file.filename);
    opened.committed.then(
      async (result) => {
        await this.#remember(repo, key, digest);
        const size = result?.size ?? opened.size;
        if (size !== undefined && size <= SMALL_FILE_MAX_BYTES) {
          this.#keepFile(`${repo.name}\n${key}`, sha256, size, opened.storedAt);
        }
      },
      () => undefined,
    );
    return opened;
  }

  /** GETs `url` (a file or its `.metadata`) from the upstream that listed it. */
  async #fetchFile(
    repo: Repository,
    file: StoredFile,
    url: string,
  ): Promise<FillSource | undefined> {
    const { target, path } = this.#fileTarget(repo, file.upstream, url);
    let response;
    try {
      response = await this.#ctx.proxy.client.request(target, {
        method: 'GET',
        path,
        headers: { 'accept-encoding': 'identity' },
      });
    } catch (err) {
      throw toUpstreamError(err, target.label);
    }
    return fillSourceOf(response, target.label, file.filename, [404, 410]);
  }

  /**
   * The target and request path for a URL an upstream page gave: the index's own target when
   * the URL lies below the index URL, else a target for the URL's origin (credentials are sent
   * only to the index's own origin, as pip does).
   */
  #fileTarget(
    repo: Repository,
    upstream: number,
    url: string,
  ): { target: UpstreamTarget; path: string } {
    const targets = this.#targets(repo);
    const index = upstream < targets.length ? upstream : 0;
    const config = repo.upstreams[index];
    const target = targets[index];
    if (!config || !target) {
      throw new RegistryError('UPSTREAM_FAILED', `proxy ${repo.name} has no upstream`);
    }
    const fileUrl = new URL(url);
    const base = new URL(config.url);
    const prefix = base.pathname.replace(/\/+$/, '');
    if (fileUrl.origin === base.origin && fileUrl.pathname.startsWith(`${prefix}/`)) {
      return { target, path: fileUrl.pathname.slice(prefix.length) + fileUrl.search };
    }
    const hostKey = `${repo.name}#${index} ${fileUrl.origin}`;
    let ordinal = this.#fileHosts.get(hostKey);
    if (ordinal === undefined) {
      const used = [...this.#fileHosts.keys()].filter((k) =>
        k.startsWith(`${repo.name}#${index} `),
      );
      ordinal = used.length < MAX_FILE_HOSTS ? used.length : MAX_FILE_HOSTS;
      if (ordinal < MAX_FILE_HOSTS) this.#fileHosts.set(hostKey, ordinal);
    }
    const { timeout } = this.#settings(repo);
    const hostTarget = this.#ctx.proxy.upstream({
      label: `${repo.name}#${index}-files${ordinal === 0 ? '' : `-${ordinal}`}`,
      registry: repo.name,
      url: fileUrl.origin,
      credentials: fileUrl.origin === base.origin ? config.auth : undefined,
      namedBy: config.url,
      auth: 'basic',
      timeoutSeconds: timeout,
      readTimeoutSeconds: timeout,
    });
    return { target: hostTarget, path: fileUrl.pathname + fileUrl.search };
  }

  /**
   * Whether `url` lies on the origin of upstream `upstream`'s index URL. Bytes we cannot verify
   * against an upstream-stated sha256 (files listed without one, `.metadata` offered without one)
   * are fetched only from there: an upstream page may name any URL, and serving whatever an
   * arbitrary URL answers would let a hostile upstream read internal services through us.
   */
  #onIndexOrigin(repo: Repository, upstream: number, url: string): boolean {
    const index = repo.upstreams[upstream]?.url;
    if (index === undefined) return false;
    try {
      return new URL(url).origin === new URL(index).origin;
    } catch {
      return false;
    }
  }

  /**
   * The upstream's `<url>.metadata`, read into memory (bounded) and verified against `sha256`
   * when the page stated one; undefined when the upstream has none (404/410).
   */
  async #upstreamMetadata(
    repo: Repository,
    project: string,
    file: StoredFile,
    sha256: string | undefined,
  ): Promise<Buffer | undefined> {
    const url = new URL(file.url);
    url.pathname += '.metadata';
    try {
      const source = await this.#fetchFile(repo, file, url.href);
      if (!source) return undefined;
      const bytes = await readAllBounded(
        source.body,
        MAX_CORE_METADATA_BYTES,
        `upstream metadata of ${file.filename}`,
      );
      if (source.size !== undefined && source.size !== bytes.length) {
        throw new RegistryError(
          'UPSTREAM_FAILED',
          `upstream sent ${bytes.length} bytes of ${file.filename}.metadata, announced ${source.size}`,
        );
      }
      const actual = sha256Hex(bytes);
      if (sha256 !== undefined && actual !== sha256) {
        throw new RegistryError(
          'DIGEST_INVALID',
          `digest mismatch: expected sha256:${sha256}, got sha256:${actual}`,
        );
      }
      this.#ctx.proxy.metrics.record(repo.name, 'miss');
      return bytes;
    } catch (err) {
      if (!(err instanceof RegistryError) || isUpstreamFailure(err))
        throw upstreamFailure(err, 'metadata', project);
      // A digest mismatch or an oversized file: the upstream's metadata is unusable.
      throw new RegistryError(
        'UPSTREAM_FAILED',
        `upstream metadata of ${file.filename} is unusable: ${err.message}`,
        { cause: err },
      );
    }
  }

  /**
   * METADATA read out of a large wheel that is not cached yet through HTTP ranges of the upstream
   * file: the zip's end record, central directory and one entry, not the whole wheel (pip asks
   * for the metadata of candidates it may never install). Undefined (fall back to fetching the
   * whole wheel) when the wheel is cached or small, or the upstream does not serve ranges. The
   * bytes are not verified against the wheel's sha256 (they cannot be without the whole file),
   * exactly as an upstream's own `.metadata` file is not.
   */
  async #rangedMetadata(
    repo: Repository,
    project: string,
    file: StoredFile,
    sha256: string,
  ): Promise<Buffer | undefined> {
    if ((await this.#ctx.blobs.stat(sha256Digest(sha256))) !== undefined) return undefined;
    if (this.#ctx.proxy.isFilling(sha256Digest(sha256))) return undefined;
    const { target, path } = this.#fileTarget(repo, file.upstream, file.url);
    const client = this.#ctx.proxy.client;
    let size = file.sha256Computed === true ? undefined : file.size;
    if (size === undefined) {
      const head = await client.request(target, { method: 'HEAD', path });
      head.body.destroy();
      const length = Number(head.header('content-length'));
      if (head.status !== 200 || !Number.isSafeInteger(length)) return undefined;
      size = length;
    }
    if (size < RANGED_METADATA_MIN_BYTES) return undefined;
    const ranges = { unsupported: false };
    let metadata: Buffer;
    try {
      metadata = await readWheelCoreMetadata(file.filename, size, async (start, end) => {
        if (end <= start) return Readable.from([]);
        const response = await client.request(target, {
          method: 'GET',
          path,
          headers: { range: `bytes=${start}-${end - 1}`, 'accept-encoding': 'identity' },
        });
        const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.header('content-range') ?? '');
        if (
          response.status !== 206 ||
          Number(range?.[1]) !== start ||
          Number(range?.[2]) !== end - 1
        ) {
          response.body.destroy();
          ranges.unsupported = true;
          throw new RegistryError('UPSTREAM_FAILED', `upstream ${target.label} serves no ranges`);
        }
        return response.body;
      });
    } catch (err) {
      // No ranges, or a zip we could not read this way: the whole wheel is fetched instead.
      if (ranges.unsupported || (err instanceof RegistryError && err.code === 'BAD_REQUEST')) {
        return undefined;
      }
      throw upstreamFailure(err, target.label, project);
    }
    this.#ctx.proxy.metrics.record(repo.name, 'miss');
    return metadata;
  }

  /** METADATA read out of the wheel, once it is in the blob store (fetched through the fill). */
  async #extractMetadata(
    repo: Repository,
    project: string,
    file: StoredFile,
    sha256: string,
  ): Promise<Buffer | undefined> {
    const opened = await this.#openBlob(repo, project, file, sha256);
    if (!opened) return undefined;
    await opened.committed;
    const digest = sha256Digest(sha256);
    const stat = await this.#ctx.blobs.stat(digest);
    if (!stat) return undefined;
    const blobs = this.#ctx.blobs;
    let metadata: Buffer;
    try {
      metadata = await readWheelCoreMetadata(file.filename, stat.size, (start, end) =>
        end <= start
          ? Promise.resolve(Readable.from([]))
          : blobs.open(digest, { start, end: end - 1 }),
      );
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'BAD_REQUEST') {
        this.#ctx.log.warn(
          { registry: repo.name, project, filename: file.filename, error: err.message },
          'proxied wheel has no readable METADATA',
        );
        return undefined;
      }
      throw err;
    }
    return metadata;
  }
}

function sha256Digest(hex: string): Digest {
  return { algorithm: 'sha256', hex };
}

function sha256Hex(bytes: Buffer): string {
  return digestOf(bytes).hex;
}

/** An OpenedDistFile over bytes in memory (a range is a view of them). */
/** Bytes kept in memory, with when they were stored here (epoch ms). */
interface KeptBytes {
  readonly bytes: Buffer;
  readonly sha256: string;
  readonly modifiedAt: number;
}

function inMemory({ bytes, sha256, modifiedAt }: KeptBytes): OpenedDistFile {
  return {
    size: bytes.length,
    sha256,
    modifiedAt,
    bytes,
    open: (range) =>
      Promise.resolve(
        Readable.from([bytes.subarray(range?.start ?? 0, (range?.end ?? bytes.length - 1) + 1)]),
      ),
  };
}

function pageBytes(page: StoredPage): number {
  // ~3x the JSON: strings count 2 bytes a char plus objects.
  let bytes = 256;
  for (const file of page.files) bytes += 400 + 2 * (file.filename.length + file.url.length);
  return bytes;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
