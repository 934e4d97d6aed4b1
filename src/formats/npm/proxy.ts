/**
 * npm proxy repositories on the shared proxy engine (src/proxy): packuments are mutable metadata
 * (`packument:<name>`, TTL + ETag revalidation + stale serving, single-flight); tarballs are
 * immutable blobs addressed by the packument's sha512 integrity, streamed through one verified
 * fill. Upstream documents are validated here, where they enter; the tarball URLs they carry are
 * used only to fetch, never shown to clients.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { type Digest, formatDigest, parseDigest, tryParseDigest } from '../../core/digest.ts';
import { ByteLru } from '../../core/byte-lru.ts';
import { RegistryError } from '../../core/errors.ts';
import { readAllBounded } from '../../core/streams.ts';
import type { Repository } from '../../repos/repository.ts';
import { isUpstreamFailure } from '../../proxy/engine.ts';
import { fillSourceOf } from '../../proxy/fill.ts';
import { ABSENT, askInOrder, repositoryTargets } from '../../proxy/in-order.ts';
import { SingleFlight } from '../../proxy/single-flight.ts';
import type { CachedEntry } from '../../proxy/state.ts';
import { conditionalHeaders, validatorsOf } from '../../proxy/validators.ts';
import {
  answeredAbsent,
  toUpstreamError,
  type UpstreamTarget,
} from '../../proxy/upstream-client.ts';
import type { FormatContext } from '../format.ts';
import {
  compareVersions,
  isValidTag,
  isValidUpstreamVersion,
  namePath,
  tarballFilename,
} from './names.ts';
import type { PackageView, VersionView } from './packument.ts';
import { META_FIELDS, isObject } from './publish.ts';
import { searchMeta } from './search.ts';
import type { Json, NpmStore } from './store.ts';
import type { NpmUpstream, UpstreamPackument, UpstreamTarball } from './upstream.ts';

const MAX_PACKUMENT_BYTES = 128 * 1024 * 1024;
const MAX_TARBALL_BYTES = 1024 * 1024 * 1024;
const MAX_AUDIT_RESPONSE_BYTES = 64 * 1024 * 1024;
/**
 * Memory for parsed upstream packuments, estimated as 3x their JSON (what V8's objects and strings
 * for a parsed document take, measured on large packuments): 96 MiB holds ~32 MB of JSON, e.g.
 * three 10 MB packuments or a few hundred ordinary ones.
 */
const PARSED_CACHE_BYTES = 96 * 1024 * 1024;
const PARSED_BYTES_PER_JSON_BYTE = 3;
/**
 * Memory for the per-package tarball index that lets a tarball request skip the packument
 * (estimated from its strings): 32 MiB, some 100,000 versions.
 */
const SOURCE_INDEX_BYTES = 32 * 1024 * 1024;
/** A source's Map entry, object, digest and fixed-length hashes, beyond its variable strings. */
const SOURCE_OVERHEAD_BYTES = 320;

export interface Upstreams {
  get(repo: Repository): NpmUpstream | undefined;
}

/** Where a version's tarball lives upstream and what it must hash to. */
interface TarballSource {
  readonly version: string;
  readonly url: string;
  readonly sha512: Digest | undefined;
  readonly shasum: string | undefined;
}

interface ParsedPackument {
  readonly view: PackageView;
  readonly tarballs: ReadonlyMap<string, TarballSource>;
}

export function createUpstreams(context: FormatContext, store: NpmStore): Upstreams {
  const byRepo = new Map<string, NpmProxyUpstream>();
  const parsed = new ParsedCache();
  return {
    get(repo) {
      if (repo.kind !== 'proxy' || repo.upstreams.length === 0) return undefined;
      let upstream = byRepo.get(repo.name);
      if (!upstream) {
        upstream = new NpmProxyUpstream(context, store, repo, parsed);
        byRepo.set(repo.name, upstream);
      }
      return upstream;
    },
  };
}

/**
 * Parsed upstream packuments by repository and content digest (re-parsing a 10 MB document per miss is costly),
 * bounded by an estimate of their memory (`PARSED_CACHE_BYTES`).
 */
