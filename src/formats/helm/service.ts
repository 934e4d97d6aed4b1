/**
 * The Helm chart repository service: index.yaml, chart downloads, uploads (ChartMuseum's API
 * and plain PUT), deletes and ChartMuseum's JSON listings over hosted, proxy and group
 * repositories. No HTTP types here: routes.ts translates.
 *
 * Every operation authorizes first. Reads of a chart are authorized on its name (`[[auth.rules]]
 * paths` are globs on chart names); index.yaml and listings on the repository. An upload is
 * authorized before its body is read (on the chart's name when a PUT's URL names it, else on the
 * repository) and again on the chart's name (read from its Chart.yaml or provenance file) before
 * anything is recorded; replacing an existing version (`?force`) also needs `delete`. Writes land in the repository's write target (a group's write member; a proxy
 * refuses with 405).
 */
import type { Readable } from 'node:stream';
import { noteOverwrite } from '../../audit/requests.ts';
import type { AccessControl, Action, Principal } from '../../auth/access.ts';
import type { AppConfig } from '../../config/schema.ts';
import { compileGlob } from '../../auth/patterns.ts';
import { RegistryError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { checkTakeover } from '../../repos/group-read.ts';
import { heldElsewhere, type HeldElsewhere } from '../../repos/group-write.ts';
import type { Repository, RepositoryRegistry } from '../../repos/repository.ts';
import {
  chartFilename,
  chartFilenameReadings,
  compareVersionsDesc,
  CHART_NAME_RULE,
  isChartName,
  parseChartFilename,
  versionTwin,
} from './chart.ts';
import type { HelmHosted, StagedChart, StagedProv } from './hosted.ts';
import { renderIndex, type RenderedIndex } from './index-render.ts';
import type { HelmSource, IndexSnapshot, OpenedChartFile } from './model.ts';
import { forceHint, sameVersionAs, type StoredChart } from './store.ts';

const MB = 1024 * 1024;
/** Filtered index.yaml renderings kept (each keyed by snapshot and hidden names). */
const MAX_FILTERED_RENDERS = 16;

export interface HelmServiceDeps {
  readonly hosted: HelmHosted;
  readonly repositories: RepositoryRegistry;
  readonly access: AccessControl;
  readonly config: () => AppConfig;
  /** The source of a proxy or group repository. */
  readonly sourceOf: (repo: Repository) => HelmSource;
  /** Called for each full index.yaml rendering (tests count them: a warm GET makes none). */
  readonly onRender?: ((repository: string, key: string) => void) | undefined;
  /** Whether a proxy repository serves a chart name (HelmProxy.serves); none: never. */
  readonly proxyServes?: (
    proxy: Repository,
    name: string,
  ) => Promise<'served' | 'absent' | 'unknown'>;
  readonly log?: Logger | undefined;
}

/** What an upload carries, staged (in the blob store, read and checked, not recorded). */
export interface StagedUpload {
  chart?: StagedChart;
  prov?: StagedProv;
}

/** A ChartMuseum-style upload answer. */
export interface UploadAnswer {
  readonly status: 200 | 201;
  readonly name: string;
  readonly version: string;
  /** What the upload took over from a group's proxy (`[helm] shadow_names`); absent: nothing. */
  readonly warnings?: readonly string[];
}

export class HelmService {
  readonly #deps: HelmServiceDeps;
  /** Rendered index.yaml per repository, replaced when its snapshot key changes. */
  readonly #rendered = new Map<string, RenderedIndex>();
  /** Renders in progress, by snapshot key: concurrent readers of a new key render once. */
  readonly #rendering = new Map<string, Promise<RenderedIndex>>();
  /** Filtered index.yaml renderings (principals path rules hide charts from), oldest first. */
  readonly #filteredRenders = new Map<string, RenderedIndex>();

  constructor(deps: HelmServiceDeps) {
    this.#deps = deps;
  }

  authorize(
    principal: Principal,
    repo: Repository,
    action: Action,
    name: string | undefined,
  ): void {
    this.#deps.access.authorize(principal, repo, action, name);
  }

  sourceOf(repo: Repository): HelmSource {
    return repo.kind === 'hosted' ? this.#deps.hosted : this.#deps.sourceOf(repo);
  }

  async #snapshot(repo: Repository): Promise<IndexSnapshot> {
    const snapshot = await this.sourceOf(repo).index(repo);
    if (snapshot) return snapshot;
    if (repo.kind === 'proxy')
      throw new RegistryError('NOT_FOUND', 'the upstream has no index.yaml');
    return { key: `empty:${repo.name}`, validUntil: Infinity, entries: [], modifiedAt: 0 };
  }

  /**
   * `GET <base>/index.yaml`: rendered once per snapshot key (a hosted write, a proxy refresh),
   * so a warm read is a map lookup; never a storage scan. Lists only the charts `principal` may
   * read: a principal no path rule restricts (access.readsEveryPath) gets the shared rendering,
   * another one the charts it may read (`#filtered`).
   */
  async index(repo: Repository, principal: Principal): Promise<RenderedIndex> {
    this.authorize(principal, repo, 'read', undefined);
    const snapshot = await this.#snapshot(repo);
    const full = await this.#renderedFull(repo, snapshot);
    const rendered = this.#deps.access.readsEveryPath(principal, repo)
      ? full
      : await this.#filtered(repo, snapshot, full, principal);
    return snapshot.stale === true ? { ...rendered, stale: true } : rendered;
  }

  /**
   * index.yaml for a principal some path rule may hide charts from (`[[auth.rules]] paths`):
   * only the charts it may read, like ChartMuseum's listings and Docker's `_catalog`. Checked
   * once per chart name; when nothing is hidden, the shared rendering (same ETag). Otherwise a
   * rendering of its own (own body, own ETag), kept for a few (snapshot, hidden names) pairs so
   * repeated reads by the same kind of principal render once.
   */
  async #filtered(
    repo: Repository,
    snapshot: IndexSnapshot,
    full: RenderedIndex,
    principal: Principal,
  ): Promise<RenderedIndex> {
    const hidden: string[] = [];
    let last: string | undefined;
    for (const entry of snapshot.entries) {
      if (entry.name === last) continue;
      last = entry.name;
      if (!this.#deps.access.can(principal, repo, 'read', entry.name)) hidden.push(entry.name);
    }
    if (hidden.length === 0) return full;
    const key = `${snapshot.key}\nwithout:${hidden.join('/')}`;
    const cacheKey = `${repo.name}\n${key}`;
    const known = this.#filteredRenders.get(cacheKey);
    if (known)
      return known.validUntil === snapshot.validUntil
        ? known
        : { ...known, validUntil: snapshot.validUntil };
    const hiddenSet = new Set(hidden);
    const rendered = await renderIndex({
      key,
      validUntil: snapshot.validUntil,
      modifiedAt: snapshot.modifiedAt,
      entries: snapshot.entries.filter((e) => !hiddenSet.has(e.name)),
    });
    if (this.#filteredRenders.size >= MAX_FILTERED_RENDERS) {
      const oldest = this.#filteredRenders.keys().next().value;
      if (oldest !== undefined) this.#filteredRenders.delete(oldest);
    }
    this.#filteredRenders.set(cacheKey, rendered);
    return rendered;
  }

  /** The whole repository's index.yaml, rendered once per snapshot key. */
  async #renderedFull(repo: Repository, snapshot: IndexSnapshot): Promise<RenderedIndex> {
    // The key names the content (a hosted write, the digests of a proxy's upstream copies, a
    // group's member keys): the rendering of a key is reused whatever its freshness, which only
    // decides the answer's caching headers. (Keeping it only while `validUntil` was ahead made an
    // index with index_ttl 0, a stale one and every group answer with a failing member render
    // again on each GET: half a second for a 5 MB index, on the event loop.) One per repository.
    const known = this.#rendered.get(repo.name);
    if (known && known.key === snapshot.key) {
      return known.validUntil === snapshot.validUntil
        ? known
        : { ...known, validUntil: snapshot.validUntil };
    }
    const flightKey = `${repo.name}\n${snapshot.key}`;
    let flight = this.#rendering.get(flightKey);
    if (!flight) {
      flight = Promise.resolve().then(() => {
        this.#deps.onRender?.(repo.name, snapshot.key);
        return renderIndex(snapshot);
      });
      this.#rendering.set(flightKey, flight);
      void flight.finally(() => this.#rendering.delete(flightKey)).catch(() => undefined);
    }
    const rendered = await flight;
    this.#rendered.set(repo.name, rendered);
    return rendered;
  }

  /** `GET <base>/[charts/]<name>-<version>.tgz[.prov]`; NOT_FOUND when absent or not a chart file. */
  async readChart(
    repo: Repository,
    filename: string,
    principal: Principal,
  ): Promise<OpenedChartFile> {
    const readings = chartFilenameReadings(filename);
    let parsed = readings[0];
    if (!parsed) {
      this.authorize(principal, repo, 'read', undefined);
      throw new RegistryError(
        'NOT_FOUND',
        `${filename} is not a chart file (<name>-<version>.tgz[.prov])`,
      );
    }
    // A file name with several readings (`app-1.2.3-x-0.1.0.tgz`: an upstream's chart
    // `app-1.2.3-x` 0.1.0, or `app` 1.2.3-x-0.1.0) is the chart the index lists under it (an index
    // lists one chart per file name): authorized and looked up by that chart's name, so rules and
    // the hosted-name guard see the right name and a listed chart is fetchable. Rare: only then is
    // the index read here.
    if (readings.length > 1) parsed = (await this.#listedReading(repo, readings)) ?? parsed;
    this.authorize(principal, repo, 'read', parsed.name);
    const file = await this.sourceOf(repo).openChart(
      repo,
      parsed.name,
      parsed.version,
      parsed.prov,
    );
    if (!file) throw new RegistryError('NOT_FOUND', `${filename} not found in ${repo.name}`);
    return file;
  }

  /** The first of `readings` the repository's index lists; undefined when none or no index. */
  async #listedReading<T extends { name: string; version: string }>(
    repo: Repository,
    readings: readonly T[],
  ): Promise<T | undefined> {
    let snapshot: IndexSnapshot | undefined;
    try {
      snapshot = await this.sourceOf(repo).index(repo);
    } catch {
      return undefined; // the fetch itself answers with the upstream's failure
    }
    if (!snapshot) return undefined;
    const listed = new Set<string>();
    const wanted = new Set(readings.map((r) => `${r.name}\n${r.version}`));
    for (const entry of snapshot.entries) {
      const id = `${entry.name}\n${entry.version}`;
      if (wanted.has(id)) listed.add(id);
    }
    return readings.find((r) => listed.has(`${r.name}\n${r.version}`));
  }

  /**
   * The hosted repository a write through `repo` lands in, authorized (repository level); else
   * 405 whose `Allow` is `allow`, what the URL serves on a read-only repository (`['GET']`;
   * `[]` for `api/prov`, which only uploads).
   */
  writeTarget(
    repo: Repository,
    principal: Principal,
    action: Action,
    name?: string,
    allow: readonly string[] = ['GET'],
  ): Repository {
    this.authorize(principal, repo, action, name);
    const target = this.#deps.repositories.requireWriteTarget(repo, { allow });
    if (target.name !== repo.name)
      this.#deps.access.authorize(principal, target, action, name, { via: repo });
    return target;
  }

  /**
   * `Cache-Control` of chart archives and provenance files: cacheable by shared caches
   * (`public`; http/cache-control.ts makes it `private` for a request with credentials), but
   * `immutable` for a year only while `[helm] allow_overwrite` is off: with it on (the default)
   * `?force` may replace a version's bytes, so a cache revalidates each use (`no-cache`, a 304 by
   * the ETag while unchanged).
   */
  chartCacheControl(): string {
    return this.#deps.config().helm.allow_overwrite
      ? 'public, no-cache'
      : 'public, max-age=31536000, immutable';
  }

  /** Largest upload, bytes; TOO_LARGE when a declared length already exceeds it. */
  uploadLimit(declaredLength?: number): number {
    const helm = this.#deps.config().helm;
    const max = helm.max_upload_mb * MB;
    if (declaredLength !== undefined && declaredLength > max) {
      throw new RegistryError(
        'TOO_LARGE',
        `${declaredLength} bytes exceed the upload limit of ${helm.max_upload_mb} MB (max_upload_mb)`,
      );
    }
    return max;
  }

  /** Streams a chart archive into the store and reads its Chart.yaml (BAD_REQUEST, TOO_LARGE). */
  stageChart(body: Readable, maxBytes: number): Promise<StagedChart> {
    return this.#deps.hosted.stageChart(body, maxBytes);
  }

  stageProv(body: Readable): Promise<StagedProv> {
    return this.#deps.hosted.stageProv(body);
  }

  discard(staged: StagedUpload): Promise<void> {
    return this.#deps.hosted.discard(staged.chart, staged.prov);
  }

  /**
   * Records a staged upload in `target` (from `writeTarget`). `expect` is what the URL named
   * (PUT `<name>-<version>.tgz`): a chart that disagrees is refused (400). A provenance file must
   * name the chart it comes with (400). An existing version (or provenance file) is a 409 unless
   * `force` (and [helm] allow_overwrite; replacing needs `delete`). On any refusal the staged
   * blobs that were new are removed: nothing half-written.
   */
  async commit(
    repo: Repository,
    target: Repository,
    principal: Principal,
    staged: StagedUpload,
    options: { force: boolean; expect?: { name: string; version: string } | undefined },
  ): Promise<UploadAnswer> {
    // Staged blobs put back as the missing bytes of an existing version (repair): kept.
    const restored = new Set<string>();
    try {
      return await this.#commit(repo, target, principal, staged, options, restored);
    } catch (err) {
      await this.#deps.hosted.discard(
        ...[staged.chart, staged.prov].filter((s) => s === undefined || !restored.has(s.digest)),
      );
      throw err;
    }
  }

  async #commit(
    repo: Repository,
    target: Repository,
    principal: Principal,
    staged: StagedUpload,
    options: { force: boolean; expect?: { name: string; version: string } | undefined },
    restored: Set<string>,
  ): Promise<UploadAnswer> {
    const { chart, prov } = staged;
    const subject = chart?.metadata ?? prov;
    if (!subject)
      throw new RegistryError('BAD_REQUEST', 'no chart or provenance file in the request');
    const { name, version } = subject;
    // Clients fetch a chart by `<name>-<version>.tgz` (index.yaml's urls), which is split at the
    // first `-` followed by a version: a name such as `app-1.2.3-x` (0.1.0) would be indexed as
    // `app` 1.2.3-x-0.1.0's file, listed but never downloadable.
    const split = parseChartFilename(chartFilename(name, version));
    if (split?.name !== name || split.version !== version) {
      throw new RegistryError(
        'BAD_REQUEST',
        `chart ${name} ${version}: its file name ${chartFilename(name, version)} reads as another chart (${split?.name ?? '?'} ${split?.version ?? '?'}); rename the chart`,
      );
    }
    const expect = options.expect;
    if (expect && (expect.name !== name || expect.version !== version)) {
      throw new RegistryError(
        'BAD_REQUEST',
        `the URL names ${chartFilename(expect.name, expect.version)} but the ${chart ? 'chart' : 'provenance file'} is ${name} ${version}`,
      );
    }
    if (chart && prov && (prov.name !== name || prov.version !== version)) {
      throw new RegistryError(
        'BAD_REQUEST',
        `the provenance file is for ${prov.name} ${prov.version}, not ${name} ${version}`,
      );
    }
    if (prov) await this.#checkProvDigest(target, prov, chart);
    this.authorize(principal, repo, 'write', name);
    if (target.name !== repo.name)
      this.#deps.access.authorize(principal, target, 'write', name, { via: repo });
    const force = options.force;
    if (force && !this.#deps.config().helm.allow_overwrite) {
      throw new RegistryError(
        'CONFLICT',
        '?force is disabled on this server (allow_overwrite = false)',
      );
    }
    // A chart: its version in either spelling (`1.2.3` and `v1.2.3` are one SemVer version,
    // stored once); a provenance file alone attaches to the exact version.
    const existing = chart
      ? await this.#deps.hosted.sameVersion(target, name, version)
      : await this.#deps.hosted.chart(target, name, version);
    if (existing && chart) {
      if (!force) {
        // Say what this server allows: "immutable" beside "?force replaces it" read as a
        // contradiction when overwrites are on (the default).
        const how = this.#deps.config().helm.allow_overwrite
          ? forceHint(name, chartFilename(name, version), 'charts')
          : 'versions are immutable on this server ([helm] allow_overwrite = false)';
        throw repairedConflict(
          `${sameVersionAs(name, version, existing.version)} already exists: ${how}`,
          existing,
          staged,
          restored,
        );
      }
      this.authorize(principal, target, 'delete', name);
    }
    const warnings = chart && !existing ? await this.#takeover(target, name) : [];
    if (chart) {
      // With allow_overwrite off a deleted version comes back only with its bytes (409 else).
      const immutable = !this.#deps.config().helm.allow_overwrite;
      const created = await this.#deps.hosted.commit(target, chart, prov, force, immutable);
      // Replaced with ?force by other bytes: the audit log's `overwrite`, naming what it
      // replaced; the same bytes again are a `push`.
      if (!created && existing?.digest !== chart.digest) noteOverwrite(existing?.digest);
      return {
        status: created ? 201 : 200,
        name,
        version,
        ...(warnings.length > 0 ? { warnings } : {}),
      };
    }
    if (prov && existing !== undefined && existing.prov_digest !== null && !force) {
      throw repairedConflict(
        `${chartFilename(name, version)}.prov already exists: ${forceHint(name, `${chartFilename(name, version)}.prov`, 'prov')}`,
        existing,
        staged,
        restored,
      );
    }
    const replacesProv = prov && existing !== undefined && existing.prov_digest !== null && force;
    if (replacesProv) this.authorize(principal, target, 'delete', name);
    await this.#deps.hosted.commitProv(target, prov as StagedProv, force);
    if (replacesProv) noteOverwrite();
    return { status: 201, name, version };
  }

  /**
   * The takeover check of an upload of chart `name` into the hosted repository `target` (Maven's
   * and Cargo's, group-read.ts checkTakeover). The first upload of a name new to `target` (never
   * published there: the guard remembers deleted names), in a group guarding hosted names
   * (`protect_hosted_names`) whose proxy member serves that chart (HelmProxy.serves: its index
   * lists it; an index not listing it is revalidated at once, within `[helm] index_timeout`), would take the name
   * over: the group would list and serve only the hosted versions from then on, hiding every
   * upstream version (`nginx` from the public repository) from every user of the group. Refused
   * (409, nothing recorded; the staged archive is discarded) unless `[helm] shadow_names` lists
   * it; then it goes ahead and the answer's `warnings` and the log say what it took over. A proxy
   * that cannot be asked (unreachable, nothing cached) does not block the upload: it warns.
   */
  async #takeover(target: Repository, name: string): Promise<string[]> {
    const serves = this.#deps.proxyServes;
    if (serves === undefined || (await this.#deps.hosted.hasName(target, name))) return [];
    const repositories = this.#deps.repositories;
    const lines = await checkTakeover({
      groups: repositories.byFormat('helm'),
      membersOf: (group, path) => repositories.membersOf(group, path),
      target,
      path: name,
      label: (chart) => `chart ${chart}`,
      serves: (proxy) => serves(proxy, name),
      mayShadow: this.#deps.config().helm.shadow_names.some((glob) => compileGlob(glob).test(name)),
      refusal: (found, groups) =>
        `refusing to upload chart ${name}, new in ${target.name}: group ${groups} would stop serving its upstream versions ([helm] shadow_names allows it). ` +
        `${found.join('; and ')}. Installs through that group that use a proxied version would then fail, and for good: the name stays reserved to ${target.name} even after its hosted versions are deleted (a name once published never goes back to an upstream, so deleting an internal chart cannot hand it out). ` +
        `To take the name over on purpose, an operator adds it to [helm] shadow_names in NORA's configuration (NORA_HELM_SHADOW_NAMES; e.g. shadow_names = ["${name}"] or a glob such as "corp-*"); to keep the proxied chart, upload under another name (docs/helm.md, "Group").`,
      notAsked: (proxies) =>
        `could not ask ${proxies} whether its upstream has chart ${name} (unreachable, nothing cached): if it does, groups guarding hosted names now serve only ${target.name}'s versions of it (protect_hosted_names)`,
    });
    for (const line of lines) this.#deps.log?.warn({ chart: name }, `helm upload: ${line}`);
    return lines;
  }

  /**
   * A provenance file must sign the archive it is stored with: the chart uploaded with it, else
   * the version already in `target` (`helm verify` would fail on any other; 400 here, before
   * anything is recorded). A provenance file uploaded before its chart is not checked.
   */
  async #checkProvDigest(
    target: Repository,
    prov: StagedProv,
    chart: StagedChart | undefined,
  ): Promise<void> {
    const digest =
      chart?.digest ?? (await this.#deps.hosted.chart(target, prov.name, prov.version))?.digest;
    if (digest === undefined) return;
    const file = chartFilename(prov.name, prov.version);
    if (prov.chartDigest === undefined) {
      throw new RegistryError('BAD_REQUEST', `the provenance file signs no digest for ${file}`);
    }
    if (prov.chartDigest !== digest) {
      throw new RegistryError(
        'BAD_REQUEST',
        `the provenance file signs ${prov.chartDigest} for ${file}, but the chart is ${digest}`,
      );
    }
  }

  /**
   * `DELETE <base>/api/charts/<name>/<version>` in the write target, the version in either
   * spelling (`1.2.3` deletes a stored `v1.2.3` and back: HelmHosted.remove).
   */
  async remove(
    repo: Repository,
    name: string,
    version: string,
    principal: Principal,
  ): Promise<void> {
    if (!isChartName(name))
      throw new RegistryError(
        'BAD_REQUEST',
        `invalid chart name ${JSON.stringify(name)}: ${CHART_NAME_RULE}`,
      );
    const target = this.writeTarget(repo, principal, 'delete', name);
    try {
      await this.#deps.hosted.remove(target, name, version);
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'NOT_FOUND' && repo.name !== target.name) {
        await this.#heldElsewhere(repo, target, name, version);
      }
      throw err;
    }
  }

  /**
   * A DELETE through a group found the version missing from its write member: when the group
   * lists it (its index.yaml, which a GET through the group serves from) from another member,
   * 405 saying whose it is, instead of a 404 its index.yaml contradicts (trial 19 fmts F6), as
   * Maven's group does (maven/service.ts #heldElsewhere). A proxy member's charts come from its
   * upstream, which no DELETE removes. A member that cannot be read now is passed over (the 404
   * stands).
   */
  async #heldElsewhere(
    group: Repository,
    writeTo: Repository,
    name: string,
    version: string,
  ): Promise<void> {
    const found = await this.#listedElsewhere(group, writeTo, name, version);
    if (found === undefined) return;
    const chart = `chart ${name}-${version}`;
    const { member } = found;
    throw new RegistryError(
      'METHOD_NOT_ALLOWED',
      member.kind === 'proxy'
        ? `${chart} is served from an upstream by proxy member ${member.name} of group ${group.name}, not stored in its write member ${writeTo.name}: upstream charts cannot be deleted through the group (NORA has no way to evict them)`
        : `${chart} is stored in member ${member.name} of group ${group.name}, not in its write member ${writeTo.name}: delete it at /repository/${member.name}/api/charts/${name}/${version}`,
      { headers: { allow: 'GET, HEAD' } },
    );
  }

  /**
   * The member of `group`, not `writeTo`, whose index lists `name` `version` while the group's
   * own index.yaml lists it (`heldElsewhere`); undefined otherwise. A member that cannot be read
   * now is passed over.
   */
  async #listedElsewhere(
    group: Repository,
    writeTo: Repository,
    name: string,
    version: string,
  ): Promise<HeldElsewhere<boolean> | undefined> {
    const listed = (snapshot: IndexSnapshot | undefined) =>
      snapshot?.entries.some((e) => e.name === name && sameSemVer(e.version, version)) === true;
    const indexOf = async (repo: Repository) => {
      try {
        return await this.sourceOf(repo).index(repo);
      } catch {
        return undefined;
      }
    };
    // Only what the group itself lists: a version its guard withholds is not served (404).
    if (!listed(await indexOf(group))) return undefined;
    return heldElsewhere({
      group,
      writeTo,
      members: this.#deps.repositories.membersOf(group, name),
      holds: async (member) => listed(await indexOf(member)),
    });
  }

  /**
   * Whether `DELETE <base>/api/charts/<name>/<version>` through the group `repo` answers 405
   * (`#heldElsewhere`): its write member does not hold the version and another member the group
   * lists it from does. A 405 of another method at that URL must then not list DELETE in its
   * `Allow` (RFC 9110 §15.5.6). False for anything but a group with a write member, and for a
   * `principal` that may not read `name` (its DELETE answers 401/403 first, and the `Allow` must
   * not tell it what a member holds). Reads the members' indexes: for 405s only, which are rare.
   */
  async deleteRefused(
    repo: Repository,
    name: string,
    version: string,
    principal: Principal,
  ): Promise<boolean> {
    if (repo.kind !== 'group' || !isChartName(name)) return false;
    if (!this.#deps.access.can(principal, repo, 'read', name)) return false;
    const target = this.#deps.repositories.writeTarget(repo);
    if (target === undefined || target.name === repo.name) return false;
    const own = await this.sourceOf(target)
      .index(target)
      .catch(() => undefined);
    if (own?.entries.some((e) => e.name === name && sameSemVer(e.version, version)) === true)
      return false;
    return (await this.#listedElsewhere(repo, target, name, version)) !== undefined;
  }

  /** ChartMuseum `GET /api/charts`: `{<name>: [ChartVersion…]}`, versions newest first. */
  async listAll(repo: Repository, principal: Principal): Promise<Record<string, unknown[]>> {
    this.authorize(principal, repo, 'read', undefined);
    const snapshot = await this.#snapshot(repo);
    const out: Record<string, unknown[]> = {};
    for (const entry of snapshot.entries) {
      if (!this.#deps.access.can(principal, repo, 'read', entry.name)) continue;
      (out[entry.name] ??= []).push(JSON.parse(entry.fragment) as unknown);
    }
    return out;
  }

  /** ChartMuseum `GET /api/charts/<name>`: its versions newest first; NOT_FOUND when none. */
  async listVersions(repo: Repository, name: string, principal: Principal): Promise<unknown[]> {
    return (await this.#versions(repo, name, principal)).versions;
  }

  /**
   * The versions of `name` (checked and authorized first), and the note a 404 for it ends in: why a group
   * left some members' entries of it out (IndexSnapshot.withheld), '' for none.
   */
  async #versions(
    repo: Repository,
    name: string,
    principal: Principal,
  ): Promise<{ versions: unknown[]; note: string }> {
    if (!isChartName(name))
      throw new RegistryError(
        'BAD_REQUEST',
        `invalid chart name ${JSON.stringify(name)}: ${CHART_NAME_RULE}`,
      );
    this.authorize(principal, repo, 'read', name);
    const snapshot = await this.#snapshot(repo);
    const found = snapshot.entries.filter((e) => e.name === name);
    const note = snapshot.withheld?.get(name) ?? '';
    if (found.length === 0) throw new RegistryError('NOT_FOUND', `chart not found${note}`);
    return { versions: found.map((e) => JSON.parse(e.fragment) as unknown), note };
  }

  /**
   * ChartMuseum `GET /api/charts/<name>/<version|latest>`, the version in either spelling
   * (`1.2.3` finds a stored `v1.2.3` and back, the exact one first: one SemVer version, stored
   * once); NOT_FOUND when absent.
   */
  async oneVersion(
    repo: Repository,
    name: string,
    version: string,
    principal: Principal,
  ): Promise<unknown> {
    const found = await this.#versions(repo, name, principal);
    const versions = found.versions as { version: string }[];
    if (version === 'latest') {
      const newest = [...versions].sort((a, b) => compareVersionsDesc(a.version, b.version))[0];
      if (newest) return newest;
    }
    const one =
      versions.find((v) => v.version === version) ??
      versions.find((v) => v.version === versionTwin(version));
    if (!one) {
      throw new RegistryError('NOT_FOUND', `no version ${version} of chart ${name}${found.note}`);
    }
    return one;
  }
}

/** `a` and `b` are one SemVer version: equal, or one is the other with a leading `v`. */
function sameSemVer(a: string, b: string): boolean {
  return a === b || a === versionTwin(b);
}

/**
 * The 409 for an upload of a version that exists. When the upload holds the version's very
 * archive or provenance file and that file's bytes were missing from storage (removed after
 * failing the integrity check, docs/storage.md), staging has just stored them again: they are
 * kept (added to `restored`) and the answer says so, as Go's hosted repositories do.
 */
function repairedConflict(
  message: string,
  existing: StoredChart,
  staged: StagedUpload,
  restored: Set<string>,
): RegistryError {
  const files: string[] = [];
  if (staged.chart?.created === true && staged.chart.digest === existing.digest) {
    restored.add(staged.chart.digest);
    files.push('.tgz');
  }
  if (staged.prov?.created === true && staged.prov.digest === existing.prov_digest) {
    restored.add(staged.prov.digest);
    files.push('.tgz.prov');
  }
  if (files.length === 0) return new RegistryError('CONFLICT', message);
  return new RegistryError(
    'CONFLICT',
    `${message}; its ${files.join(' and ')} missing from storage ${files.length === 1 ? 'was' : 'were'} stored again from this identical upload`,
  );
}
