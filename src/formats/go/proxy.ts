/**
 * Go module proxy repositories (GOPROXY protocol) on the shared proxy engine
 * (src/proxy/engine.ts `resolve`, entries in `proxy_entries`, bytes in the blob store):
 *
 * - `.info`, `.mod`, `.zip` of a canonical version are immutable: fetched once from the first
 *   upstream that has them, checked against the upstream's Content-Length when it sends one,
 *   bounded (`.zip` by [go] max_zip_size, 413-class upstream failure past it; `.info`/`.mod` by
 *   small fixed limits), cached forever (TTL -1). The `go` command verifies the bytes itself
 *   against go.sum and the checksum database, so nothing here may rewrite them.
 * - `@v/list`, `@latest` and `.info` of a query (`master`) are mutable: TTL = the repository's
 *   metadata_ttl, else [go] metadata_ttl; served stale when every upstream fails (serve_stale).
 *   An upstream `@v/list` with a line that is not a version (an HTML page answered 200), or an
 *   empty one while the cached copy has versions, is an upstream failure (never stored).
 * - `@v/list`, `@latest` and every `.info` wait at most [go] metadata_timeout seconds for the
 *   upstream (the Athens complaint: a `list` that takes 30 s because the upstream hangs), cached
 *   or not: then the cached copy is served, or the miss is an upstream failure (404 from a group,
 *   so `go` falls through). `.mod`/`.zip` keep the proxy timeout (see #targets).
 * - An upstream 404 or 410 is "absent": answered 404 so `go` falls through to the next GOPROXY
 *   entry; remembered for [go] negative_cache_ttl seconds. Any other status, a timeout or a
 *   refused connection is an upstream failure (a group treats it as "not here"; a proxy addressed
 *   alone answers 502/504 for an uncached miss).
 * - Private modules ([go] private, GOPRIVATE syntax): never asked of an upstream, absent here.
 * - Prefetch ([go] prefetch, see #prefetchRequires and #prefetchZip): a `.mod` filled from the
 *   upstream queues the `.mod`s of its requirements, a client's `.info` of a version queues its
 *   `.zip`; each through #get as the client's own request (single-flight: a request arriving
 *   meanwhile joins the fill), bounded by the shared queue (src/proxy/prefetch.ts).
 */
