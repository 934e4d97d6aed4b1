/**
 * The proxy engine shared by every format's proxy repositories (DESIGN.md §6). It knows nothing
 * about formats: a format's upstream adapter says how to ask an upstream and what a key means;
 * the engine provides
 * - `upstream()`: a target with its auth strategy, timeouts and circuit breaker,
 * - `resolve()`: mutable metadata under the freshness rule, revalidated, single-flight, served
 *   stale (flagged) when every upstream fails,
 * - `openBlob()`: immutable content, served from the blob store or streamed through one
 *   single-flight fill (verified, committed even if every client leaves),
 * - `storeDocument()`: small documents (manifests, packuments) into the blob store.
 */
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { raceDeadline } from '../core/deadline.ts';
import { type Digest, formatDigest, tryParseDigest } from '../core/digest.ts';
import { isRegistryError, RegistryError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Db } from '../db/database.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { BlobStore, IngestResult } from '../storage/blob-store.ts';
import type { ObjectInfo } from '../storage/driver.ts';
import { type AuthStrategy, ChallengeAuth, StaticAuth, TokenCache } from './auth.ts';
import {
  CIRCUIT_STATE_VALUE,
  CircuitBreaker,
  type CircuitBreakerSettings,
  type CircuitSnapshot,
} from './circuit-breaker.ts';
import {
  BlobFill,
  type FillOptions,
  type FillResult,
  type FillSource,
  type ReadRange,
} from './fill.ts';
import { isFresh } from './freshness.ts';
import type { AddressPolicy } from './address-policy.ts';
import { ProxyMetrics } from './metrics.ts';
import { SingleFlight } from './single-flight.ts';
import { type CachedEntry, type EntryInput, ProxyStateStore } from './state.ts';
import { UpstreamClient, type UpstreamTarget } from './upstream-client.ts';

export interface ProxyEngineOptions {
  readonly db: Db;
  readonly blobs: BlobStore;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Read per call so a config reload applies at once. */
  readonly circuitBreaker: () => CircuitBreakerSettings;
  readonly dispatcher?: Dispatcher;
  /** Which addresses count as internal for the redirect rule (tests count fixtures public). */
  readonly addressPolicy?: AddressPolicy;
  /**
   * How long a revalidation may take before the cached copy is served, ms (default
   * STALE_AFTER_MS; 0 waits for the upstream's own timeout). A function is read per call, so a
   * config reload applies at once.
   */
  readonly staleAfterMs?: number | (() => number);
}

export interface UpstreamDefinition {
  /** Stable, host-free label: `<repository>#<index>` or the upstream's prefix. */
  readonly label: string;
  /** The repository (metric label). */
  readonly registry: string;
  readonly url: string;
  /** "user:password". */
  readonly credentials?: string | undefined;
  /** `challenge`: Docker's Basic/Bearer challenge dance; `basic`: preemptive basic (npm); or a custom strategy. */
  readonly auth: 'challenge' | 'basic' | AuthStrategy;
  readonly timeoutSeconds: number;
  readonly readTimeoutSeconds: number;
  /**
   * The whole-fetch bound of metadata requests (`wholeDeadline`), seconds, when it is longer than
   * timeoutSeconds, which then bounds only their connection and headers (UpstreamTarget
   * wholeTimeoutMs); absent: timeoutSeconds bounds the whole fetch.
   */
  readonly wholeTimeoutSeconds?: number | undefined;
  /**
   * The configured upstream's URL when `url` is a host one of its documents named (a PyPI file
   * URL, a Cargo `dl`, a Helm chart URL): requests there are held to the redirect rule as if
   * that upstream had redirected to them (docs/proxy.md, "Redirects").
   */
  readonly namedBy?: string | undefined;
}

/** What a format's refresh callback reports for one metadata key. */
export type Refresh =
  /** The cached copy is still current (304, or a HEAD with the same digest). */
  | {
      readonly kind: 'unchanged';
      /** What the 304 sent (none: the stored ones stay). */
      readonly etag?: string | undefined;
      /** The 304's Last-Modified, epoch ms (none: the stored one stays). */
      readonly modifiedAt?: number | undefined;
      readonly upstream?: string | undefined;
    }
  /** New content, already in the blob store (see storeDocument). */
  | { readonly kind: 'updated'; readonly entry: EntryInput }
  /** Every upstream that answered says it does not exist. */
  | { readonly kind: 'absent' };

