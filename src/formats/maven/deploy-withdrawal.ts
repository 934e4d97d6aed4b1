/**
 * What a refused main archive does to the rest of its deploy (hosted.ts `deploy`), so that a
 * version is never left listed in maven-metadata.xml, maybe as `<latest>`/`<release>`, with no
 * archive:
 *
 * - after it: the files of the same build that would list the version (the POM unless its
 *   packaging is `pom`, a `.module`) are refused for a while (RefusedArchives), as `mvn
 *   deploy:deploy-file` sends its POM after the jar (trial 21);
 * - before it: what the same uploader stored new in that version directory moments before (`mvn
 *   deploy` of a project sends its POM first) is withdrawn, under guards (`#withdrawBefore`,
 *   trial 23). Who stored what is remembered in memory, bounded.
 */
import { RegistryError } from '../../core/errors.ts';
import { ExpiringMap } from '../../core/expiring-map.ts';
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
 * Files stored new a moment ago, remembered with who stored them: at most this many paths (oldest
 * forgotten first), for this long (the window, plus the refused archive's own upload time).
 */
export const MAX_RECENT_DEPLOYS = 10_000;
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
  /** The clock of the recent deploys (tests drive it); Date.now by default. */
  readonly now?: (() => number) | undefined;
}

export class DeployWithdrawal {
  readonly #store: MavenStore;
  readonly #log: Logger | undefined;
  /**
   * Main archives refused a moment ago, per build: the files the same deploy sends after one
   * (mvn deploy-file's POM) are refused instead of listing the version with no archive.
   */
  readonly #refused: RefusedArchives;
  readonly #refusedTtlMs: number;
  /**
   * `<repo>\n<path>` → who stored the file new at that path a moment ago (`deploy`'s `uploader`):
   * what a refused main archive may withdraw of its own deploy (`#withdrawBefore`). In memory: a
   * restart or another node forgets, and then nothing is withdrawn (the safe side).
   */
  readonly #recent: ExpiringMap<string, string>;