import { quarantines } from '../../curation/quarantine.ts';
import type { CurationGate, CurationSubject } from '../../curation/types.ts';
import { refusedBeforeFetch } from '../curation-before-fetch.ts';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { pipeline, Readable, Transform } from 'node:stream';
import type { AppConfig } from '../../config/schema.ts';
import { ByteLru } from '../../core/byte-lru.ts';
import { type Digest, formatDigest, parseDigest } from '../../core/digest.ts';
import { RegistryError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { limitBytes, readAllBounded } from '../../core/streams.ts';
import type { ProxyEngine, Refresh } from '../../proxy/engine.ts';
import type { ReadRange } from '../../proxy/fill.ts';
import { PrefetchQueue } from '../../proxy/prefetch.ts';
import { type CachedEntry, lastModifiedOf } from '../../proxy/state.ts';
import { conditionalHeaders, validatorsOf } from '../../proxy/validators.ts';
import {
  answeredAbsent,
  declaredLength,
  type UpstreamTarget,
} from '../../proxy/upstream-client.ts';
import { asUpstreamError, repositoryTargets } from '../../proxy/in-order.ts';
import type { Repository } from '../../repos/repository.ts';
import type { BlobStore } from '../../storage/blob-store.ts';
import {
  type MissNotes,
  NegativeCache,
  noteMiss,
  rememberedMissText,
} from '../../proxy/negative-cache.ts';
import type { Metrics } from '../../metrics/metrics.ts';
import type { GoSection } from './config.ts';
import { goModGraphFacts } from './gomod-syntax.ts';
import type { GoSource, OpenedModuleFile, VersionInfo, VersionList } from './model.ts';
import {
  checkModuleVersion,
  checkVersion,
  compareSemver,
  isValidSemver,
  escapePath,
  escapeVersion,
  matchPrefixPatterns,
  sortVersions,
} from './module.ts';
import { checkZipHead, parseModulePath, zipHeadBytes, zipIntegrityProblem } from './zip.ts';

/** Prefixes of a new hosted module path asked upstream on its first publish (upstreamHas). */
const MAX_ASKED_PREFIXES = 15;

/** Largest `@v/list` taken from an upstream, bytes (a module with ~100k versions). */
export const MAX_LIST_BYTES = 4 * 1024 * 1024;
/** `.zip`s up to this size are answered from memory while their blob is written, bytes. */
const MEMORY_FILL_BYTES = 4 * 1024 * 1024;
/** Fresh entries remembered in memory, at most. */
const FRESH_ENTRIES = 50_000;
/** Budget of the in-memory copies of small documents, bytes. */
const DOCUMENT_CACHE_BYTES = 16 * 1024 * 1024;
/** Parsed lists and infos remembered, at most. */
const PARSED_ENTRIES = 20_000;
/** `.mod`s up to this size are answered from the in-memory document cache, bytes. */
const MEMORY_MOD_BYTES = 64 * 1024;
/** Largest `.info` / `@latest` JSON, bytes. */
export const MAX_INFO_BYTES = 64 * 1024;
/** Largest `.mod`, bytes (the `go` command's own limit for go.mod files is 16 MiB). */
export const MAX_MOD_BYTES = 16 * 1024 * 1024;

/** Prefetches (see #prefetchRequires) running at once; more wait their turn. */
const PREFETCH_CONCURRENCY = 4;
/** Prefetches waiting at most; beyond, new ones are dropped (the client's own request comes). */
export const PREFETCH_QUEUE = 256;
/** Requirements of one `.mod` prefetched at most (a go.mod lists a few dozen, rarely hundreds). */
export const PREFETCH_REQUIRES = 64;

/** True when `module` matches one of the GOPRIVATE-style globs (module.ts matchPrefixPatterns). */
export function isPrivateModule(globs: readonly string[], module: string): boolean {
  return globs.length > 0 && matchPrefixPatterns(globs.join(','), module);
}

export interface GoProxyDeps {
  readonly config: () => AppConfig;
  readonly blobs: BlobStore;
  readonly proxy: ProxyEngine;
  /** Where a refused upstream `.zip` is reported (optional: tests). */
  readonly log?: Logger | undefined;
  /** The curation gate (FormatContext.curation). Absent: nothing curated (tests). */
  readonly curation?: CurationGate | undefined;
  /** Where the prefetch counters go (nora_proxy_prefetch_total). Absent: not counted (tests). */
  readonly metrics?: Metrics | undefined;
  /** Prefetch queue bounds (tests); absent: PREFETCH_CONCURRENCY and PREFETCH_QUEUE. */
  readonly prefetchBounds?: { readonly concurrency: number; readonly queue: number } | undefined;
}

/**
 * How long an upstream whose `.zip` failed the whole-zip check has that file checked before it
 * is answered, ms (see #storeSmall): a damaged zip reaches one client, not every client.
 */
const SUSPECT_MS = 10 * 60 * 1000;
/** Suspect (upstream, file) pairs remembered, at most (oldest out first). */
const SUSPECT_ENTRIES = 1_000;

type Kind = 'list' | 'latest' | 'info' | 'mod' | 'zip';

/**
 * Whether a fill of `kind` starts its version's first-seen clock: the files go.sum hashes
 * (`h1:` of the `.zip` and of `/go.mod`), the version's content. Not `.info` (name and date).
 */
function firstSeenFile(kind: Kind): boolean {
  return kind === 'mod' || kind === 'zip';
}

const CONTENT_TYPE: Readonly<Record<Kind, string>> = {
  list: 'text/plain',
  latest: 'application/json',
  info: 'application/json',
  mod: 'text/plain',
  zip: 'application/zip',
};

/** GoSource of proxy repositories (see the module comment). */
export class GoProxy implements GoSource {
  readonly #deps: GoProxyDeps;
  readonly #misses = new NegativeCache();
  /** Bodies answered before their blob write committed, by digest. */
  readonly #pending = new Map<string, Held>();
  readonly #writes = new Set<Promise<unknown>>();
  /** Fresh engine entries by repository and key (bounded, oldest out first). */
  readonly #fresh = new Map<string, { entry: CachedEntry; until: number }>();
  /** Small documents (`list`, `.info`, `@latest`) by digest: a warm read does no file I/O. */
  readonly #documents = new ByteLru<string, Buffer>(DOCUMENT_CACHE_BYTES, (b) => b.length + 64);
  /** Parsed `list`s and `.info`s by the digest of their bytes (see #remember). */
  readonly #parsed = new Map<string, VersionList | VersionInfo>();
  /** Upstream `.zip`s that failed the deferred check, by `<label>\n<urlPath>`: until when. */
  readonly #suspect = new Map<string, number>();
  /** Prefetches ([go] prefetch), keyed `<repo>\n<engine key>` as #get's memo. */
  readonly #prefetches: PrefetchQueue;

  constructor(deps: GoProxyDeps) {
    this.#deps = deps;
    this.#prefetches = new PrefetchQueue({
      format: 'go',
      concurrency: deps.prefetchBounds?.concurrency ?? PREFETCH_CONCURRENCY,
      queue: deps.prefetchBounds?.queue ?? PREFETCH_QUEUE,
      enabled: () => deps.config().go.prefetch,
      log: deps.log,
      metrics: deps.metrics,
    });
  }

  /** The prefetch queue (tests: its bounds, `idle()`). */
  get prefetches(): PrefetchQueue {
    return this.#prefetches;
  }

  #section(): GoSection {
    return this.#deps.config().go;
  }

  #settings(repo: Repository) {
    const go = this.#section();
    return {
      ttl: repo.metadataTtl ?? go.metadata_ttl,
      serveStale: repo.serveStale ?? go.serve_stale,
      timeout: repo.proxyTimeout ?? go.proxy_timeout,
      zipTimeout: go.proxy_timeout_zip,
      metadataTimeout: Math.min(go.metadata_timeout, repo.proxyTimeout ?? go.proxy_timeout),
      negativeTtl: go.negative_cache_ttl,
      maxZip: go.max_zip_size,
    };
  }

  /** True when `repo` may ask an upstream about `module` at all. */
  #serves(repo: Repository, module: string): boolean {
    return (
      repo.kind === 'proxy' &&
      repo.upstreams.length > 0 &&
      !isPrivateModule(this.#section().private, module) &&
      // `[curation] internal_namespaces`: as a private path, never asked of an upstream.
      this.#deps.curation?.isInternal('go', module) !== true
    );
  }

  /**
   * Curation of one version's file, before the cache or an upstream is asked: only what refuses
   * whether or not the version exists (a list rule, a hold, a min release age on a known time:
   * refusedBeforeFetch) is a 403 here. Returns the subject #admit checks once the file is found
   * (undefined: nothing curated).
   */
  async #curate(
    repo: Repository,
    module: string,
    version: string,
  ): Promise<CurationSubject | undefined> {
    const gate = this.#deps.curation;
    // Quarantine is independent of mode: a held version's `.info` and `.mod` are refused too.
    if (gate === undefined || (gate.mode() === 'off' && !quarantines(gate, 'go'))) return undefined;
    const publishedAt =
      gate.mode() === 'off' ? undefined : await this.#publishedAt(repo, module, version);
    const subject = { registry: 'go', name: module, version, publishedAt } as const;
    if (refusedBeforeFetch(gate, subject)) gate.guard(subject);
    return subject;
  }

  /**
   * Curation of a version's file once it is found (cached or fetched now: `filled`), before a
   * byte is sent. The version's first-seen clock (quarantine, and the min release age without a
   * `.info` `Time`) starts at the first fill of a file go.sum hashes, its `.mod` or `.zip`
   * (firstSeenFile), never at a `.info` (a version's name and date, which the listing filter
   * reads too: a listing or a `.info` request must not start a hold the client's download then
   * finds half over). Once started, `.info`, `.mod` and `.zip` are held alike; a refused version
   * (enforce) is a 403 for each, counted where refused; a served version counts once, at its
   * `.zip` (the download; `go` asks `.info` and `.mod` first). A version no upstream has never
   * gets here: its 404 records nothing.
   */
  #admit(kind: Kind, subject: CurationSubject, filled: boolean): void {
    const gate = this.#deps.curation;
    if (gate === undefined) return;
    if (filled && firstSeenFile(kind)) gate.recordFirstSeen(subject);
    if (kind === 'zip') gate.guard(subject);
    else if (gate.decide(subject).refuse) gate.guard(subject);
  }

  /**
   * The `.info` `Time` of `module@version` (ms), the min release age's publish time: read
   * through the cache (immutable once fetched), not curated nor counted. Undefined when no age
   * applies to Go, or the upstream gives none (the gate then falls back to first-seen).
   */
  async #publishedAt(
    repo: Repository,
    module: string,
    version: string,
  ): Promise<number | undefined> {
    if ((this.#deps.curation?.timeSettings('go').minReleaseAge ?? 0) === 0) return undefined;
    if (checkVersion(version) !== undefined) return undefined;
    const got = await this.#getInfo(repo, module, version, undefined, 'uncurated').catch(
      () => undefined,
    );
    // A `.info` starts no first-seen clock, read here for a listing or a client's request alike
    // (#admit).
    const info = got === undefined ? undefined : await this.#info(got.entry).catch(() => undefined);
    const at = info?.Time === undefined ? Number.NaN : Date.parse(info.Time);
    return Number.isNaN(at) ? undefined : at;
  }

  /** Whether enforce leaves `module@version` out of `@v/list` and `@latest`. */
  async #hidden(
    repo: Repository,
    module: string,
    version: string,
    publishedAt?: number,
  ): Promise<boolean> {
    const gate = this.#deps.curation;
    if (gate === undefined || gate.mode() !== 'enforce') return false;
    const subject = { registry: 'go', name: module, version } as const;
    if (!gate.hides(subject) && gate.timeSettings('go').minReleaseAge === 0) return false;
    return gate.hides({
      ...subject,
      publishedAt: publishedAt ?? (await this.#publishedAt(repo, module, version)),
    });
  }

  /**
   * `versions` without those enforce hides. With a min release age each version's `.info` is
   * read, newest first, until the first old-enough release: the versions below it are kept
   * unread (an older line's release published later is refused at download, 403).
   */
  async #allowed(repo: Repository, module: string, versions: readonly string[]): Promise<string[]> {
    const gate = this.#deps.curation;
    if (gate === undefined || gate.mode() !== 'enforce') return [...versions];
    const aged = gate.timeSettings('go').minReleaseAge > 0;
    const newestFirst = [...versions].sort((a, b) => compareSemver(b, a));
    const hidden = new Set<string>();
    let settled = false;
    for (const version of newestFirst) {
      const subject = { registry: 'go', name: module, version } as const;
      if (!aged || settled) {
        if (gate.hides(subject)) hidden.add(version);
        continue;
      }
      if (await this.#hidden(repo, module, version)) hidden.add(version);
      else if (!version.includes('-')) settled = true;
    }
    return versions.filter((v) => !hidden.has(v));
  }

  /** Whether curation refuses `module@version` (enforce): never prefetched. Not counted. */
  #refused(module: string, version: string): boolean {
    const gate = this.#deps.curation;
    if (gate === undefined || gate.mode() === 'off') return false;
    return gate.decide({ registry: 'go', name: module, version }).refuse;
  }

  /**
   * Queues the prefetch of one `.mod`/`.zip` of a canonical `module@version`: through #get as the
   * client's request (#serves: never a private or internal module; #refused: never a version
   * curation refuses), unless prefetch is off, it is already fresh in memory, or it was queued
   * before (each file once per process). Bounded by the queue (src/proxy/prefetch.ts).
   */
  #prefetchFile(repo: Repository, kind: 'mod' | 'zip', module: string, version: string): void {
    if (!this.#section().prefetch || !this.#serves(repo, module)) return;
    const missKey = `${repo.name}\n${kind}:${module}@${version}`;
    if (this.#fresh.has(missKey) || this.#prefetches.has(missKey)) return;
    if (this.#refused(module, version)) return;
    this.#prefetches.add(missKey, () =>
      this.#get(repo, kind, module, version, () => fileUrl(module, version, kind), undefined, true),
    );
  }

  /**
   * After a `.mod` was filled from the upstream: queues the `.mod` of each module version it
   * requires (at most PREFETCH_REQUIRES), which `go` reads next while it walks the module graph
   * (cmd/go/internal/modload: the go.mod of every module version in the graph, a few at a time).
   * Only for a go.mod whose `go` directive is older than 1.17 or absent: from 1.17 on go prunes
   * the graph (a dependency's own requirements are in the graph, but their go.mod files are read
   * only when the main module requires those modules, at the versions it selects), so most of
   * those would be fetched for nothing. Parsed after this turn's answer (not on `go`'s path).
   */
  #prefetchRequires(repo: Repository, entry: CachedEntry): void {
    if (!this.#section().prefetch) return;
    setImmediate(() => {
      this.#read(entry, MAX_MOD_BYTES).then(
        (body) => {
          const facts = goModGraphFacts(body.toString('utf8'));
          if (prunesGraph(facts.go)) return;
          for (const { path, version } of facts.requires.slice(0, PREFETCH_REQUIRES)) {
            if (checkModuleVersion(path, version) !== undefined) continue;
            this.#prefetchFile(repo, 'mod', path, version);
          }
        },
        () => undefined, // its blob is gone: nothing to read ahead from
      );
    });
  }

  /**
   * Upstream targets for one fetch. Which timeout bounds what (docs/go.md "Timeouts"):
   * - `list`, `@latest`, `.info`: [go] metadata_timeout (at most the proxy timeout) for the
   *   connection, the response headers and each silence of the body, cached copy or not: `go`
   *   asks these first, and a hung upstream must turn into a 404 it falls through on (a group) or
   *   a 504 (a proxy addressed alone), or the cached copy, within that time, not after 30 s.
   * - `.mod`: the proxy timeout (repository `proxy_timeout`, else [go] proxy_timeout) for all three.
   * - `.zip`: the proxy timeout for the connection and headers, [go] proxy_timeout_zip for each
   *   silence while the body streams in.
   */
  #targets(repo: Repository, kind: Kind): UpstreamTarget[] {
    const s = this.#settings(repo);
    const metadata = kind === 'list' || kind === 'latest' || kind === 'info';
    const timeout = metadata ? s.metadataTimeout : s.timeout;
    const read = kind === 'zip' ? s.zipTimeout : timeout;
    return repositoryTargets(this.#deps.proxy, repo, {
      timeoutSeconds: timeout,
      readTimeoutSeconds: read,
    });
  }

  /**
   * Whether this proxy has served `module@version` (decoded, canonical): its `.info`, `.mod` or
   * `.zip` is in the cache, or the cached `@v/list` of the module lists it. From the cache only,
   * no upstream request: a hosted publish of that version would put other bytes under a version
   * builds already hold in go.sum (publish.ts).
   */
  async servedVersion(repo: Repository, module: string, version: string): Promise<boolean> {
    if (repo.kind !== 'proxy') return false;
    const state = this.#deps.proxy.state;
    for (const kind of ['info', 'mod', 'zip']) {
      if ((await state.get(repo.name, `${kind}:${module}@${version}`)) !== undefined) return true;
    }
    const list = await state.get(repo.name, `list:${module}`);
    if (list === undefined) return false;
    try {
      return listedVersions(await this.#read(list, MAX_LIST_BYTES)).versions.includes(version);
    } catch {
      // A cached list gone from storage or damaged is no evidence either way; the .info/.mod/.zip
      // entries above are the record of what was served.
      return false;
    }
  }

  /**
   * A module path this proxy has served that is `module`, lies under it or is a prefix of it;
   * undefined when none. Served means any of the module's files in its cache: a version's
   * `.info`, `.mod` or `.zip` (a client may fetch only the zip: trial 18 fmts F8), or its
   * `@v/list`. From the cache only, no upstream request: what a publish of the new hosted module
   * `module` takes over in a group guarding hosted names (publish.ts). At most four look-ups per
   * path segment.
   */
  async servedInTree(repo: Repository, module: string): Promise<string | undefined> {
    if (repo.kind !== 'proxy') return undefined;
    const state = this.#deps.proxy.state;
    // `path` itself (under = false) or a module path below it (under = true).
    const first = async (path: string, under: boolean): Promise<string | undefined> => {
      for (const kind of ['mod', 'info', 'zip']) {
        const [key] = await state.keys(repo.name, `${kind}:${path}${under ? '/' : '@'}`, 1);
        if (key !== undefined) return key.slice(kind.length + 1, key.lastIndexOf('@'));
      }
      // A list's key has no version: `list:<module>`, so `path`'s own is an exact look-up.
      if (!under)
        return (await state.get(repo.name, `list:${path}`)) === undefined ? undefined : path;
      const [key] = await state.keys(repo.name, `list:${path}/`, 1);
      return key?.slice('list:'.length);
    };
    const exact = await first(module, false);
    if (exact !== undefined) return exact;
    const under = await first(module, true);
    if (under !== undefined) return under;
    for (let cut = module.lastIndexOf('/'); cut > 0; cut = module.lastIndexOf('/', cut - 1)) {
      const above = await first(module.slice(0, cut), false);
      if (above !== undefined) return above;
    }
    return undefined;
  }

  /**
   * The module path in `module`'s line — `module` itself or a prefix of it — an upstream of
   * `repo` has now (trial 18 fmts F1; trial 19: prefixes too, since a hosted
   * `github.com/kr/text/v2` keeps the group from asking the proxy for `github.com/kr/text`): each
   * path's `@v/list` asked through this proxy as a read asks it, all at once (one request per
   * path segment, each bounded by the metadata timeout, answers cached so servedVersion sees
   * their versions, a 404 remembered for negative_cache_ttl). Paths under `module` cannot be
   * asked (a GOPROXY has no listing); the cache tells of those (servedInTree). What the first
   * publish of a module path new to a hosted repository checks.
   *
   * `{ served: path }` for the longest such path that has a list (an empty one too: the path
   * exists, with pseudo-versions only); `{ unknown: true }` when none has one and some could not
   * be asked (a failure, a timeout, an open circuit breaker: the air-gapped default);
   * `{ absent: true }` when every upstream answered 404/410; `{}` for a path this proxy never
   * asks about: a private one (its prefixes are less than the path the configuration keeps
   * private) or a proxy without upstreams.
   */
  async upstreamHas(
    repo: Repository,
    module: string,
  ): Promise<{ readonly served?: string; readonly unknown?: true; readonly absent?: true }> {
    if (!this.#serves(repo, module)) return {};
    const prefixes: string[] = [];
    for (let cut = module.lastIndexOf('/'); cut > 0; cut = module.lastIndexOf('/', cut - 1)) {
      prefixes.push(module.slice(0, cut));
    }
    // Bounded work per publish whatever the path's depth (an 8 KiB URL holds thousands of
    // segments): the path and its shortest prefixes, where public modules live.
    const line = [module, ...prefixes.slice(-MAX_ASKED_PREFIXES)];
    const answers = await Promise.all(
      line.map(async (path) => {
        try {
          return (await this.list(repo, path)) === undefined ? 'absent' : 'served';
        } catch {
          return 'unknown';
        }
      }),
    );
    const served = line.find((_, i) => answers[i] === 'served');
    if (served !== undefined) return { served };
    return answers.includes('unknown') ? { unknown: true } : { absent: true };
  }

  async list(repo: Repository, module: string, miss?: MissNotes): Promise<VersionList | undefined> {
    const got = await this.#get(
      repo,
      'list',
      module,
      undefined,
      () => `${escapePath(module)}/@v/list`,
      miss,
    );
    if (got === undefined) return undefined;
    let list = this.#parsed.get(got.entry.digest) as VersionList | undefined;
    if (list === undefined) {
      list = { versions: listedVersions(await this.#read(got.entry, MAX_LIST_BYTES)).versions };
      this.#remember(got.entry.digest, list);
    }
    // Enforce: the versions the policy refuses are not offered, so `go get <module>` and
    // `go list -m -versions` pick among the allowed ones.
    const versions = await this.#allowed(repo, module, list.versions);
    if (versions.length !== list.versions.length) {
      return got.stale ? { versions, stale: true } : { versions };
    }
    return got.stale ? { versions: list.versions, stale: true } : list;
  }

  async latest(
    repo: Repository,
    module: string,
    miss?: MissNotes,
  ): Promise<VersionInfo | undefined> {
    const got = await this.#get(
      repo,
      'latest',
      module,
      undefined,
      () => `${escapePath(module)}/@latest`,
      miss,
    );
    if (got === undefined) return undefined;
    const info = await this.#infoOf(got);
    if (info === undefined) return undefined;
    const time = info.Time === undefined ? Number.NaN : Date.parse(info.Time);
    const at = Number.isNaN(time) ? undefined : time;
    if (!(await this.#hidden(repo, module, info.Version, at))) return info;
    // A refused `@latest` answers the newest allowed version of the list (a min release age
    // hides the newest release for a while), else nothing (404).
    const allowed = (await this.list(repo, module))?.versions ?? [];
    const newest = [...allowed].sort((a, b) => compareSemver(b, a))[0];
    if (newest === undefined) {
      // Every version is refused: the 404 says why (the newest's refusal, e.g. when a min
      // release age makes it available), not a bare "not found".
      const subject: CurationSubject = {
        registry: 'go',
        name: module,
        version: info.Version,
        publishedAt: at,
      };
      const verdict = this.#deps.curation?.decide(subject);
      if (verdict?.refuse === true) noteMiss(miss, verdict.message);
      return undefined;
    }
    return this.info(repo, module, newest);
  }

  async info(
    repo: Repository,
    module: string,
    version: string,
    miss?: MissNotes,
  ): Promise<VersionInfo | undefined> {
    const got = await this.#getInfo(repo, module, version, miss);
    if (got === undefined) return undefined;
    // `go mod download` asks a version's `.info`, then its `.mod` (mostly cached by then: the
    // module graph), then its `.zip`: fetch the zip while `go` is busy with the rest.
    if (!got.stale && checkVersion(version) === undefined)
      this.#prefetchFile(repo, 'zip', module, version);
    return this.#infoOf(got);
  }

  /** `module@version`'s `.info` through the cache (`#get`, whose `prefetch` this passes on). */
  #getInfo(
    repo: Repository,
    module: string,
    version: string,
    miss: MissNotes | undefined,
    prefetch: boolean | 'uncurated' = false,
  ): Promise<{ entry: CachedEntry; stale: boolean; filled: boolean } | undefined> {
    return this.#get(
      repo,
      'info',
      module,
      version,
      () => fileUrl(module, version, 'info'),
      miss,
      prefetch,
    );
  }

  /** The `.info`/`@latest` of `got`, marked stale (a copy of its own) when it is. */
  async #infoOf(got: { entry: CachedEntry; stale: boolean }): Promise<VersionInfo | undefined> {
    const info = await this.#info(got.entry);
    return info === undefined || !got.stale ? info : { ...info, stale: true };
  }

  /** The parsed `.info`/`@latest` JSON of a cached entry (memoized by digest). */
  async #info(entry: CachedEntry): Promise<VersionInfo | undefined> {
    const known = this.#parsed.get(entry.digest) as VersionInfo | undefined;
    if (known !== undefined) return known;
    const info = parseInfo(await this.#read(entry, MAX_INFO_BYTES));
    if (info !== undefined) this.#remember(entry.digest, info);
    return info;
  }

  /**
   * Keeps a parsed document by the digest of its bytes (exact: the same bytes always parse the
   * same, and a `list` and an `.info` never share bytes: one is JSON, the other is not).
   * Bounded: cleared at PARSED_ENTRIES. The objects are frozen: routes key their bodies on them.
   */
  #remember(digest: string, value: VersionList | VersionInfo): void {
    if (this.#parsed.size >= PARSED_ENTRIES) this.#parsed.clear();
    this.#parsed.set(digest, Object.freeze(value));
  }

  async mod(
    repo: Repository,
    module: string,
    version: string,
    miss?: MissNotes,
  ): Promise<OpenedModuleFile | undefined> {
    const got = await this.#get(
      repo,
      'mod',
      module,
      version,
      () => fileUrl(module, version, 'mod'),
      miss,
    );
    if (got === undefined) return undefined;
    if (got.entry.size > MEMORY_MOD_BYTES) return this.#opened(got.entry);
    // A small `.mod` is sent from memory: no open/read/close on the thread pool per request.
    return inMemory(got.entry, await this.#read(got.entry, MEMORY_MOD_BYTES));
  }

  async zip(
    repo: Repository,
    module: string,
    version: string,
    miss?: MissNotes,
  ): Promise<OpenedModuleFile | undefined> {
    const got = await this.#get(
      repo,
      'zip',
      module,
      version,
      () => fileUrl(module, version, 'zip'),
      miss,
    );
    return got === undefined ? undefined : this.#opened(got.entry);
  }

  /**
   * One protocol file through the engine: immutable (TTL -1) for a canonical version's
   * `.info`/`.mod`/`.zip`, else the metadata TTL. Undefined when private, not a proxy, or every
   * upstream answered 404/410 (remembered; `miss` is told so: #noteMiss).
   */
  async #get(
    repo: Repository,
    kind: Kind,
    module: string,
    version: string | undefined,
    url: () => string,
    miss: MissNotes | undefined,
    prefetch: boolean | 'uncurated' = false,
  ): Promise<{ entry: CachedEntry; stale: boolean; filled: boolean } | undefined> {
    if (!this.#serves(repo, module)) return undefined;
    const key = `${kind}:${module}${version === undefined ? '' : `@${version}`}`;
    const missKey = `${repo.name}\n${key}`;
    if (prefetch === true) {
      // Decided, not counted nor logged: the client's own request, if it comes, is.
      if (version !== undefined && this.#refused(module, version)) return undefined;
    }
    let subject: CurationSubject | undefined;
    if (prefetch === false) {
      if (version !== undefined) subject = await this.#curate(repo, module, version);
      this.#prefetches.used(missKey);
    }
    // The upstream list asked now: a miss is remembered for it (a reload may replace it meanwhile).
    const upstreams = repo.upstreams;
    if (this.#misses.has(missKey, upstreams)) {
      this.#noteMiss(repo, missKey, miss);
      return undefined;
    }
    const now = Date.now();
    const memo = this.#fresh.get(missKey);
    if (memo !== undefined && memo.until > now) {
      if (subject !== undefined) this.#admit(kind, subject, false);
      this.#deps.proxy.metrics.record(repo.name, 'hit');
      return { entry: memo.entry, stale: false, filled: false };
    }
    const settings = this.#settings(repo);
    const immutable =
      version !== undefined && (kind !== 'info' || checkVersion(version) === undefined);
    // Built (and its path checked again by escapePath) only when the engine may ask upstream.
    const urlPath = url();
    const resolved = await this.#deps.proxy.resolve({
      registry: repo.name,
      key,
      ttlSeconds: immutable ? -1 : settings.ttl,
      serveStale: settings.serveStale,
      refresh: (cached) => this.#refresh(repo, kind, urlPath, cached, { module, version }),
    });
    if (resolved === undefined) {
      this.#misses.add(missKey, settings.negativeTtl, upstreams);
      this.#noteMiss(repo, missKey, miss);
      return undefined;
    }
    if (kind === 'mod' && resolved.result === 'miss' && version !== undefined) {
      this.#prefetchRequires(repo, resolved.entry);
    }
    const filled = resolved.result === 'miss';
    // Found: the client's read is curated now (#admit; held while quarantined, by module@version:
    // go.sum's hash is not the proxy's). A prefetch's fill of a version file records its
    // first-seen time as the client's would, and so does a fill while curation is off (a
    // quarantine turned on later counts from it).
    if (subject !== undefined) this.#admit(kind, subject, filled);
    else if (filled && version !== undefined && firstSeenFile(kind)) {
      this.#deps.curation?.recordFirstSeen({ registry: 'go', name: module, version });
    }
    const ttl = immutable ? -1 : settings.ttl;
    if (!resolved.stale && ttl !== 0) {
      // A fresh answer is kept in memory until it expires: a warm read does no SQL nor stat.
      if (this.#fresh.size >= FRESH_ENTRIES) {
        const oldest = this.#fresh.keys().next();
        if (oldest.done !== true) this.#fresh.delete(oldest.value);
      }
      this.#fresh.delete(missKey);
      this.#fresh.set(missKey, {
        entry: resolved.entry,
        until: ttl < 0 ? Infinity : resolved.entry.fetchedAt + ttl * 1000,
      });
    }
    return { entry: resolved.entry, stale: resolved.stale, filled };
  }

  /**
   * Tells `miss` that the absence of `missKey` is a remembered upstream 404/410: which upstreams,
   * when, and for how long ([go] negative_cache_ttl), so a version just published upstream that
   * is still a 404 here says why (trial 23 fmts F2). `go` prints it after "server response:".
   */
  #noteMiss(repo: Repository, missKey: string, miss: MissNotes | undefined): void {
    if (miss === undefined) return;
    const ttl = this.#settings(repo).negativeTtl;
    const note = rememberedMissText(this.#misses, missKey, repo, ttl, 'go', '404/410');
    if (note !== undefined) noteMiss(miss, note);
  }

  async #refresh(
    repo: Repository,
    kind: Kind,
    urlPath: string,
    cached: CachedEntry | undefined,
    asked: { readonly module: string; readonly version: string | undefined },
  ): Promise<Refresh> {
    const settings = this.#settings(repo);
    const maxBytes =
      kind === 'zip'
        ? settings.maxZip
        : kind === 'mod'
          ? MAX_MOD_BYTES
          : kind === 'list'
            ? MAX_LIST_BYTES
            : MAX_INFO_BYTES;
    const targets = this.#targets(repo, kind);
    let failure: unknown;
    let absent = 0;
    for (const target of targets) {
      try {
        // If-None-Match and/or If-Modified-Since: an upstream without ETags is asked too.
        const headers = conditionalHeaders(cached, target);
        const response = await this.#deps.proxy.client.request(target, {
          method: 'GET',
          path: `/${percentEncodePath(urlPath)}`,
          headers,
          // list/info/mod: the whole fetch within proxy_timeout; a .zip is bounded per chunk.
          wholeDeadline: kind !== 'zip',
        });
        if (response.status === 304 && cached !== undefined) {
          response.body.destroy();
          return { kind: 'unchanged', ...validatorsOf(response), upstream: target.label };
        }
        if (answeredAbsent(response, target.label, urlPath, [404, 410])) {
          absent++;
          continue;
        }
        const declared = declaredLength(response.header('content-length'));
        if (declared !== undefined && declared > maxBytes) {
          response.body.destroy();
          throw new RegistryError(
            'UPSTREAM_FAILED',
            `upstream ${target.label}: ${urlPath} is ${declared} bytes, over the limit of ${maxBytes}`,
          );
        }
        const small = kind !== 'zip' || (declared !== undefined && declared <= MEMORY_FILL_BYTES);
        // A `.mod`/`.zip` is kept forever: one that cannot be what was asked (an error page
        // answered 200, another module's zip) is refused before anything is stored.
        const check = fileCheck(kind, asked);
        const stored = small
          ? await this.#storeSmall(response.body, maxBytes, declared, urlPath, target.label, {
              // A list's next revalidation needs its blob (the engine passes no cached copy
              // without one, and then waits the full timeout): written before answering.
              wait: kind === 'list' || kind === 'latest' || !immutableKind(kind, urlPath),
              // `.zip`s are sent from #pending or their blob, never parsed: not documents.
              document: kind !== 'zip',
              check,
              wholeZip:
                kind !== 'zip'
                  ? undefined
                  : this.#isSuspect(target.label, urlPath)
                    ? 'before answering'
                    : 'before keeping',
            })
          : await this.#storeLargeZip(
              check === undefined
                ? response.body
                : guardHead(response.body, check, urlPath, target.label),
              maxBytes,
              declared,
              urlPath,
              target.label,
            );
        if (kind === 'list') {
          // Every non-empty line must be a version: an error or captive-portal page answered
          // 200 parses to no version at all, and taking it would empty the cached list. A list
          // that became empty while the cached copy had versions is not taken either. Both are
          // upstream failures: the cached copy is served stale.
          const listed = listedVersions(await this.#read({ digest: stored.digest }, maxBytes));
          if (listed.invalid) {
            throw new RegistryError(
              'UPSTREAM_FAILED',
              `upstream ${target.label} sent an invalid ${urlPath} (a line that is not a version)`,
              {
                detail: {
                  upstream: target.label,
                  reason: `sent an invalid @v/list (a line that is not a version)`,
                },
              },
            );
          }
          if (listed.versions.length === 0 && cached !== undefined) {
            const before = await this.#read(cached, MAX_LIST_BYTES).then(
              (body) => listedVersions(body).versions.length,
              () => 0,
            );
            if (before > 0) {
              throw new RegistryError(
                'UPSTREAM_FAILED',
                `upstream ${target.label} sent an empty ${urlPath} (the cached copy lists ${before} versions)`,
                {
                  detail: {
                    upstream: target.label,
                    reason: 'sent an empty @v/list, the cached copy lists versions',
                  },
                },
              );
            }
          }
        }
        if (kind === 'info' || kind === 'latest') {
          // A body that is not the protocol's JSON is the upstream's fault: never cached.
          const body = await this.#read({ digest: stored.digest }, MAX_INFO_BYTES);
          const info = parseInfo(body);
          if (info === undefined) {
            throw new RegistryError(
              'UPSTREAM_FAILED',
              `upstream ${target.label} sent an invalid ${urlPath}`,
            );
          }
          // One `go` refuses (another version than the canonical one asked, a Time that is not
          // RFC 3339) would be kept forever as an immutable `.info`: refused, nothing kept.
          const problem = infoProblem(
            body,
            info,
            // As `go` compares: only a canonical version valid for this module path.
            kind === 'info' &&
              asked.version !== undefined &&
              checkModuleVersion(asked.module, asked.version) === undefined
              ? asked.version
              : undefined,
          );
          if (problem !== undefined) throw refusedFile(target.label, urlPath, problem);
          // What #info would parse again from the same bytes (keyed by their digest: exact).
          if (!this.#parsed.has(stored.digest)) this.#remember(stored.digest, info);
        }
        return {
          kind: 'updated',
          entry: {
            digest: stored.digest,
            size: stored.size,
            mediaType: CONTENT_TYPE[kind],
            ...validatorsOf(response),
            upstream: target.label,
          },
        };
      } catch (err) {
        failure = err;
      }
    }
    if (absent === targets.length) return { kind: 'absent' };
    throw asUpstreamError(failure, urlPath);
  }

  /**
   * A small body (every `.info`, `.mod`, list, and `.zip`s up to MEMORY_FILL_BYTES): read into
   * memory, checked against Content-Length, answered from memory at once while its blob is
   * written (fsync included) in the background; until that commit it is read from #pending. A
   * failed write leaves an entry without its blob, which the engine fetches again.
   *
   * A `.zip` (`wholeZip`) is read through whole (zipIntegrityProblem) in that background step,
   * before its blob is written ('before keeping'): inflating every entry of a cold download's
   * zips took 0.3–0.5 s of CPU, and `go` asks one file at a time, so checking before answering
   * added it all to the download. The client gets the upstream's bytes as a direct download
   * would (`go` verifies them against go.sum/the checksum database, and archive/zip each file's
   * CRC-32). A zip that fails is never kept, and for SUSPECT_MS that upstream's copy of that file
   * is checked 'before answering' (#refuse): refused with 502 (a group falls through to its next
   * member), or answered and kept once the upstream sends it intact. The body is
   * kept as the chunks it arrived in (hashed and answered as they are): joining them would copy
   * it into freshly allocated memory, whose page faults cost ~20 ms per MiB on a busy VM.
   */
  async #storeSmall(
    body: Readable,
    maxBytes: number,
    declared: number | undefined,
    what: string,
    label: string,
    options: {
      wait: boolean;
      document: boolean;
      check?: HeadCheck | undefined;
      /** A `.zip`: read through whole (zipIntegrityProblem) before it is kept or answered. */
      wholeZip?: 'before keeping' | 'before answering' | undefined;
    },
  ): Promise<{ digest: string; size: number }> {
    let chunks: Buffer[];
    let size: number;
    try {
      ({ chunks, size } = await readChunks(body, maxBytes, what));
    } catch (err) {
      throw asUpstreamError(err, what, label);
    }
    if (declared !== undefined && size !== declared) {
      throw new RegistryError(
        'UPSTREAM_FAILED',
        `upstream ${label} sent ${size} bytes for ${what}, announced ${declared}`,
      );
    }
    const held: Held = chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : chunks;
    // The body as one buffer, joined once at most (a `.mod`'s check and a document share it; a
    // zip's head check copies only its head, the whole-zip check reads the chunks in place).
    let whole: Buffer | undefined;
    const wholeBody = (): Buffer => (whole ??= joined(held));
    if (options.check !== undefined) {
      const bytes = options.check.bytes;
      const head = bytes === undefined ? wholeBody() : headOf(held, bytes);
      const reason = options.check.check(head);
      if (reason !== undefined) throw refusedFile(label, what, reason);
    }
    if (options.wholeZip === 'before answering') {
      const problem = await zipIntegrityProblem(held);
      if (problem !== undefined) throw refusedFile(label, what, problem);
      this.#suspect.delete(`${label}\n${what}`);
    }
    const hash = createHash('sha256');
    for (const chunk of chunks) hash.update(chunk);
    const verified = { algorithm: 'sha256' as const, hex: hash.digest('hex') };
    const digest = formatDigest(verified);
    if (!this.#pending.has(digest)) {
      this.#pending.set(digest, held);
      const ingest = async (): Promise<void> => {
        try {
          if (options.wholeZip === 'before keeping') {
            const problem = await zipIntegrityProblem(held);
            if (problem !== undefined) {
              this.#refuse(label, what, problem, digest);
              return;
            }
          }
          // Hashed and size-checked above: stored as these chunks (one gathering write, no
          // joined copy, no second hash).
          await this.#deps.blobs.storeVerified(chunks, verified, size);
        } catch {
          // Not kept: the engine's entry has no blob, so the next request fetches it again.
        }
      };
      // Not waited for: started once this turn's answer is on its way (setImmediate), so the
      // write's hashing, stat and file calls run while `go` reads the answer and asks its next
      // request, not before the answer leaves (`go` asks mostly one file at a time).
      const write = (options.wait ? ingest() : afterThisTurn(ingest)).finally(() => {
        this.#pending.delete(digest);
        this.#writes.delete(write);
      });
      this.#writes.add(write);
      if (options.wait) await write;
    }
    if (options.document) this.#documents.set(digest, wholeBody());
    return { digest, size };
  }

  /**
   * A large `.zip`: streamed to a spool file (bounded), read through whole there
   * (zipIntegrityProblem: a valid head with garbage after it is refused, 502, nothing kept),
   * then stored (size checked) before it is served. The spool file is always removed.
   */
  async #storeLargeZip(
    body: Readable,
    maxBytes: number,
    declared: number | undefined,
    what: string,
    label: string,
  ): Promise<{ digest: string; size: number }> {
    let zip: { path: string; digest: Digest; size: number };
    try {
      zip = await this.#deps.blobs.spoolHashed('go-zip', body, limitBytes(maxBytes, what));
    } catch (err) {
      throw asUpstreamError(err, what, label);
    }
    try {
      if (declared !== undefined && zip.size !== declared) {
        throw new RegistryError(
          'UPSTREAM_FAILED',
          `upstream ${label} failed for ${what}: size mismatch: expected ${declared}, got ${zip.size}`,
        );
      }
      const problem = await zipIntegrityProblem(zip.path);
      if (problem !== undefined) throw refusedFile(label, what, problem);
      // Those very bytes stored (hashed while spooled): no second pass over the file.
      await this.#deps.blobs.commitFile(zip.path, zip.digest, zip.size);
      return { digest: formatDigest(zip.digest), size: zip.size };
    } finally {
      await fs.rm(zip.path, { force: true });
    }
  }

  /**
   * Records that `label` sent a `.zip` (`urlPath`, digest `digest`) that failed the check after
   * it was answered: the in-memory answers naming it are dropped (the next request asks the
   * engine, which finds no blob and fetches again), and that upstream's copy is checked before it
   * is answered for SUSPECT_MS.
   */
  #refuse(label: string, urlPath: string, reason: string, digest: string): void {
    this.#deps.log?.warn(
      { upstream: label, path: urlPath, reason },
      'upstream sent a damaged module zip: not kept; checked before answering from now on',
    );
    for (const [key, fresh] of this.#fresh) {
      if (fresh.entry.digest === digest) this.#fresh.delete(key);
    }
    const key = `${label}\n${urlPath}`;
    this.#suspect.delete(key);
    if (this.#suspect.size >= SUSPECT_ENTRIES) {
      const oldest = this.#suspect.keys().next();
      if (oldest.done !== true) this.#suspect.delete(oldest.value);
    }
    this.#suspect.set(key, Date.now() + SUSPECT_MS);
  }

  /** True when `label`'s `urlPath` failed the deferred check within SUSPECT_MS. */
  #isSuspect(label: string, urlPath: string): boolean {
    if (this.#suspect.size === 0) return false;
    const key = `${label}\n${urlPath}`;
    const until = this.#suspect.get(key);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.#suspect.delete(key);
    return false;
  }

  /** Drops the prefetches still waiting and queues none from now on (shutdown). */
  close(): void {
    this.#prefetches.close();
  }

  /** Settles when every background blob write has (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.#writes]);
  }

  async #read(entry: Pick<CachedEntry, 'digest'>, maxBytes: number): Promise<Buffer> {
    const known = this.#documents.get(entry.digest) ?? this.#pending.get(entry.digest);
    if (known !== undefined) return joined(known);
    const stream = await this.#deps.blobs.open(parseDigest(entry.digest));
    const body = await readAllBounded(stream, maxBytes, 'cached module proxy file');
    this.#documents.set(entry.digest, body);
    return body;
  }

  #opened(entry: CachedEntry): OpenedModuleFile {
    const digest = parseDigest(entry.digest);
    const blobs = this.#deps.blobs;
    return {
      size: entry.size,
      sha256: digest.hex,
      modifiedAt: lastModifiedOf(entry),
      open: (range): Promise<Readable | Buffer> => {
        const held = this.#pending.get(entry.digest);
        if (held === undefined) return blobs.open(digest, range);
        if (Buffer.isBuffer(held)) return Promise.resolve(sliceRange(held, range));
        // Several chunks: sent as they are; a Range (rare) is cut from them joined.
        if (range === undefined) return Promise.resolve(Readable.from(held));
        return Promise.resolve(sliceRange(Buffer.concat(held), range));
      },
    };
  }
}

/**
 * Whether a go.mod with `go` directive `go` (undefined: none, read as go 1.16) has a pruned
 * module graph (go 1.17 and later: cmd/go/internal/gover, modload.pruningForGoVersion).
 */
