/**
 * The Maven repository service: reads (files, checksums, generated metadata), deploys and
 * deletes over hosted, proxy and group repositories. No HTTP types here: routes.ts translates.
 *
 * Every operation authorizes first (`access.authorize(principal, repo, action, path)` with the
 * repository-relative layout path of the thing touched — the target file's path for a checksum —
 * so `[[auth.rules]] paths = ["com/example/**"]` covers a groupId's subtree), before any body is
 * read. Writes land in the repository's write target (a group's write member; a proxy refuses
 * with 405) and are authorized on the addressed repository and on the target.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { noteOverwrite } from '../../audit/requests.ts';
import type { AccessControl, Action, Principal } from '../../auth/access.ts';
import type { AppConfig } from '../../config/schema.ts';
import { compileGlob } from '../../auth/patterns.ts';
import { RegistryError } from '../../core/errors.ts';
import { ownedBuffer } from '../../core/byte-lru.ts';
import type { Logger } from '../../core/logger.ts';
import { readAllBounded } from '../../core/streams.ts';
import { checkTakeover } from '../../repos/group-read.ts';
import { heldElsewhere, type HeldElsewhere } from '../../repos/group-write.ts';
import type { Repository, RepositoryRegistry } from '../../repos/repository.ts';
import { dirRole, groupPath, isSnapshotVersion, type MavenPath } from './coordinates.ts';
import {
  groupDeleteRefused,
  MAX_POM_BYTES,
  type MavenHosted,
  metadataScope,
  type VersionPolicy,
} from './hosted.ts';
import {
  CHECKSUM_NAMES,
  type ChecksumName,
  type MavenMetadata,
  type MavenSource,
  type MetadataValidity,
} from './model.ts';
import type { RenderedDocCache, RenderedDoc } from '../../core/rendered-docs.ts';
import type { CurationGate, CurationSubject } from '../../curation/types.ts';
import { guardMavenFile } from './proxy.ts';
import { quarantines } from '../../curation/quarantine.ts';
import { type HotFile, type HotFiles, hotFile, NOT_KEPT } from './hot-files.ts';
import { compareMavenVersions, isSnapshot } from './version.ts';

const MB = 1024 * 1024;
/** An uploaded checksum file: a hex digest and maybe a file name. */
const MAX_CHECKSUM_BODY = 4096;
/** An uploaded maven-metadata.xml is read and discarded: bounded. */
const MAX_METADATA_BODY = 16 * MB;

/** Per-repository settings of a hosted Maven repository. */
export interface HostedSettings {
  readonly versionPolicy: VersionPolicy;
  readonly keepSnapshots: number;
}

export interface MavenServiceDeps {
  readonly hosted: MavenHosted;
  readonly repositories: RepositoryRegistry;
  readonly access: AccessControl;
  readonly config: () => AppConfig;
  /** The settings of a hosted repository (its `[[repositories]]` entry or the defaults). */
  readonly settingsOf: (repo: Repository) => HostedSettings;
  /** The MavenSource of a proxy or group repository. */
  readonly sourceOf: (repo: Repository) => MavenSource;
  /** Renders metadata to its XML bytes (metadata.ts). */
  readonly render: (metadata: MavenMetadata) => Buffer;
  /**
   * Rendered `maven-metadata.xml` documents, by repository and directory; names are metadata
   * scopes (hosted.ts `metadataScope`), invalidated by every hosted write. Absent: not kept.
   */
  readonly metadataCache?: RenderedDocCache | undefined;
  /** What each (repository, path) answered last (hot-files.ts). Absent: asked every time. */
  readonly hotFiles?: HotFiles | undefined;
  /** Where a deploy's takeover warnings are logged (see `deploy`). */
  readonly log?: Logger | undefined;
  /** The curation gate (FormatContext.curation): proxied files are checked on every answer. */
  readonly curation?: CurationGate | undefined;
}

/** A rendered metadata document and its four checksum documents. */
interface MetadataDocuments {
  readonly document: MavenDocument;
  readonly checksums: Readonly<Record<ChecksumName, MavenDocument>>;
}

/** MetadataDocuments as the cache keeps them, with the data (filtered per caller: `#visible`). */
interface CachedMetadata extends RenderedDoc, MetadataDocuments {
  readonly metadata: MavenMetadata;
}

/** A generated document (metadata XML, or a checksum's hex). */
export interface MavenDocument {
  readonly body: Buffer;
  /** `application/xml` or `text/plain`. */
  readonly contentType: string;
  /** sha1 of the body, hex. */
  readonly sha1: string;
  /** `"<sha1>"` */
  readonly etag: string;
  /** ms since the epoch, when known. */
  readonly modifiedAt: number | undefined;
  /** `modifiedAt` as an HTTP-date, when known. */
  readonly lastModified: string | undefined;
  /** Made from a proxy's stale copy (every upstream failed or was too slow). */
  readonly stale?: boolean;
}