export interface ResolveRequest {
  readonly registry: string;
  readonly key: string;
  /** -1 forever, 0 always revalidate, >0 seconds. */
  readonly ttlSeconds: number;
  readonly serveStale: boolean;
  /** Asks the upstreams; throws an upstream error when none answered. */
  readonly refresh: (cached: CachedEntry | undefined) => Promise<Refresh>;
}

export interface Resolved {
  readonly entry: CachedEntry;
  /** true when every upstream failed and this is the last known copy (send `x-nora-stale: true`). */
  readonly stale: boolean;
  readonly result: 'hit' | 'miss' | 'revalidated' | 'stale';
}

export interface BlobRequest {
  readonly registry: string;
  readonly digest: Digest;
  /** Opens the upstream body (status already checked), or undefined when no upstream has it. */
  readonly fetch: () => Promise<FillSource | undefined>;
  readonly fill?: Omit<FillOptions, 'expected'>;
  /** A download nobody asked for yet (prefetch): not counted as a cache request. */
  readonly background?: boolean;
}

export interface OpenedBlob {
  /** Total size, when known (always for cached blobs). */
  readonly size: number | undefined;
  readonly source: 'cache' | 'upstream';
  /** This request started the upstream download (false when it joined one already running). */
  readonly started: boolean;
  /**
   * When the bytes were stored here, epoch ms: the blob's time, or when its fill started (the
   * same for every reader of one fill). What `Last-Modified` says of an immutable file.
   */
  readonly storedAt: number;
  /** Opens the bytes (a range when given). Call once per response. */
  open(range?: ReadRange): Promise<Readable>;
  /** Settles when the blob is committed (immediately for cached ones). */
  readonly committed: Promise<FillResult | undefined>;
  /** Bytes received from the upstream so far (the whole size for cached ones). */
  received(): number;
}

/**
 * How long a request with a cached (expired) copy waits for its revalidation before it is
 * answered that copy, flagged stale (docs/proxy.md "Timeouts and the circuit breaker"). An
 * upstream that hangs (stopped process, dropped packets) would otherwise cost every such request
 * the whole proxy timeout (30–60 s) until the circuit opens, longer than clients wait (cargo's
 * own http.timeout is 30 s). The revalidation goes on in the background and updates the cache.
 */
export const STALE_AFTER_MS = 5000;

/** How long close() lets upstream requests finish before it aborts a background revalidation's. */
const CLOSE_GRACE_MS = 1000;

/** How long a finished fill stays findable, so a request racing its commit reads the store. */
const FINISHED_FILL_GRACE_MS = 10_000;

export class ProxyEngine {
  readonly client: UpstreamClient;
  readonly state: ProxyStateStore;
  readonly metrics: ProxyMetrics;
  readonly #blobs: BlobStore;
  readonly #log: Logger;
  readonly #tokens = new TokenCache();
  readonly #breakerSettings: () => CircuitBreakerSettings;
  readonly #breakers = new Map<string, CircuitBreaker>();
  readonly #urlByLabel = new Map<string, string>();
  readonly #targets = new Map<string, UpstreamTarget>();
  readonly #metadataFlights = new SingleFlight<Resolved | undefined>();
  readonly #fills = new Map<string, Promise<BlobFill | undefined>>();
  /**
   * `<registry>\n<key>` → a revalidation that outlived STALE_AFTER_MS and goes on in the
   * background: requests with a cached copy are answered that copy at once meanwhile.
   */
  readonly #background = new Map<string, Promise<unknown>>();
  readonly #staleAfterMs: () => number;
  /** `<registry>\n<key>` → when its running metadata flight started (epoch ms). */
  readonly #flightStarts = new Map<string, number>();
  #closed = false;