export function prunesGraph(go: string | undefined): boolean {
  if (go === undefined) return false;
  const [major = 0, minor = 0] = go.split(/[.a-z]/).map(Number);
  return major > 1 || (major === 1 && minor >= 17);
}

/**
 * A check of an upstream `.mod`/`.zip` before it is kept: `check` gets the first `bytes` bytes
 * (the whole body when `bytes` is undefined, or when the body is shorter) and returns why the
 * body cannot be the file asked for, or undefined.
 */
interface HeadCheck {
  readonly bytes: number | undefined;
  readonly check: (head: Buffer) => string | undefined;
}

/** The HeadCheck of a `.mod` or `.zip` of `module@version`; undefined for the other kinds. */
function fileCheck(
  kind: Kind,
  asked: { readonly module: string; readonly version: string | undefined },
): HeadCheck | undefined {
  const { module, version } = asked;
  if (version === undefined) return undefined;
  if (kind === 'zip') {
    return {
      bytes: zipHeadBytes(module, version),
      check: (head) => checkZipHead(head, module, version),
    };
  }
  if (kind === 'mod') {
    // Any module path: `go` accepts a .mod naming either the path required or the path it was
    // fetched as (modload goModSummary: `mpath != m.Path && mpath != actual.Path`), so a fork
    // used through `replace P => fork vX` legitimately serves `module P` for the fork's path.
    // Refusing it would break such builds; a body without a module line is not a go.mod.
    return {
      bytes: undefined,
      check: (body) =>
        parseModulePath(body.toString('utf8')) === undefined
          ? 'not a go.mod (no module directive)'
          : undefined,
    };
  }
  return undefined;
}