export type MavenReadResult =
  | { readonly kind: 'file'; readonly file: HotFile }
  | { readonly kind: 'document'; readonly document: MavenDocument };

/** What a PUT did: 201 for a new file, 200 when it replaced one or was accepted and ignored. */
export interface DeployAnswer {
  readonly status: 200 | 201;
  readonly message: string;
}

export class MavenService {
  readonly #deps: MavenServiceDeps;
  /** The config last seen and its number: a reload (members, TTLs) starts new cache keys. */
  #config: AppConfig | undefined;
  #epoch = 0;

  constructor(deps: MavenServiceDeps) {
    this.#deps = deps;
  }

  /** Throws UNAUTHORIZED/DENIED unless `principal` may `action` `path` in `repo`. */
  authorize(
    principal: Principal,
    repo: Repository,
    action: Action,
    path: string | undefined,
    via?: Repository,
  ): void {
    this.#deps.access.authorize(principal, repo, action, path, { via });
  }

  /** The MavenSource answering reads of `repo`. */
  sourceOf(repo: Repository): MavenSource {
    return repo.kind === 'hosted' ? this.#deps.hosted : this.#deps.sourceOf(repo);
  }

  /**
   * `GET`/`HEAD` of a file, a checksum (`<file>.<alg>`, served from the hashes computed at
   * ingest) or a generated `maven-metadata.xml`. Throws NOT_FOUND when absent, BAD_REQUEST for a
   * directory or the root (no listings).
   */
  async read(repo: Repository, parsed: MavenPath, principal: Principal): Promise<MavenReadResult> {
    if (parsed.kind === 'root' || parsed.kind === 'dir') {
      this.authorize(principal, repo, 'read', parsed.kind === 'dir' ? parsed.path : undefined);
      throw new RegistryError('NOT_FOUND', 'directory listings are not served');
    }
    const target = parsed.kind === 'checksum' ? parsed.target : parsed;
    this.authorize(principal, repo, 'read', target.path);
    const source = this.sourceOf(repo);
    if (target.kind === 'metadata') {
      const cached = await this.#metadataDocuments(source, repo, target.dir);
      const visible = this.#visible(cached, repo, target.dir, principal);
      return {
        kind: 'document',
        document:
          parsed.kind === 'checksum' ? visible.checksums[parsed.algorithm] : visible.document,
      };
    }
    let file = await this.#file(source, repo, target.path);
    // A checksum of a file still streaming in from an upstream: its hashes once it is verified.
    if (parsed.kind === 'checksum' && file?.verified !== undefined) {
      const streaming = file;
      file = { ...hotFile(await file.verified), curation: streaming.curation };
    }
    // A checksum not computed at ingest (a proxied file's md5 or sha512): computed from the
    // stored bytes now, once (kept with the answer, recorded with the file), after curation.
    if (parsed.kind === 'checksum' && file !== undefined && file.lateChecksum !== undefined) {
      const { algorithm } = parsed;
      if (file.checksums[algorithm] === '' && file.checksumDocuments[algorithm] === undefined) {
        if (file.curation !== undefined) this.#curate(file.curation, true);
        const hex = await file.lateChecksum(algorithm);
        file.checksumDocuments[algorithm] ??= checksumDocument(hex, file.modifiedAt);
      }
    }
    return this.#fileResult(repo, parsed, target.path, file);
  }