export class ParsedCache<T = ParsedPackument> {
  readonly #entries: ByteLru<string, { parsed: T; bytes: number }>;

  /** `maxBytes`: the budget in (estimated) bytes. */
  constructor(maxBytes = PARSED_CACHE_BYTES) {
    this.#entries = new ByteLru(
      maxBytes,
      (entry) => entry.bytes,
      // Large packuments are the ones worth keeping parsed (one 10 MB document: ~40 ms to parse).
      { largestShare: 1 },
    );
  }

  /** Estimated bytes held (what the budget bounds). */
  get bytes(): number {
    return this.#entries.bytes;
  }

  get(digest: string): T | undefined {
    return this.#entries.get(digest)?.parsed;
  }

  /** `jsonBytes`: the length of the JSON it was parsed from. */
  set(digest: string, parsed: T, jsonBytes: number): void {
    this.#entries.set(digest, { parsed, bytes: jsonBytes * PARSED_BYTES_PER_JSON_BYTE });
  }
}

/** Estimated memory of one package's tarball index, bytes (strings count 2 bytes a char). */
export function sourcesBytes(
  sources: ReadonlyMap<string, { readonly version: string; readonly url: string }>,
): number {
  let bytes = 0;
  for (const [filename, source] of sources)
    bytes +=
      SOURCE_OVERHEAD_BYTES + 2 * (filename.length + source.version.length + source.url.length);
  return bytes;
}