/** The upstream failure (502 class) of a `.mod`/`.zip` refused by its HeadCheck. */
function refusedFile(label: string, what: string, reason: string): RegistryError {
  return new RegistryError(
    'UPSTREAM_FAILED',
    `upstream ${label} sent an invalid ${what}: ${reason}`,
  );
}

/**
 * `body` passed through once its first `check.bytes` bytes pass `check` (a shorter body is
 * checked whole at its end); otherwise the stream fails with refusedFile, so the blob store
 * never commits it. Only the head is held back: the rest streams as it arrives.
 */
function guardHead(body: Readable, check: HeadCheck, what: string, label: string): Readable {
  const need = check.bytes ?? Infinity;
  const held: Buffer[] = [];
  let have = 0;
  let passed = false;
  const decide = (head: Buffer): Error | undefined => {
    const reason = check.check(head.subarray(0, need));
    return reason === undefined ? undefined : refusedFile(label, what, reason);
  };
  const guard = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (passed) {
        callback(null, chunk);
        return;
      }
      held.push(chunk);
      have += chunk.length;
      if (have < need) {
        callback();
        return;
      }
      const head = Buffer.concat(held);
      held.length = 0;
      const refused = decide(head);
      if (refused !== undefined) {
        callback(refused);
        return;
      }
      passed = true;
      callback(null, head);
    },
    flush(callback) {
      if (passed) {
        callback();
        return;
      }
      const head = Buffer.concat(held);
      const refused = decide(head);
      if (refused !== undefined) callback(refused);
      else callback(null, head);
    },
  });
  pipeline(body, guard, () => undefined);
  return guard;
}