  /**
   * `read`'s answer when the caches hold it (a kept file answer or rendered metadata), without
   * any async step; undefined when `read` must be asked. Authorizes exactly as `read` does, first;
   * throws NOT_FOUND for a kept "absent". The hot path of repeated GETs (every build asks the same
   * POMs, jars, checksums and metadata): an answer from here is one `read` would give, as both
   * consult the same caches under the same validity rules.
   */
  readKept(repo: Repository, parsed: MavenPath, principal: Principal): MavenReadResult | undefined {
    if (parsed.kind === 'root' || parsed.kind === 'dir') return undefined;
    const target = parsed.kind === 'checksum' ? parsed.target : parsed;
    this.authorize(principal, repo, 'read', target.path);
    this.#syncConfig();
    if (target.kind === 'metadata') {
      const hit = this.#deps.metadataCache?.get(
        `${this.#epoch}\n${this.#view()}${repo.name}\n${target.dir}`,
        metadataScope(target.dir),
      ) as CachedMetadata | undefined;
      if (hit === undefined) return undefined;
      const visible = this.#visible(hit, repo, target.dir, principal);
      return {
        kind: 'document',
        document:
          parsed.kind === 'checksum' ? visible.checksums[parsed.algorithm] : visible.document,
      };
    }
    const kept = this.#deps.hotFiles?.peek(repo, target.path) ?? NOT_KEPT;
    if (kept === NOT_KEPT) return undefined;
    // A checksum still to compute (lateChecksum): `read` computes it.
    if (
      parsed.kind === 'checksum' &&
      kept.checksums[parsed.algorithm] === '' &&
      kept.checksumDocuments[parsed.algorithm] === undefined
    )
      return undefined;
    return this.#fileResult(repo, parsed, target.path, kept);
  }

  /** The answer for a file or its checksum, given the file (undefined: absent → NOT_FOUND). */
  #fileResult(
    repo: Repository,
    parsed: MavenPath,
    path: string,
    file: HotFile | undefined,
  ): MavenReadResult {
    if (file?.curation !== undefined) this.#curate(file.curation, parsed.kind === 'checksum');
    if (!file) {
      // An absence a proxy remembers says so: the upstream's 404, when, and for how long.
      const note = this.#deps.hotFiles?.missNote(repo, path);
      throw new RegistryError(
        'NOT_FOUND',
        `${path} not found in ${repo.name}${note === undefined ? '' : `: ${note}`}`,
      );
    }
    if (parsed.kind !== 'checksum') return { kind: 'file', file };
    const algorithm = parsed.algorithm;
    return {
      kind: 'document',
      document: (file.checksumDocuments[algorithm] ??= checksumDocument(
        file.checksums[algorithm],
        file.modifiedAt,
      )),
    };
  }

  /**
   * Curation of a proxied file, on every answer (a kept one too: a reload that blocks a cached
   * version refuses it at once): throws DENIED (403) in enforce. The file counts as one decision
   * (nora_curation_decisions_total); its checksum files are refused with it but not counted.
   */
  #curate(subject: CurationSubject, checksum: boolean): void {
    const gate = this.#deps.curation;
    if (gate === undefined || (gate.mode() === 'off' && !quarantines(gate, 'maven'))) return;
    if (checksum && !gate.decide(subject).refuse) return;
    guardMavenFile(gate, subject);
  }

  /** The file at `path`: the hot-file cache's answer when kept, else the source's. */
  async #file(source: MavenSource, repo: Repository, path: string): Promise<HotFile | undefined> {
    this.#syncConfig();
    const hot = this.#deps.hotFiles;
    if (hot !== undefined) {
      return hot.get(repo, path, (validity) => source.openFile(repo, path, validity));
    }
    const found = await source.openFile(repo, path);
    return found === undefined ? undefined : hotFile(found);
  }

  /**
   * The curation view rendered metadata is kept under (proxied metadata leaves out the versions
   * enforce refuses: a policy reload or a bypass token sees other documents). '' when off.
   */
  #view(): string {
    const view = this.#deps.curation?.viewKey() ?? '';
    return view === '' ? '' : `${view}\n`;
  }

  /** A config reload (members, upstreams, TTLs) starts new metadata keys and forgets answers. */
  #syncConfig(): void {
    const config = this.#deps.config();
    if (config !== this.#config) {
      this.#config = config;
      this.#epoch++;
      this.#deps.hotFiles?.reset();
    }
  }

  /**
   * The rendered metadata of `dir` and its checksums: from the cache while no hosted write touched
   * its scope and every proxy part is fresh (a warm read does no SQL, parse, sort or render),
   * else built and kept.
   */
  async #metadataDocuments(
    source: MavenSource,
    repo: Repository,
    dir: string,
  ): Promise<CachedMetadata> {
    const cache = this.#deps.metadataCache;
    this.#syncConfig();
    const key = `${this.#epoch}\n${this.#view()}${repo.name}\n${dir}`;
    const scope = metadataScope(dir);
    const hit = cache?.get(key, scope) as CachedMetadata | undefined;
    if (hit !== undefined) return hit;
    const generation = cache?.generation(scope) ?? 0;
    const validity: MetadataValidity = { until: Infinity };
    const metadata = await source.metadata(repo, dir, validity);
    if (!metadata) {
      const note = validity.missNote;
      throw new RegistryError(
        'NOT_FOUND',
        `${dir === '' ? '' : `${dir}/`}maven-metadata.xml not found in ${repo.name}${note === undefined ? '' : `: ${note}`}`,
      );
    }
    const { document, checksums } = this.#render(metadata, validity.stale === true);
    const body = document.body;
    const entry: CachedMetadata = {
      body,
      etag: `"${document.sha1}"`,
      validUntil: validity.until,
      headers: {},
      document,
      checksums,
      metadata,
      // The data kept with the bytes: about as large as its XML.
      extraBytes: body.length,
    };
    if (cache !== undefined && validity.until > Date.now())
      cache.set(key, scope, generation, entry);
    return entry;
  }

  /** `metadata` rendered, with its checksum documents. */
  #render(metadata: MavenMetadata, stale: boolean): MetadataDocuments {
    const rendered = this.#deps.render(metadata);
    // A buffer of its own, so a kept document never pins a shared pool slab.
    const body = Buffer.allocUnsafeSlow(rendered.length);
    rendered.copy(body);
    const modifiedAt = parseMetadataTime(metadata.lastUpdated);
    const sha1 = hashHex('sha1', body);
    const document: MavenDocument = {
      body,
      contentType: 'application/xml',
      sha1,
      etag: `"${sha1}"`,
      modifiedAt,
      lastModified: modifiedAt === undefined ? undefined : new Date(modifiedAt).toUTCString(),
      ...(stale ? { stale: true } : {}),
    };
    const checksums = Object.fromEntries(
      CHECKSUM_NAMES.map((name) => [
        name,
        checksumDocument(hashHex(name, body), modifiedAt, stale),
      ]),
    ) as Record<ChecksumName, MavenDocument>;
    return { document, checksums };
  }

  /**
   * The metadata of `dir` as `principal` may see it: a listing is filtered, not refused
   * (docs/auth.md). Artifact level: the versions whose version directory (`<dir>/<version>`, the
   * path a DELETE of the version names) the caller may read, `latest`/`release` recomputed from
   * them when they named a hidden version, `lastUpdated` unchanged; group level: the plugins
   * whose artifact directory (`<dir>/<artifactId>`) the caller may read. The document as kept
   * (no check per entry) when no rule speaks about a path under `dir` or the caller reads every
   * path; rendered for this caller otherwise, with the checksums of the bytes sent. When the
   * document lists entries and none is readable, refused as a read of those entries is (401 to
   * anonymous clients, with the challenge, so mvn sends its credentials; 403 to a user).
   */
  #visible(
    cached: CachedMetadata,
    repo: Repository,
    dir: string,
    principal: Principal,
  ): MetadataDocuments {
    const metadata = cached.metadata;
    if (metadata.versions.length === 0 && metadata.plugins.length === 0) return cached;
    const access = this.#deps.access;
    if (access.readsEveryPathUnder(principal, repo, dir)) return cached;
    const may = (name: string) =>
      access.can(principal, repo, 'read', dir === '' ? name : `${dir}/${name}`);
    const versions = metadata.versions.filter(may);
    const plugins = metadata.plugins.filter((plugin) => may(plugin.artifactId));
    if (versions.length === metadata.versions.length && plugins.length === metadata.plugins.length)
      return cached;
    if (versions.length === 0 && plugins.length === 0) {
      const what = `${dir === '' ? '' : `${dir}/`}maven-metadata.xml in ${repo.name}`;
      throw principal.kind === 'anonymous'
        ? new RegistryError(
            'UNAUTHORIZED',
            `authentication required to read ${what}: nothing it lists is readable without it`,
          )
        : new RegistryError(
            'DENIED',
            `${principal.name} may not read ${what}: nothing it lists is readable`,
          );
    }
    const ordered = [...versions].sort(compareMavenVersions);
    const latest =
      metadata.latest === undefined || may(metadata.latest) ? metadata.latest : ordered.at(-1);
    const release =
      metadata.release === undefined || may(metadata.release)
        ? metadata.release
        : ordered.findLast((version) => !isSnapshot(version));
    return this.#render(
      { ...metadata, versions, plugins, latest, release },
      cached.document.stale === true,
    );
  }

  /**
   * `PUT`: deploys a file to the write target of `repo`; compares an uploaded checksum file with
   * the recorded hash (400 on mismatch when `checksum_verify`; never stored); accepts and ignores
   * an uploaded `maven-metadata.xml` and its checksums (metadata is generated). Refuses a path
   * that is not a Maven coordinate (400), a proxy (405), a declared length past `max_upload_mb`,
   * or past MAX_POM_BYTES for a `.pom` (413, before reading), the first file of an artifact that
   * a guarding group's proxy serves unless `[maven] shadow_names` lists it (409, `#takeover`).
   */
  async deploy(
    repo: Repository,
    parsed: MavenPath,
    body: Readable,
    principal: Principal,
    declaredLength: number | undefined,
    client?: string,
  ): Promise<DeployAnswer> {
    if (parsed.kind === 'root' || parsed.kind === 'dir') {
      throw new RegistryError('BAD_REQUEST', 'a deploy needs a file path, not a directory');
    }
    const authPath = parsed.kind === 'checksum' ? parsed.target.path : parsed.path;
    const target = this.#writeTarget(repo, principal, 'write', authPath);
    const maven = this.#deps.config().maven;
    if (
      parsed.kind === 'metadata' ||
      (parsed.kind === 'checksum' && parsed.target.kind === 'metadata')
    ) {
      await readAllBounded(body, MAX_METADATA_BODY, 'maven-metadata.xml');
      return { status: 201, message: 'accepted and ignored: maven-metadata.xml is generated' };
    }
    if (parsed.kind === 'checksum') {
      const text = (await readAllBounded(body, MAX_CHECKSUM_BODY, 'checksum file')).toString(
        'utf8',
      );
      const hosted = this.#deps.hosted;
      let outcome = await hosted.compareChecksum(
        target,
        parsed.target.path,
        parsed.algorithm,
        text,
      );
      if (outcome === 'unknown' && maven.checksum_verify) {
        // Before its file (some clients upload in that order): compared when the file arrives.
        hosted.expectChecksum(target, parsed.target.path, parsed.algorithm, text);
        // The file may have landed between the two reads: then compare with it now.
        outcome = await hosted.compareChecksum(target, parsed.target.path, parsed.algorithm, text);
        if (outcome !== 'unknown') hosted.forgetExpectedChecksum(target, parsed.target.path);
      }
      if (outcome === 'mismatch' && maven.checksum_verify) {
        throw new RegistryError(
          'BAD_REQUEST',
          `checksum mismatch: the uploaded ${parsed.algorithm} of ${parsed.target.path} does not match the stored file`,
        );
      }
      return {
        status: 201,
        message:
          outcome === 'unknown'
            ? maven.checksum_verify
              ? 'checksum accepted before its file: the file will be compared with it; checksums are computed, not stored'
              : 'checksum accepted (no such file to compare yet); checksums are computed, not stored'
            : outcome === 'mismatch'
              ? 'checksum accepted unverified ([maven] checksum_verify is off): it does not match the file; checksums are computed, not stored'
              : 'checksum verified; checksums are computed, not stored',
      };
    }
    const coordinate = parsed.coordinate;
    if (!coordinate) {
      throw new RegistryError(
        'BAD_REQUEST',
        `${parsed.path} is not a Maven layout path (<groupId dirs>/<artifactId>/<version>/<artifactId>-<version>[-<classifier>].<extension>)`,
      );
    }
    const maxBytes = maven.max_upload_mb * MB;
    if (declaredLength !== undefined && declaredLength > maxBytes) {
      throw new RegistryError(
        'TOO_LARGE',
        `${declaredLength} bytes exceed the deploy limit of ${maven.max_upload_mb} MB (max_upload_mb)`,
      );
    }
    if (
      coordinate.extension === 'pom' &&
      declaredLength !== undefined &&
      declaredLength > MAX_POM_BYTES
    ) {
      throw new RegistryError(
        'TOO_LARGE',
        `POM larger than ${MAX_POM_BYTES} bytes (${declaredLength} bytes declared)`,
      );
    }
    const settings = this.#deps.settingsOf(target);
    this.#checkPolicy(repo, target, settings.versionPolicy, coordinate.version);
    const warnings = await this.#takeover(target, coordinate.groupId, coordinate.artifactId);
    const result = await this.#deps.hosted.deploy(
      target,
      coordinate,
      body,
      {
        versionPolicy: settings.versionPolicy,
        keepSnapshots: settings.keepSnapshots,
        immutableReleases: maven.immutable_releases,
        maxBytes,
        checksumVerify: maven.checksum_verify,
      },
      uploaderOf(principal, client),
    );
    const warned = warnings.map((line) => `; warning: ${line}`).join('');
    if (result.same === true) {
      return {
        status: 200,
        message: `${coordinate.path} is already stored with these bytes${warned}`,
      };
    }
    // A release file replaced (`immutable_releases = false`) is the audit log's `overwrite`; a
    // snapshot's files are replaced by design (each build gets its own timestamped files).
    // The same bytes again are a `push`: nothing was overwritten.
    if (!result.created && result.unchanged !== true && !isSnapshotVersion(coordinate.version))
      noteOverwrite(result.replaced);
    return result.created
      ? { status: 201, message: `stored ${coordinate.path}${warned}` }
      : { status: 200, message: `replaced ${coordinate.path}${warned}` };
  }

  /**
   * BAD_REQUEST when `target`'s `version_policy` excludes `version` (hosted.ts refuses it too; here
   * first, to say more). Through a group, which deploys to its write member only whatever the
   * version, the refusal names a member that takes such versions and its URL (trial13 F3: a
   * releases + snapshots group took releases and refused every snapshot, naming only the
   * releases member).
   */
  #checkPolicy(repo: Repository, target: Repository, policy: VersionPolicy, version: string): void {
    const snapshot = isSnapshotVersion(version);
    const takes = (p: VersionPolicy) => p === 'mixed' || (p === 'snapshot') === snapshot;
    if (takes(policy)) return;
    const kind = snapshot ? 'snapshot' : 'release';
    let message = `repository "${target.name}" takes ${policy} versions only (version_policy = ${policy}), not ${version}`;
    if (repo.name !== target.name) {
      const other = this.#deps.repositories
        .membersOf(repo)
        .find((m) => m.kind === 'hosted' && takes(this.#deps.settingsOf(m).versionPolicy));
      message +=
        other === undefined
          ? `; group ${repo.name} deploys to its write member ${target.name} only, and none of its hosted members takes ${kind} versions`
          : `; group ${repo.name} deploys to its write member ${target.name} only: deploy ${kind}s to /repository/${other.name}/ (in Maven's <distributionManagement>, the <${snapshot ? 'snapshotRepository' : 'repository'}> URL)`;
    }
    throw new RegistryError('BAD_REQUEST', message);
  }

  /**
   * The takeover check of a deploy of groupId:artifactId into the hosted repository `target`
   * (trial13 F6). The first file of an artifact new to `target`, in a group guarding hosted names
   * (`protect_hosted_names`) whose proxy member serves that artifact, would take the coordinate
   * over: the group would serve only the hosted versions from then on, hiding every upstream
   * version (cached ones included) from the builds through it. Refused (409, before the body is
   * read, nothing stored) unless `[maven] shadow_names` lists it — the operator's decision, as
   * Cargo's; Maven clients pass no flag — then it goes ahead and the answer and the log say what
   * it took over. A Maven takeover can be undone (DELETE the hosted artifact; a Go module cannot
   * be deleted), but only after builds have failed. "Serves": MavenSource.serves, whose upstream
   * look-up (when nothing is cached) is waited for at most `[circuit_breaker] stale_after` (5 s;
   * `proxy_timeout` when that is 0): the longest NORA already keeps a client waiting on a slow
   * upstream's metadata when it has an answer, well under Gradle's 30 s read timeout. An upstream
   * that cannot be asked in that time (unreachable, failing, open circuit: an air-gapped host with
   * the default Maven Central upstream) does not block the deploy, which goes ahead with a
   * warning. Returns the warning lines; throws CONFLICT for a takeover not allowed.
   */
  async #takeover(target: Repository, groupId: string, artifactId: string): Promise<string[]> {
    if (await this.#deps.hosted.hasArtifact(target, groupId, artifactId)) return [];
    const repositories = this.#deps.repositories;
    const config = this.#deps.config();
    const dir = `${groupPath(groupId)}/${artifactId}`;
    const name = `${groupId}:${artifactId}`;
    const lines = await checkTakeover({
      groups: repositories.byFormat('maven'),
      membersOf: (group, path) => repositories.membersOf(group, path),
      target,
      path: dir,
      label: () => `artifact ${name}`,
      serves: async (proxy) => {
        const source = this.#deps.sourceOf(proxy);
        if (source.serves === undefined) return 'absent';
        const staleAfter = config.circuit_breaker.stale_after;
        const timeout = proxy.proxyTimeout ?? config.maven.proxy_timeout;
        const waitMs = (staleAfter > 0 ? Math.min(staleAfter, timeout) : timeout) * 1000;
        return source.serves(proxy, dir, waitMs);
      },
      mayShadow: this.#mayShadow(name),
      refusal: (found, groups) =>
        `refusing to deploy ${name}, new in ${target.name}: group ${groups} would stop serving its upstream versions ([maven] shadow_names allows it). ` +
        `${found.join('; and ')}. Builds through that group that use a proxied version would then fail, until the hosted artifact is deleted. ` +
        `To take it over on purpose, an operator adds it to [maven] shadow_names in NORA's configuration (NORA_MAVEN_SHADOW_NAMES; e.g. shadow_names = ["${name}"] or a glob such as "com.corp.*:*"); to keep the proxied artifact, deploy under your own groupId (docs/maven.md, "Group").`,
      notAsked: (proxies) =>
        `could not ask ${proxies} whether its upstream has ${name} (unreachable or too slow, nothing cached): if it does, groups guarding hosted names now serve only ${target.name}'s versions of it (protect_hosted_names)`,
    });
    for (const line of lines) this.#deps.log?.warn({ artifact: name }, `maven deploy: ${line}`);
    return lines;
  }

  /** True when `[maven] shadow_names` lets a deploy of `name` (`groupId:artifactId`) take it over. */
  #mayShadow(name: string): boolean {
    return this.#deps.config().maven.shadow_names.some((glob) => compileGlob(glob).test(name));
  }

  /**
   * `DELETE` of `<g>/<a>/` (an artifact), `<g>/<a>/<version>/` (a version) or one file, in the
   * write target of `repo`. Metadata is regenerated by construction. Through a group, the answer
   * names the other members that still hold files under the path (the group still serves them).
   */
  async remove(repo: Repository, parsed: MavenPath, principal: Principal): Promise<string> {
    if (parsed.kind === 'root') throw new RegistryError('BAD_REQUEST', 'nothing to delete here');
    if (parsed.kind === 'metadata' || parsed.kind === 'checksum') {
      throw new RegistryError(
        'BAD_REQUEST',
        'metadata and checksums are generated: delete the version or artifact instead',
      );
    }
    const target = this.#writeTarget(repo, principal, 'delete', parsed.path);
    try {
      const { removed, what } = await this.#deps.hosted.remove(
        target,
        parsed.kind === 'dir'
          ? { kind: 'dir', segments: parsed.segments }
          : { kind: 'file', path: parsed.path },
      );
      const done = `deleted ${what} (${removed} file${removed === 1 ? '' : 's'})`;
      if (repo.name === target.name) return done;
      const path = parsed.kind === 'dir' ? parsed.segments.join('/') : parsed.path;
      const shown = parsed.kind === 'dir' ? `${path}/` : path;
      const left = await this.#stillServed(repo, target, path, shown);
      return left.length === 0
        ? done
        : `${done} from ${target.name}, the write member of group ${repo.name}; the group still serves what other members hold under ${shown}: ${left.join('; ')}`;
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'NOT_FOUND' && repo.name !== target.name) {
        const path = parsed.kind === 'dir' ? parsed.segments.join('/') : parsed.path;
        const shown = parsed.kind === 'dir' ? `${path}/` : path;
        await this.#heldElsewhere(repo, target, path, shown);
      }
      throw err;
    }
  }

  /**
   * A DELETE through a group found nothing in its write member: when another member holds the
   * path (what a GET through the group serves), 405 saying whose it is, instead of a 404 the next
   * GET contradicts (trial ocijvm F3). A proxy member's files are cached upstream files, which no
   * DELETE removes. A groupId's directory is refused as the write member refuses it (400,
   * `groupDeleteRefused`), whichever member holds files under it. The reason phrase carries it
   * (mvn and Gradle print only the status line).
   */
  async #heldElsewhere(
    group: Repository,
    writeTo: Repository,
    path: string,
    shown: string,
  ): Promise<void> {
    const found = await this.#holderElsewhere(group, writeTo, path);
    if (found === undefined) return;
    const { member, held } = found;
    // A groupId's directory gets the same answer whoever holds what is under it (trial13 F2).
    if (dirRole(path.split('/'), held) === 'group') throw groupDeleteRefused(`${path}/`);
    throw new RegistryError(
      'METHOD_NOT_ALLOWED',
      member.kind === 'proxy'
        ? `${shown} is cached from an upstream by proxy member ${member.name} of group ${group.name}, not stored in its write member ${writeTo.name}: cached upstream files cannot be deleted through the group (NORA has no way to evict them)`
        : `${shown} is stored in member ${member.name} of group ${group.name}, not in its write member ${writeTo.name}: delete it at /repository/${member.name}/${shown}`,
      // What the path serves (routes.ts servedMethods): a file still takes a deploy (PUT), a
      // directory does not (400).
      { headers: { allow: shown.endsWith('/') ? 'GET, HEAD' : 'GET, HEAD, PUT' } },
    );
  }

  /** `heldElsewhere` for Maven: a file at or under `path` another member of `group` holds. */
  #holderElsewhere(
    group: Repository,
    writeTo: Repository,
    path: string,
  ): Promise<HeldElsewhere<string> | undefined> {
    return heldElsewhere({
      group,
      writeTo,
      members: this.#deps.repositories.membersOf(group, path),
      holds: (member) =>
        (member.kind === 'hosted' ? this.#deps.hosted : this.#deps.sourceOf(member)).held?.(
          member,
          path,
        ) ?? Promise.resolve(undefined),
    });
  }

  /**
   * Whether a DELETE of `parsed` in `repo` (one that takes writes) is refused whatever the
   * state of the one path: generated metadata and checksums and the root answer 400; a groupId's
   * directory with files under it answers 400 (`groupDeleteRefused`); through a group, what its
   * write member does not hold while another member does answers 405 (`remove`). A 405 of
   * another method there must then not list DELETE in its `Allow` (RFC 9110 §15.5.6; trial 27
   * devA: a POST listed DELETE where the DELETE's own 405 said `GET, HEAD`). False for a
   * `principal` that may not read `path` (its DELETE answers 401/403 first, and the `Allow` must
   * not tell it what a member holds). Costs a lookup per member: for 405s only, which are rare.
   */
  async deleteRefused(repo: Repository, parsed: MavenPath, principal: Principal): Promise<boolean> {
    if (parsed.kind === 'root' || parsed.kind === 'metadata' || parsed.kind === 'checksum') {
      return true;
    }
    const path = parsed.kind === 'dir' ? parsed.segments.join('/') : parsed.path;
    if (!this.#deps.access.can(principal, repo, 'read', path)) return false;
    const target = this.#deps.repositories.writeTarget(repo);
    if (target === undefined) return false;
    const held = await this.#deps.hosted.held(target, path);
    if (held === undefined) {
      // Another member's: 405, or for a groupId's directory 400, either way refused.
      return (
        repo.name !== target.name && (await this.#holderElsewhere(repo, target, path)) !== undefined
      );
    }
    return parsed.kind === 'dir' && dirRole(parsed.segments, held) === 'group';
  }

  /**
   * After a DELETE through `group` removed `path` from its write member: what its other members
   * still hold under it, which the group goes on serving (trial13 F9: a 200 "deleted" while the
   * artifact was still served through the group), one phrase per member.
   */
  async #stillServed(
    group: Repository,
    writeTo: Repository,
    path: string,
    shown: string,
  ): Promise<string[]> {
    const left: string[] = [];
    for (const member of this.#deps.repositories.membersOf(group, path)) {
      if (member.name === writeTo.name) continue;
      const source = member.kind === 'hosted' ? this.#deps.hosted : this.#deps.sourceOf(member);
      if ((await source.held?.(member, path)) === undefined) continue;
      left.push(
        member.kind === 'proxy'
          ? `proxy member ${member.name} has cached upstream files (they cannot be deleted)`
          : `member ${member.name} holds files (delete them at /repository/${member.name}/${shown})`,
      );
    }
    return left;
  }

  /** The hosted repository a write through `repo` lands in, authorized on both. */
  #writeTarget(repo: Repository, principal: Principal, action: Action, path: string): Repository {
    // Authorized on the addressed repository first (as OCI does): a proxy's 405 is for those who
    // may write there at all, everyone else gets the 401 challenge or 403.
    this.authorize(principal, repo, action, path);
    const target = this.#deps.repositories.requireWriteTarget(repo);
    if (target.name !== repo.name) this.authorize(principal, target, action, path, repo);
    return target;
  }
}

