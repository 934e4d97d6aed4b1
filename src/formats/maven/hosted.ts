/**
 * Hosted Maven repositories: deploys (`PUT`, what `mvn deploy` and Gradle's `maven-publish`
 * send), reads, checksums, generated metadata and deletes, over the blob store (bytes) and
 * store.ts (one SQL row per file).
 *
 * - Version policy per repository (`release` | `snapshot` | `mixed`), like Nexus's.
 * - Release files are immutable (a re-deploy of an existing path answers 409) unless
 *   `immutable_releases = false`; snapshot files may be replaced.
 * - Snapshot versions take timestamped builds (`demo-1.0-20261130.101010-3.jar`, mvn 3) and
 *   non-unique files (`demo-1.0-SNAPSHOT.jar`, old Gradle); a read of the non-unique name answers
 *   the newest build of that classifier/extension. `keep_snapshots = N` keeps the newest N builds.
 * - md5/sha1/sha256/sha512 are computed while the body streams into the blob store and recorded:
 *   checksum files are served from the row, never stored. A checksum uploaded BEFORE its file
 *   (some clients send that order) is remembered (`expectChecksum`, checksum-sidecars.ts) and
 *   compared when the file arrives: a disagreeing file is refused (400), nothing stored. It is
 *   compared once: the file's next arrival consumes it, whatever the outcome.
 * - A zip archive that is empty, a web page or no whole zip is refused (archive-check.ts).
 * - A main archive refused at deploy with nothing at its path refuses for a short while the
 *   files of that build that would list the version (the POM unless its packaging is `pom`, a
 *   `.module`), as `mvn deploy:deploy-file` sends its POM after the jar; and what the same
 *   uploader stored in that version directory moments before (`mvn deploy` of a project sends
 *   its POM first) is withdrawn, under guards (deploy-withdrawal.ts).
 * - `maven-metadata.xml` is derived from the rows when asked for (artifact, snapshot-version and
 *   group/plugin levels): never read-modify-write, so concurrent deploys of different versions all
 *   appear. The POM of a deploy is parsed (bounded, DOCTYPE refused, entities off) for its
 *   `<packaging>` and plugin prefix, and must describe the coordinate it is deployed at (groupId,
 *   artifactId, version — its own or its parent's — with no unresolved property); a main jar's `META-INF/maven/plugin.xml`, when it has one,
 *   for the goal prefix and name the plugin declares (plugin-descriptor.ts; never fails a deploy),
 *   which the plugin-group metadata prefers.
 */