class NpmProxyUpstream implements NpmUpstream {
  readonly #context: FormatContext;
  readonly #store: NpmStore;
  readonly #repo: Repository;
  readonly #parsed: ParsedCache;
  readonly #legacyFills = new SingleFlight<Digest | undefined>();
  /** Tarball sources per package: small, so many more fit than parsed packuments. */
  readonly #sources = new ByteLru<string, ReadonlyMap<string, TarballSource>>(
    SOURCE_INDEX_BYTES,
    sourcesBytes,
  );

  constructor(context: FormatContext, store: NpmStore, repo: Repository, parsed: ParsedCache) {
    this.#context = context;
    this.#store = store;
    this.#repo = repo;
    this.#parsed = parsed;
  }

  #settings() {
    const npm = this.#context.config().npm;
    return {
      ttl: this.#repo.metadataTtl ?? npm.metadata_ttl,
      serveStale: this.#repo.serveStale ?? npm.serve_stale,
      timeout: this.#repo.proxyTimeout ?? npm.proxy_timeout,
      revalidate: npm.revalidate,
    };
  }

  #targets(): UpstreamTarget[] {
    return repositoryTargets(this.#context.proxy, this.#repo, {
      timeoutSeconds: this.#settings().timeout,
    });
  }

  async packument(name: string): Promise<UpstreamPackument | undefined> {
    const found = await this.#packument(name);
    return found && { view: found.parsed.view, validUntil: found.validUntil, stale: found.stale };
  }

  async cached(name: string): Promise<boolean> {
    return (await this.#context.proxy.lookup(this.#repo.name, `packument:${name}`)) !== undefined;
  }

  async peek(name: string): Promise<PackageView | undefined> {
    const entry = await this.#context.proxy.lookup(this.#repo.name, `packument:${name}`);
    return entry === undefined ? undefined : (await this.#load(name, entry)).view;
  }

  async #packument(
    name: string,
  ): Promise<{ parsed: ParsedPackument; validUntil: number; stale: boolean } | undefined> {
    const settings = this.#settings();
    const resolved = await this.#context.proxy.resolve({
      registry: this.#repo.name,
      key: `packument:${name}`,
      ttlSeconds: settings.ttl,
      serveStale: settings.serveStale,
      refresh: (cached) => this.#refresh(name, cached, settings.revalidate),
    });
    if (!resolved) return undefined;
    const parsed = await this.#load(name, resolved.entry);
    const validUntil =
      settings.ttl < 0
        ? Infinity
        : settings.ttl === 0
          ? 0
          : resolved.entry.fetchedAt + settings.ttl * 1000;
    return { parsed, validUntil, stale: resolved.stale };
  }

  async #refresh(name: string, cached: CachedEntry | undefined, revalidate: boolean) {
    const asked = await askInOrder(
      this.#targets(),
      async (target) => {
        const response = await this.#context.proxy.client.request(target, {
          method: 'GET',
          path: `/${name.replace('/', '%2f')}`,
          wholeDeadline: true,
          headers: {
            accept: 'application/json',
            // Full packuments of popular packages are tens of MB; gzip cuts the transfer ~10×.
            'accept-encoding': 'gzip',
            ...(revalidate ? conditionalHeaders(cached, target) : {}),
          },
        });
        if (response.status === 304 && cached) {
          response.body.destroy();
          return {
            kind: 'unchanged' as const,
            ...validatorsOf(response),
            upstream: target.label,
          };
        }
        if (answeredAbsent(response, target.label, name, [404])) return ABSENT;
        const body = await readAllBounded(
          decoded(response.body, response.header('content-encoding'), `packument of ${name}`),
          MAX_PACKUMENT_BYTES,
          `upstream packument of ${name}`,
        );
        const parsed = await this.#pinCached(name, parseUpstream(name, body, target.baseUrl));
        const stored = await this.#context.proxy.storeDocument(Readable.from([body]), {
          maxBytes: MAX_PACKUMENT_BYTES,
        });
        const digest = formatDigest(stored.digest);
        // Per repository: the cached tarballs pinned into it are this repository's (#pinCached).
        this.#parsed.set(`${this.#repo.name}\n${digest}`, parsed, body.length);
        this.#rememberSources(name, parsed);
        await this.#index(name, parsed);
        return {
          kind: 'updated' as const,
          entry: {
            digest,
            size: stored.size,
            mediaType: 'application/json',
            ...validatorsOf(response),
            upstream: target.label,
          },
        };
      },
      upstreamsFault,
    );
    if (asked.kind === 'hit') return asked.value;
    if (asked.kind === 'absent') return { kind: 'absent' as const };
    throw asUpstreamError(asked.error, name);
  }

  async #load(name: string, entry: CachedEntry): Promise<ParsedPackument> {
    const known = this.#parsed.get(`${this.#repo.name}\n${entry.digest}`);
    if (known) return known;
    const stream = await this.#context.blobs.open(parseDigest(entry.digest));
    const body = await readAllBounded(stream, MAX_PACKUMENT_BYTES, `cached packument of ${name}`);
    const baseUrl = this.#repo.upstreams[0]?.url ?? '';
    const parsed = await this.#pinCached(name, parseUpstream(name, body, baseUrl));
    this.#parsed.set(`${this.#repo.name}\n${entry.digest}`, parsed, body.length);
    this.#rememberSources(name, parsed);
    return parsed;
  }

  /**
   * Versions are immutable: a version whose tarball is cached here keeps the checksums of that
   * tarball in the packument we serve, whatever the upstream now says (a republished version, a
   * rebuilt mirror, a compromise), so the packument always describes the tarball we serve (npm
   * would fail EINTEGRITY on it otherwise, stale copies during an outage included). Run once per
   * parsed document (a changed packument, or one loaded from the store), not per request: one
   * range read of the cached-file index; a cached tarball is read (for its sha1) only when its
   * version's checksum changed. Each change is logged once per process.
   */
  async #pinCached(name: string, parsed: ParsedPackument): Promise<ParsedPackument> {
    const prefix = tarballKey(name, '');
    const cached = await this.#context.proxy.state.entries(this.#repo.name, prefix);
    if (cached.length === 0) return parsed;
    const pinned = new Map<string, { sha512: Digest; shasum: string }>();
    for (const entry of cached) {
      const filename = entry.key.slice(prefix.length);
      const source = parsed.tarballs.get(filename);
      const digest = tryParseDigest(entry.digest);
      // Legacy (sha1-only) fills are stored by sha256: not compared (they would need a read).
      if (!source || digest?.algorithm !== 'sha512' || source.sha512?.hex === digest.hex) continue;
      let shasum: string;
      try {
        shasum = await this.#sha1Of(digest);
      } catch {
        continue; // the blob is gone: the tarball is fetched again by the upstream's checksum
      }
      if (source.sha512 === undefined && source.shasum === shasum) continue;
      pinned.set(filename, { sha512: digest, shasum });
      const warned = `${this.#repo.name}\n${filename}\n${source.sha512?.hex ?? source.shasum}`;
      if (!CHANGED_WARNED.has(warned)) {
        if (CHANGED_WARNED.size >= 10_000) CHANGED_WARNED.clear();
        CHANGED_WARNED.add(warned);
        this.#context.log.warn(
          {
            registry: this.#repo.name,
            package: name,
            version: source.version,
            file: filename,
            cached: integrityOf(digest),
            upstream: source.sha512 ? integrityOf(source.sha512) : `sha1:${source.shasum}`,
          },
          'upstream changed the checksum of a cached version: serving the cached tarball with its own checksum',
        );
      }
    }
    if (pinned.size === 0) return parsed;
    const tarballs = new Map(parsed.tarballs);
    const versions = parsed.view.versions.map((v) => {
      const pin = pinned.get(v.filename);
      const source = tarballs.get(v.filename);
      if (!pin || !source) return v;
      tarballs.set(v.filename, { ...source, sha512: pin.sha512, shasum: pin.shasum });
      const dist = isObject(v.manifest['dist']) ? { ...v.manifest['dist'] } : {};
      // Signatures and attestations sign the upstream's checksum, not this tarball's.
      delete dist['signatures'];
      delete dist['attestations'];
      delete dist['npm-signature'];
      return {
        ...v,
        manifest: { ...v.manifest, dist },
        integrity: integrityOf(pin.sha512),
        shasum: pin.shasum,
      };
    });
    return { view: { ...parsed.view, versions }, tarballs };
  }

  async #sha1Of(digest: Digest): Promise<string> {
    const hash = createHash('sha1');
    const stream = await this.#context.blobs.open(digest);
    for await (const chunk of stream) hash.update(chunk as Buffer);
    return hash.digest('hex');
  }

  async #index(name: string, parsed: ParsedPackument): Promise<void> {
    const meta = parsed.view.meta;
    await this.#store.indexProxied(this.#repo.name, {
      name,
      description:
        typeof meta['description'] === 'string' ? meta['description'].slice(0, 1024) : '',
      keywords: Array.isArray(meta['keywords'])
        ? meta['keywords']
            .filter((k): k is string => typeof k === 'string')
            .join(' ')
            .toLowerCase()
            .slice(0, 1024)
        : '',
      latest: parsed.view.tags['latest'] ?? '',
      modifiedAt:
        parsed.view.modified === undefined
          ? Date.now()
          : Date.parse(parsed.view.modified) || Date.now(),
      meta: searchMeta(parsed.view),
    });
  }

  async tarball(name: string, filename: string): Promise<UpstreamTarball | undefined> {
    // 1. A tarball served before: one SQL lookup, no packument parsing (the warm install path).
    const key = tarballKey(name, filename);
    const known = await this.#context.proxy.lookup(this.#repo.name, key);
    if (known) {
      const digest = parseDigest(known.digest);
      const stat = await this.#context.blobs.stat(digest);
      if (stat) {
        // Served from the cache without the engine's openBlob: count it here (as Docker's are).
        this.#context.proxy.metrics.record(this.#repo.name, 'hit');
        return this.#fromStore(digest, stat.size, false);
      }
    }
    // 2. The cached packument as it is: a tarball we hold must be served even when the
    //    packument is due for revalidation and the upstream is down.
    let source: TarballSource | undefined = this.#sources.get(name)?.get(filename);
    let stale = false;
    if (!source) {
      const cachedEntry = await this.#context.proxy.lookup(this.#repo.name, `packument:${name}`);
      if (cachedEntry) {
        try {
          source = (await this.#load(name, cachedEntry)).tarballs.get(filename);
        } catch {
          source = undefined;
        }
      }
    }
    if (source?.sha512) {
      const stat = await this.#context.blobs.stat(source.sha512);
      if (stat) {
        await this.#remember(key, source.sha512, stat.size);
        this.#context.proxy.metrics.record(this.#repo.name, 'hit');
        return this.#fromStore(source.sha512, stat.size, false);
      }
    }
    // 3. Ask the upstream for the packument, then the tarball.
    if (!source) {
      const packument = await this.#packument(name);
      if (!packument) return undefined;
      stale = packument.stale;
      source = packument.parsed.tarballs.get(filename);
      if (!source) return undefined;
    }
    if (source.sha512) return this.#streamThrough(name, key, source, source.sha512, stale);
    return this.#legacy(name, filename, source, stale);
  }

  #rememberSources(name: string, parsed: ParsedPackument): void {
    this.#sources.set(name, parsed.tarballs);
  }

  async #remember(key: string, digest: Digest, size: number): Promise<void> {
    await this.#context.proxy.remember(this.#repo.name, key, {
      digest: formatDigest(digest),
      size,
      mediaType: 'application/octet-stream',
      etag: undefined,
      upstream: undefined,
    });
  }

  #fromStore(digest: Digest, size: number, stale: boolean): UpstreamTarball {
    const blobs = this.#context.blobs;
    return {
      size,
      etag: `"${formatDigest(digest)}"`,
      stale,
      open: (range) => blobs.open(digest, range),
    };
  }

  async #streamThrough(
    name: string,
    key: string,
    source: TarballSource,
    digest: Digest,
    stale: boolean,
  ): Promise<UpstreamTarball | undefined> {
    const opened = await this.#context.proxy.openBlob({
      registry: this.#repo.name,
      digest,
      fetch: () => this.#fetchTarball(name, source),
      fill: { hashes: ['sha1'], maxBytes: MAX_TARBALL_BYTES },
    });
    if (!opened) return undefined;
    if (opened.source === 'upstream') {
      // Once verified and committed, later requests find it with one lookup.
      opened.committed.then(
        (result) => (result ? this.#remember(key, digest, result.size) : undefined),
        () => undefined,
      );
    }
    return {
      size: opened.size,
      etag: `"${formatDigest(digest)}"`,
      stale,
      filled: opened.source === 'upstream' && opened.started,
      open: (range) => opened.open(range),
    };
  }

  /** Old versions carry only a sha1 shasum: ingest whole, verify, then serve from the store. */
  async #legacy(
    name: string,
    filename: string,
    source: TarballSource,
    stale: boolean,
  ): Promise<UpstreamTarball | undefined> {
    const key = tarballKey(name, filename);
    const flight = this.#legacyFills.run(key, async () => {
      const fetched = await this.#fetchTarball(name, source);
      if (!fetched) return undefined;
      this.#context.proxy.metrics.record(this.#repo.name, 'miss');
      const result = await this.#context.blobs.ingest(fetched.body, {
        hashes: ['sha1'],
        maxBytes: MAX_TARBALL_BYTES,
      });
      if (source.shasum !== undefined && result.hashes.sha1 !== source.shasum) {
        throw new RegistryError(
          'UPSTREAM_FAILED',
          `upstream tarball ${filename} of ${name} does not match its shasum`,
        );
      }
      await this.#context.proxy.remember(this.#repo.name, key, {
        digest: formatDigest(result.digest),
        size: result.size,
        mediaType: 'application/octet-stream',
        etag: undefined,
        upstream: undefined,
      });
      return result.digest;
    });
    const digest = await flight.promise;
    if (!digest) return undefined;
    const stat = await this.#context.blobs.stat(digest);
    if (!stat) return undefined;
    return { ...this.#fromStore(digest, stat.size, stale), filled: !flight.joined };
  }

  async #fetchTarball(
    name: string,
    source: TarballSource,
  ): Promise<{ body: Readable; size: number | undefined } | undefined> {
    const asked = await askInOrder(this.#targets(), async (target) => {
      const response = await this.#context.proxy.client.request(target, {
        method: 'GET',
        path: tarballPath(target.baseUrl, source.url, name, source.version),
      });
      const fill = fillSourceOf(response, target.label, `a tarball of ${name}`, [404]);
      // Refused before a byte is sent: streaming it would cut a 200 at the limit (F9).
      if (fill?.size !== undefined && fill.size > MAX_TARBALL_BYTES) {
        fill.body.destroy();
        throw new RegistryError(
          'UPSTREAM_FAILED',
          `upstream ${target.label} announced ${fill.size} bytes for a tarball of ${name}, over the limit of ${MAX_TARBALL_BYTES} bytes`,
          { detail: { upstream: target.label, reason: 'too large' } },
        );
      }
      return fill ?? ABSENT;
    });
    if (asked.kind === 'hit') return asked.value;
    if (asked.kind === 'absent') return undefined;
    throw asUpstreamError(asked.error, name);
  }

  /**
   * Forwards an audit body through the engine's upstream client: the same auth, timeouts and
   * circuit breaker as packument fetches (an audit failure counts against the upstream, and an
   * open circuit is not asked). Upstreams are tried in order; an answer below 300 or a 4xx is
   * passed through, a 5xx, redirect, timeout or open circuit moves on, and when none answered
   * the client gets 502 (504 on a timeout) with a message saying so.
   */
  async audit(
    endpoint: string,
    body: Buffer,
  ): Promise<{ status: number; body: Buffer; contentType: string }> {
    const asked = await askInOrder(
      this.#targets(),
      async (target) => {
        const response = await this.#context.proxy.client.request(target, {
          method: 'POST',
          path: `/-/npm/v1/security/${endpoint}`,
          body,
          headers: {
            'content-type': 'application/json',
            accept: 'application/json',
            'accept-encoding': 'identity',
          },
        });
        if (response.status >= 300 && !(response.status >= 400 && response.status < 500)) {
          response.body.destroy();
          throw new RegistryError(
            'UPSTREAM_FAILED',
            `upstream ${target.label} answered ${response.status}`,
          );
        }
        const text = await readAllBounded(
          decoded(response.body, response.header('content-encoding'), 'audit response'),
          MAX_AUDIT_RESPONSE_BYTES,
          `the audit response of upstream ${target.label}`,
        );
        return {
          status: response.status,
          body: text,
          contentType: response.header('content-type') ?? 'application/json',
        };
      },
      // A response over the limit is the upstream's fault (502), not the client's (413).
      (err, target) =>
        err instanceof RegistryError && err.code === 'TOO_LARGE'
          ? upstreamsFault(err)
          : toUpstreamError(err, target.label),
    );
    if (asked.kind === 'hit') return asked.value;
    throw auditError(asked.kind === 'failed' ? asked.error : undefined);
  }
}

