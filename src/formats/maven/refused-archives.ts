/**
 * Main archives refused at deploy (hosted.ts `#refuseNonArchive`: empty, a web page, no zip end
 * record), remembered per version for a short while so that the files the same deploy sends
 * after the archive do not make the version listed with no archive.
 *
 * Why: `mvn deploy:deploy-file` sends the jar first, then its generated POM, and goes on after
 * the jar's 400 (maven-resolver collects the errors and reports them at the end). The POM is
 * valid, so it was stored, and maven-metadata.xml, derived from the stored main files, listed the
 * version (maybe as `<latest>`/`<release>`) with no jar: every build resolving it failed. Gradle's
 * maven-publish also sends the main artifact first but stops at its first failure; `mvn deploy`
 * of a project sends the POM before the jar, so its POM is already stored when the jar is
 * refused: hosted.ts (`#withdrawBefore`) withdraws it then, under guards, and does not remember
 * that refusal (the rerun sends its POM first again).
 *
 * In memory, per process: a restart or another node forgets, and then a following POM is stored
 * as before (the old behaviour). Bounded (core/expiring-map.ts): at most MAX_REFUSED_ARCHIVES
 * versions (oldest forgotten first) for REFUSED_ARCHIVE_TTL_MS each; the files of one deploy
 * follow each other within seconds.
 */
import { ExpiringMap } from '../../core/expiring-map.ts';
import type { MavenFileCoordinate } from './coordinates.ts';

/** Versions remembered at most (oldest forgotten first). */
export const MAX_REFUSED_ARCHIVES = 10_000;
/** How long a refusal is remembered: long past one deploy's files, short of a day's work. */
export const REFUSED_ARCHIVE_TTL_MS = 10 * 60 * 1000;

/** A remembered refusal: which file, why (the refusal's message), when (epoch ms). */
export interface RefusedArchive {
  readonly path: string;
  readonly extension: string;
  readonly reason: string;
  readonly at: number;
}

/**
 * The build a coordinate belongs to, as a key: `<repo>\n<groupId>\n<artifactId>\n<version>\n<build>`
 * where `<build>` is a snapshot's `<timestamp>-<buildNumber>` (one `mvn deploy` of a snapshot
 * sends every file with the same one; another build of the same snapshot version is another
 * deploy) or '' (releases, non-unique snapshot names).
 */
export function refusalKey(repo: string, coordinate: MavenFileCoordinate): string {
  const snapshot = coordinate.snapshot;
  const build = snapshot === undefined ? '' : `${snapshot.timestamp}-${snapshot.buildNumber}`;
  return [repo, coordinate.groupId, coordinate.artifactId, coordinate.version, build].join('\n');
}

export class RefusedArchives {
  readonly #entries: ExpiringMap<string, Omit<RefusedArchive, 'at'>>;

  constructor(options: { now?: () => number; ttlMs?: number; max?: number } = {}) {
    this.#entries = new ExpiringMap({
      max: options.max ?? MAX_REFUSED_ARCHIVES,
      ttlMs: options.ttlMs ?? REFUSED_ARCHIVE_TTL_MS,
      now: options.now,
    });
  }

  /** The number of versions remembered (expired ones included until looked up or evicted). */
  get size(): number {
    return this.#entries.size;
  }

  /** Remembers that the main archive `coordinate` (of `repo`) was refused for `reason`. */
  remember(repo: string, coordinate: MavenFileCoordinate, reason: string): void {
    this.#entries.set(refusalKey(repo, coordinate), {
      path: coordinate.path,
      extension: coordinate.extension,
      reason,
    });
  }

  /** The refusal remembered for `coordinate`'s build while fresh (an expired one is dropped). */
  find(repo: string, coordinate: MavenFileCoordinate): RefusedArchive | undefined {
    const entry = this.#entries.entry(refusalKey(repo, coordinate));
    return entry === undefined ? undefined : { ...entry.value, at: entry.at };
  }

  /** Forgets the refusal of `coordinate`'s build (a whole archive arrived, or a `pom` POM). */
  clear(repo: string, coordinate: MavenFileCoordinate): void {
    this.#entries.delete(refusalKey(repo, coordinate));
  }

  /**
   * Forgets every refusal of `repo` under groupId:artifactId, or of one version of it (a DELETE
   * of the artifact or version: what follows is a new deploy).
   */
  clearUnder(repo: string, groupId: string, artifactId: string, version?: string): void {
    const prefix = [
      repo,
      groupId,
      artifactId,
      ...(version === undefined ? [] : [version]),
      '',
    ].join('\n');
    this.#entries.deleteWhere((key) => key.startsWith(prefix));
  }
}
