/**
 * SQL metadata of hosted Maven repositories (table `maven_files`, migrations.ts). Each write is
 * one transaction: a deploy that loses a race on an immutable release gets its 409 here, and a
 * failed write leaves nothing behind. Metadata documents are derived from these rows on demand.
 */
import type { Kysely } from 'kysely';
import { RegistryError } from '../../core/errors.ts';
import { type SqliteHandle, sqliteHandleOf } from '../../db/sqlite-handle.ts';
import type { MavenFilesTable, MavenTables } from './migrations.ts';

export type StoredMavenFile = MavenFilesTable;

/** A file row to record (timestamps are set by the store). */
export type NewMavenFile = Omit<MavenFilesTable, 'created_at' | 'updated_at'>;

export interface PutOptions {
  /** Refuse (409) to replace an existing row at the same path. */
  readonly immutable: boolean;
  /** Keep only this many timestamped builds of the row's snapshot version (0 = all). */
  readonly keepSnapshots: number;
  /**
   * Who deploys the file and when (deploy-withdrawal.ts): recorded in `maven_recent_deploys` when
   * the file is new at its path, in the same transaction; a file that replaces one, or whose
   * uploader is not known (undefined), clears what was recorded of its path. Rows older than
   * `ttlMs` are removed meanwhile.
   */
  readonly deployedBy?: { uploader: string | undefined; at: number; ttlMs: number } | undefined;
}

/** A build of a snapshot version: `snapshot_ts` and `build_number` as in `maven_files`. */
export interface SnapshotBuild {
  readonly snapshot_ts: string;
  readonly build_number: number;
}

export interface VersionSummary {
  readonly version: string;
  /** Newest `updated_at` of its files, ms. */
  readonly updatedAt: number;
}

/** One version of an artifact as retention sees it (MavenStore.versionTotals). */
export interface VersionTotal {
  readonly groupId: string;
  readonly artifactId: string;
  readonly version: string;
  /** Newest `updated_at` of its files, ms (a SNAPSHOT's newest build). */
  readonly updatedAt: number;
  /** Sum of its files' sizes. */
  readonly bytes: number;
}

export class MavenStore {
  readonly #db: Kysely<MavenTables>;
  /**
   * On SQLite: the two lookups every read of a group or hosted file makes (`file`,
   * `hasArtifact`) are precompiled statements (no query building and compilation per read).
   * Deploys write in multi-statement Kysely transactions, whose rows must not be seen before
   * their commit: a lookup runs at once while no transaction is open on the connection (nothing
   * else runs until it returns), else once Kysely's connection is free again.
   */
  readonly #sqlite: SqliteHandle | undefined;

  constructor(db: Kysely<MavenTables>) {
    this.#db = db;
    this.#sqlite = sqliteHandleOf(db);
  }

  /** The database the rows are in (the deploy guards' tables are there too: refused-archives.ts). */
  get db(): Kysely<MavenTables> {
    return this.#db;
  }

  /** `statement` run on the SQLite connection while no Kysely transaction is open on it. */
  #locked<R>(sqlite: SqliteHandle, statement: () => R): Promise<R> {
    if (sqlite.db.isTransaction) {
      return this.#db.connection().execute(() => Promise.resolve(statement()));
    }
    try {
      return Promise.resolve(statement());
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** The row of `path` in `repo`, or undefined. */
  file(repo: string, path: string): Promise<StoredMavenFile | undefined> {
    const sqlite = this.#sqlite;
    if (sqlite !== undefined) {
      return this.#locked(
        sqlite,
        () => sqlite.prepare(SELECT_FILE).get(repo, path) as StoredMavenFile | undefined,
      );
    }
    return this.#db
      .selectFrom('maven_files')
      .selectAll()
      .where('repo', '=', repo)
      .where('path', '=', path)
      .executeTakeFirst();
  }