/**
 * A document over its limit is the upstream's fault (502, or "not here" in a group), never the
 * client's 413 ("your request is too large"); other errors pass as they are.
 */
function upstreamsFault(err: unknown): unknown {
  return err instanceof RegistryError && err.code === 'TOO_LARGE'
    ? new RegistryError('UPSTREAM_FAILED', err.message, { cause: err })
    : err;
}

/** npm prints the `error` of a failed audit: say it was the forwarding that failed, and why. */
function auditError(err: unknown): RegistryError {
  const cause = asUpstreamError(err, 'npm audit');
  if (!isUpstreamFailure(cause)) return cause;
  return new RegistryError(
    cause.code === 'UPSTREAM_TIMEOUT' ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_FAILED',
    `npm audit could not be forwarded: ${cause.message}`,
    { cause },
  );
}

/** The upstream body, gunzipped when the upstream compressed it (we ask for gzip). */
function decoded(body: Readable, encoding: string | undefined, what: string): Readable {
  if (encoding === undefined || encoding === 'identity') return body;
  if (encoding !== 'gzip') {
    body.destroy();
    throw new RegistryError(
      'UPSTREAM_FAILED',
      `upstream ${what} has unsupported encoding ${encoding}`,
    );
  }
  const gunzip = createGunzip();
  body.on('error', (err) => gunzip.destroy(err));
  gunzip.on('error', () => body.destroy());
  return body.pipe(gunzip);
}