  constructor(options: ProxyEngineOptions) {
    this.metrics = new ProxyMetrics(options.metrics, () => {
      this.circuits();
    });
    this.client = new UpstreamClient({
      metrics: this.metrics,
      log: options.log,
      ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
      ...(options.addressPolicy === undefined ? {} : { addressPolicy: options.addressPolicy }),
    });
    this.state = new ProxyStateStore(options.db, (err) => {
      options.log.warn({ error: describe(err) }, 'could not record proxy cache entries');
    });
    this.#blobs = options.blobs;
    this.#log = options.log;
    this.#breakerSettings = options.circuitBreaker;
    const staleAfterMs = options.staleAfterMs ?? STALE_AFTER_MS;
    this.#staleAfterMs = typeof staleAfterMs === 'number' ? () => staleAfterMs : staleAfterMs;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.state.flush();
    // A background revalidation may wait on a hung upstream for its whole timeout, and closing
    // the dispatcher waits for its requests: abort them instead (their results are not stored).
    // Other requests (a fill whose clients left) get a short grace to finish first.
    const closing = this.client.close();
    if (this.#background.size === 0) return closing;
    const closed = await raceDeadline(
      closing.then(() => true),
      CLOSE_GRACE_MS,
      false,
      { unref: true },
    );
    if (closed) return;
    closing.catch(() => undefined);
    await this.client.destroy();
  }

  /** How many revalidations are running in the background (tests, diagnostics). */
  get backgroundRevalidations(): number {
    return this.#background.size;
  }

  /** The target for one upstream; memoised by label so breakers and auth state persist. */
  upstream(definition: UpstreamDefinition): UpstreamTarget {
    const memoKey = `${definition.label} ${definition.url} ${definition.credentials ?? ''} ${definition.timeoutSeconds} ${definition.readTimeoutSeconds} ${definition.wholeTimeoutSeconds ?? ''} ${definition.namedBy ?? ''}`;
    const known = this.#targets.get(memoKey);
    if (known) return known;
    // A label repointed at another URL (config reload) starts with a closed circuit: the open
    // circuit of a dead old URL must not keep skipping its replacement.
    if (this.#urlByLabel.get(definition.label) !== definition.url) {
      this.#breakers.delete(definition.label);
      for (const [key, old] of this.#targets) {
        if (old.label === definition.label) this.#targets.delete(key);
      }
      this.#urlByLabel.set(definition.label, definition.url);
    }
    const target: UpstreamTarget = {
      label: definition.label,
      registry: definition.registry,
      baseUrl: definition.url,
      auth: this.#authFor(definition),
      breaker: this.#breaker(definition.label),
      timeoutMs: definition.timeoutSeconds * 1000,
      readTimeoutMs: definition.readTimeoutSeconds * 1000,
      ...(definition.wholeTimeoutSeconds === undefined
        ? {}
        : { wholeTimeoutMs: definition.wholeTimeoutSeconds * 1000 }),
      ...(definition.namedBy === undefined ? {} : { namedBy: definition.namedBy }),
    };
    this.#targets.set(memoKey, target);
    return target;
  }

  /** Circuit state per upstream label, for /health `upstreams`. */
  circuits(): Record<string, CircuitSnapshot> {
    return Object.fromEntries(
      [...this.#breakers].map(([label, breaker]) => {
        const snapshot = breaker.snapshot();
        // open → half-open happens with time, not an event: refresh the gauge when asked
        // (/health, and every /metrics scrape).
        this.metrics.circuitState.set({ registry: label }, CIRCUIT_STATE_VALUE[snapshot.state]);
        return [label, snapshot];
      }),
    );
  }