function hashHex(algorithm: ChecksumName, body: Buffer): string {
  return createHash(algorithm).update(body).digest('hex');
}

function checksumDocument(
  hex: string,
  modifiedAt: number | undefined,
  stale = false,
): MavenDocument {
  // An owned buffer, not a slice of node's 8 KiB pool: the answer memo keeps an answer's body
  // only as one (ownedBuffer), so a pooled 40 bytes were copied again at every memo record of a
  // `.sha1` (half the requests of a warm mvn build), and a kept document pinned its pool slab.
  const body = ownedBuffer(Buffer.from(hex));
  const sha1 = hashHex('sha1', body);
  return {
    body,
    contentType: 'text/plain',
    sha1,
    etag: `"${sha1}"`,
    modifiedAt,
    lastModified: modifiedAt === undefined ? undefined : new Date(modifiedAt).toUTCString(),
    ...(stale ? { stale: true } : {}),
  };
}

/** `yyyyMMddHHmmss` (UTC) → ms, or undefined. */
export function parseMetadataTime(value: string | undefined): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(value ?? '');
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

/**
 * Who sends a deploy, as hosted.ts compares it (a refused main archive withdraws only what the
 * same uploader stored just before): `user <name>` for a user (whatever the credential: two
 * tokens of one user are one uploader), `anonymous from <address>` for an anonymous client (auth
 * off, or a rule letting anonymous write) by its exact address (`request.ip`, trusted proxies
 * applied); undefined when that address is not known (then nothing is withdrawn).
 */
export function uploaderOf(principal: Principal, client: string | undefined): string | undefined {
  if (principal.kind === 'user') return `user ${principal.name}`;
  return client === undefined || client === '' ? undefined : `anonymous from ${client}`;
}