/** A body held in memory: one buffer, or the chunks it arrived in (in order, never changed). */
type Held = Buffer | readonly Buffer[];

function joined(held: Held): Buffer {
  return Buffer.isBuffer(held) ? held : Buffer.concat(held);
}

/**
 * The first `bytes` bytes of `held` (all of a shorter body): a view of its first chunk when that
 * holds them, else a copy of those bytes only.
 */
function headOf(held: Held, bytes: number): Buffer {
  const first = Buffer.isBuffer(held) ? held : held[0];
  if (first === undefined) return Buffer.alloc(0);
  if (first.length >= bytes || Buffer.isBuffer(held)) return first.subarray(0, bytes);
  let size = 0;
  for (const chunk of held) size += chunk.length;
  return Buffer.concat(held, Math.min(bytes, size));
}

/**
 * Every chunk of `body` as it came (no copy: a stream hands its chunks over), failing with
 * TOO_LARGE past `maxBytes` while they arrive.
 */
async function readChunks(
  body: Readable,
  maxBytes: number,
  what: string,
): Promise<{ chunks: Buffer[]; size: number }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer | string>) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buffer.length;
    if (size > maxBytes) {
      throw new RegistryError('TOO_LARGE', `${what} exceeds the limit of ${maxBytes} bytes`);
    }
    chunks.push(buffer);
  }
  return { chunks, size };
}

