/**
 * Helm proxy repositories on the shared proxy engine (src/proxy/engine.ts):
 *
 * - Each upstream's `index.yaml` is mutable metadata through `engine.resolve` (`index#<i>`): TTL =
 *   the repository's metadata_ttl, else [helm] index_ttl; revalidated with If-None-Match /
 *   If-Modified-Since against the upstream that gave it; served stale when the upstream fails
 *   (serve_stale). It is parsed with aliases bounded (chart.ts), off the event loop when large
 *   (index-parser.ts: a 20 MB index is ~10 s of parsing), kept parsed per digest, and
 *   every entry's `urls` is rewritten to ours (`charts/<name>-<version>.tgz`, relative); the
 *   upstream URL (relative ones resolved against the upstream repository URL) is remembered to
 *   fetch from. Several upstreams merge, the first having a version wins.
 * - A chart whose upstream entry has a `digest` (sha256; what `helm repo index` writes) is
 *   fetched once through the engine's verified stream-through fill (openBlob: single flight,
 *   bytes checked against the digest before commit, readers served while it downloads) and then
 *   served from the blob store. An entry without a digest is taken only from the index's own
 *   origin, stored and remembered (`chart:<file>`) once it reads as a chart archive (a gzipped
 *   tar with a Chart.yaml; otherwise an upstream failure, nothing kept); so is a `.prov` file
 *   (unchecked), fetched from next to its chart as helm does (the chart URL + `.prov`), on
 *   another host too.
 * - Credentials go only to the upstream's own origin, never to a chart URL on another host.
 * - A chart URL the upstream client would refuse (an internal address named by an upstream at a
 *   public address) is left out of the index, logged once, rather than listed and then a
 *   failure when Helm downloads it.
 */
import { quarantineCheck, quarantines } from '../../curation/quarantine.ts';
import type { CurationGate } from '../../curation/types.ts';
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { Readable } from 'node:stream';
import type { Logger } from '../../core/logger.ts';
import { type Digest, formatDigest, parseDigest } from '../../core/digest.ts';
import { RegistryError } from '../../core/errors.ts';
import { readAllBounded } from '../../core/streams.ts';
import type { AppConfig } from '../../config/schema.ts';
import type { Db } from '../../db/database.ts';
import { isUpstreamFailure, type ProxyEngine } from '../../proxy/engine.ts';
import type { CachedEntry } from '../../proxy/state.ts';
import { UpstreamSweeper, upstreamId } from '../../proxy/upstream-id.ts';
import {
  answeredAbsent,
  toUpstreamError,
  type UpstreamTarget,
} from '../../proxy/upstream-client.ts';
import { conditionalHeaders, validatorsOf } from '../../proxy/validators.ts';
import type { Repository } from '../../repos/repository.ts';
import type { BlobStore } from '../../storage/blob-store.ts';
import { chartFilename, readChartYaml } from './chart.ts';
import type { UpstreamIndexParser } from './index-parser.ts';
import type { HelmTables } from './migrations.ts';
import { sortEntries } from './index-render.ts';
import type { HelmSource, IndexSnapshot, OpenedChartFile } from './model.ts';
import type { ParsedIndex, UpstreamChart } from './upstream-index.ts';

/** Largest upstream index.yaml, bytes (big public repositories are tens of MB). */
export const MAX_UPSTREAM_INDEX_BYTES = 256 * 1024 * 1024;

/** Most cached chart files one start records for a proxy (HelmProxy.backfillCharts). */
export const BACKFILL_MAX = 100_000;
/** Largest chart archive taken from an upstream, bytes. */
export const MAX_PROXIED_CHART_BYTES = 1024 * 1024 * 1024;
/** Refused chart URLs remembered as logged; past it the memory starts again. */
const MAX_REFUSALS_LOGGED = 10_000;
/** Refused chart URLs named in one warning; the rest are counted. */
const REFUSALS_NAMED = 5;

export interface HelmProxyDeps {
  readonly config: () => AppConfig;
  readonly db: Db;
  readonly blobs: BlobStore;
  readonly proxy: ProxyEngine;
  /** Parses upstream index.yaml documents (off the event loop when large). */
  readonly parser: UpstreamIndexParser;
  /** Where skipped upstream entries are reported (once per parse of an index). */
  readonly log?: Logger | undefined;
  /** The curation gate (FormatContext.curation). Absent: nothing curated (tests). */
  readonly curation?: CurationGate | undefined;
}