  /**
   * The timestamped builds of one snapshot file (`classifier`/`extension` of `version`), newest
   * first: what a DELETE of its non-unique name is told to delete instead (hosted.ts `#remove`).
   */
  async snapshotBuilds(
    repo: string,
    groupId: string,
    artifactId: string,
    version: string,
    classifier: string,
    extension: string,
  ): Promise<StoredMavenFile[]> {
    const rows = await this.#snapshotFiles(
      repo,
      groupId,
      artifactId,
      version,
      classifier,
      extension,
    );
    return rows.filter((row) => row.snapshot_ts !== null).sort((a, b) => compareBuilds(b, a));
  }

  /**
   * The newest file of a snapshot version for one classifier/extension: the highest timestamped
   * build, or the non-unique file when it was written after that build (or no build exists).
   */
  async newestSnapshotFile(
    repo: string,
    groupId: string,
    artifactId: string,
    version: string,
    classifier: string,
    extension: string,
  ): Promise<StoredMavenFile | undefined> {
    const rows = await this.#snapshotFiles(
      repo,
      groupId,
      artifactId,
      version,
      classifier,
      extension,
    );
    let build: StoredMavenFile | undefined;
    let plain: StoredMavenFile | undefined;
    for (const row of rows) {
      if (row.snapshot_ts === null) plain = row;
      else if (build === undefined || compareBuilds(row, build) > 0) build = row;
    }
    if (build && plain) return plain.updated_at > build.updated_at ? plain : build;
    return build ?? plain;
  }

  /** Every row of one snapshot file (`classifier`/`extension` of `version`): builds and plain. */
  #snapshotFiles(
    repo: string,
    groupId: string,
    artifactId: string,
    version: string,
    classifier: string,
    extension: string,
  ): Promise<StoredMavenFile[]> {
    return this.#db
      .selectFrom('maven_files')
      .selectAll()
      .where('repo', '=', repo)
      .where('group_id', '=', groupId)
      .where('artifact_id', '=', artifactId)
      .where('version', '=', version)
      .where('classifier', '=', classifier)
      .where('extension', '=', extension)
      .execute();
  }

  /**
   * Records a file. With `immutable`, an existing row at the path is a 409 (checked inside the
   * transaction, so of two racing deploys of one release file exactly one wins). Then prunes old
   * timestamped builds past `keepSnapshots`; returns the paths pruned.
   */
  async put(repo: string, row: NewMavenFile, options: PutOptions): Promise<string[]> {
    return this.#db.transaction().execute(async (trx) => {
      const now = Date.now();
      const existing = await trx
        .selectFrom('maven_files')
        .select(['created_at'])
        .where('repo', '=', repo)
        .where('path', '=', row.path)
        .executeTakeFirst();
      if (existing && options.immutable) throw releaseConflict(row.path);
      if (existing) {
        await trx
          .updateTable('maven_files')
          .set({ ...row, repo, updated_at: now })
          .where('repo', '=', repo)
          .where('path', '=', row.path)
          .execute();
      } else {
        await trx
          .insertInto('maven_files')
          .values({ ...row, repo, created_at: now, updated_at: now })
          .execute();
      }
      const deployedBy = options.deployedBy;
      if (deployedBy !== undefined) {
        await trx
          .deleteFrom('maven_recent_deploys')
          .where('stored_at', '<', deployedBy.at - deployedBy.ttlMs)
          .execute();
        if (existing === undefined && deployedBy.uploader !== undefined) {
          const recent = { uploader: deployedBy.uploader, stored_at: deployedBy.at };
          await trx
            .insertInto('maven_recent_deploys')
            .values({ repo, path: row.path, ...recent })
            .onConflict((oc) => oc.columns(['repo', 'path']).doUpdateSet(recent))
            .execute();
        } else {
          await trx
            .deleteFrom('maven_recent_deploys')
            .where('repo', '=', repo)
            .where('path', '=', row.path)
            .execute();
        }
      }
      if (row.snapshot_ts === null || options.keepSnapshots <= 0) return [];
      const builds = await trx
        .selectFrom('maven_files')
        .select(['snapshot_ts', 'build_number'])
        .distinct()
        .where('repo', '=', repo)
        .where('group_id', '=', row.group_id)
        .where('artifact_id', '=', row.artifact_id)
        .where('version', '=', row.version)
        .where('snapshot_ts', 'is not', null)
        .execute();
      builds.sort((a, b) => compareBuilds(b, a));
      const pruned: string[] = [];
      for (const old of builds.slice(options.keepSnapshots)) {
        const doomed = await trx
          .deleteFrom('maven_files')
          .where('repo', '=', repo)
          .where('group_id', '=', row.group_id)
          .where('artifact_id', '=', row.artifact_id)
          .where('version', '=', row.version)
          .where('snapshot_ts', '=', old.snapshot_ts)
          .where('build_number', '=', old.build_number)
          .returning('path')
          .execute();
        pruned.push(...doomed.map((d) => d.path));
      }
      return pruned;
    });
  }

  /**
   * Versions of an artifact with their newest file time (unordered): those holding a main file
   * (no classifier: the POM, the jar, a `.module`…) that is not a signature. A version directory
   * with only a signature, or only classified files, names nothing a client can resolve and is
   * not offered to `LATEST`, `RELEASE` and ranges (trial13 F11); its files are still served.
   */
  async versions(repo: string, groupId: string, artifactId: string): Promise<VersionSummary[]> {
    const rows = await this.#db
      .selectFrom('maven_files')
      .select(['version', (eb) => eb.fn.max('updated_at').as('updated_at')])
      .where('repo', '=', repo)
      .where('group_id', '=', groupId)
      .where('artifact_id', '=', artifactId)
      .where('classifier', '=', '')
      .where((eb) =>
        eb.and(
          SIGNATURE_EXTENSIONS.flatMap((ext) => [
            eb('extension', '!=', ext),
            eb('extension', 'not like', `%.${ext}`),
          ]),
        ),
      )
      .groupBy('version')
      .execute();
    return rows.map((r) => ({ version: r.version, updatedAt: r.updated_at }));
  }

  /**
   * Every version of every artifact `repo` holds (any file: classifiers and signatures too), with
   * its files' total size and its newest file's `updated_at` (ms): what retention judges.
   */
  async versionTotals(repo: string): Promise<VersionTotal[]> {
    const rows = await this.#db
      .selectFrom('maven_files')
      .select([
        'group_id',
        'artifact_id',
        'version',
        (eb) => eb.fn.max('updated_at').as('updated_at'),
        (eb) => eb.fn.sum<number | bigint>('size').as('bytes'),
      ])
      .where('repo', '=', repo)
      .groupBy(['group_id', 'artifact_id', 'version'])
      .execute();
    return rows.map((r) => ({
      groupId: r.group_id,
      artifactId: r.artifact_id,
      version: r.version,
      updatedAt: r.updated_at,
      bytes: Number(r.bytes),
    }));
  }

  /** Every file of one version. */
  versionFiles(
    repo: string,
    groupId: string,
    artifactId: string,
    version: string,
  ): Promise<StoredMavenFile[]> {
    return this.#db
      .selectFrom('maven_files')
      .selectAll()
      .where('repo', '=', repo)
      .where('group_id', '=', groupId)
      .where('artifact_id', '=', artifactId)
      .where('version', '=', version)
      .execute();
  }

  /**
   * POM rows of `maven-plugin` packaging in a groupId, and main jar rows carrying a plugin
   * descriptor's goal prefix (group-level metadata: hosted.ts `pluginMetadata`).
   */
  plugins(repo: string, groupId: string): Promise<StoredMavenFile[]> {
    return this.#db
      .selectFrom('maven_files')
      .selectAll()
      .where('repo', '=', repo)
      .where('group_id', '=', groupId)
      .where('plugin_prefix', 'is not', null)
      .where((eb) =>
        eb.or([
          eb('packaging', '=', 'maven-plugin'),
          eb.and([eb('extension', '=', 'jar'), eb('classifier', '=', '')]),
        ]),
      )
      .execute();
  }

  /**
   * A file `repo` holds at `path` or under the directory `path` (its path), or undefined: what a
   * DELETE that matched nothing checks to say what the path is (hosted.ts `remove`).
   */
  async held(repo: string, path: string): Promise<string | undefined> {
    const row = await this.#db
      .selectFrom('maven_files')
      .select('path')
      .where('repo', '=', repo)
      .where((eb) =>
        eb.or([
          eb('path', '=', path),
          // Under the directory: `<path>/` ≤ p < `<path>0` ('0' follows '/'), index-friendly.
          eb.and([eb('path', '>=', `${path}/`), eb('path', '<', `${path}0`)]),
        ]),
      )
      .limit(1)
      .executeTakeFirst();
    return row?.path;
  }

  /** True when `repo` holds any file of groupId:artifactId. */
  async hasArtifact(repo: string, groupId: string, artifactId: string): Promise<boolean> {
    const sqlite = this.#sqlite;
    if (sqlite !== undefined) {
      return this.#locked(
        sqlite,
        () => sqlite.prepare(SELECT_HAS_ARTIFACT).get(repo, groupId, artifactId) !== undefined,
      );
    }
    const row = await this.#db
      .selectFrom('maven_files')
      .select('path')
      .where('repo', '=', repo)
      .where('group_id', '=', groupId)
      .where('artifact_id', '=', artifactId)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Who stored each of `paths` new at its path (`maven_recent_deploys`, recorded by `put`) and
   * when (epoch ms), for the paths that have such a record; the caller judges its age.
   */
  async recentDeploys(
    repo: string,
    paths: readonly string[],
  ): Promise<Map<string, { uploader: string; at: number }>> {
    const found = new Map<string, { uploader: string; at: number }>();
    if (paths.length === 0) return found;
    const rows = await this.#db
      .selectFrom('maven_recent_deploys')
      .select(['path', 'uploader', 'stored_at'])
      .where('repo', '=', repo)
      .where('path', 'in', paths)
      .execute();
    for (const row of rows) found.set(row.path, { uploader: row.uploader, at: row.stored_at });
    return found;
  }

  /**
   * Removes the rows `files` (path and `updated_at` as read) of one version — of one timestamped
   * build of it when `version.build` is given — in one transaction, only if they are still
   * exactly that version's (build's) rows: none replaced since read, none added (a concurrent
   * deploy keeps everything). Their `maven_recent_deploys` records go with them. Returns the
   * paths removed: all of `files`, or none. The bytes stay until GC finds them unused. For
   * deploy-withdrawal.ts's withdrawal of a POM whose deploy's main archive was refused.
   */
  async withdraw(
    repo: string,
    version: { groupId: string; artifactId: string; version: string; build?: SnapshotBuild },
    files: readonly { path: string; updated_at: number }[],
  ): Promise<string[]> {
    if (files.length === 0) return [];
    return this.#db.transaction().execute(async (trx) => {
      let query = trx
        .selectFrom('maven_files')
        .select(['path', 'updated_at'])
        .where('repo', '=', repo)
        .where('group_id', '=', version.groupId)
        .where('artifact_id', '=', version.artifactId)
        .where('version', '=', version.version);
      if (version.build !== undefined) {
        query = query
          .where('snapshot_ts', '=', version.build.snapshot_ts)
          .where('build_number', '=', version.build.build_number);
      }
      const rows = await query.execute();
      const expected = new Map(files.map((f) => [f.path, f.updated_at]));
      const same =
        rows.length === expected.size &&
        rows.every((row) => expected.get(row.path) === row.updated_at);
      if (!same) return [];
      for (const file of files) {
        await trx
          .deleteFrom('maven_files')
          .where('repo', '=', repo)
          .where('path', '=', file.path)
          .execute();
        await trx
          .deleteFrom('maven_recent_deploys')
          .where('repo', '=', repo)
          .where('path', '=', file.path)
          .execute();
      }
      return files.map((f) => f.path);
    });
  }

  /**
   * Deletes the rows of one file, one version (`version` given) or a whole artifact; returns how
   * many rows went. The bytes stay in the content-addressed store until GC finds them unused.
   */
  async delete(
    repo: string,
    target: { path: string } | { groupId: string; artifactId: string; version?: string },
  ): Promise<number> {
    let query = this.#db.deleteFrom('maven_files').where('repo', '=', repo);
    if ('path' in target) query = query.where('path', '=', target.path);
    else {
      query = query
        .where('group_id', '=', target.groupId)
        .where('artifact_id', '=', target.artifactId);
      if (target.version !== undefined) query = query.where('version', '=', target.version);
    }
    const result = await query.executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

/**
 * Extensions (or the last parts of one: `jar.asc`) of detached signatures: PGP (`.asc`, `.sig`)
 * and Sigstore bundles (`.sigstore`, `.sigstore.json`), which Central holds next to each file.
 */
const SIGNATURE_EXTENSIONS = ['asc', 'sig', 'sigstore', 'sigstore.json'];

/**
 * True when a file at `coordinate` makes its version listed in maven-metadata.xml (`versions`):
 * a main file (no classifier) that is not a signature.
 */
export function listsVersion(coordinate: {
  readonly classifier: string;
  readonly extension: string;
}): boolean {
  if (coordinate.classifier !== '') return false;
  return !SIGNATURE_EXTENSIONS.some(
    (ext) => coordinate.extension === ext || coordinate.extension.endsWith(`.${ext}`),
  );
}

const SELECT_FILE = 'SELECT * FROM maven_files WHERE repo = ? AND path = ?';
const SELECT_HAS_ARTIFACT =
  'SELECT 1 AS x FROM maven_files WHERE repo = ? AND group_id = ? AND artifact_id = ? LIMIT 1';

/** Orders timestamped builds: build number first, then timestamp. */
function compareBuilds(
  a: { snapshot_ts: string | null; build_number: number | null },
  b: { snapshot_ts: string | null; build_number: number | null },
): number {
  const byNumber = (a.build_number ?? 0) - (b.build_number ?? 0);
  if (byNumber !== 0) return byNumber;
  return (a.snapshot_ts ?? '').localeCompare(b.snapshot_ts ?? '');
}

export function releaseConflict(path: string): RegistryError {
  return new RegistryError(
    'CONFLICT',
    `${path} already exists with other bytes, and release files are immutable (immutable_releases)`,
  );
}
