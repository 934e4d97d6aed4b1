/**
 * The OCI backend of a proxy repository (the pull-through cache). Cached content lives in the
 * hosted-style rows under the proxy repository's own name (so tags/list, _catalog and referrers
 * work from the cache); tag freshness lives in the proxy engine's state. Rules:
 * - manifests and blobs by digest are immutable: once cached they are served without asking;
 * - a tag is revalidated per metadata_ttl with one HEAD (Docker-Content-Digest), so a warm pull by
 *   tag costs the upstream at most one request; when every upstream fails the cached tag is served
 *   flagged stale, and an uncached one fails with 502/504 (never 404);
 * - blobs stream through one verified fill per digest (see src/proxy/fill.ts);
 * - lists come from the upstream whole: tags/list and referrers follow the upstream's pagination
 *   (bounded, src/proxy/pagination.ts); referrers are cached under the tag freshness rule and
 *   never answered "none" when no upstream could be asked;
 * - what is cached as metadata (a tag's digest, the cached tags a tags/list falls back to,
 *   referrers lists) belongs to the upstream URLs it was asked of: its key names them
 *   (`tag@<route>:<name>:<tag>`, `referrers@<route>:<name>:<digest>`, see routeOf), so after a
 *   reload or restart names other URLs it is neither served (not even stale) nor revalidated
 *   there; rows of URLs no longer configured, and those of releases keyed by the upstream's label
 *   (`tag:…`, `referrers:…`), are dropped in the background (#sweepOldUpstreams).
 */
import { Readable } from 'node:stream';
import { formatDigest, parseDigest } from '../../core/digest.ts';
import type { RegistryError } from '../../core/errors.ts';
import { isRegistryError } from '../../core/errors.ts';
import type { ByteRange } from '../../core/http-range.ts';
import type { Counter } from 'prom-client';
import { readAllBounded } from '../../core/streams.ts';
import {
  type OpenedBlob,
  type ProxyEngine,
  type Refresh,
  isUpstreamFailure,
} from '../../proxy/engine.ts';
import { SingleFlight } from '../../proxy/single-flight.ts';
import type { Repository } from '../../repos/repository.ts';
import type { FormatContext } from '../format.ts';
import type {
  BlobHandle,
  Descriptor,
  HostedMachinery,
  ManifestContent,
  ManifestInfo,
  OciBackend,
  OciBackendDeps,
} from './backend.ts';
import { compare } from './group.ts';
import { blobUnknown } from './hosted.ts';
import { isImageManifest, parseManifest } from './manifest.ts';
import { forEachLimited, PrefetchIndex, upstreamKeepsUp } from './prefetch.ts';
import {
  type Candidate,
  DockerUpstream,
  parseDescriptors,
  type RoutableUpstream,
  routeName,
  type UpstreamList,
  upstreamGarbage,
  upstreamRefused,
  isRefusal,
} from './proxy-upstream.ts';
import type { Reference } from './reference.ts';
import { UpstreamSweeper, upstreamId } from '../../proxy/upstream-id.ts';
import type { CurationSubject } from '../../curation/types.ts';
import { refusedBeforeFetch } from '../curation-before-fetch.ts';

/** The factory registered for `proxy` repositories in OCI_BACKEND_FACTORIES. */
export function createOciProxyBackend(repository: Repository, deps: OciBackendDeps): OciBackend {
  return new OciProxyBackend(repository, deps.context, deps.hosted);
}

/** Background layer downloads at once per image being pulled (docker's own default is 3). */
const PREFETCH_CONCURRENCY = 3;
/** How long the layer that sets off a prefetch is watched before deciding (see #prefetchSiblings). */
const PREFETCH_PROBE_MS = 100;
/**
 * Bound on one cached referrers document: the upstream pages it came from are bounded to 16 MiB
 * (UPSTREAM_LIST_LIMITS), re-serialised descriptors stay well below twice that.
 */
const MAX_REFERRERS_DOCUMENT_BYTES = 32 * 1024 * 1024;

interface ProxySettings {
  readonly ttlSeconds: number;
  readonly serveStale: boolean;
  readonly defaultAction: 'allow' | 'deny';
  readonly upstreams: readonly RoutableUpstream[];
}