/** Runs `work` in the check phase of this event-loop turn (after its I/O callbacks and answers). */
function afterThisTurn<T>(work: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    setImmediate(() => {
      work().then(resolve, reject);
    });
  });
}

/** An OpenedModuleFile over bytes in memory (a Range is a view of them). */
function inMemory(entry: CachedEntry, bytes: Buffer): OpenedModuleFile {
  return {
    size: bytes.length,
    sha256: parseDigest(entry.digest).hex,
    modifiedAt: lastModifiedOf(entry),
    open: (range) => Promise.resolve(sliceRange(bytes, range)),
  };
}

function sliceRange(bytes: Buffer, range: ReadRange | undefined): Buffer {
  return range === undefined
    ? bytes
    : bytes.subarray(range.start ?? 0, range.end === undefined ? undefined : range.end + 1);
}

/** True for `.info`/`.mod`/`.zip` of a canonical version (the URL's version is checked). */
function immutableKind(kind: Kind, urlPath: string): boolean {
  if (kind === 'list' || kind === 'latest') return false;
  const file = urlPath.slice(urlPath.lastIndexOf('/') + 1);
  const version = file
    .slice(0, file.lastIndexOf('.'))
    .replace(/!([a-z])/g, (_m, c: string) => c.toUpperCase());
  return checkVersion(version) === undefined;
}

