/**
 * What a refused main archive does to the rest of its deploy (hosted.ts `deploy`), so that a
 * version is never left listed in maven-metadata.xml, maybe as `<latest>`/`<release>`, with no
 * archive:
 *
 * - after it: the files of the same build that would list the version (the POM unless its
 *   packaging is `pom`, a `.module`) are refused for a while (RefusedArchives), as `mvn
 *   deploy:deploy-file` sends its POM after the jar (trial 21);
 * - before it: what the same uploader stored new in that version directory — for a timestamped
 *   snapshot build, in that build — moments before (`mvn deploy` of a project sends its POM
 *   first) is withdrawn, under guards (`#withdrawBefore`, trial 23).
 *
 * Both memories are in the database (`maven_refused_archives`, `maven_recent_deploys`:
 * migrations.ts), so a restart between the requests of one deploy, or a deploy whose requests
 * reach two nodes over one database, is judged as in one process.
 */
import { RegistryError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { Repository } from '../../repos/repository.ts';
import { type ArchiveRefusal, isArchiveExtension } from './archive-check.ts';
import type { MavenFileCoordinate } from './coordinates.ts';
import { REFUSED_ARCHIVE_TTL_MS, RefusedArchives } from './refused-archives.ts';
import { listsVersion, type MavenStore } from './store.ts';

/**
 * Withdrawal of a half-published version (`#withdrawBefore`): a file is withdrawn only when it was
 * stored new at its path by the same uploader at most WITHDRAW_WINDOW_MS before the refused main
 * archive's request began (`mvn deploy` sends the POM, then the jar, seconds apart).
 */
export const WITHDRAW_WINDOW_MS = 5 * 60 * 1000;
/**
 * Files stored new a moment ago, remembered with who stored them (`maven_recent_deploys`) for
 * this long: the window, plus the refused archive's own upload time.
 */
export const RECENT_DEPLOY_TTL_MS = 60 * 60 * 1000;

/** Who sent a deploy request and when it began (epoch ms of DeployWithdrawalDeps.now). */
export interface DeployOrigin {
  /** `user <name>`, `anonymous from <address>`; undefined: not known (nothing is withdrawn). */
  readonly uploader: string | undefined;
  readonly startedAt: number;
}

export interface DeployWithdrawalDeps {
  readonly store: MavenStore;
  /** How long a refused main archive's build refuses its other main files (tests shorten it). */
  readonly refusedArchiveTtlMs?: number | undefined;
  /** Where a withdrawal is logged (one line). */
  readonly log?: Logger | undefined;
  /** The clock of the recent deploys and the refusals (tests drive it); Date.now by default. */
  readonly now?: (() => number) | undefined;
}

export class DeployWithdrawal {
  readonly #store: MavenStore;
  readonly #log: Logger | undefined;
  readonly #now: () => number;
  /**
   * Main archives refused a moment ago, per build: the files the same deploy sends after one
   * (mvn deploy-file's POM) are refused instead of listing the version with no archive.
   */
  readonly #refused: RefusedArchives;
  readonly #refusedTtlMs: number;

  constructor(deps: DeployWithdrawalDeps) {
    this.#store = deps.store;
    this.#log = deps.log;
    this.#now = deps.now ?? Date.now;
    this.#refusedTtlMs = deps.refusedArchiveTtlMs ?? REFUSED_ARCHIVE_TTL_MS;
    this.#refused = new RefusedArchives(deps.store.db, { ttlMs: this.#refusedTtlMs });
  }

  /** The clock's time now, epoch ms: a deploy's `startedAt`. */
  now(): number {
    return this.#now();
  }

  /**
   * What MavenStore.put records of who stores a file (PutOptions.deployedBy): the uploader of
   * `origin` (a file new at its path is remembered for RECENT_DEPLOY_TTL_MS), at now.
   */
  deployedBy(origin: DeployOrigin): { uploader: string | undefined; at: number; ttlMs: number } {
    return { uploader: origin.uploader, at: this.#now(), ttlMs: RECENT_DEPLOY_TTL_MS };
  }

  /**
   * BAD_REQUEST for a file that would list `coordinate`'s version (a main file that is no
   * signature: MavenStore.versions) while the main archive of the same build was refused a
   * moment ago (RefusedArchives): `mvn deploy:deploy-file` sends its generated POM after the
   * refused jar, and that POM alone would make the version listed, maybe as `<latest>` and
   * `<release>`, with no jar. The message names the refused archive, in the reason phrase's
   * first 200 characters. Undefined when nothing is remembered or the file lists nothing.
   */
  async afterRefusedArchive(
    repo: Repository,
    coordinate: MavenFileCoordinate,
  ): Promise<RegistryError | undefined> {
    if (!listsVersion(coordinate)) return undefined;
    const refused = await this.#refused.find(repo.name, coordinate);
    if (refused === undefined) return undefined;
    const seconds = Math.max(0, Math.round((Date.now() - refused.at) / 1000));
    const ext = refused.extension;
    const minutes = Math.round(this.#refusedTtlMs / 60_000);
    return new RegistryError(
      'BAD_REQUEST',
      `${coordinate.path} not stored: ${refused.path} was refused ${seconds} s ago (${refused.reason}), and this file would list ${coordinate.version} in maven-metadata.xml with no .${ext}; deploy the whole .${ext} first (that clears this, else it is forgotten after ${minutes} minute${minutes === 1 ? '' : 's'}), or, if ${coordinate.version} has no .${ext}, a POM with <packaging>pom</packaging>`,
    );
  }

  /**
   * The main archive `coordinate`, new at its path, was refused (`refusal`): withdraws what the
   * same deploy stored just before (`#withdrawBefore`), else remembers the refusal for the files
   * the deploy sends after it. Returns the error to throw: the refusal, or, when something was
   * withdrawn, the refusal followed by the paths withdrawn.
   */
  async archiveRefused(
    repo: Repository,
    coordinate: MavenFileCoordinate,
    refusal: ArchiveRefusal,
    origin: DeployOrigin,
  ): Promise<RegistryError> {
    const withdrawn = await this.#withdrawBefore(repo, coordinate, refusal.why, origin);
    if (withdrawn.length === 0) {
      await this.#refused.remember(repo.name, coordinate, refusal.why);
      return refusal.error;
    }
    // Not remembered: this deploy sent its POM first (`mvn deploy`), so a rerun sends the POM
    // again before the right jar, and that POM must be taken.
    const files = withdrawn.join(', ');
    return new RegistryError(
      'BAD_REQUEST',
      `${refusal.error.message}; withdrawn with it, as this deploy stored them just before: ${files} (${await this.#listedAfter(repo, coordinate)}; deploy it again with the whole .${coordinate.extension})`,
    );
  }

  /**
   * What maven-metadata.xml lists of `coordinate`'s version once its deploy was withdrawn, for
   * the 400: `1.1 is not listed in maven-metadata.xml`; for a timestamped snapshot build whose
   * earlier builds stay (only that build goes), not that (trial 26 mirrorR F8: the version was
   * still listed) but `build 20261205.101010-2 is not listed in maven-metadata.xml: 1.0-SNAPSHOT
   * still resolves to build 20261204.101010-1`, the newest .<extension> left.
   */
  async #listedAfter(repo: Repository, coordinate: MavenFileCoordinate): Promise<string> {
    const { version, snapshot } = coordinate;
    const gone = `${version} is not listed in maven-metadata.xml`;
    if (snapshot === undefined) return gone;
    const listed = await this.#store.versions(repo.name, coordinate.groupId, coordinate.artifactId);
    if (!listed.some((v) => v.version === version)) return gone;
    const build = `build ${snapshot.timestamp}-${snapshot.buildNumber} is not listed in maven-metadata.xml`;
    const newest = await this.#store.newestSnapshotFile(
      repo.name,
      coordinate.groupId,
      coordinate.artifactId,
      version,
      '',
      coordinate.extension,
    );
    if (newest === undefined) return `${build}, but earlier files of ${version} are`;
    return newest.snapshot_ts === null
      ? `${build}: ${version} still resolves to its last .${coordinate.extension} deployed without a timestamp`
      : `${build}: ${version} still resolves to build ${newest.snapshot_ts}-${newest.build_number}`;
  }

  /**
   * A file was recorded at `coordinate`: a whole main archive (`mainArchive`), or a POM of
   * packaging `pom` (which says there is no archive to wait for), clears the build's refusal.
   * (Who stored it was recorded with it: `deployedBy`.)
   */
  async stored(
    repo: Repository,
    coordinate: MavenFileCoordinate,
    facts: { mainArchive: boolean; packaging: string | undefined },
  ): Promise<void> {
    if (facts.mainArchive || facts.packaging === 'pom') {
      await this.#refused.clear(repo.name, coordinate);
    }
  }

  /**
   * Forgets the refusals of `repo` under groupId:artifactId, or one version of it (a DELETE of
   * the artifact or version starts it over).
   */
  async clearUnder(
    repo: Repository,
    groupId: string,
    artifactId: string,
    version?: string,
  ): Promise<void> {
    await this.#refused.clearUnder(repo.name, groupId, artifactId, version);
  }

  /**
   * After the main archive `coordinate` (new at its path) was refused: removes the files the same
   * deploy stored in its version directory just before (`mvn deploy` of a project sends the POM,
   * its checksums, then the jar), so that the version is not left listed in maven-metadata.xml,
   * maybe as `<latest>`/`<release>`, with no archive. For a timestamped snapshot build
   * (`…-20261205.101010-2.jar`) only that build's files are considered: earlier builds of the
   * version stay, and maven-metadata.xml names the newest of them again (until the twenty-first
   * session the new build's POM was kept as soon as earlier builds were there).
   *
   * Guards, all required, else nothing goes: the uploader is known; every file considered (of
   * `repo`, exactly that groupId:artifactId:version, and that build) has no classifier and is no
   * archive (ARCHIVE_EXTENSIONS; a jar, war or classified file stored earlier means the version
   * or build was published), nor a POM of packaging `pom` (whole by itself); and each was stored
   * new at its path by the same uploader (`maven_recent_deploys`) at most WITHDRAW_WINDOW_MS
   * before the refused request began (not replaced since, not an older file). The removal is one
   * transaction that keeps everything when those files changed meanwhile (MavenStore.withdraw).
   * Logs one line when something went. Returns the paths withdrawn (none: [] ).
   */
  async #withdrawBefore(
    repo: Repository,
    coordinate: MavenFileCoordinate,
    why: string,
    origin: DeployOrigin,
  ): Promise<string[]> {
    const uploader = origin.uploader;
    if (uploader === undefined) return [];
    const snapshot = coordinate.snapshot;
    const build =
      snapshot === undefined
        ? undefined
        : { snapshot_ts: snapshot.timestamp, build_number: snapshot.buildNumber };
    const rows = (
      await this.#store.versionFiles(
        repo.name,
        coordinate.groupId,
        coordinate.artifactId,
        coordinate.version,
      )
    ).filter(
      (row) =>
        build === undefined ||
        (row.snapshot_ts === build.snapshot_ts && row.build_number === build.build_number),
    );
    if (rows.length === 0) return [];
    for (const row of rows) {
      if (row.classifier !== '' || isArchiveExtension(row.extension)) return [];
      // A POM of packaging `pom` is a whole deploy by itself (a parent, a BOM): never withdrawn.
      if (row.packaging === 'pom') return [];
    }
    const recent = await this.#store.recentDeploys(
      repo.name,
      rows.map((row) => row.path),
    );
    const now = this.#now();
    for (const row of rows) {
      const entry = recent.get(row.path);
      if (entry?.uploader !== uploader) return [];
      if (now - entry.at > RECENT_DEPLOY_TTL_MS) return [];
      if (entry.at < origin.startedAt - WITHDRAW_WINDOW_MS) return [];
    }
    const withdrawn = await this.#store.withdraw(
      repo.name,
      {
        groupId: coordinate.groupId,
        artifactId: coordinate.artifactId,
        version: coordinate.version,
        ...(build === undefined ? {} : { build }),
      },
      rows,
    );
    if (withdrawn.length > 0) {
      this.#log?.warn(
        { repository: repo.name, refused: coordinate.path, withdrawn, uploader },
        `maven deploy: ${coordinate.path} refused (${why}); withdrew ${withdrawn.join(', ')}, stored by the same deploy (${uploader}) just before, so ${coordinate.version} is not listed with no .${coordinate.extension}`,
      );
    }
    return withdrawn;
  }
}