export class OciProxyBackend implements OciBackend {
  readonly repository: Repository;
  readonly #context: FormatContext;
  readonly #engine: ProxyEngine;
  readonly #hosted: HostedMachinery;
  readonly #cache: OciBackend;
  readonly #docker: DockerUpstream;
  readonly #manifestFlights = new SingleFlight<ManifestContent | undefined>();
  readonly #downloads: Counter;
  readonly #prefetch = new PrefetchIndex();
  readonly #prefetched: Counter;
  readonly #sweeper = new UpstreamSweeper();
  /** The upstreams array the last sweep was started for (see #sweepOldUpstreams). */
  #sweptFor: Repository['upstreams'] | undefined;

  constructor(repository: Repository, context: FormatContext, hosted: HostedMachinery) {
    this.repository = repository;
    this.#context = context;
    this.#engine = context.proxy;
    this.#hosted = hosted;
    this.#cache = hosted.forRepository(repository);
    this.#docker = new DockerUpstream(context.proxy.client);
    this.#downloads = context.metrics.counter(
      'nora_docker_downloads_total',
      'Docker pull operations (manifest GETs)',
    );
    this.#prefetched = context.metrics.counter(
      'nora_docker_prefetched_blobs_total',
      'Blobs downloaded ahead of the client because it started pulling their image',
    );
  }

  /** Settings are derived per request so a SIGHUP reload of [docker] applies at once. */
  #settings(): ProxySettings {
    const docker = this.#context.config().docker;
    const repo = this.repository;
    const timeout = repo.proxyTimeout ?? docker.proxy_timeout;
    // Two targets per upstream, one label (so one circuit breaker): blob bodies on the proxy
    // timeout, everything else — manifests, lists, blob HEADs — on metadata_timeout (see
    // Candidate in proxy-upstream.ts): a group asks its proxy member on every blob HEAD of a push.
    const metadataTimeout = Math.min(docker.metadata_timeout, timeout);
    const upstreams = repo.upstreams.map((config, index) => {
      const definition = {
        label: `${repo.name}/${config.prefix ?? String(index)}`,
        registry: repo.name,
        url: config.url,
        credentials: config.auth,
        auth: 'challenge' as const,
      };
      return {
        config,
        target: this.#engine.upstream({
          ...definition,
          timeoutSeconds: timeout,
          readTimeoutSeconds: docker.read_timeout,
        }),
        metadata: this.#engine.upstream({
          ...definition,
          timeoutSeconds: metadataTimeout,
          readTimeoutSeconds: metadataTimeout,
        }),
      };
    });
    this.#sweepOldUpstreams();
    return {
      ttlSeconds: repo.metadataTtl ?? docker.metadata_ttl,
      serveStale: repo.serveStale ?? docker.serve_stale,
      defaultAction: docker.default_action,
      upstreams,
    };
  }

  /**
   * Drops, in the background and once per set of routes, the tag and referrers rows whose route
   * is not one of the current config's: keyed by other URLs, they are never read again, and
   * without the row a referrers document is garbage for `nora gc` (a tag row's manifest stays,
   * cached by digest). Rows keyed the way releases before 2026-12-03 did (`tag:<name>:<tag>`,
   * named by the upstream's label only) are dropped too, not migrated: whether they came from the
   * URL configured now cannot be told, so each tag is fetched again on its next pull.
   */
  #sweepOldUpstreams(): void {
    // A reload that changes the upstreams replaces the array (Repository.upstreams): one identity
    // check per request instead of hashing the routes again.
    if (this.#sweptFor === this.repository.upstreams) return;
    this.#sweptFor = this.repository.upstreams;
    const routes = new Set(configuredRoutes(this.repository.upstreams));
    this.#sweeper.sweep({
      state: this.#engine.state,
      repository: this.repository.name,
      mark: [...routes].join(','),
      prefixes: ['tag:', 'referrers:', 'tag@', 'referrers@'],
      belongs: (key) => {
        const keyed = /^(?:tag|referrers)@([0-9a-f+]+):/.exec(key);
        return keyed !== null && routes.has(keyed[1] ?? '');
      },
      log: this.#context.log,
      what: 'docker proxy',
    });
  }

  /** The upstreams (with the remote name) `name` routes to under the current settings. */
  #candidates(name: string, settings: ProxySettings = this.#settings()): Candidate[] {
    return routeName(name, settings.upstreams, settings.defaultAction);
  }

  async getManifest(name: string, reference: Reference): Promise<ManifestContent | undefined> {
    if (this.#internal(name)) return undefined;
    this.#refuseBlocked(name, reference);
    const manifest = await this.#lookup(name, reference);
    if (manifest) {
      // A pull is a manifest GET: counted (and refused in enforce) here, once per GET.
      this.#context.curation.guard(curationSubject(name, reference, manifest.digest));
      this.#downloads.inc();
      this.#rememberImage(name, manifest);
    }
    return manifest;
  }

  /**
   * The manifest by digest or tag. Every upstream asked refusing it (401/403) with nothing cached
   * to serve stale is logged here, naming the status: the client's answer (a 404 naming it, see
   * isRefusal) is the only other trace.
   */
  async #lookup(name: string, reference: Reference): Promise<ManifestContent | undefined> {
    try {
      return reference.kind === 'digest'
        ? await this.#manifestByDigest(name, reference.digest)
        : await this.#manifestByTag(name, reference.tag);
    } catch (err) {
      if (isRefusal(err)) {
        this.#context.log.warn(
          { repository: this.repository.name, name, error: err.message },
          'docker upstream refused a manifest (401/403) and nothing cached can answer',
        );
      }
      throw err;
    }
  }

  /**
   * `[curation] internal_namespaces` names this image: never asked of an upstream nor served
   * from what the proxy cached before the namespace was declared (the protocol's 404; a group
   * answers from its hosted members).
   */
  #internal(name: string): boolean {
    return this.#context.curation.isInternal('docker', curationName(name));
  }

  /**
   * Refuses, before any upstream is asked, a reference the policy refuses without knowing its
   * digest (a blocklisted tag, a name-wide rule): a blocked tag costs the upstream nothing and
   * answers 403 even while the upstream is down. A refusal that needs the digest (an allowlist
   * entry's integrity) is made once the manifest is resolved (getManifest / statManifest).
   */
  #refuseBlocked(name: string, reference: Reference): void {
    const gate = this.#context.curation;
    if (gate.mode() === 'off') return;
    const subject = curationSubject(name, reference, undefined);
    const verdict = gate.decide(subject);
    // A min release age on a reference never seen is judged once the manifest is found: a tag
    // no upstream has is a 404 with no first-seen row (refusedBeforeFetch, trial 29 F1).
    if (verdict.refuse && verdict.reason !== 'integrity' && refusedBeforeFetch(gate, subject)) {
      gate.guard(subject);
    }
  }

  /**
   * Notes an image manifest's blobs, so its first layer download can prefetch the others. Each
   * manifest is parsed once (indexes never): this runs on every manifest GET.
   */
  #rememberImage(name: string, manifest: ManifestContent): void {
    if (!this.#context.config().docker.prefetch_layers) return;
    if (!isImageManifest(manifest.mediaType) || this.#prefetch.knows(name, manifest.digest)) return;
    let blobs: readonly string[];
    try {
      blobs = parseManifest(manifest.body, manifest.mediaType).blobs;
    } catch {
      return; // verified and cached already; a manifest we cannot read just is not prefetched
    }
    const [config, ...layers] = blobs;
    if (config !== undefined) this.#prefetch.remember(name, manifest.digest, config, layers);
  }

  async statManifest(name: string, reference: Reference): Promise<ManifestInfo | undefined> {
    if (this.#internal(name)) return undefined;
    this.#refuseBlocked(name, reference);
    const manifest = await this.#lookup(name, reference);
    if (!manifest) return undefined;
    // A HEAD downloads nothing: refused like a GET, but only the GET counts as a decision.
    const subject = curationSubject(name, reference, manifest.digest);
    if (this.#context.curation.decide(subject).refuse) this.#context.curation.guard(subject);
    return {
      digest: manifest.digest,
      mediaType: manifest.mediaType,
      size: manifest.size,
      ...(manifest.stale === true ? { stale: true } : {}),
    };
  }

  async #manifestByTag(name: string, tag: string): Promise<ManifestContent | undefined> {
    const settings = this.#settings();
    const candidates = this.#candidates(name, settings);
    if (candidates.length === 0) return undefined;
    const resolved = await this.#engine.resolve({
      registry: this.repository.name,
      key: `tag@${routeOf(candidates)}:${name}:${tag}`,
      ttlSeconds: settings.ttlSeconds,
      serveStale: settings.serveStale,
      refresh: async (cached) => {
        // Ask the upstream the tag came from first: its HEAD is the whole warm-pull cost.
        const ordered =
          cached === undefined
            ? candidates
            : [
                ...candidates.filter((c) => candidateId(c) === cached.upstream),
                ...candidates.filter((c) => candidateId(c) !== cached.upstream),
              ];
        const outcome = await this.#askUpstreams(
          ordered,
          async (candidate) => {
            let ifNoneMatch: string | undefined;
            if (cached !== undefined && cached.upstream === candidateId(candidate)) {
              const head = await this.#docker.manifest(candidate, tag, 'HEAD');
              if (head.kind === 'absent') return undefined;
              if (head.kind === 'refused') throw upstreamRefused(candidate, tag, head.status);
              if (head.kind === 'head' && head.digest === cached.digest) {
                return { kind: 'unchanged' as const, upstream: candidateId(candidate) };
              }
              // A HEAD without Docker-Content-Digest says nothing: ask with If-None-Match, so an
              // unchanged tag costs a 304 instead of the manifest.
              if (head.kind === 'head' && head.digest === undefined) ifNoneMatch = cached.digest;
            }
            const answer = await this.#docker.manifest(candidate, tag, 'GET', ifNoneMatch);
            if (answer.kind === 'not-modified') {
              return { kind: 'unchanged' as const, upstream: candidateId(candidate) };
            }
            // A 401/403 is a failure, not "gone": a cached tag is served stale on it (trial 34).
            if (answer.kind === 'refused') throw upstreamRefused(candidate, tag, answer.status);
            if (answer.kind !== 'found') return undefined;
            const info = await this.#store(
              candidate,
              name,
              answer.body,
              answer.mediaType,
              answer.digest,
              tag,
            );
            return {
              kind: 'updated' as const,
              entry: {
                digest: info.digest,
                size: info.size,
                mediaType: info.mediaType,
                etag: undefined,
                upstream: candidateId(candidate),
              },
            };
          },
          cached === undefined ? 'absent' : 'fail',
        );
        return outcome ?? { kind: 'absent' as const };
      },
    });
    if (!resolved) return undefined;
    const manifest = await this.#cache.getManifest(name, {
      kind: 'digest',
      digest: resolved.entry.digest,
    });
    if (!manifest) return undefined;
    return resolved.stale ? { ...manifest, stale: true } : manifest;
  }

  /**
   * A manifest by digest is served from the cache whichever upstream URL sent it, including one
   * no longer configured: its bytes were verified against the digest (#store), so they are the
   * content the digest names, from any registry. Only what a name *points at* (tags, referrers)
   * depends on the upstream, and that is keyed by its URLs.
   */
  async #manifestByDigest(name: string, digest: string): Promise<ManifestContent | undefined> {
    const cached = await this.#cache.getManifest(name, { kind: 'digest', digest });
    if (cached) {
      this.#engine.metrics.record(this.repository.name, 'hit');
      return cached;
    }
    const candidates = this.#candidates(name);
    if (candidates.length === 0) return undefined;
    const flight = this.#manifestFlights.run(`${name}@${digest}`, () =>
      this.#askUpstreams(candidates, async (candidate) => {
        const answer = await this.#docker.manifest(candidate, digest, 'GET');
        if (answer.kind === 'refused') throw upstreamRefused(candidate, digest, answer.status);
        if (answer.kind !== 'found') return undefined;
        const info = await this.#store(
          candidate,
          name,
          answer.body,
          answer.mediaType,
          digest,
          undefined,
        );
        return { ...info, body: answer.body };
      }),
    );
    if (flight.joined) this.#engine.metrics.coalesced.inc({ registry: this.repository.name });
    const manifest = await flight.promise;
    if (manifest)
      this.#engine.metrics.record(this.repository.name, flight.joined ? 'coalesced' : 'miss');
    return manifest;
  }

  /** Verifies fetched manifest bytes against the digest they were asked or announced by, then caches them. */
  async #store(
    candidate: Candidate,
    name: string,
    body: Buffer,
    mediaType: string,
    expectedDigest: string | undefined,
    tag: string | undefined,
  ): Promise<ManifestInfo> {
    let info: ManifestInfo;
    try {
      info = await this.#hosted.store.cacheManifest(
        this.repository.name,
        name,
        body,
        mediaType,
        tag,
      );
    } catch (err) {
      if (isRegistryError(err) && err.status < 500) throw upstreamGarbage(candidate, err.message);
      throw err;
    }
    if (
      expectedDigest !== undefined &&
      expectedDigest.startsWith('sha256:') &&
      info.digest !== expectedDigest
    ) {
      throw upstreamGarbage(
        candidate,
        `manifest digest ${info.digest} does not match ${expectedDigest}`,
      );
    }
    // A fill: the digest quarantine's first-seen time of this manifest (src/curation/quarantine.ts);
    // getManifest's guard (keyed by the same digest) holds it.
    this.#context.curation.recordFirstSeen(
      curationSubject(name, { kind: 'digest', digest: info.digest }, info.digest),
    );
    return info;
  }

  /**
   * HEAD of a blob. Bytes already here (linked to this name, or stored under another) and a fill
   * already running are getBlob's business: at most one upstream HEAD, no new download. Anything
   * else costs one upstream HEAD: a HEAD must not start a download of what may be gigabytes that
   * nobody will read; the handle downloads only if it is opened.
   */
  async statBlob(name: string, digest: string): Promise<BlobHandle | undefined> {
    if (this.#internal(name)) return undefined;
    const parsed = parseDigest(digest);
    if (this.#engine.isFilling(parsed) || (await this.#context.blobs.stat(parsed)) !== undefined)
      return this.getBlob(name, digest);
    const size = await this.#askUpstreams(this.#candidates(name), async (candidate) => {
      const head = await this.#docker.blob(candidate, digest, 'HEAD');
      if (!head) return undefined;
      head.body.destroy();
      return head.size ?? null;
    });
    if (size === undefined) return undefined;
    // An upstream that names no length: only the bytes can tell it.
    if (size === null) return this.getBlob(name, digest);
    return {
      digest,
      size,
      open: async (range) => {
        const blob = await this.getBlob(name, digest);
        if (!blob) throw blobUnknown(digest);
        return blob.open(range);
      },
    };
  }

  /**
   * Blobs, like manifests by digest, are shared across upstream URLs: a fill is verified against
   * its digest before it is committed, so bytes linked to `name` by a former upstream are the
   * same bytes any upstream would send for that digest.
   */
  async getBlob(name: string, digest: string): Promise<BlobHandle | undefined> {
    if (this.#internal(name)) return undefined;
    const linked = await this.#cache.getBlob(name, digest);
    if (linked) {
      this.#engine.metrics.record(this.repository.name, 'hit');
      return linked;
    }
    const candidates = this.#candidates(name);
    if (candidates.length === 0) return undefined;
    const parsed = parseDigest(digest);
    const repo = this.repository.name;
    const stored = await this.#context.blobs.stat(parsed);
    if (stored) {
      // The bytes are here (another name or repository) but this name never saw them: only an
      // upstream that has them under this name may make them visible here. One HEAD, no download.
      const present = await this.#askUpstreams(candidates, async (candidate) => {
        const head = await this.#docker.blob(candidate, digest, 'HEAD');
        if (!head) return undefined;
        head.body.destroy();
        return true;
      });
      if (present !== true) return undefined;
      await this.#hosted.store.linkBlob(repo, name, digest, stored.size);
      return this.#cache.getBlob(name, digest);
    }
    const opened = await this.#download(name, digest, candidates, false);
    if (!opened) return undefined;
    if (opened.started) this.#prefetchSiblings(name, digest, opened);
    let size = opened.size;
    if (size === undefined) {
      // No Content-Length upstream: the size is known once the fill is verified.
      size = (await opened.committed)?.size ?? (await this.#context.blobs.stat(parsed))?.size ?? 0;
    }
    return {
      digest,
      size,
      open: (range?: ByteRange) =>
        opened.open(range === undefined ? undefined : { start: range.start, end: range.end }),
    };
  }

  /** The blob from the store or through the one fill for its digest, linked to `name` once committed. */
  async #download(
    name: string,
    digest: string,
    candidates: readonly Candidate[],
    background: boolean,
  ): Promise<OpenedBlob | undefined> {
    const repo = this.repository.name;
    const opened = await this.#engine.openBlob({
      registry: repo,
      digest: parseDigest(digest),
      fetch: () =>
        this.#askUpstreams(candidates, (candidate) => this.#docker.blob(candidate, digest)),
      background,
    });
    if (!opened) return undefined;
    // Link once committed, whoever started the fill and whether or not this client stays.
    void opened.committed
      .then(
        (result) =>
          this.#hosted.store.linkBlob(repo, name, digest, result?.size ?? opened.size ?? 0),
        () => undefined,
      )
      .catch((err: unknown) => {
        this.#context.log.warn({ err, digest }, 'linking a proxied blob failed');
      });
    return opened;
  }

  /**
   * A client started downloading a layer of an image it fetched the manifest of: fetch the
   * image's other blobs it does not have yet in the background (see prefetch.ts). Blobs stored
   * under another name are left to getBlob, which must first ask an upstream about this name.
   * The layer's own download is watched for PREFETCH_PROBE_MS first: an upstream connection as
   * fast as the client (a registry on the same LAN) gains nothing from it, and the prefetched
   * bytes would cost a spool write and a read back for the client on the cores it needs.
   */
  #prefetchSiblings(name: string, digest: string, trigger: OpenedBlob): void {
    if (!this.#context.config().docker.prefetch_layers) return;
    const siblings = this.#prefetch.claim(name, digest);
    if (siblings === undefined) return;
    const started = performance.now();
    let finished: number | undefined;
    trigger.committed.then(
      () => (finished = performance.now()),
      () => undefined,
    );
    const timer = setTimeout(() => {
      const seconds = ((finished ?? performance.now()) - started) / 1000;
      if (upstreamKeepsUp(trigger.received(), seconds)) {
        this.#context.log.debug({ digest }, 'upstream as fast as the client: no prefetch');
        return;
      }
      this.#fetchInBackground(name, siblings);
    }, PREFETCH_PROBE_MS);
    timer.unref();
  }

  #fetchInBackground(name: string, digests: readonly string[]): void {
    const candidates = this.#candidates(name);
    void forEachLimited(digests, PREFETCH_CONCURRENCY, async (sibling) => {
      const parsed = parseDigest(sibling);
      if (this.#engine.isFilling(parsed) || (await this.#context.blobs.stat(parsed))) return;
      try {
        const opened = await this.#download(name, sibling, candidates, true);
        if (opened?.started === true) this.#prefetched.inc();
        await opened?.committed;
      } catch (err) {
        this.#context.log.debug(
          { digest: sibling, error: err instanceof Error ? err.message : String(err) },
          'layer prefetch failed; a client asking for it will fetch it',
        );
      }
    });
  }

  /**
   * The upstream's tags merged with the cached ones of the current route (those with a tag row
   * under its key: a cached tag of a URL no longer configured is not offered, since pulling it
   * would ask the new upstream); the cached ones alone when the upstreams are down.
   */
  async listTags(name: string): Promise<readonly string[] | undefined> {
    if (this.#internal(name)) return undefined;
    const candidates = this.#candidates(name);
    const cached = await this.#cachedTags(name, candidates);
    let remote: string[] | undefined;
    try {
      remote = await this.#askUpstreams(candidates, async (candidate) =>
        this.#complete(candidate, name, 'tag list', await this.#docker.tags(candidate)),
      );
    } catch (err) {
      // Upstreams down: the cached tags are the best answer we have.
      if (!isUpstreamFailure(err) || cached === undefined) throw err;
    }
    const tags =
      remote === undefined ? cached : [...new Set([...remote, ...(cached ?? [])])].sort(compare);
    return tags === undefined ? undefined : this.#visibleTags(name, tags);
  }

  /** In enforce, the tags the policy refuses are left out of tags/list (a pull of them is a 403). */
  #visibleTags(name: string, tags: readonly string[]): readonly string[] {
    const gate = this.#context.curation;
    if (gate.mode() !== 'enforce') return tags;
    const image = curationName(name);
    return tags.filter((tag) => !gate.hides({ registry: 'docker', name: image, version: tag }));
  }

  /**
   * The tags of `name` cached here that a pull through `candidates` would serve from the cache:
   * undefined when none (so a down upstream is reported, not answered as an empty list), unless
   * the cache knows the name without tags (manifests by digest only).
   */
  async #cachedTags(
    name: string,
    candidates: readonly Candidate[],
  ): Promise<readonly string[] | undefined> {
    const rows = await this.#cache.listTags(name);
    if (rows === undefined || rows.length === 0) return rows;
    const prefix = `tag@${routeOf(candidates)}:${name}:`;
    const current = new Set(
      (await this.#engine.state.entries(this.repository.name, prefix)).map((entry) =>
        entry.key.slice(prefix.length),
      ),
    );
    const mine = rows.filter((tag) => current.has(tag));
    return mine.length > 0 ? mine : undefined;
  }

  /** A manifest of `name` cached here (never asks an upstream: a write's probe, the guard's). */
  holds(name: string): Promise<boolean> {
    return this.#cache.holds?.(name) ?? Promise.resolve(false);
  }

  catalog(): Promise<readonly string[]> {
    return this.#cache.catalog();
  }

  /**
   * Referrers of `digest`: the upstream's (its referrers API, or the `<alg>-<hex>` tag-schema
   * fallback when that API answers 404), kept as a cached document under the tag freshness rule
   * (metadata_ttl, served stale when every upstream fails), merged with the referrers among the
   * manifests this proxy has cached. An upstream that names referrers wins; "none" is only
   * answered when every upstream asked said so. When no upstream can be reached and nothing was
   * cached, the upstream failure is thrown (502/504 alone, "not here" in a group): an empty 200
   * would read as "unsigned".
   */
  async referrers(name: string, digest: string): Promise<readonly Descriptor[]> {
    if (this.#internal(name)) return [];
    const local = await this.#cache.referrers(name, digest);
    const settings = this.#settings();
    const candidates = this.#candidates(name, settings);
    if (candidates.length === 0) return local;
    let remote: Descriptor[];
    try {
      const resolved = await this.#engine.resolve({
        registry: this.repository.name,
        key: `referrers@${routeOf(candidates)}:${name}:${digest}`,
        ttlSeconds: settings.ttlSeconds,
        serveStale: settings.serveStale,
        refresh: () => this.#fetchReferrers(candidates, name, digest),
      });
      remote = resolved === undefined ? [] : await this.#readReferrers(resolved.entry.digest);
    } catch (err) {
      if (!isUpstreamFailure(err) || local.length === 0) throw err;
      this.#context.log.warn(
        { name, digest, error: err instanceof Error ? err.message : String(err) },
        'upstreams failed for referrers; serving the cached referrer manifests only',
      );
      return local;
    }
    const merged = new Map<string, Descriptor>();
    for (const descriptor of [...remote, ...local]) {
      if (!merged.has(descriptor.digest)) merged.set(descriptor.digest, descriptor);
    }
    return [...merged.values()];
  }

  /** Asks the candidates for referrers and stores the answer as a document (a `Refresh`). */
  async #fetchReferrers(
    candidates: readonly Candidate[],
    name: string,
    digest: string,
  ): Promise<Refresh> {
    const found = await this.#askUpstreams(
      candidates,
      async (candidate) => {
        const listed = this.#complete(
          candidate,
          name,
          'referrers list',
          await this.#docker.referrers(candidate, digest),
        );
        const list = listed ?? (await this.#docker.referrersTag(candidate, digest)) ?? [];
        return list.length > 0 ? { candidate, list } : undefined;
      },
      // An upstream that failed may hold the referrers the others do not: no "none" then.
      'fail',
    );
    const body = Buffer.from(JSON.stringify(found?.list ?? []));
    const stored = await this.#engine.storeDocument(Readable.from([body]), {
      maxBytes: MAX_REFERRERS_DOCUMENT_BYTES,
    });
    return {
      kind: 'updated',
      entry: {
        digest: formatDigest(stored.digest),
        size: stored.size,
        mediaType: 'application/json',
        etag: undefined,
        upstream: found === undefined ? undefined : candidateId(found.candidate),
      },
    };
  }

  /** A referrers document stored by #fetchReferrers. */
  async #readReferrers(digest: string): Promise<Descriptor[]> {
    const stream = await this.#context.blobs.open(parseDigest(digest));
    const body = await readAllBounded(
      stream as AsyncIterable<Uint8Array>,
      MAX_REFERRERS_DOCUMENT_BYTES,
      'cached referrers',
    );
    return parseDescriptors(JSON.parse(body.toString('utf8'))) ?? [];
  }

  /** A paged upstream list's items; a list cut at a bound is served as read, and logged. */
  #complete<T>(
    candidate: Candidate,
    name: string,
    what: string,
    list: UpstreamList<T> | undefined,
  ): T[] | undefined {
    if (list?.incomplete !== undefined) {
      this.#context.log.warn(
        {
          upstream: candidate.target.label,
          name,
          entries: list.items.length,
          reason: list.incomplete,
        },
        `upstream ${what} not read to its end; serving the entries read`,
      );
    }
    return list?.items;
  }

  /**
   * Asks each candidate in order until one has an answer. A candidate without the content
   * (undefined) or failing (down, open circuit, garbage) passes to the next. When none had it:
   * "absent" (undefined) if every upstream answered, the last failure if none did; when some
   * answered "absent" and others failed, `mixed` decides: a cached tag whose upstream is down must
   * be served stale ('fail'), while new content some upstream denies is a 404 ('absent').
   */
  async #askUpstreams<T>(
    candidates: readonly Candidate[],
    ask: (candidate: Candidate) => Promise<T | undefined>,
    mixed: 'absent' | 'fail' = 'absent',
  ): Promise<T | undefined> {
    let failure: RegistryError | undefined;
    let answered = false;
    // Upstreams that timed out in this call: their other spellings of the name (`x`, then
    // `library/x`) are not asked, or a hung upstream would cost the timeout once per spelling.
    const timedOut = new Set<string>();
    for (const candidate of candidates) {
      if (timedOut.has(candidate.target.label)) continue;
      try {
        const answer = await ask(candidate);
        if (answer !== undefined) return answer;
        answered = true;
      } catch (err) {
        if (!isRegistryError(err)) throw err;
        failure = err;
        if (err.code === 'UPSTREAM_TIMEOUT') timedOut.add(candidate.target.label);
        this.#context.log.debug(
          { upstream: candidate.target.label, error: err.message },
          'upstream failed, trying the next',
        );
      }
    }
    if (failure !== undefined && (!answered || mixed === 'fail')) throw failure;
    return undefined;
  }
}