/** Changed checksums already logged (see #pinCached): `<repo>\n<file>\n<upstream digest>`. */
const CHANGED_WARNED = new Set<string>();

/** npm's `dist.integrity` for a sha512 digest. */
function integrityOf(digest: Digest): string {
  return `sha512-${Buffer.from(digest.hex, 'hex').toString('base64')}`;
}

function tarballKey(name: string, filename: string): string {
  return `tarball:${name}:${filename}`;
}

function asUpstreamError(err: unknown, what: string): RegistryError {
  if (err instanceof RegistryError && (isUpstreamFailure(err) || err.status >= 500)) return err;
  if (err instanceof RegistryError) return err;
  return new RegistryError('UPSTREAM_FAILED', `the upstream failed for ${what}`, { cause: err });
}

/**
 * The request path for a tarball on an upstream: the path of its `dist.tarball` URL below the
 * upstream's base path when it lives there, else the canonical `/<name>/-/<file>`.
 */
function tarballPath(baseUrl: string, tarballUrl: string, name: string, version: string): string {
  const canonical = `/${namePath(name)}/-/${tarballFilename(name, version)}`;
  try {
    const base = new URL(baseUrl);
    const url = new URL(tarballUrl);
    const prefix = base.pathname.replace(/\/+$/, '');
    if (url.origin === base.origin && url.pathname.startsWith(`${prefix}/`)) {
      return url.pathname.slice(prefix.length) + url.search;
    }
  } catch {
    // fall through to the canonical path
  }
  return canonical;
}