  /** Mutable metadata: fresh cache → hit; else one refresh for all concurrent callers. */
  async resolve(request: ResolveRequest): Promise<Resolved | undefined> {
    const epoch = this.state.epoch();
    const cached = await this.state.get(request.registry, request.key);
    if (
      cached &&
      isFresh(cached.fetchedAt, request.ttlSeconds) &&
      (await this.#hasBlob(cached.digest))
    ) {
      this.metrics.record(request.registry, 'hit');
      return { entry: cached, stale: false, result: 'hit' };
    }
    const flightKey = `${request.registry}\n${request.key}`;
    const staleAllowed = cached !== undefined && request.serveStale;
    if (staleAllowed && this.#background.has(flightKey) && (await this.#hasBlob(cached.digest))) {
      // Its revalidation already outlived the deadline: no new upstream request, no waiting.
      this.metrics.record(request.registry, 'stale');
      return { entry: cached, stale: true, result: 'stale' };
    }
    const flight = this.#metadataFlights.run(flightKey, () =>
      this.#refresh(request, { epoch, found: cached }),
    );
    if (flight.joined) this.metrics.coalesced.inc({ registry: request.registry });
    else {
      // The deadline counts from the flight's start, so a request joining it late waits only
      // the rest (all its waiters are answered stale at the same moment).
      const started = Date.now();
      this.#flightStarts.set(flightKey, started);
      flight.promise
        .finally(() => {
          if (this.#flightStarts.get(flightKey) === started) this.#flightStarts.delete(flightKey);
        })
        .catch(() => undefined);
    }
    const resolved = staleAllowed
      ? await this.#withinDeadline(flightKey, flight.promise, request, cached)
      : await flight.promise;
    if (resolved)
      this.metrics.record(
        request.registry,
        flight.joined && resolved.result !== 'stale' ? 'hit' : resolved.result,
      );
    return resolved;
  }

  /** The flight's answer within the deadline, else the cached copy flagged stale. */
  async #withinDeadline(
    flightKey: string,
    promise: Promise<Resolved | undefined>,
    request: ResolveRequest,
    cached: CachedEntry,
  ): Promise<Resolved | undefined> {
    const first = await this.withinStaleDeadline({
      registry: request.registry,
      key: request.key,
      startedAt: this.#flightStarts.get(flightKey) ?? Date.now(),
      revalidation: promise,
      usable: () => this.#hasBlob(cached.digest),
    });
    return first === 'late' ? { entry: cached, stale: true, result: 'stale' } : first;
  }

  /**
   * True while the revalidation of `registry`/`key` runs in the background after its deadline
   * passed: a request with a cached copy is answered that copy at once, asking nothing.
   */
  revalidatingLate(registry: string, key: string): boolean {
    return this.#background.has(`${registry}\n${key}`);
  }

  /**
   * Waits for a revalidation of a cached copy at most until the stale deadline: `staleAfterMs`
   * after `startedAt` (epoch ms, when the revalidation's upstream request began, so a request
   * joining it late waits only the rest). 'late' when the deadline passed first and `usable()`
   * (is the cached copy still readable?) says yes: the caller answers its cached copy flagged
   * stale, and the revalidation goes on in the background (revalidatingLate() is true until it
   * settles; its failure is logged once, never thrown). Otherwise the revalidation's own result
   * or error. A deadline of 0 never answers 'late'. docs/proxy.md "Timeouts and the circuit
   * breaker".
   */
  async withinStaleDeadline<T>(late: {
    readonly registry: string;
    readonly key: string;
    readonly startedAt: number;
    readonly revalidation: Promise<T>;
    readonly usable: () => Promise<boolean>;
  }): Promise<T | 'late'> {
    const afterMs = this.#staleAfterMs();
    if (afterMs <= 0) return late.revalidation;
    const flightKey = `${late.registry}\n${late.key}`;
    const wait = Math.max(0, late.startedAt + afterMs - Date.now());
    const first = await raceDeadline(late.revalidation, wait, 'late' as const, { unref: true });
    if (first !== 'late') return first;
    if (!(await late.usable())) return late.revalidation;
    if (!this.#background.has(flightKey)) {
      this.#log.warn(
        { registry: late.registry, key: late.key, afterMs },
        'revalidation is slow, serving stale copy while it goes on',
      );
      const running = late.revalidation.then(
        () => undefined,
        (err: unknown) => {
          if (!this.#closed)
            this.#log.warn(
              { registry: late.registry, key: late.key, error: describe(err) },
              'background revalidation failed',
            );
        },
      );
      this.#background.set(flightKey, running);
      void running.finally(() => {
        if (this.#background.get(flightKey) === running) this.#background.delete(flightKey);
      });
    }
    return 'late';
  }