import type { Readable } from 'node:stream';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { type Digest, formatDigest, parseDigest } from '../../core/digest.ts';
import { RegistryError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { readAllBounded } from '../../core/streams.ts';
import type { Repository } from '../../repos/repository.ts';
import type { BlobStore } from '../../storage/blob-store.ts';
import {
  fileCoordinate,
  isSnapshotVersion,
  type MavenFileCoordinate,
  pluginPrefix,
  timestampedVersion,
} from './coordinates.ts';
import type {
  ChecksumName,
  MavenMetadata,
  MavenSource,
  OpenedMavenFile,
  PluginEntry,
  SnapshotVersion,
} from './model.ts';
import type { HostedNames } from './group.ts';
import { decodeText, EMPTY_METADATA } from './metadata.ts';
import { type PluginDescriptor, readPluginDescriptor } from './plugin-descriptor.ts';
import {
  type MavenStore,
  releaseConflict,
  type StoredMavenFile,
  type VersionTotal,
} from './store.ts';
import { archiveRefusal, isMainArchive } from './archive-check.ts';
import { ExpectedChecksums, uploadedChecksum } from './checksum-sidecars.ts';
import { type DeployOrigin, DeployWithdrawal } from './deploy-withdrawal.ts';

export {
  checksumHex,
  EXPECTED_CHECKSUM_TTL_MS,
  MAX_EXPECTED_CHECKSUM_PATHS,
} from './checksum-sidecars.ts';
export { RECENT_DEPLOY_TTL_MS, WITHDRAW_WINDOW_MS } from './deploy-withdrawal.ts';

/** `version_policy` of a hosted repository. */
export type VersionPolicy = 'release' | 'snapshot' | 'mixed';

/** The settings a deploy obeys, read per request (a SIGHUP reload applies at once). */
export interface DeploySettings {
  readonly versionPolicy: VersionPolicy;
  /** Timestamped builds kept per snapshot version; 0 keeps all. */
  readonly keepSnapshots: number;
  readonly immutableReleases: boolean;
  /** Largest body, bytes (413 past it). */
  readonly maxBytes: number;
  /** `checksum_verify`: compare the file with checksums uploaded before it (400 on mismatch). */
  readonly checksumVerify?: boolean;
}

/** Largest POM we parse for its packaging and plugin prefix (a bigger one is refused, 400). */
export const MAX_POM_BYTES = 4 * 1024 * 1024;

/** `POM larger than 4194304 bytes` (413), for a POM cut off at MAX_POM_BYTES mid-stream. */
function pomTooLarge(err: unknown): unknown {
  if (!(err instanceof RegistryError) || err.code !== 'TOO_LARGE') return err;
  return new RegistryError('TOO_LARGE', `POM larger than ${MAX_POM_BYTES} bytes`);
}

/** Compares two Maven versions; negative when `a` sorts before `b`. */
export type VersionComparator = (a: string, b: string) => number;

export interface MavenHostedDeps {
  readonly store: MavenStore;
  readonly blobs: BlobStore;
  /** Maven's version order (ComparableVersion). */
  readonly compareVersions: VersionComparator;
  /**
   * Told after every write (deploy, prune, delete; also after a failed one) the metadata scope it
   * may have changed (`metadataScope`) and the repository written: the rendered-metadata cache
   * drops that scope, the hot-file cache (hot-files.ts) the repository's answers.
   */
  readonly changed?: ((scope: string, repository: string) => void) | undefined;
  /** How long a refused main archive's version refuses its other main files (tests shorten it). */
  readonly refusedArchiveTtlMs?: number | undefined;
  /** Where a withdrawal after a refused main archive is logged (one line). */
  readonly log?: Logger | undefined;
  /** The clock of the withdrawal's recent deploys (tests drive it); Date.now by default. */
  readonly now?: (() => number) | undefined;
}

/**
 * The invalidation scope of metadata: the first segment of the groupId's path. Every reading of a
 * metadata directory (artifact, snapshot-version or plugin level) has a groupId starting with the
 * directory's first segment, so a write to groupId `com.example` only concerns directories under
 * `com/`.
 */
export function metadataScope(dirOrGroupId: string): string {
  const end = dirOrGroupId.search(/[./]/);
  return end < 0 ? dirOrGroupId : dirOrGroupId.slice(0, end);
}

export interface DeployResult {
  /** false when the path already held a file (a snapshot replaced). */
  readonly created: boolean;
  /** Paths of old snapshot builds removed by `keep_snapshots`. */
  readonly pruned: readonly string[];
  /** True when an immutable release file was deployed again with the same bytes (nothing done). */
  readonly same?: boolean;
  /** A file replaced: the digest it had (`sha256:<hex>`) and whether the new bytes are the same. */
  readonly replaced?: string;
  readonly unchanged?: boolean;
}

export class MavenHosted implements MavenSource, HostedNames {
  readonly #deps: MavenHostedDeps;
  /** Checksums uploaded before their file (checksum-sidecars.ts). */
  readonly #expected = new ExpectedChecksums();
  /** What a refused main archive does to the rest of its deploy (deploy-withdrawal.ts). */
  readonly #withdrawal: DeployWithdrawal;

  constructor(deps: MavenHostedDeps) {
    this.#deps = deps;
    this.#withdrawal = new DeployWithdrawal({
      store: deps.store,
      refusedArchiveTtlMs: deps.refusedArchiveTtlMs,
      log: deps.log,
      now: deps.now,
    });
  }

  /**
   * The stored file at `path`; the non-unique name of a snapshot file answers the newest build of
   * its classifier/extension. Undefined when absent (or not a layout path).
   */
  async openFile(repo: Repository, path: string): Promise<OpenedMavenFile | undefined> {
    const row = await this.#row(repo, path);
    return row === undefined ? undefined : this.#opened(row);
  }

  async #row(repo: Repository, path: string): Promise<StoredMavenFile | undefined> {
    const coordinate = fileCoordinate(path.split('/'), path);
    if (
      coordinate !== undefined &&
      coordinate.snapshot === undefined &&
      isSnapshotVersion(coordinate.version)
    ) {
      return this.#deps.store.newestSnapshotFile(
        repo.name,
        coordinate.groupId,
        coordinate.artifactId,
        coordinate.version,
        coordinate.classifier,
        coordinate.extension,
      );
    }
    return this.#deps.store.file(repo.name, path);
  }

  #opened(row: StoredMavenFile): OpenedMavenFile {
    const bytes = this.#deps.blobs.hosted(parseDigest(row.digest), 'maven');
    return {
      size: row.size,
      checksums: { md5: row.md5, sha1: row.sha1, sha256: row.sha256, sha512: row.sha512 },
      modifiedAt: row.updated_at,
      open: (range) => bytes.open(range),
      present: () => bytes.present(),
    };
  }

  /**
   * The metadata of `dir`: snapshot-version level when `dir` is `<g>/<a>/<x>-SNAPSHOT` with files,
   * else artifact level when `dir` is `<g>/<a>` with files, else group level (plugins of the
   * groupId `dir`), else undefined.
   */
  async metadata(repo: Repository, dir: string): Promise<MavenMetadata | undefined> {
    const segments = dir === '' ? [] : dir.split('/');
    const last = segments.at(-1);
    if (last !== undefined && segments.length >= 3 && isSnapshotVersion(last)) {
      const groupId = segments.slice(0, -2).join('.');
      const artifactId = segments.at(-2) ?? '';
      const rows = await this.#deps.store.versionFiles(repo.name, groupId, artifactId, last);
      if (rows.length > 0) return snapshotMetadata(groupId, artifactId, last, rows);
    }
    if (last !== undefined && segments.length >= 2) {
      const groupId = segments.slice(0, -1).join('.');
      const versions = await this.#deps.store.versions(repo.name, groupId, last);
      if (versions.length > 0) {
        return artifactMetadata(groupId, last, versions, this.#deps.compareVersions);
      }
    }
    if (segments.length >= 1) {
      const rows = await this.#deps.store.plugins(repo.name, segments.join('.'));
      const plugins = pluginMetadata(rows);
      if (plugins.plugins.length > 0) return plugins;
    }
    return undefined;
  }

  /**
   * Deploys one file (`coordinate`, parsed from the PUT path) from `body`. Refuses: a version the
   * repository's policy excludes (400), an existing release file when immutable (409, before the
   * body is read, and again atomically at commit), a body past `maxBytes` (413), a POM past
   * MAX_POM_BYTES (413, mid-stream), a POM that is malformed or has a DOCTYPE (400), a file new at
   * its path that would list the version (the POM unless its packaging is `pom`, a `.module`)
   * while the main archive of the same build was refused moments ago and not since deployed
   * whole (400 naming it: RefusedArchives). Nothing is recorded on failure.
   *
   * `uploader` names who sends the file (`user <name>`, `anonymous from <address>`; undefined: not
   * known). When a main archive new at its path is refused, the files the same uploader stored
   * new in its version directory moments before (`mvn deploy`'s POM) are withdrawn with it, if
   * nothing else is in that directory (`#withdrawBefore`); the 400 then names them.
   */
  async deploy(
    repo: Repository,
    coordinate: MavenFileCoordinate,
    body: Readable,
    settings: DeploySettings,
    uploader?: string,
  ): Promise<DeployResult> {
    const startedAt = this.#withdrawal.now();
    const snapshot = isSnapshotVersion(coordinate.version);
    if (settings.versionPolicy === 'release' && snapshot) {
      throw new RegistryError(
        'BAD_REQUEST',
        `repository "${repo.name}" takes release versions only (version_policy = release), not ${coordinate.version}`,
      );
    }
    if (settings.versionPolicy === 'snapshot' && !snapshot) {
      throw new RegistryError(
        'BAD_REQUEST',
        `repository "${repo.name}" takes snapshot versions only (version_policy = snapshot), not ${coordinate.version}`,
      );
    }
    const immutable = !snapshot && settings.immutableReleases;
    const existing = await this.#deps.store.file(repo.name, coordinate.path);
    if (existing && immutable) return this.#redeploy(coordinate, body, settings, existing);
    try {
      return await this.#store(repo, coordinate, body, settings, existing?.sha256, {
        uploader,
        startedAt,
      });
    } finally {
      this.#deps.changed?.(metadataScope(coordinate.groupId), repo.name);
    }
  }

  /**
   * A release file deployed again: the same bytes are a no-op success (a retried `mvn deploy`
   * goes through the files that already landed), other bytes a 409 with nothing stored.
   */
  async #redeploy(
    coordinate: MavenFileCoordinate,
    body: Readable,
    settings: DeploySettings,
    existing: StoredMavenFile,
  ): Promise<DeployResult> {
    const pomFile = coordinate.extension === 'pom';
    const ingested = await this.#deps.blobs
      .ingest(body, {
        maxBytes: pomFile ? Math.min(settings.maxBytes, MAX_POM_BYTES) : settings.maxBytes,
      })
      .catch((err: unknown) => {
        throw pomFile && settings.maxBytes > MAX_POM_BYTES ? pomTooLarge(err) : err;
      });
    const refusal = await archiveRefusal(this.#deps.blobs, coordinate, ingested);
    if (refusal !== undefined) throw refusal.error;
    if (ingested.digest.hex === existing.sha256) return { created: false, pruned: [], same: true };
    // Bytes nobody refers to (new to the store): removed; a blob that was there is someone else's.
    if (ingested.created) await this.#deps.blobs.discardCreated(ingested.digest).catch(() => false);
    throw releaseConflict(coordinate.path);
  }

  async #store(
    repo: Repository,
    coordinate: MavenFileCoordinate,
    body: Readable,
    settings: DeploySettings,
    previous: string | undefined,
    origin: DeployOrigin,
  ): Promise<DeployResult> {
    const existed = previous !== undefined;
    const snapshot = isSnapshotVersion(coordinate.version);
    const immutable = !snapshot && settings.immutableReleases;
    const pomFile = coordinate.extension === 'pom';
    const mainArchive = isMainArchive(coordinate);
    // After a refused main archive, the same deploy's other main files are refused (a POM once
    // its packaging is read: a `pom` one promises no archive and is taken). Not a file that
    // replaces one already stored: the version is listed by it already, and `mvn deploy` of a
    // project, rerun after its jar was refused, sends its POM again before the jar.
    if (!mainArchive && !pomFile && !existed) {
      const refusal = await this.#withdrawal.afterRefusedArchive(repo, coordinate);
      if (refusal !== undefined) throw refusal;
    }
    // A POM is held to MAX_POM_BYTES as it arrives (a chunked body; a declared length past it is
    // refused before reading, MavenService.deploy), not read whole to be refused afterwards.
    const ingested = await this.#deps.blobs
      .ingest(body, {
        hashes: ['md5', 'sha1', 'sha512'],
        maxBytes: pomFile ? Math.min(settings.maxBytes, MAX_POM_BYTES) : settings.maxBytes,
      })
      .catch((err: unknown) => {
        throw pomFile && settings.maxBytes > MAX_POM_BYTES ? pomTooLarge(err) : err;
      });
    const refusal = await archiveRefusal(this.#deps.blobs, coordinate, ingested);
    if (refusal !== undefined) {
      if (!mainArchive || existed) throw refusal.error;
      // Nothing at that path (a stored archive still serves the version): what the same deploy
      // stored just before (`mvn deploy`'s POM) is withdrawn, else the version stays listed with
      // no archive.
      throw await this.#withdrawal.archiveRefused(repo, coordinate, refusal, origin);
    }
    const hex = (name: 'md5' | 'sha1' | 'sha256' | 'sha512') => ingested.hashes[name] ?? '';
    if (settings.checksumVerify === true) {
      // Checksums uploaded before this file are compared with it once, whatever the outcome.
      const mismatch = this.#expected.takeMismatch(repo.name, coordinate.path, hex);
      if (mismatch !== undefined) {
        const { algorithm, actual, sent } = mismatch;
        // Refused whole: the bytes were new (nobody refers to them) or belong to someone else.
        if (ingested.created)
          await this.#deps.blobs.discardCreated(ingested.digest).catch(() => false);
        throw new RegistryError(
          'BAD_REQUEST',
          `checksum mismatch: ${coordinate.path} hashes to ${algorithm} ${actual}, the ${algorithm} uploaded before it says ${sent}; nothing stored, and that ${algorithm} is forgotten (upload the file again, after its right checksum if you send checksums first)`,
        );
      }
    }
    let pom: PomFacts | undefined;
    if (coordinate.extension === 'pom') {
      try {
        pom = await this.#pomFacts(ingested.digest, coordinate);
        if (pom.packaging !== 'pom' && !existed) {
          const refusal = await this.#withdrawal.afterRefusedArchive(repo, coordinate);
          if (refusal !== undefined) throw refusal;
        }
      } catch (err) {
        // A refused POM leaves nothing behind: its bytes were new to the store and nothing
        // refers to them (a blob that was already there belongs to someone else: keep it).
        if (ingested.created)
          await this.#deps.blobs.discardCreated(ingested.digest).catch(() => false);
        throw err;
      }
    }
    // A main jar: a plugin's declared goal prefix and name, when it has a descriptor (read from
    // the stored bytes, bounded; never fails the deploy).
    let plugin: PluginDescriptor | undefined;
    if (coordinate.extension === 'jar' && coordinate.classifier === '') {
      const digest = ingested.digest;
      plugin = await readPluginDescriptor(ingested.size, (start, end) =>
        this.#deps.blobs.open(digest, { start, end: end - 1 }),
      );
    }
    const pruned = await this.#deps.store.put(
      repo.name,
      {
        repo: repo.name,
        path: coordinate.path,
        group_id: coordinate.groupId,
        artifact_id: coordinate.artifactId,
        version: coordinate.version,
        classifier: coordinate.classifier,
        extension: coordinate.extension,
        snapshot_ts: coordinate.snapshot?.timestamp ?? null,
        build_number: coordinate.snapshot?.buildNumber ?? null,
        digest: formatDigest(ingested.digest),
        size: ingested.size,
        md5: hex('md5'),
        sha1: hex('sha1'),
        sha256: hex('sha256'),
        sha512: hex('sha512'),
        packaging: pom?.packaging ?? null,
        // A jar row carries its descriptor's goalPrefix (and name) only when it declares one.
        plugin_prefix: pom?.prefix ?? plugin?.goalPrefix ?? null,
        plugin_name:
          pom?.name ?? (plugin?.goalPrefix === undefined ? undefined : plugin.name) ?? null,
      },
      {
        immutable,
        keepSnapshots: snapshot ? settings.keepSnapshots : 0,
        // Who stored it new, for the withdrawal a refused archive of the same deploy may make.
        deployedBy: this.#withdrawal.deployedBy(origin),
      },
    );
    // A whole archive, or a `pom` POM, clears a refusal.
    await this.#withdrawal.stored(repo, coordinate, { mainArchive, packaging: pom?.packaging });
    if (!existed) return { created: true, pruned };
    // Which bytes were replaced, or that they were these same bytes (the audit log's `overwrite`).
    return {
      created: false,
      pruned,
      replaced: `sha256:${previous}`,
      unchanged: hex('sha256') === previous,
    };
  }

  /**
   * Compares an uploaded checksum file of `path` (text: the hex, optionally followed by a file
   * name, as `sha1sum` writes it) with the hash recorded at ingest. Returns 'match', 'mismatch',
   * or 'unknown' when no such file is stored (nothing to compare). BAD_REQUEST when `text` is
   * not a digest of `algorithm` at all (whatever `[maven] checksum_verify` says).
   */
  async compareChecksum(
    repo: Repository,
    path: string,
    algorithm: ChecksumName,
    text: string,
  ): Promise<'match' | 'mismatch' | 'unknown'> {
    const sent = uploadedChecksum(algorithm, path, text);
    const row = await this.#row(repo, path);
    if (!row) return 'unknown';
    return sent === row[algorithm] ? 'match' : 'mismatch';
  }

  /**
   * Remembers a checksum uploaded before its file (`compareChecksum` said 'unknown'), so the
   * file's deploy compares with it (`checksum_verify`). BAD_REQUEST when `text` is not a digest
   * of `algorithm`. A later upload of the same algorithm replaces it.
   */
  expectChecksum(repo: Repository, path: string, algorithm: ChecksumName, text: string): void {
    this.#expected.expect(repo.name, path, algorithm, text);
  }

  /** Forgets a remembered checksum (the file arrived meanwhile and was compared by the caller). */
  forgetExpectedChecksum(repo: Repository, path: string): void {
    this.#expected.forget(repo.name, path);
  }

  /**
   * Deletes what a DELETE path names: a directory `<g>/<a>` (the whole artifact, when it exists)
   * or `<g>/<a>/<version>` (one version), or one file. Throws BAD_REQUEST for a groupId's
   * directory (or a leading part of one) with files under it (`groupDeleteRefused`), NOT_FOUND
   * when nothing matched — for a layout file path, saying that file is not stored. Metadata is
   * derived from the rows, so it is regenerated by construction.
   */
  async remove(
    repo: Repository,
    target: { kind: 'dir'; segments: readonly string[] } | { kind: 'file'; path: string },
  ): Promise<{ removed: number; what: string }> {
    try {
      return await this.#remove(repo, target);
    } finally {
      this.#deps.changed?.(
        metadataScope(target.kind === 'file' ? target.path : target.segments.join('/')),
        repo.name,
      );
    }
  }

  /**
   * A DELETE of a snapshot file's non-unique name (`…/2.0-SNAPSHOT/demo-2.0-SNAPSHOT.jar`), which
   * no deploy stores but a GET answers with the newest build: 409 naming the builds stored and
   * how to delete one or all (trial 25 fmts F5), not a 404 "no such file" the next GET
   * contradicts (a script reading 404 as "already gone" would be wrong). Deleting the newest
   * build instead would make the same URL answer the build before it: a DELETE that leaves its
   * target in place. Returns when the name is not such an alias or no build is stored.
   */
  async #refuseSnapshotAlias(
    repo: Repository,
    path: string,
    coordinate: NonNullable<ReturnType<typeof fileCoordinate>>,
  ): Promise<void> {
    if (coordinate.snapshot !== undefined || !isSnapshotVersion(coordinate.version)) return;
    const builds = await this.#deps.store.snapshotBuilds(
      repo.name,
      coordinate.groupId,
      coordinate.artifactId,
      coordinate.version,
      coordinate.classifier,
      coordinate.extension,
    );
    const newest = builds[0];
    if (newest === undefined) return;
    const dir = path.slice(0, path.lastIndexOf('/') + 1);
    const name = (row: { path: string }) => row.path.slice(row.path.lastIndexOf('/') + 1);
    const shown = builds.slice(0, 5).map(name).join(', ');
    const more = builds.length > 5 ? `, and ${builds.length - 5} more` : '';
    throw new RegistryError(
      'CONFLICT',
      `${path} names no stored file: it is the snapshot name a GET answers with the newest build, ${name(newest)}; ` +
        `DELETE ${dir}${name(newest)} deletes that build (the name then answers the one before it), DELETE ${dir} every build of ${coordinate.version}. ` +
        `Builds stored (newest first): ${shown}${more}`,
    );
  }

  async #remove(
    repo: Repository,
    target: { kind: 'dir'; segments: readonly string[] } | { kind: 'file'; path: string },
  ): Promise<{ removed: number; what: string }> {
    const store = this.#deps.store;
    const segments = target.kind === 'dir' ? target.segments : target.path.split('/');
    if (target.kind === 'file') {
      const removed = await store.delete(repo.name, { path: target.path });
      if (removed > 0) return { removed, what: target.path };
      // A layout file path names a file, nothing else: say that file is not here (trial13 F2).
      const coordinate = fileCoordinate(segments, target.path);
      if (coordinate !== undefined) {
        await this.#refuseSnapshotAlias(repo, target.path, coordinate);
        throw new RegistryError(
          'NOT_FOUND',
          `${target.path} is not stored in ${repo.name}: no such file to delete`,
        );
      }
      // `DELETE …/demo/1.0` without the trailing slash: no file there, so the caller means the
      // version (or artifact) directory, as curl users write it.
    }
    if (segments.length >= 2) {
      const groupId = segments.slice(0, -1).join('.');
      const artifactId = segments.at(-1) ?? '';
      if (await store.hasArtifact(repo.name, groupId, artifactId)) {
        const removed = await store.delete(repo.name, { groupId, artifactId });
        // A DELETE starts the artifact over: a refusal remembered under it no longer applies.
        await this.#withdrawal.clearUnder(repo, groupId, artifactId);
        return { removed, what: `${groupId}:${artifactId}` };
      }
    }
    if (segments.length >= 3) {
      const groupId = segments.slice(0, -2).join('.');
      const artifactId = segments.at(-2) ?? '';
      const version = segments.at(-1) ?? '';
      const removed = await this.#removeVersion(repo, groupId, artifactId, version);
      if (removed > 0) return { removed, what: `${groupId}:${artifactId}:${version}` };
    }
    const dir = segments.join('/');
    // Files under it, yet no artifact or version: it is a groupId or the start of one (every
    // stored file is `<groupId dirs>/<artifactId>/<version>/<file>`).
    if ((await store.held(repo.name, dir)) !== undefined) throw groupDeleteRefused(`${dir}/`);
    throw new RegistryError(
      'NOT_FOUND',
      `${target.kind === 'dir' ? `${dir}/` : dir} is neither a stored artifact (<groupId dirs>/<artifactId>/) nor a stored version (…/<artifactId>/<version>/) in ${repo.name}`,
    );
  }

  /**
   * Deletes one version of groupId:artifactId (a SNAPSHOT with every build of it): what a DELETE
   * of `<g>/<a>/<version>/` does, named by its coordinate, so that no artifact whose groupId
   * ends in `<artifactId>` is taken for it (a DELETE path's first reading). Returns the files
   * removed, 0 when the version is not stored. Metadata is regenerated by construction; the
   * caches are told (`changed`) as after every delete. Retention's delete path (retention.ts).
   */
  async removeVersion(
    repo: Repository,
    groupId: string,
    artifactId: string,
    version: string,
  ): Promise<number> {
    try {
      return await this.#removeVersion(repo, groupId, artifactId, version);
    } finally {
      this.#deps.changed?.(metadataScope(groupId), repo.name);
    }
  }

  async #removeVersion(
    repo: Repository,
    groupId: string,
    artifactId: string,
    version: string,
  ): Promise<number> {
    const removed = await this.#deps.store.delete(repo.name, { groupId, artifactId, version });
    // A DELETE starts the version over: a refusal remembered under it no longer applies.
    await this.#withdrawal.clearUnder(repo, groupId, artifactId, version);
    return removed;
  }

  /** Every version of every artifact `repo` holds (MavenStore.versionTotals). */
  versionTotals(repo: Repository): Promise<VersionTotal[]> {
    return this.#deps.store.versionTotals(repo.name);
  }

  /** See MavenSource.held. */
  held(repo: Repository, path: string): Promise<string | undefined> {
    return this.#deps.store.held(repo.name, path);
  }

  /** True when `repo` holds any file of groupId:artifactId (group.ts's dependency-confusion guard). */
  hasArtifact(repo: Repository, groupId: string, artifactId: string): Promise<boolean> {
    return this.#deps.store.hasArtifact(repo.name, groupId, artifactId);
  }

  async #pomFacts(digest: Digest, coordinate: MavenFileCoordinate): Promise<PomFacts> {
    const stream = await this.#deps.blobs.open(digest);
    let bytes: Buffer;
    try {
      bytes = await readAllBounded(stream, MAX_POM_BYTES, 'POM');
    } catch (err) {
      stream.destroy();
      if (err instanceof RegistryError && err.code === 'TOO_LARGE') {
        throw new RegistryError('BAD_REQUEST', `POM larger than ${MAX_POM_BYTES} bytes`);
      }
      throw err;
    }
    return parsePomFacts(
      bytes.toString('utf8'),
      coordinate.artifactId,
      coordinate.groupId,
      pomVersions(coordinate),
    );
  }
}