/** Validates an upstream packument and turns it into a view (bad versions are dropped). */
export function parseUpstream(name: string, body: Buffer, _baseUrl: string): ParsedPackument {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw new RegistryError('UPSTREAM_FAILED', `upstream packument of ${name} is not valid JSON`);
  }
  if (!isObject(doc) || (doc['name'] !== undefined && doc['name'] !== name)) {
    throw new RegistryError('UPSTREAM_FAILED', `upstream packument of ${name} is malformed`);
  }
  const versionsValue = isObject(doc['versions']) ? doc['versions'] : {};
  const time = isObject(doc['time']) ? doc['time'] : {};
  const versions: VersionView[] = [];
  const tarballs = new Map<string, TarballSource>();
  for (const [version, manifest] of Object.entries(versionsValue)) {
    if (!isValidUpstreamVersion(version) || !isObject(manifest)) continue;
    const dist = isObject(manifest['dist']) ? manifest['dist'] : {};
    const url = typeof dist['tarball'] === 'string' ? dist['tarball'] : '';
    const integrity = typeof dist['integrity'] === 'string' ? dist['integrity'] : undefined;
    const shasum =
      typeof dist['shasum'] === 'string' && /^[a-f0-9]{40}$/.test(dist['shasum'])
        ? dist['shasum']
        : undefined;
    const sha512 = sha512Of(integrity);
    if (!sha512 && !shasum) continue;
    const filename = tarballFilename(name, version);
    tarballs.set(filename, { version, url, sha512, shasum });
    const deprecated = manifest['deprecated'];
    versions.push({
      version,
      manifest,
      filename,
      integrity,
      shasum,
      time: typeof time[version] === 'string' ? time[version] : undefined,
      deprecated: typeof deprecated === 'string' ? deprecated : undefined,
    });
  }
  versions.sort((a, b) => compareVersions(a.version, b.version));
  const tags: Record<string, string> = {};
  if (isObject(doc['dist-tags'])) {
    for (const [tag, version] of Object.entries(doc['dist-tags'])) {
      if (
        typeof version === 'string' &&
        (isValidTag(tag) || tag === 'latest') &&
        tarballs.has(tarballFilename(name, version))
      ) {
        tags[tag] = version;
      }
    }
  }
  const meta: Json = {};
  for (const field of META_FIELDS) if (doc[field] !== undefined) meta[field] = doc[field];
  return {
    view: {
      name,
      rev: typeof doc['_rev'] === 'string' ? doc['_rev'] : '1-0',
      tags,
      versions,
      created: typeof time['created'] === 'string' ? time['created'] : undefined,
      modified:
        typeof time['modified'] === 'string'
          ? time['modified']
          : typeof doc['modified'] === 'string'
            ? doc['modified']
            : undefined,
      meta,
    },
    tarballs,
  };
}

function sha512Of(integrity: string | undefined): Digest | undefined {
  if (integrity === undefined) return undefined;
  for (const part of integrity.trim().split(/\s+/)) {
    if (part.startsWith('sha512-')) {
      const hex = Buffer.from(part.slice(7), 'base64').toString('hex');
      if (hex.length === 128) return { algorithm: 'sha512', hex };
    }
  }
  return undefined;
}