/**
 * The route part of a cache key: the ids of the upstream URLs `candidates` asks, in order, joined
 * by `+` (a tag is "what the first of these upstreams that has it says", so the same URLs in
 * another order are another route). Remote names are not part of it: they follow from the name
 * and the same config. Empty when nothing is asked (no row is written then).
 */
/**
 * The image name curation rules use: Docker Hub's spelling, so `alpine` and `library/alpine`
 * (which pull the same image from Hub) are one subject.
 */
export function curationName(name: string): string {
  return name.includes('/') ? name : `library/${name}`;
}

/**
 * What curation decides a manifest request by: the image and, by tag, the tag as its version.
 * A request by digest asks about the name only (rules with version `*`: a tag rule cannot know
 * which digests its tag pointed at over time). `digest` (once known) is the integrity an
 * allowlist entry may pin.
 */
function curationSubject(
  name: string,
  reference: Reference,
  digest: string | undefined,
): CurationSubject {
  const resolved = digest ?? (reference.kind === 'digest' ? reference.digest : undefined);
  return {
    registry: 'docker',
    name: curationName(name),
    version: reference.kind === 'tag' ? reference.tag : undefined,
    ...(resolved === undefined ? {} : { integrity: resolved, digest: resolved }),
  };
}

function routeOf(candidates: readonly Candidate[]): string {
  const urls: string[] = [];
  for (const candidate of candidates) {
    if (!urls.includes(candidate.target.baseUrl)) urls.push(candidate.target.baseUrl);
  }
  return urls.map(upstreamId).join('+');
}

/**
 * Every route routeName can choose under these upstreams: those with one prefix, in order, for
 * each prefix, and those without a prefix (whatever default_action says now: a reload may turn
 * it back to allow).
 */
function configuredRoutes(upstreams: readonly { url: string; prefix?: string | undefined }[]) {
  const byPrefix = new Map<string | undefined, string[]>();
  for (const upstream of upstreams) {
    const urls = byPrefix.get(upstream.prefix) ?? [];
    if (!urls.includes(upstream.url)) urls.push(upstream.url);
    byPrefix.set(upstream.prefix, urls);
  }
  return [...byPrefix.values()].map((urls) => urls.map(upstreamId).join('+'));
}

/** Which upstream and remote name a cached tag came from: where its revalidation HEAD goes. */
function candidateId(candidate: Candidate): string {
  return `${candidate.target.label} ${candidate.remoteName}`;
}