/**
 * The refusal of a DELETE of a groupId's directory (or a leading part of one), whichever member
 * holds what is under it: a DELETE removes one artifact, version or file, never a groupId's
 * artifacts at once (one typo would empty a namespace).
 */
export function groupDeleteRefused(shown: string): RegistryError {
  return new RegistryError(
    'BAD_REQUEST',
    `${shown} is a groupId, or the start of one: a DELETE removes one artifact (<groupId dirs>/<artifactId>/), one version (…/<artifactId>/<version>/) or one file, never a whole groupId at once`,
  );
}

/** What a deploy records of a POM. */
export interface PomFacts {
  readonly packaging: string;
  /** `maven-plugin` packaging only. */
  readonly prefix: string | undefined;
  readonly name: string | undefined;
}

const pomParser = new XMLParser({
  processEntities: false,
  ignoreAttributes: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  parseTagValue: false,
  isArray: (name) => name === 'plugin',
});

/**
 * The versions a POM deployed as `coordinate` may declare: its version directory (`1.0`,
 * `1.0-SNAPSHOT`: what mvn and Gradle write in a snapshot's POM), and for a timestamped snapshot
 * build also that build's own version (`1.0-20261203.101010-1`, which names the same build).
 */
export function pomVersions(coordinate: MavenFileCoordinate): readonly string[] {
  const snapshot = coordinate.snapshot;
  if (snapshot === undefined) return [coordinate.version];
  return [
    coordinate.version,
    timestampedVersion(coordinate.version, snapshot.timestamp, snapshot.buildNumber),
  ];
}