/**
 * `path` as a URL path: characters outside RFC 3986's path characters percent-encoded, as the go
 * command's own proxy client writes them. A query asked of `.info` may hold `%`, space or `#`
 * (`v1%00` from `v1%2500.info`): sent raw, the upstream would read another name.
 */
export function percentEncodePath(path: string): string {
  return path.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/]/gu, (c) => encodeURIComponent(c));
}

/** `<escaped module>/@v/<escaped version>.<ext>` */
export function fileUrl(module: string, version: string, ext: 'info' | 'mod' | 'zip'): string {
  return `${escapePath(module)}/@v/${escapeVersion(version)}.${ext}`;
}

/** The `{"Version":…,"Time":…}` of `.info`/`@latest`; undefined when it is not that. */
export function parseInfo(body: Buffer): VersionInfo | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const version = record['Version'];
  const time = record['Time'];
  if (typeof version !== 'string' || version === '') return undefined;
  return typeof time === 'string' ? { Version: version, Time: time } : { Version: version };
}

/**
 * Why a parsed `.info`/`@latest` body (`info`, parsed from `body`) cannot be the answer, as the
 * `go` command reads it (cmd/go/internal/modfetch/proxy.go Stat, `encoding/json` into
 * `time.Time`): a `Version` other than `canonical` (the canonical version asked; undefined for a
 * query or `@latest`, whose answer names another version), or a `Time` present but not an
 * RFC 3339 timestamp. Undefined when it is fine.
 */