  constructor(deps: DeployWithdrawalDeps) {
    this.#store = deps.store;
    this.#log = deps.log;
    this.#refusedTtlMs = deps.refusedArchiveTtlMs ?? REFUSED_ARCHIVE_TTL_MS;
    this.#refused = new RefusedArchives({ ttlMs: this.#refusedTtlMs });
    this.#recent = new ExpiringMap({
      max: MAX_RECENT_DEPLOYS,
      ttlMs: RECENT_DEPLOY_TTL_MS,
      now: deps.now,
    });
  }

  /** The clock's time now, epoch ms: a deploy's `startedAt`. */
  now(): number {
    return this.#recent.now();
  }

  /**
   * BAD_REQUEST for a file that would list `coordinate`'s version (a main file that is no
   * signature: MavenStore.versions) while the main archive of the same build was refused a
   * moment ago (RefusedArchives): `mvn deploy:deploy-file` sends its generated POM after the
   * refused jar, and that POM alone would make the version listed, maybe as `<latest>` and
   * `<release>`, with no jar. The message names the refused archive, in the reason phrase's
   * first 200 characters. Undefined when nothing is remembered or the file lists nothing.
   */
  afterRefusedArchive(
    repo: Repository,
    coordinate: MavenFileCoordinate,
  ): RegistryError | undefined {
    if (!listsVersion(coordinate)) return undefined;
    const refused = this.#refused.find(repo.name, coordinate);
    if (refused === undefined) return undefined;
    const seconds = Math.max(0, Math.round((Date.now() - refused.at) / 1000));
    const ext = refused.extension;
    const minutes = Math.round(this.#refusedTtlMs / 60_000);
    return new RegistryError(
      'BAD_REQUEST',
      `${coordinate.path} not stored: ${refused.path} was refused ${seconds} s ago (${refused.reason}), and this file would list ${coordinate.version} in maven-metadata.xml with no .${ext}; deploy the whole .${ext} first (that clears this, else it is forgotten after ${minutes} minutes), or, if ${coordinate.version} has no .${ext}, a POM with <packaging>pom</packaging>`,
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
      this.#refused.remember(repo.name, coordinate, refusal.why);
      return refusal.error;
    }
    // Not remembered: this deploy sent its POM first (`mvn deploy`), so a rerun sends the POM
    // again before the right jar, and that POM must be taken.
    const files = withdrawn.join(', ');
    return new RegistryError(
      'BAD_REQUEST',
      `${refusal.error.message}; withdrawn with it, as this deploy stored them just before: ${files} (${coordinate.version} is not listed in maven-metadata.xml; deploy it again with the whole .${coordinate.extension})`,
    );
  }

  /**
   * A file was recorded at `coordinate`: a whole main archive (`mainArchive`), or a POM of
   * packaging `pom` (which says there is no archive to wait for), clears the build's refusal;
   * a file new at its path (`existed` false) is remembered with its uploader for a later
   * withdrawal, one that replaced a file is not (it was published before).
   */
  stored(
    repo: Repository,
    coordinate: MavenFileCoordinate,
    facts: { existed: boolean; mainArchive: boolean; packaging: string | undefined },
    origin: DeployOrigin,
  ): void {
    if (facts.mainArchive || facts.packaging === 'pom') this.#refused.clear(repo.name, coordinate);
    const recentKey = `${repo.name}\n${coordinate.path}`;
    if (!facts.existed && origin.uploader !== undefined) {
      this.#recent.set(recentKey, origin.uploader);
    } else this.#recent.delete(recentKey);
  }

  /**
   * Forgets the refusals of `repo` under groupId:artifactId, or one version of it (a DELETE of
   * the artifact or version starts it over).
   */
  clearUnder(repo: Repository, groupId: string, artifactId: string, version?: string): void {
    this.#refused.clearUnder(repo.name, groupId, artifactId, version);
  }

  /**
   * After the main archive `coordinate` (new at its path) was refused: removes the files the same
   * deploy stored in its version directory just before (`mvn deploy` of a project sends the POM,
   * its checksums, then the jar), so that the version is not left listed in maven-metadata.xml,
   * maybe as `<latest>`/`<release>`, with no archive. Guards, all required, else nothing goes:
   * the uploader is known; every file of that version directory (of `repo`, exactly that
   * groupId:artifactId:version) has no classifier and is no archive (ARCHIVE_EXTENSIONS; a
   * jar, war or classified file stored earlier means the version was published), nor a POM of
   * packaging `pom` (whole by itself); and each was stored new at its path by the same uploader
   * at most WITHDRAW_WINDOW_MS before the refused request began (not replaced since, not an
   * older file). The removal is one transaction that keeps everything when the directory
   * changed meanwhile (MavenStore.withdraw). Logs one line when something went. Returns the
   * paths withdrawn (none: [] ).
   */
  async #withdrawBefore(
    repo: Repository,
    coordinate: MavenFileCoordinate,
    why: string,
    origin: DeployOrigin,
  ): Promise<string[]> {
    const uploader = origin.uploader;
    if (uploader === undefined) return [];
    const rows = await this.#store.versionFiles(
      repo.name,
      coordinate.groupId,
      coordinate.artifactId,
      coordinate.version,
    );
    if (rows.length === 0) return [];
    for (const row of rows) {
      if (row.classifier !== '' || isArchiveExtension(row.extension)) return [];
      // A POM of packaging `pom` is a whole deploy by itself (a parent, a BOM): never withdrawn.
      if (row.packaging === 'pom') return [];
      const recent = this.#recent.entry(`${repo.name}\n${row.path}`);
      if (recent?.value !== uploader) return [];
      if (recent.at < origin.startedAt - WITHDRAW_WINDOW_MS) return [];
    }
    const withdrawn = await this.#store.withdraw(
      repo.name,
      {
        groupId: coordinate.groupId,
        artifactId: coordinate.artifactId,
        version: coordinate.version,
      },
      rows,
    );
    for (const path of withdrawn) this.#recent.delete(`${repo.name}\n${path}`);
    if (withdrawn.length > 0) {
      this.#log?.warn(
        { repository: repo.name, refused: coordinate.path, withdrawn, uploader },
        `maven deploy: ${coordinate.path} refused (${why}); withdrew ${withdrawn.join(', ')}, stored by the same deploy (${uploader}) just before, so ${coordinate.version} is not listed with no .${coordinate.extension}`,
      );
    }
    return withdrawn;
  }
}