  async #refresh(
    request: ResolveRequest,
    read: { readonly epoch: number; readonly found: CachedEntry | undefined },
  ): Promise<Resolved | undefined> {
    // A previous flight may have refreshed the entry since resolve() read it: read it again
    // then, and only then (one SQL read per miss instead of two; see ProxyStateStore.epoch).
    const found = this.state.writtenSince(request.registry, request.key, read.epoch)
      ? await this.state.get(request.registry, request.key)
      : read.found;
    const cached = found && (await this.#hasBlob(found.digest)) ? found : undefined;
    if (cached && isFresh(cached.fetchedAt, request.ttlSeconds))
      return { entry: cached, stale: false, result: 'hit' };
    let outcome: Refresh;
    try {
      outcome = await request.refresh(cached);
    } catch (err) {
      if (cached && request.serveStale) {
        this.#log.warn(
          { registry: request.registry, key: request.key, error: describe(err) },
          'upstreams failed, serving stale copy',
        );
        return { entry: cached, stale: true, result: 'stale' };
      }
      throw err;
    }
    // Closed meanwhile (a background revalidation outliving shutdown): the state is gone.
    if (this.#closed) throw new RegistryError('UNAVAILABLE', 'proxy engine closed');
    const now = Date.now();
    switch (outcome.kind) {
      case 'unchanged': {
        if (!cached)
          throw new RegistryError(
            'UPSTREAM_FAILED',
            'upstream reported "unchanged" for content we do not have',
          );
        await this.state.touch(request.registry, request.key, now, {
          etag: outcome.etag,
          modifiedAt: outcome.modifiedAt,
        });
        return {
          entry: {
            ...cached,
            fetchedAt: now,
            etag: outcome.etag ?? cached.etag,
            modifiedAt: outcome.modifiedAt ?? cached.modifiedAt,
          },
          stale: false,
          result: 'revalidated',
        };
      }
      case 'updated': {
        const entry = await this.state.put(request.registry, request.key, outcome.entry, now);
        return { entry, stale: false, result: cached ? 'revalidated' : 'miss' };
      }
      case 'absent':
        return undefined;
    }
  }

  /** Records (or replaces) an entry without asking upstream, e.g. a manifest by digest. */
  remember(registry: string, key: string, entry: EntryInput): Promise<CachedEntry> {
    return this.state.put(registry, key, entry, Date.now());
  }

  lookup(registry: string, key: string): Promise<CachedEntry | undefined> {
    return this.state.get(registry, key);
  }

  /**
   * Stores a small upstream document (manifest, packument) as a blob; verifies `expected`.
   * `expectedSize` (bytes, when the body is already in memory) lets the store take its
   * in-memory path (one O_DSYNC write + rename, no spool file: half the thread-pool trips) and
   * is verified too.
   */
  storeDocument(
    body: Readable,
    options: { expected?: Digest; expectedSize?: number; maxBytes: number },
  ): Promise<IngestResult> {
    return this.#blobs.ingest(body, {
      maxBytes: options.maxBytes,
      ...(options.expected === undefined ? {} : { expected: options.expected }),
      ...(options.expectedSize === undefined ? {} : { expectedSize: options.expectedSize }),
    });
  }

  /**
   * Immutable content by digest: from the blob store when present, otherwise from the single
   * in-flight fill for that digest (started here if none). Returns undefined when no upstream has it.
   */
  async openBlob(request: BlobRequest): Promise<OpenedBlob | undefined> {
    const id = formatDigest(request.digest);
    let pending = this.#fills.get(id);
    if (pending === undefined) {
      const stored = await this.#blobs.stat(request.digest);
      if (stored) {
        if (request.background !== true) this.metrics.record(request.registry, 'hit');
        return this.#fromStore(request.digest, stored);
      }
      pending = this.#fills.get(id);
    }
    let joined = true;
    if (pending === undefined) {
      joined = false;
      pending = this.#startFill(id, request);
    }
    let fill = await pending;
    if (joined && fill?.state === 'failed') {
      // We joined a fill that has just failed (its cleanup runs a tick later): start afresh
      // rather than attach to its closed spool file.
      if (this.#fills.get(id) === pending) this.#fills.delete(id);
      joined = false;
      pending = this.#startFill(id, request);
      fill = await pending;
    }
    if (fill === undefined) {
      if (!joined) return undefined;
      // The flight we joined found nothing or failed; ours may still be served from the store.
      const stored = await this.#blobs.stat(request.digest);
      return stored ? this.#fromStore(request.digest, stored) : undefined;
    }
    const stored = fill.state === 'committed' ? await this.#blobs.stat(request.digest) : undefined;
    if (fill.state === 'committed' && stored === undefined && joined) {
      // Committed, then removed from the store (an operator's cleanup) within the grace
      // period: the finished fill would send readers to a blob that is gone. Fetch it again.
      if (this.#fills.get(id) === pending) this.#fills.delete(id);
      return this.openBlob(request);
    }
    if (request.background !== true) {
      if (joined) this.metrics.coalesced.inc({ registry: request.registry });
      this.metrics.record(request.registry, joined ? 'coalesced' : 'miss');
    }
    if (stored) return this.#fromStore(request.digest, stored, !joined);
    return {
      size: fill.size,
      source: 'upstream',
      started: !joined,
      storedAt: fill.startedAt,
      // A fill that committed in the meantime may have closed its spool: read the store then.
      open: (range) =>
        fill.state === 'committed'
          ? this.#blobs.open(request.digest, range)
          : Promise.resolve(fill.reader(range)),
      committed: fill.done,
      received: () => fill.received,
    };
  }

  /** Whether an in-flight or just-finished fill exists for a digest (tests, diagnostics). */
  isFilling(digest: Digest): boolean {
    return this.#fills.has(formatDigest(digest));
  }

  #startFill(id: string, request: BlobRequest): Promise<BlobFill | undefined> {
    const started = (async () => {
      const source = await request.fetch();
      if (source === undefined) return undefined;
      return BlobFill.start(this.#blobs, source, { ...request.fill, expected: request.digest });
    })();
    this.#fills.set(id, started);
    const forget = (): void => {
      const timer = setTimeout(() => {
        if (this.#fills.get(id) === started) this.#fills.delete(id);
      }, FINISHED_FILL_GRACE_MS);
      timer.unref();
    };
    started.then(
      (fill) => {
        if (fill === undefined) {
          this.#fills.delete(id);
          return;
        }
        fill.done.then(forget, (err: unknown) => {
          // A failed fill must not be served to later requests: they start a new one.
          if (this.#fills.get(id) === started) this.#fills.delete(id);
          this.#log.warn(
            { registry: request.registry, digest: id, error: describe(err) },
            'proxy fill failed',
          );
        });
      },
      () => {
        if (this.#fills.get(id) === started) this.#fills.delete(id);
      },
    );
    return started;
  }

  #fromStore(digest: Digest, stored: ObjectInfo, started = false): OpenedBlob {
    const size = stored.size;
    return {
      size,
      source: 'cache',
      started,
      storedAt: stored.modifiedAt.getTime(),
      open: (range) => this.#blobs.open(digest, range),
      committed: Promise.resolve(undefined),
      received: () => size,
    };
  }

  async #hasBlob(digest: string): Promise<boolean> {
    const parsed = tryParseDigest(digest);
    return parsed !== undefined && (await this.#blobs.stat(parsed)) !== undefined;
  }

  #authFor(definition: UpstreamDefinition): AuthStrategy {
    if (typeof definition.auth === 'object') return definition.auth;
    if (definition.auth === 'basic') return StaticAuth.basic(definition.credentials);
    const timeoutMs = definition.timeoutSeconds * 1000;
    return new ChallengeAuth(definition.credentials, this.#tokens, (url, basic, origin) =>
      this.client.fetchToken(url, basic, timeoutMs, { origin, label: definition.label }),
    );
  }

  #breaker(label: string): CircuitBreaker {
    let breaker = this.#breakers.get(label);
    if (!breaker) {
      breaker = new CircuitBreaker(this.#breakerSettings);
      const gauge = this.metrics.circuitState;
      gauge.set({ registry: label }, 0);
      breaker.onStateChange((state) => {
        gauge.set({ registry: label }, CIRCUIT_STATE_VALUE[state]);
      });
      this.#breakers.set(label, breaker);
    }
    return breaker;
  }
}

/** True for errors that mean "the upstream could not be used" (as opposed to bad input). */
export function isUpstreamFailure(err: unknown): boolean {
  return (
    isRegistryError(err) &&
    (err.code === 'UPSTREAM_FAILED' ||
      err.code === 'UPSTREAM_TIMEOUT' ||
      err.code === 'UNAVAILABLE')
  );
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