export class HelmProxy implements HelmSource {
  readonly #deps: HelmProxyDeps;
  /**
   * The latest parse of each upstream's index (`<repo>#<upstream>`), whatever its size: the
   * repository's snapshot holds the same entries anyway. (A byte-bounded LRU here refused any
   * index past 16 MiB of entries, ~8 MB of YAML, so each such index was parsed twice per change:
   * once by the refresh, again by the load right after it.)
   */
  readonly #parsed = new Map<string, { readonly digest: string; readonly parsed: ParsedIndex }>();
  /** Cached indexes being parsed (`<repo>#<upstream>\n<digest>`): readers share one parse. */
  readonly #loading = new Map<string, Promise<ParsedIndex>>();
  readonly #snapshots = new Map<
    string,
    { snapshot: IndexSnapshot; byFile: Map<string, UpstreamChart> }
  >();
  /**
   * Each repository's last curated index (#curated): the snapshot it was made from, the config
   * and curation view it was made under, and the result (the same object when nothing was left out).
   */
  readonly #curatedSnapshots = new Map<
    string,
    { base: string; config: AppConfig; view: string; snapshot: IndexSnapshot }
  >();
  /** `<repo>\n<chart URL>` of refused chart URLs already logged (#refusedUrls). */
  readonly #refusalsLogged = new Set<string>();

  /**
   * Drops copies of other upstream URLs, once per `<repo>\n<url ids>`. Cached index copies
   * (`index#<i>@<id>`) and charts (`chart@<id>:<file>`) belong to the URL they came from (see
   * src/proxy/upstream-id.ts): after `[helm] proxies` names another URL, nothing of the old one is
   * served as the new one's copy, not even stale.
   */
  readonly #sweeper = new UpstreamSweeper();

  constructor(deps: HelmProxyDeps) {
    this.#deps = deps;
  }