/**
 * `<packaging>` (default `jar`), and for `maven-plugin` packaging its goal prefix (the
 * maven-plugin-plugin's `<goalPrefix>` when the POM sets it, else derived from the artifactId as
 * Maven does) and `<name>`. Throws BAD_REQUEST for a DOCTYPE/ENTITY declaration, malformed XML,
 * or a POM describing another coordinate than the one it is deployed at: a groupId or artifactId
 * other than `groupId`/`artifactId`, or a version (its own `<version>`, else the one it inherits
 * from `<parent>`) that is not one of `versions` (pomVersions) or is an unresolved property. A
 * coordinate the POM leaves out (no `<groupId>` and no parent's) is not compared; undefined
 * expectations are not either.
 */
export function parsePomFacts(
  text: string,
  artifactId: string,
  groupId?: string,
  versions?: readonly string[],
): PomFacts {
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) {
    throw new RegistryError('BAD_REQUEST', 'POM must not contain a DOCTYPE or ENTITY declaration');
  }
  // fast-xml-validator (the successor) is not a dependency; this validator is what ships with
  // fast-xml-parser 5 and is enough for well-formedness.
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    throw new RegistryError(
      'BAD_REQUEST',
      `POM is not well-formed XML (line ${valid.err.line}: ${valid.err.msg})`,
    );
  }
  let doc: Record<string, unknown>;
  try {
    doc = pomParser.parse(text) as Record<string, unknown>;
  } catch (err) {
    // The parser's own limits (e.g. nesting depth) are about the document: the client's fault.
    throw new RegistryError(
      'BAD_REQUEST',
      `POM is not acceptable XML (${err instanceof Error ? err.message : String(err)})`,
    );
  }
  const project = asRecord(doc['project']);
  if (!project) throw new RegistryError('BAD_REQUEST', 'POM has no <project> element');
  // A POM must describe the coordinate it is deployed at (property references are left alone:
  // they are resolved by Maven, not here).
  for (const key of ['artifactId', 'groupId', 'version'] as const) {
    // A repeated element parses as a list, which would slip past the comparisons below (Maven's
    // strict POM reader refuses it too: "Duplicated tag").
    if (Array.isArray(project[key]) || Array.isArray(asRecord(project['parent'])?.[key])) {
      throw new RegistryError('BAD_REQUEST', `POM declares <${key}> more than once`);
    }
  }
  const declared = {
    artifactId: text1(project['artifactId']),
    groupId: text1(project['groupId']) ?? text1(asRecord(project['parent'])?.['groupId']),
  };
  const expected = { artifactId, groupId };
  for (const key of ['artifactId', 'groupId'] as const) {
    const value = declared[key];
    const wanted = expected[key];
    if (value !== undefined && wanted !== undefined && !value.includes('${') && value !== wanted) {
      throw new RegistryError(
        'BAD_REQUEST',
        `POM declares ${key} ${JSON.stringify(value.slice(0, 200))} but is deployed at ${key} ${JSON.stringify(wanted)}`,
      );
    }
  }
  // A deployed POM is the file as written: Maven interpolates `${…}` when it builds, never in
  // the POM it deploys (Maven 3; Maven 4's consumer POM and the flatten-maven-plugin write the
  // values). A version still holding a property (`${revision}`: a CI-friendly version deployed
  // without flattening) names no version a consumer can fetch — a child's
  // `<parent><version>${revision}` cannot be resolved at all, and a `${revision}` whose default
  // sits in `<properties>` resolves to that default, not to the version deployed. Maven's
  // "CI Friendly Versions" page says such artifacts "will not be consumable by Maven anymore",
  // Maven 3.9.10 fails the build that would deploy them (MNG-8211), and Central's portal refuses
  // them (publishers report "Failed to get coordinates from pom file"). So refused, even when the property's
  // default would equal the directory: the safe side (a POM nobody can consume never lands).
  const ownVersion = text1(project['version']);
  const parentVersion = text1(asRecord(project['parent'])?.['version']);
  for (const [what, value] of [
    ['version', ownVersion],
    ['parent version', parentVersion],
  ] as const) {
    if (typeof value === 'string' && value.includes('${')) {
      throw new RegistryError(
        'BAD_REQUEST',
        `POM ${what} ${JSON.stringify(value.slice(0, 200))} is an unresolved property: deploy the POM with its version resolved (for CI-friendly versions, the flatten-maven-plugin)`,
      );
    }
  }
  // The version the POM says it is (its own, else the parent's it inherits) must be the version
  // directory it is deployed in, as groupId and artifactId must match theirs: a release POM that
  // says another version is a corrupt release (consumers of 1.0 would get a POM claiming 2.0,
  // and `immutable_releases` keeps it). Artifactory refuses the same ("POM consistency checks").
  const declaredVersion = ownVersion ?? parentVersion;
  if (
    declaredVersion !== undefined &&
    versions !== undefined &&
    versions.length > 0 &&
    !versions.includes(declaredVersion)
  ) {
    const how = ownVersion === undefined ? 'inherits version' : 'declares version';
    const from = ownVersion === undefined ? ' from its <parent>' : '';
    throw new RegistryError(
      'BAD_REQUEST',
      `POM ${how} ${JSON.stringify(declaredVersion.slice(0, 200))}${from} but is deployed at version ${JSON.stringify(versions[0])}`,
    );
  }
  const packaging = text1(project['packaging']) ?? 'jar';
  if (packaging !== 'maven-plugin') return { packaging, prefix: undefined, name: undefined };
  const plugins = asRecord(asRecord(project['build'])?.['plugins'])?.['plugin'];
  let prefix: string | undefined;
  if (Array.isArray(plugins)) {
    for (const plugin of plugins) {
      const entry = asRecord(plugin);
      if (text1(entry?.['artifactId']) !== 'maven-plugin-plugin') continue;
      const configured = text1(asRecord(entry?.['configuration'])?.['goalPrefix']);
      if (configured !== undefined && /^[A-Za-z0-9_.-]{1,128}$/.test(configured)) {
        prefix = configured;
      }
    }
  }
  return {
    packaging,
    prefix: prefix ?? pluginPrefix(artifactId),
    // The parser leaves entities alone (processEntities: false): `Foo &amp; Bar` is `Foo & Bar`.
    name: decodeText(text1(project['name']) ?? '').slice(0, 512) || undefined,
  };
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function text1(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** `yyyyMMddHHmmss` (UTC) of a time in ms: metadata's `lastUpdated`. */
export function metadataTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** Artifact level: every version in Maven order, `latest`, `release` (newest non-snapshot). */
export function artifactMetadata(
  groupId: string,
  artifactId: string,
  versions: readonly { version: string; updatedAt: number }[],
  compare: VersionComparator,
): MavenMetadata {
  const sorted = versions.map((v) => v.version).sort(compare);
  const releases = sorted.filter((v) => !isSnapshotVersion(v));
  return {
    ...EMPTY_METADATA,
    groupId,
    artifactId,
    versions: sorted,
    latest: sorted.at(-1),
    release: releases.at(-1),
    lastUpdated: metadataTimestamp(latestTime(versions.map((v) => v.updatedAt))),
  };
}

/**
 * Snapshot-version level: the newest timestamped build (`snapshot`), and per
 * classifier/extension its newest file (`snapshotVersions`); a non-unique file counts where no
 * build of its classifier/extension exists.
 */
export function snapshotMetadata(
  groupId: string,
  artifactId: string,
  version: string,
  rows: readonly StoredMavenFile[],
): MavenMetadata {
  let newest: StoredMavenFile | undefined;
  const byKind = new Map<string, StoredMavenFile>();
  for (const row of rows) {
    // The highest build number, the later timestamp between equal numbers: the same order as
    // `snapshotVersions` and a GET of the non-unique name (the first row seen won a tie).
    if (row.snapshot_ts !== null && (newest === undefined || newerFile(row, newest))) newest = row;
    const key = `${row.classifier}\n${row.extension}`;
    const current = byKind.get(key);
    if (current === undefined || newerFile(row, current)) byKind.set(key, row);
  }
  const snapshotVersions: SnapshotVersion[] = [...byKind.values()]
    .sort(
      (a, b) => a.extension.localeCompare(b.extension) || a.classifier.localeCompare(b.classifier),
    )
    .map((row) => ({
      classifier: row.classifier === '' ? undefined : row.classifier,
      extension: row.extension,
      value:
        row.snapshot_ts === null
          ? version
          : timestampedVersion(version, row.snapshot_ts, row.build_number ?? 0),
      updated: metadataTimestamp(row.updated_at),
    }));
  return {
    ...EMPTY_METADATA,
    groupId,
    artifactId,
    version,
    lastUpdated: metadataTimestamp(latestTime(rows.map((r) => r.updated_at))),
    snapshot:
      newest === undefined || newest.snapshot_ts === null
        ? undefined
        : { timestamp: newest.snapshot_ts, buildNumber: newest.build_number ?? 0 },
    snapshotVersions,
  };
}

/** A timestamped build beats a non-unique file; between builds the higher number wins. */
function newerFile(a: StoredMavenFile, b: StoredMavenFile): boolean {
  if (a.snapshot_ts !== null && b.snapshot_ts === null) return true;
  if (a.snapshot_ts === null && b.snapshot_ts !== null) return false;
  if (a.snapshot_ts === null) return a.updated_at > b.updated_at;
  return (
    (a.build_number ?? 0) > (b.build_number ?? 0) ||
    ((a.build_number ?? 0) === (b.build_number ?? 0) && a.snapshot_ts > (b.snapshot_ts ?? ''))
  );
}

/**
 * Group level: one `<plugin>` per artifactId with a `maven-plugin` POM. Its prefix and name are
 * those its newest main jar's `META-INF/maven/plugin.xml` declares (what Maven's own metadata
 * says), else its newest POM's (a maven-plugin-plugin `<goalPrefix>` configured there, else the
 * artifactId rule, and `<name>`). `rows`: the groupId's `maven-plugin` POM rows and main jar rows
 * carrying a descriptor's prefix (MavenStore.plugins).
 */
export function pluginMetadata(rows: readonly StoredMavenFile[]): MavenMetadata {
  const poms = new Map<string, StoredMavenFile>();
  const jars = new Map<string, StoredMavenFile>();
  for (const row of rows) {
    const newest = row.extension === 'pom' ? poms : jars;
    if (row.extension === 'pom' && row.packaging !== 'maven-plugin') continue;
    if (row.extension !== 'pom' && row.plugin_prefix === null) continue;
    const current = newest.get(row.artifact_id);
    if (current === undefined || row.updated_at > current.updated_at) {
      newest.set(row.artifact_id, row);
    }
  }
  const plugins: PluginEntry[] = [...poms.values()]
    .sort((a, b) => a.artifact_id.localeCompare(b.artifact_id))
    .map((pom) => {
      const jar = jars.get(pom.artifact_id);
      const row = jar ?? pom;
      return {
        name: row.plugin_name ?? pom.plugin_name ?? undefined,
        prefix: row.plugin_prefix ?? pluginPrefix(row.artifact_id),
        artifactId: row.artifact_id,
      };
    });
  return { ...EMPTY_METADATA, plugins };
}

/**
 * The largest of `times` (epoch ms; -Infinity for none). A loop, not `Math.max(...times)`, whose
 * spread throws RangeError past the engine's argument limit (~100k versions of one artifact).
 */
function latestTime(times: readonly number[]): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const t of times) if (t > max) max = t;
  return max;
}