export function infoProblem(
  body: Buffer,
  info: VersionInfo,
  canonical: string | undefined,
): string | undefined {
  if (canonical !== undefined && info.Version !== canonical) {
    return `its Version is ${JSON.stringify(info.Version)}, not the version asked (${canonical})`;
  }
  // parseInfo drops a Time that is not a string; `go` fails on any Time it cannot decode.
  const time = (JSON.parse(body.toString('utf8')) as Record<string, unknown>)['Time'];
  if (time !== undefined && time !== null && (typeof time !== 'string' || !isRfc3339(time))) {
    return `its Time ${JSON.stringify(time)} is not an RFC 3339 timestamp`;
  }
  return undefined;
}

/**
 * True for an RFC 3339 date-time as Go's time.Time JSON decoding accepts it
 * (`2006-01-02T15:04:05.999999999Z07:00`): real calendar date, hour < 24, minute and second
 * < 60, offset hour < 24.
 */
export function isRfc3339(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-](\d{2}):(\d{2}))$/.exec(
    value,
  );
  if (m === null) return false;
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59) return false;
  if (new Date(Date.UTC(y, mo, 0)).getUTCDate() < d) return false;
  const oh = m[9];
  const om = m[10];
  return oh === undefined || (Number(oh) < 24 && Number(om) < 60);
}

/**
 * The versions of an `@v/list` body, sorted and without duplicates (as the group answers it).
 * As the `go` command reads it: each line's first field is the version (further fields are
 * ignored), and only canonical versions are kept. `invalid` when a non-empty line does not start
 * with a semantic version at all (an HTML page answered 200).
 */
export function listedVersions(body: Buffer): { versions: string[]; invalid: boolean } {
  let invalid = false;
  const versions = new Set<string>();
  for (const line of body.toString('utf8').split('\n')) {
    const first = line.trim().split(/\s+/)[0] ?? '';
    if (first === '') continue;
    if (checkVersion(first) === undefined) versions.add(first);
    else if (!isValidSemver(first)) invalid = true;
  }
  return { versions: sortVersions([...versions]), invalid };
}
