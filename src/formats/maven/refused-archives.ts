/**
 * Main archives refused at deploy (archive-check.ts: empty, a web page, no zip end record),
 * remembered per build for a short while so that the files the same deploy sends after the
 * archive do not make the version listed with no archive.
 *
 * Why: `mvn deploy:deploy-file` sends the jar first, then its generated POM, and goes on after
 * the jar's 400 (maven-resolver collects the errors and reports them at the end). The POM is
 * valid, so it was stored, and maven-metadata.xml, derived from the stored main files, listed the
 * version (maybe as `<latest>`/`<release>`) with no jar: every build resolving it failed. Gradle's
 * maven-publish also sends the main artifact first but stops at its first failure; `mvn deploy`
 * of a project sends the POM before the jar, so its POM is already stored when the jar is
 * refused: deploy-withdrawal.ts withdraws it then, under guards, and does not remember that
 * refusal (the rerun sends its POM first again).
 *
 * In the database (`maven_refused_archives`, migrations.ts): a restart between the refused jar
 * and its POM, or a POM that reaches another node over the same database, is refused all the
 * same (until the twenty-first session it was in memory, per process, and such a POM was
 * stored). Bounded in time: a refusal is forgotten REFUSED_ARCHIVE_TTL_MS after it was made
 * (expired rows are removed whenever one is remembered); one row per build, so a repeated
 * refusal of a build replaces its row.
 */
import type { Kysely } from 'kysely';
import type { MavenFileCoordinate } from './coordinates.ts';
import type { MavenTables } from './migrations.ts';

/** How long a refusal is remembered: long past one deploy's files, short of a day's work. */
export const REFUSED_ARCHIVE_TTL_MS = 10 * 60 * 1000;

/** A remembered refusal: which file, why (the refusal's message), when (epoch ms). */
export interface RefusedArchive {
  readonly path: string;
  readonly extension: string;
  readonly reason: string;
  readonly at: number;
}

/** The build a coordinate belongs to, as the table's key columns. */
interface BuildKey {
  readonly repo: string;
  readonly group_id: string;
  readonly artifact_id: string;
  readonly version: string;
  readonly build: string;
}

/**
 * The build a coordinate belongs to: `<build>` is a snapshot's `<timestamp>-<buildNumber>` (one
 * `mvn deploy` of a snapshot sends every file with the same one; another build of the same
 * snapshot version is another deploy) or '' (releases, non-unique snapshot names).
 */
function buildKey(repo: string, coordinate: MavenFileCoordinate): BuildKey {
  const snapshot = coordinate.snapshot;
  return {
    repo,
    group_id: coordinate.groupId,
    artifact_id: coordinate.artifactId,
    version: coordinate.version,
    build: snapshot === undefined ? '' : `${snapshot.timestamp}-${snapshot.buildNumber}`,
  };
}

/**
 * The build a coordinate belongs to, as one string: `<repo>\n<groupId>\n<artifactId>\n<version>\n<build>`
 * (buildKey's columns; for messages and tests).
 */
export function refusalKey(repo: string, coordinate: MavenFileCoordinate): string {
  const key = buildKey(repo, coordinate);
  return [key.repo, key.group_id, key.artifact_id, key.version, key.build].join('\n');
}

export class RefusedArchives {
  readonly #db: Kysely<MavenTables>;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(db: Kysely<MavenTables>, options: { now?: () => number; ttlMs?: number } = {}) {
    this.#db = db;
    this.#ttlMs = options.ttlMs ?? REFUSED_ARCHIVE_TTL_MS;
    this.#now = options.now ?? Date.now;
  }

  /** The number of builds remembered (expired ones included until removed). */
  async size(): Promise<number> {
    const row = await this.#db
      .selectFrom('maven_refused_archives')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirst();
    return row?.n ?? 0;
  }

  /**
   * Remembers that the main archive `coordinate` (of `repo`) was refused for `reason` (now; a
   * refusal of the same build replaces it), and removes the refusals that expired.
   */
  async remember(repo: string, coordinate: MavenFileCoordinate, reason: string): Promise<void> {
    const at = this.#now();
    const fields = { path: coordinate.path, extension: coordinate.extension, reason };
    await this.#db.transaction().execute(async (trx) => {
      await trx
        .deleteFrom('maven_refused_archives')
        .where('refused_at', '<', at - this.#ttlMs)
        .execute();
      await trx
        .insertInto('maven_refused_archives')
        .values({ ...buildKey(repo, coordinate), ...fields, refused_at: at })
        .onConflict((oc) =>
          oc
            .columns(['repo', 'group_id', 'artifact_id', 'version', 'build'])
            .doUpdateSet({ ...fields, refused_at: at }),
        )
        .execute();
    });
  }

  /** The refusal remembered for `coordinate`'s build while fresh (an expired one is removed). */
  async find(repo: string, coordinate: MavenFileCoordinate): Promise<RefusedArchive | undefined> {
    const key = buildKey(repo, coordinate);
    const row = await this.#db
      .selectFrom('maven_refused_archives')
      .select(['path', 'extension', 'reason', 'refused_at'])
      .where('repo', '=', key.repo)
      .where('group_id', '=', key.group_id)
      .where('artifact_id', '=', key.artifact_id)
      .where('version', '=', key.version)
      .where('build', '=', key.build)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    if (this.#now() - row.refused_at > this.#ttlMs) {
      await this.#deleteBuild(key, row.refused_at);
      return undefined;
    }
    return { path: row.path, extension: row.extension, reason: row.reason, at: row.refused_at };
  }

  /** Forgets the refusal of `coordinate`'s build (a whole archive arrived, or a `pom` POM). */
  async clear(repo: string, coordinate: MavenFileCoordinate): Promise<void> {
    await this.#deleteBuild(buildKey(repo, coordinate));
  }

  /**
   * Forgets every refusal of `repo` under groupId:artifactId, or of one version of it (a DELETE
   * of the artifact or version: what follows is a new deploy).
   */
  async clearUnder(
    repo: string,
    groupId: string,
    artifactId: string,
    version?: string,
  ): Promise<void> {
    let query = this.#db
      .deleteFrom('maven_refused_archives')
      .where('repo', '=', repo)
      .where('group_id', '=', groupId)
      .where('artifact_id', '=', artifactId);
    if (version !== undefined) query = query.where('version', '=', version);
    await query.execute();
  }

  /** Deletes the row of one build (only the one refused at `refusedAt`, when given). */
  async #deleteBuild(key: BuildKey, refusedAt?: number): Promise<void> {
    let query = this.#db
      .deleteFrom('maven_refused_archives')
      .where('repo', '=', key.repo)
      .where('group_id', '=', key.group_id)
      .where('artifact_id', '=', key.artifact_id)
      .where('version', '=', key.version)
      .where('build', '=', key.build);
    if (refusedAt !== undefined) query = query.where('refused_at', '=', refusedAt);
    await query.execute();
  }
}