  /**
   * Drops the cache rows of upstream URLs `repo` no longer names (and those of releases that
   * keyed them by position only: `index#<i>`, `chart:<file>`), in the background, once per set of
   * URLs: they are never served again (keys carry the URL's id), and without the row their blobs
   * are garbage for `nora gc`. Errors are logged, nothing else depends on it.
   */
  #sweepOldUpstreams(repo: Repository): void {
    const ids = repo.upstreams.map((u) => upstreamId(u.url));
    const current = new Set(ids);
    this.#sweeper.sweep({
      state: this.#deps.proxy.state,
      repository: repo.name,
      mark: `${repo.name}\n${ids.join(',')}`,
      prefixes: ['index#', 'chart@', 'chart:'],
      belongs: (key) => {
        const index = /^index#\d+@([0-9a-f]{16})$/.exec(key);
        if (index) return current.has(index[1] ?? '');
        const chart = /^chart@([0-9a-f]{16}):/.exec(key);
        if (chart) return current.has(chart[1] ?? '');
        return !/^index#\d+$/.test(key) && !key.startsWith('chart:');
      },
      log: this.#deps.log,
      what: 'helm proxy',
    });
  }

  #settings(repo: Repository) {
    const helm = this.#deps.config().helm;
    return {
      ttl: repo.metadataTtl ?? helm.index_ttl,
      serveStale: repo.serveStale ?? helm.serve_stale,
      timeout: repo.proxyTimeout ?? helm.proxy_timeout,
      indexTimeout: Math.min(helm.index_timeout, repo.proxyTimeout ?? helm.proxy_timeout),
    };
  }

  /**
   * The target of upstream `index`: for its `index.yaml` (no `chartOrigin`), bounded by
   * [helm] index_timeout (at most the proxy timeout) for the connection, the headers and each
   * silence of the body, as Go's metadata_timeout: every `GET index.yaml` of a group waits on it,
   * so a hung upstream must give way to the cached copy or the other members within seconds.
   * Chart files keep the proxy timeout.
   */
  #target(repo: Repository, index: number, chartOrigin?: string): UpstreamTarget {
    const upstream = repo.upstreams[index];
    if (!upstream) throw new RegistryError('INTERNAL', `no upstream ${index}`);
    const settings = this.#settings(repo);
    const timeout = chartOrigin === undefined ? settings.indexTimeout : settings.timeout;
    const own = new URL(upstream.url).origin;
    const foreign = chartOrigin !== undefined && chartOrigin !== own;
    return this.#deps.proxy.upstream({
      label:
        chartOrigin === undefined
          ? `${repo.name}#${index}`
          : `${repo.name}#${index}${foreign ? '/ext' : '/charts'}`,
      registry: repo.name,
      url: chartOrigin ?? upstream.url,
      credentials: foreign ? undefined : upstream.auth,
      namedBy: upstream.url,
      auth: 'basic',
      timeoutSeconds: timeout,
      readTimeoutSeconds: timeout,
    });
  }

  /**
   * The merged, rewritten index of every upstream. Undefined when not a proxy or every upstream
   * says 404; throws the upstream error when none answered and nothing is cached.
   */
  async index(repo: Repository): Promise<IndexSnapshot | undefined> {
    const snapshot = (await this.#index(repo))?.snapshot;
    return snapshot === undefined ? undefined : this.#curated(repo, snapshot);
  }

  /**
   * The snapshot as curation lets it be listed: without the charts `[curation]
   * internal_namespaces` names (every mode: never fetched from an upstream, so not offered) and,
   * in enforce, without the versions the policy refuses (Helm then resolves a range to an allowed
   * one). A filtered snapshot has a key of its own (rendered once per key by the service; a
   * group's merge keys by its members' keys); worked out once per (snapshot, config, view).
   */
  #curated(repo: Repository, snapshot: IndexSnapshot): IndexSnapshot {
    const gate = this.#deps.curation;
    if (gate === undefined) return snapshot;
    const config = this.#deps.config();
    const view = gate.viewKey();
    const known = this.#curatedSnapshots.get(repo.name);
    let curated: IndexSnapshot;
    if (known?.base === snapshot.key && known.config === config && known.view === view) {
      curated = known.snapshot;
    } else {
      const enforce = gate.mode() === 'enforce';
      const aged = gate.timeSettings('helm').minReleaseAge > 0;
      // Asked once per chart name (entries are sorted by name): isInternal counts each "yes" as
      // an upstream request kept from being made.
      const internal = new Map<string, boolean>();
      const isInternal = (name: string) => {
        let known = internal.get(name);
        if (known === undefined) internal.set(name, (known = gate.isInternal('helm', name)));
        return known;
      };
      const entries = snapshot.entries.filter(
        (e) =>
          !isInternal(e.name) &&
          !(
            enforce &&
            gate.hides({
              registry: 'helm',
              name: e.name,
              version: e.version,
              publishedAt: aged ? createdOf(e.fragment) : undefined,
            })
          ),
      );
      curated =
        entries.length === snapshot.entries.length
          ? snapshot
          : { ...snapshot, key: `${snapshot.key}\ncuration:${view}`, entries };
      this.#curatedSnapshots.set(repo.name, {
        base: snapshot.key,
        config,
        view,
        snapshot: curated,
      });
    }
    if (curated === snapshot) return snapshot;
    // Freshness is the one asked now, not the one the filtered copy was made under.
    const answered: IndexSnapshot = {
      key: curated.key,
      validUntil: snapshot.validUntil,
      entries: curated.entries,
      modifiedAt: curated.modifiedAt,
    };
    return snapshot.stale === true ? { ...answered, stale: true } : answered;
  }

  /**
   * Curation of one chart file before the cache or an upstream is asked: internal → absent (the
   * 404); refused (enforce) → 403, counted. An archive counts as the download; its provenance
   * file is refused with it, not counted. `sha256` (the index's digest) is the integrity an
   * allowlist entry may pin.
   */
  #curate(
    name: string,
    version: string,
    prov: boolean,
    sha256: string | undefined,
    publishedAt?: number,
  ): boolean {
    const gate = this.#deps.curation;
    if (gate === undefined) return true;
    if (gate.isInternal('helm', name)) return false;
    // Quarantine is independent of mode: a held chart's `.prov` is refused with it.
    if (gate.mode() === 'off' && !quarantines(gate, 'helm')) return true;
    const subject = {
      registry: 'helm',
      name,
      version,
      publishedAt,
      ...(sha256 === undefined ? {} : { integrity: `sha256:${sha256}` }),
    } as const;
    if (!prov) gate.guard(subject);
    else if (gate.decide(subject).refuse) gate.guard(subject);
    return true;
  }

  /** `revalidate`: ask the upstreams now (conditionally) even while the cached copies are fresh. */
  async #index(
    repo: Repository,
    { revalidate = false }: { readonly revalidate?: boolean } = {},
  ): Promise<{ snapshot: IndexSnapshot; byFile: Map<string, UpstreamChart> } | undefined> {
    if (repo.kind !== 'proxy' || repo.upstreams.length === 0) return undefined;
    this.#sweepOldUpstreams(repo);
    const configured = this.#settings(repo);
    const settings = revalidate ? { ...configured, ttl: 0 } : configured;
    const resolvedParts: { index: number; entry: CachedEntry; stale: boolean }[] = [];
    let failure: unknown;
    for (let i = 0; i < repo.upstreams.length; i++) {
      try {
        const resolved = await this.#deps.proxy.resolve({
          registry: repo.name,
          key: `index#${i}@${upstreamId(repo.upstreams[i]?.url ?? '')}`,
          ttlSeconds: settings.ttl,
          serveStale: settings.serveStale,
          refresh: (cached) => this.#refresh(repo, i, cached),
        });
        if (resolved !== undefined) resolvedParts.push({ index: i, ...resolved });
      } catch (err) {
        failure = err;
      }
    }
    // The URLs are part of the key: one document at another URL resolves other chart URLs.
    const keyOf = (parts: readonly { index: number; entry: CachedEntry }[]) =>
      `proxy:${repo.name}:${parts.map((p) => `${upstreamId(repo.upstreams[p.index]?.url ?? '')}=${p.entry.digest}`).join(',')}`;
    const ttl = settings.ttl;
    /** The snapshot as answered now: its freshness is that of these copies. */
    const answer = (
      parts: readonly { entry: CachedEntry; stale: boolean }[],
      { snapshot, byFile }: { snapshot: IndexSnapshot; byFile: Map<string, UpstreamChart> },
    ) => {
      const stale = parts.some((p) => p.stale);
      const validUntil =
        failure !== undefined || stale || ttl === 0
          ? 0
          : ttl < 0
            ? Infinity
            : Math.min(...parts.map((p) => p.entry.fetchedAt + ttl * 1000));
      return { snapshot: { ...snapshot, validUntil, ...(stale ? { stale } : {}) }, byFile };
    };
    const known = this.#snapshots.get(repo.name);
    // The snapshot of these very copies is known: nothing to load. Every index.yaml GET and
    // chart download comes here; a large index must not be read and parsed again for each.
    if (resolvedParts.length > 0 && known?.snapshot.key === keyOf(resolvedParts)) {
      return answer(resolvedParts, known);
    }
    const parts: { index: number; parsed: ParsedIndex; entry: CachedEntry; stale: boolean }[] = [];
    for (const part of resolvedParts) {
      try {
        parts.push({ ...part, parsed: await this.#load(repo, part.index, part.entry) });
      } catch (err) {
        failure = err;
      }
    }
    if (parts.length === 0) {
      if (failure !== undefined) throw asUpstreamError(failure, 'index.yaml');
      return undefined;
    }
    const key = keyOf(parts);
    if (known?.snapshot.key === key) return answer(parts, known);
    const byFile = new Map<string, UpstreamChart>();
    const entries: UpstreamChart[] = [];
    const refused = await this.#refusedUrls(repo, parts);
    for (const part of parts) {
      for (const chart of part.parsed.charts) {
        if (refused.has(chart.url)) continue;
        const file = chartFilename(chart.name, chart.version);
        if (byFile.has(file)) continue;
        byFile.set(file, chart);
        entries.push(chart);
      }
    }
    if (parts.length > 1) sortEntries(entries);
    const modifiedAt = parts.reduce((max, p) => Math.max(max, p.entry.fetchedAt), 0);
    const built = answer(parts, { snapshot: { key, validUntil: 0, entries, modifiedAt }, byFile });
    const snapshot = { key, validUntil: built.snapshot.validUntil, entries, modifiedAt };
    this.#snapshots.set(repo.name, { snapshot, byFile }); // kept without `stale`: answer() adds it
    return built;
  }

  /**
   * The chart URLs of `parts` on another host than their upstream that the upstream client
   * refuses to fetch (an internal address named by an upstream at a public address:
   * UpstreamClient.refusesNamedFile), decided once per host. Listed, such a version would be
   * the one Helm picks and then cannot download (trial 18 fmts F11), so the index leaves them
   * out; each URL is logged once (one warning per index naming the ones not logged before).
   */
  async #refusedUrls(
    repo: Repository,
    parts: readonly { index: number; parsed: ParsedIndex }[],
  ): Promise<Set<string>> {
    const refused = new Set<string>();
    const hosts = new Map<string, boolean>();
    const fresh: string[] = [];
    for (const part of parts) {
      const upstream = repo.upstreams[part.index]?.url ?? '';
      const own = new URL(upstream).origin;
      for (const chart of part.parsed.charts) {
        const origin = new URL(chart.url).origin;
        if (origin === own) continue;
        const hostKey = `${part.index} ${origin}`;
        let refuses = hosts.get(hostKey);
        if (refuses === undefined) {
          refuses = await this.#deps.proxy.client.refusesNamedFile(upstream, chart.url);
          hosts.set(hostKey, refuses);
        }
        if (!refuses) continue;
        refused.add(chart.url);
        const logged = `${repo.name}\n${chart.url}`;
        if (this.#refusalsLogged.has(logged)) continue;
        if (this.#refusalsLogged.size >= MAX_REFUSALS_LOGGED) this.#refusalsLogged.clear();
        this.#refusalsLogged.add(logged);
        fresh.push(`${chart.name} ${chart.version}: ${chart.url}`);
      }
    }
    if (fresh.length > 0) {
      this.#deps.log?.warn(
        { repository: repo.name, refused: fresh.length, urls: fresh.slice(0, REFUSALS_NAMED) },
        'upstream index.yaml entries left out: their chart URL is at an internal address, which ' +
          'NORA does not fetch from for an upstream at a public address (docs/helm.md, "Proxy")',
      );
    }
    return refused;
  }

  /**
   * Whether proxy `repo` serves chart `name`: its index lists a version of it. The cached index
   * may be up to `index_ttl` old (300 s), and a name that appeared upstream since would be taken
   * over for good (trial 18 fmts F3: a hosted name stays reserved after its versions are
   * deleted), so when the cached copy does not list it the index is revalidated at once (a
   * conditional request, the TTL bypassed, bounded by `[helm] index_timeout`) and the fresh copy
   * decides. 'unknown' when no fresh index could be had (upstream unreachable or failing: only a
   * stale copy, or nothing cached); 'absent' for a repository that is not a proxy or whose
   * upstreams have no index.
   */
  async serves(repo: Repository, name: string): Promise<'served' | 'absent' | 'unknown'> {
    if (this.#deps.curation?.isInternal('helm', name) === true) return 'absent';
    const lists = (found: { snapshot: IndexSnapshot } | undefined) =>
      found?.snapshot.entries.some((e) => e.name === name) === true;
    let known: { snapshot: IndexSnapshot } | undefined;
    try {
      known = await this.#index(repo);
    } catch {
      return 'unknown';
    }
    if (lists(known)) return 'served';
    if (known === undefined) return 'absent';
    let fresh: { snapshot: IndexSnapshot } | undefined;
    try {
      fresh = await this.#index(repo, { revalidate: true });
    } catch {
      return 'unknown';
    }
    if (lists(fresh)) return 'served';
    return fresh?.snapshot.stale === true ? 'unknown' : 'absent';
  }

  async #refresh(repo: Repository, index: number, cached: CachedEntry | undefined) {
    const target = this.#target(repo, index);
    const headers = {
      accept: 'application/x-yaml, text/yaml, */*',
      ...conditionalHeaders(cached, target),
    };
    const response = await this.#deps.proxy.client.request(target, {
      method: 'GET',
      path: '/index.yaml',
      headers,
      wholeDeadline: true,
    });
    if (response.status === 304 && cached) {
      response.body.destroy();
      return { kind: 'unchanged' as const, ...validatorsOf(response), upstream: target.label };
    }
    if (answeredAbsent(response, target.label, 'index.yaml', [404])) {
      return { kind: 'absent' as const };
    }
    const body = await readAllBounded(
      response.body,
      MAX_UPSTREAM_INDEX_BYTES,
      `upstream ${target.label} index.yaml`,
    ).catch((err: unknown) => {
      throw asUpstreamError(err, 'index.yaml', target.label);
    });
    let parsed: ParsedIndex;
    // The same bytes again (an upstream without validators, index_ttl 0): the parse is known.
    const latest = this.#parsed.get(this.#parsedKey(repo, index));
    const bodyDigest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    try {
      // Copied to the parser, not transferred: the body is stored below.
      parsed =
        latest?.digest === bodyDigest
          ? latest.parsed
          : await this.#deps.parser.parse(body, repo.upstreams[index]?.url ?? '', index);
    } catch (err) {
      throw new RegistryError(
        'UPSTREAM_FAILED',
        `upstream ${target.label} sent an unusable index.yaml: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    const stored = await this.#deps.proxy.storeDocument(Readable.from([body]), {
      maxBytes: MAX_UPSTREAM_INDEX_BYTES,
    });
    const digest = formatDigest(stored.digest);
    if (latest?.parsed !== parsed) {
      this.#parsed.set(this.#parsedKey(repo, index), { digest, parsed });
      this.#reportSkipped(repo, index, parsed);
    }
    return {
      kind: 'updated' as const,
      entry: {
        digest,
        size: stored.size,
        mediaType: 'application/x-yaml',
        ...validatorsOf(response),
        upstream: target.label,
      },
    };
  }

  /** `<repo>#<upstream>@<url id>`: a parse belongs to the URL it was fetched from. */
  #parsedKey(repo: Repository, index: number): string {
    return `${repo.name}#${index}@${upstreamId(repo.upstreams[index]?.url ?? '')}`;
  }

  /** One warning per parse of an index that had entries left out (F3/F4 kinds, not absent fields). */
  #reportSkipped(repo: Repository, index: number, parsed: ParsedIndex): void {
    if (parsed.skipped === undefined) return;
    this.#deps.log?.warn(
      {
        upstream: `${repo.name}#${index}`,
        skipped: parsed.skipped.count,
        examples: parsed.skipped.examples,
      },
      'upstream index.yaml entries left out (wrong field types, malformed digest or a URL NORA cannot fetch)',
    );
  }

  async #load(repo: Repository, index: number, entry: CachedEntry): Promise<ParsedIndex> {
    const latest = this.#parsed.get(this.#parsedKey(repo, index));
    if (latest?.digest === entry.digest) return latest.parsed;
    const key = `${this.#parsedKey(repo, index)}\n${entry.digest}`;
    const known = this.#loading.get(key);
    if (known) return known;
    const loading = (async () => {
      const stream = await this.#deps.blobs.open(parseDigest(entry.digest));
      const body = await readAllBounded(stream, MAX_UPSTREAM_INDEX_BYTES, 'cached index.yaml');
      const parsed = await this.#deps.parser.parse(body, repo.upstreams[index]?.url ?? '', index, {
        transfer: true,
      });
      this.#parsed.set(this.#parsedKey(repo, index), { digest: entry.digest, parsed });
      return parsed;
    })();
    this.#loading.set(key, loading);
    try {
      return await loading;
    } finally {
      this.#loading.delete(key);
    }
  }

  async openChart(
    repo: Repository,
    name: string,
    version: string,
    prov: boolean,
  ): Promise<OpenedChartFile | undefined> {
    if (this.#deps.curation?.isInternal('helm', name) === true) return undefined;
    const found = await this.#index(repo);
    const chart = found?.byFile.get(chartFilename(name, version));
    if (!chart) return undefined;
    const entry =
      this.#deps.curation?.timeSettings('helm').minReleaseAge === 0
        ? undefined
        : found?.snapshot.entries.find((e) => e.name === name && e.version === version);
    const publishedAt = entry === undefined ? undefined : createdOf(entry.fragment);
    if (!this.#curate(name, version, prov, chart.sha256, publishedAt)) return undefined;
    if (!prov && chart.sha256 !== undefined) {
      const opened = await this.#verified(repo, chart, chart.sha256);
      // Quarantine (src/curation/quarantine.ts) by name@version: a `.prov` and a chart without
      // an index digest are refused with it through #curate's decision.
      if (opened !== undefined) {
        const subject = { registry: 'helm', name, version } as const;
        quarantineCheck(this.#deps.curation, subject, opened.size === undefined);
      }
      return opened;
    }
    return this.#unverified(repo, chart, prov);
  }

  /** Through the engine: the blob store, or the one verified stream-through fill. */
  async #verified(
    repo: Repository,
    chart: UpstreamChart,
    sha256: string,
  ): Promise<OpenedChartFile | undefined> {
    const digest: Digest = { algorithm: 'sha256', hex: sha256 };
    const opened = await this.#deps.proxy.openBlob({
      registry: repo.name,
      digest,
      fetch: async () => {
        const answered = await this.#get(repo, chart, chart.url);
        if (answered === undefined) return undefined;
        const { response, label } = answered;
        const length = response.header('content-length');
        return {
          body: response.body,
          size: length !== undefined && /^\d{1,15}$/.test(length) ? Number(length) : undefined,
          label,
        };
      },
      fill: { maxBytes: MAX_PROXIED_CHART_BYTES },
    });
    if (!opened) return undefined;
    // The stored chart is a cache entry (`chart:<file>`, as an unverified one is): without the
    // row nothing refers to its blob and `nora gc` removes it once past the grace period.
    const key = this.#chartKey(repo, chart, chartFilename(chart.name, chart.version));
    const name = formatDigest(digest);
    if ((await this.#deps.proxy.lookup(repo.name, key))?.digest !== name) {
      opened.committed
        .then((result) =>
          this.#deps.proxy.remember(repo.name, key, {
            digest: name,
            size: result?.size ?? opened.size ?? 0,
            mediaType: 'application/octet-stream',
            etag: undefined,
            upstream: `${repo.name}#${chart.upstream}`,
          }),
        )
        .then(() => this.#recordChart(repo, key, chart))
        .catch(() => undefined);
    }
    return {
      size: opened.source === 'cache' ? opened.size : undefined,
      sha256,
      // When the bytes were stored here (or their fill began): stable across answers, so a
      // date validator (If-Modified-Since, If-Range) can match it.
      modifiedAt: opened.storedAt,
      open: (range) => opened.open(range),
    };
  }

  /**
   * A `.prov` (from next to its chart's URL, on whichever host), or a chart without an upstream
   * digest (only from the upstream's origin): stored once, remembered, unverified.
   */
  async #unverified(
    repo: Repository,
    chart: UpstreamChart,
    prov: boolean,
  ): Promise<OpenedChartFile | undefined> {
    const file = chartFilename(chart.name, chart.version) + (prov ? '.prov' : '');
    const key = this.#chartKey(repo, chart, file);
    const known = await this.#deps.proxy.lookup(repo.name, key);
    const blobs = this.#deps.blobs;
    if (known) {
      const digest = parseDigest(known.digest);
      if (await blobs.stat(digest)) {
        return {
          size: known.size,
          sha256: digest.hex,
          modifiedAt: known.fetchedAt,
          open: (r) => blobs.open(digest, r),
        };
      }
    }
    // A provenance file is next to its chart, wherever the chart is (helm's own rule: the chart
    // URL + `.prov`), so a chart on another host (a release download) has its `.prov` there too:
    // fetched under the chart's rules (no credentials; a URL the client refuses for the chart is
    // refused for it, and such a chart is not listed anyway). Its signature is what vouches for
    // it, checked by `helm verify` against the user's keyring, not here. A chart without a digest
    // is taken only from the index's own origin (upstream-index.ts leaves the others out).
    const url = prov ? `${chart.url}.prov` : chart.url;
    const upstreamUrl = repo.upstreams[chart.upstream]?.url ?? '';
    if (!prov && new URL(url).origin !== new URL(upstreamUrl).origin) return undefined;
    const answered = await this.#get(repo, chart, url);
    if (answered === undefined) return undefined;
    let stored;
    try {
      stored = await blobs.ingest(answered.response.body, {
        maxBytes: prov ? 1024 * 1024 : MAX_PROXIED_CHART_BYTES,
      });
    } catch (err) {
      throw asUpstreamError(err, file, answered.label);
    }
    if (!prov) {
      // Nothing vouches for these bytes, and they are kept: an error page answered 200 would
      // be served as the chart until an operator deleted it. A chart is a gzipped tar holding a
      // Chart.yaml (what `helm` reads first); anything else is the upstream's failure.
      try {
        await readChartYaml(await blobs.open(stored.digest));
      } catch (err) {
        if (stored.created) await blobs.discardCreated(stored.digest).catch(() => false);
        const reason = err instanceof RegistryError ? err.message : 'unreadable';
        throw new RegistryError(
          'UPSTREAM_FAILED',
          `upstream ${repo.name}#${chart.upstream} sent an invalid ${file}: ${reason}`,
        );
      }
    }
    const entry = await this.#deps.proxy.remember(repo.name, key, {
      digest: formatDigest(stored.digest),
      size: stored.size,
      mediaType: 'application/octet-stream',
      etag: undefined,
      upstream: `${repo.name}#${chart.upstream}`,
    });
    await this.#recordChart(repo, key, chart);
    return {
      size: stored.size,
      sha256: stored.digest.hex,
      modifiedAt: entry.fetchedAt,
      open: (r) => blobs.open(stored.digest, r),
    };
  }

  /**
   * Records which chart the cache row `key` holds (migrations.ts `helm_proxy_charts`): the name
   * and version of the upstream index entry it was fetched for, so the web UI lists cached
   * charts by them instead of splitting the file name (`nginx-1-ingress-1.2.3-rc.1.tgz`).
   */
  async #recordChart(repo: Repository, key: string, chart: UpstreamChart): Promise<void> {
    const row = { repository: repo.name, key, name: chart.name, version: chart.version };
    await this.#deps.db
      .$extendTables<HelmTables>()
      .insertInto('helm_proxy_charts')
      .values(row)
      .onConflict((oc) =>
        oc.columns(['repository', 'key']).doUpdateSet({ name: row.name, version: row.version }),
      )
      .execute();
  }

  /**
   * Runs the backfill (`backfillCharts`) of each of `repos` that migration 0945 marked pending
   * (`helm_proxy_backfill`): the proxies that had chart files cached before migration 0926. A
   * start after the backfill is done reads that one (empty) table and nothing else. Returns how
   * many rows it recorded.
   */
  async backfillPending(repos: readonly Repository[]): Promise<number> {
    const db = this.#deps.db.$extendTables<HelmTables>();
    const pending = await db.selectFrom('helm_proxy_backfill').selectAll().execute();
    let recorded = 0;
    for (const row of pending) {
      const repo = repos.find((r) => r.name === row.repository);
      // A repository no longer configured (or no longer a Helm proxy) keeps its mark.
      if (repo === undefined || repo.kind !== 'proxy' || repo.upstreams.length === 0) continue;
      recorded += await this.backfillCharts(repo, row.after_key);
    }
    return recorded;
  }

  /**
   * Records the chart of every cached chart file of `repo` that has no `helm_proxy_charts` row
   * (cached before migration 0926, which added the table: the web UI did not list them until
   * they were fetched again), from the index copies the proxy has cached (never asking an
   * upstream): the entry whose file and upstream make the row's key. Bounded: the first
   * BACKFILL_MAX rows after `afterKey` in key order, each cached index parsed once; then the
   * repository's `helm_proxy_backfill` mark is deleted (done) or, when the bound was reached,
   * moved to the last key covered (the next start resumes there). Returns how many rows it
   * recorded; a file no cached index names stays unlisted until it is fetched again.
   */
  async backfillCharts(repo: Repository, afterKey = ''): Promise<number> {
    if (repo.kind !== 'proxy' || repo.upstreams.length === 0) return 0;
    const db = this.#deps.db.$extendTables<HelmTables>();
    const missing = await sql<{ key: string }>`SELECT p.key AS key FROM proxy_entries AS p
      WHERE p.repository = ${repo.name} AND substr(p.key, 1, 6) = 'chart@' AND p.key > ${afterKey}
        AND NOT EXISTS (SELECT 1 FROM helm_proxy_charts AS c
          WHERE c.repository = p.repository AND c.key = p.key)
      ORDER BY p.key
      LIMIT ${BACKFILL_MAX}`.execute(db);
    const wanted = new Set(missing.rows.map((r) => r.key));
    let recorded = 0;
    for (let i = 0; i < repo.upstreams.length && wanted.size > 0; i++) {
      const url = repo.upstreams[i]?.url ?? '';
      const entry = await this.#deps.proxy.lookup(repo.name, `index#${i}@${upstreamId(url)}`);
      if (entry === undefined) continue;
      const parsed = await this.#load(repo, i, entry).catch(() => undefined);
      for (const chart of parsed?.charts ?? []) {
        const file = chartFilename(chart.name, chart.version);
        for (const key of [
          this.#chartKey(repo, chart, file),
          this.#chartKey(repo, chart, `${file}.prov`),
        ]) {
          if (!wanted.delete(key)) continue;
          await this.#recordChart(repo, key, chart);
          recorded++;
        }
      }
    }
    const last = missing.rows.at(-1)?.key;
    if (missing.rows.length < BACKFILL_MAX || last === undefined) {
      await db.deleteFrom('helm_proxy_backfill').where('repository', '=', repo.name).execute();
    } else {
      await db
        .updateTable('helm_proxy_backfill')
        .set({ after_key: last })
        .where('repository', '=', repo.name)
        .execute();
    }
    return recorded;
  }

  /** The cache key of a chart file taken from `chart`'s upstream: `chart@<url id>:<file>`. */
  #chartKey(repo: Repository, chart: UpstreamChart, file: string): string {
    return `chart@${upstreamId(repo.upstreams[chart.upstream]?.url ?? '')}:${file}`;
  }

  /**
   * GET of an absolute upstream URL: the response and the label of the upstream that answered
   * (for messages); undefined on 404, UPSTREAM_FAILED on other answers.
   */
  async #get(repo: Repository, chart: UpstreamChart, url: string) {
    const parsed = new URL(url);
    const target = this.#target(repo, chart.upstream, parsed.origin);
    const response = await this.#deps.proxy.client.request(target, {
      method: 'GET',
      path: `${parsed.pathname}${parsed.search}`,
    });
    const what = `${chart.name}-${chart.version}`;
    return answeredAbsent(response, target.label, what, [404])
      ? undefined
      : { response, label: target.label };
  }
}

/** An error while fetching from upstreams, as an upstream failure (502 class). */
function asUpstreamError(err: unknown, what: string, label?: string): RegistryError {
  if (err instanceof RegistryError && isUpstreamFailure(err)) return err;
  if (err instanceof RegistryError) {
    const who = label === undefined ? 'upstream' : `upstream ${label}`;
    return new RegistryError('UPSTREAM_FAILED', `${who} failed for ${what}: ${err.message}`, {
      cause: err,
    });
  }
  if (label !== undefined) return toUpstreamError(err, label);
  return new RegistryError('UPSTREAM_FAILED', `the upstreams failed for ${what}`, { cause: err });
}

/**
 * An index entry's `created` (Helm's ChartVersion, RFC 3339), ms: the min release age's publish
 * time of a proxied chart. Undefined when absent or unreadable (first-seen applies).
 */
export function createdOf(fragment: string): number | undefined {
  const match = /"created":"([^"]+)"/.exec(fragment);
  const at = match?.[1] === undefined ? Number.NaN : Date.parse(match[1]);
  return Number.isNaN(at) ? undefined : at;
}
