/**
 * SQL metadata of hosted PyPI repositories (tables in migrations.ts). A file is added in one
 * transaction together with its project and release rows, after its bytes are committed and
 * verified, so a failed upload leaves no row; a filename is unique per repository, and so is a
 * normalised distribution per release (`dist_key`: one sdist, one wheel per tag triple). The
 * primary key and the unique index settle two concurrent uploads: the second gets "File already
 * exists".
 */
import type { Kysely } from 'kysely';
import { RegistryError } from '../../core/errors.ts';
import type { PypiFilesTable, PypiTables } from './migrations.ts';

/** Core-metadata fields of a release, as the Warehouse JSON API's `info` shows them. */
export type ReleaseMeta = Readonly<Record<string, string | readonly string[]>>;

export interface StoredFile {
  readonly filename: string;
  readonly versionKey: string;
  /** As this file's name spells it. */
  readonly version: string;
  readonly packagetype: string;
  readonly pythonVersion: string;
  readonly sha256: string;
  readonly md5: string;
  readonly blake2_256: string;
  readonly size: number;
  /** `sha256:<hex>` of the bytes in the blob store. */
  readonly blob: string;
  readonly requiresPython: string | undefined;
  /** Milliseconds since the epoch. */
  readonly uploadTime: number;
  readonly metadata:
    { readonly blob: string; readonly sha256: string; readonly size: number } | undefined;
  readonly uploader: string | undefined;
}

export interface StoredRelease {
  readonly versionKey: string;
  /** As the release's first file spelled it. */
  readonly version: string;
  readonly createdAt: number;
  /** false, or the reason ('' when none was given). */
  readonly yanked: false | string;
  readonly meta: ReleaseMeta;
}

export interface StoredProject {
  readonly name: string;
  readonly displayName: string;
  readonly createdAt: number;
  readonly releases: readonly StoredRelease[];
  readonly files: readonly StoredFile[];
}

export interface NewFile extends Omit<StoredFile, 'uploadTime'> {
  readonly project: string;
  readonly displayName: string;
  /** Used when this file creates its release. */
  readonly meta: ReleaseMeta;
  /** filenames.ts DistFilename.identity: unique within the release. */
  readonly distKey: string;
}

/** The wording twine's `--skip-existing` recognises (status 400, reason "File already exists"). */
export function fileExistsError(filename: string): RegistryError {
  return new RegistryError('BAD_REQUEST', `File already exists ('${filename}')`, {
    protocolCode: 'FILE_EXISTS',
  });
}

/**
 * `filename` is another spelling of `existing`, a file of the same release that installers take
 * for the same distribution (`My_Pkg-1.0-py3-none-any.whl` and `my_pkg-1.0.0-py3-none-any.whl`;
 * or a second sdist): refused whatever its bytes, as "File already exists" so that twine's
 * `--skip-existing` skips it. `kind` says which rule matched.
 */
export function sameDistributionError(
  filename: string,
  existing: string,
  kind: 'wheel' | 'sdist',
): RegistryError {
  const why =
    kind === 'sdist'
      ? 'a release has one sdist'
      : 'a release has one wheel per build and python-abi-platform tags';
  return new RegistryError(
    'BAD_REQUEST',
    `File already exists ('${existing}'): ${filename} is the same distribution (project and version equal once normalised, PEP 503/PEP 440; ${why}); upload it under a new version`,
    { protocolCode: 'FILE_EXISTS' },
  );
}

/**
 * A deleted file's name, refused for good: the same filename must never mean other bytes to a
 * lockfile or a cache (the public index's rule; twine does not skip it).
 */
export function filenameUsedError(filename: string): RegistryError {
  return new RegistryError(
    'BAD_REQUEST',
    `This filename has already been used by a deleted file, use a different version ('${filename}')`,
    { protocolCode: 'FILENAME_USED' },
  );
}

export class PypiStore {
  readonly #db: Kysely<PypiTables>;
  readonly #now: () => number;
  /** `<repo>\n<project>` → writes finished so far (see generation()). */
  readonly #generations = new Map<string, number>();

  constructor(db: Kysely<PypiTables>, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  /**
   * A change counter of `project` in `repo`: bumped after every write to it through this store
   * (upload, yank/unyank, deletes) has finished, committed or not. Read it BEFORE reading the
   * project: what was read may then be kept for as long as the counter stays the same (a write
   * that committed before or during the read bumps it afterwards). In-process only (NORA is one
   * process; the database is written through this class alone).
   */
  generation(repo: string, project: string): number {
    return this.#generations.get(`${repo}\n${project}`) ?? 0;
  }

  /** Runs one write to `project` and bumps its generation once it has finished, committed or not. */
  async #bumping<T>(repo: string, project: string, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } finally {
      const key = `${repo}\n${project}`;
      this.#generations.set(key, (this.#generations.get(key) ?? 0) + 1);
    }
  }

  /** Normalised names of the projects with at least one file in `repo`, sorted. */
  async projectNames(repo: string): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('pypi_files')
      .select('project')
      .distinct()
      .where('repo', '=', repo)
      .orderBy('project')
      .execute();
    return rows.map((r) => r.project);
  }

  /** True when `project` was ever uploaded to `repo`, even if all its files are deleted since. */
  async hasProject(repo: string, project: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('pypi_projects')
      .select('name')
      .where('repo', '=', repo)
      .where('name', '=', project)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** The project with its releases and files (possibly none), or undefined when never hosted. */
  async project(repo: string, project: string): Promise<StoredProject | undefined> {
    const row = await this.#db
      .selectFrom('pypi_projects')
      .selectAll()
      .where('repo', '=', repo)
      .where('name', '=', project)
      .executeTakeFirst();
    if (!row) return undefined;
    const [releases, files] = await Promise.all([
      this.#db
        .selectFrom('pypi_releases')
        .selectAll()
        .where('repo', '=', repo)
        .where('project', '=', project)
        .execute(),
      this.#db
        .selectFrom('pypi_files')
        .selectAll()
        .where('repo', '=', repo)
        .where('project', '=', project)
        .execute(),
    ]);
    return {
      name: row.name,
      displayName: row.display_name,
      createdAt: row.created_at,
      releases: releases.map((r) => ({
        versionKey: r.version_key,
        version: r.version,
        createdAt: r.created_at,
        yanked: r.yanked === 0 ? false : (r.yanked_reason ?? ''),
        meta: parseMeta(r.meta),
      })),
      files: files.map(toStoredFile),
    };
  }

  /** One file of `project`, or undefined. */
  async file(repo: string, project: string, filename: string): Promise<StoredFile | undefined> {
    const row = await this.#db
      .selectFrom('pypi_files')
      .selectAll()
      .where('repo', '=', repo)
      .where('filename', '=', filename)
      .where('project', '=', project)
      .executeTakeFirst();
    return row ? toStoredFile(row) : undefined;
  }

  fileExists(repo: string, filename: string): Promise<boolean> {
    return this.#exists(this.#db, repo, filename);
  }

  /** Was a file of this name deleted from `repo` (its name can never be used again)? */
  filenameDeleted(repo: string, filename: string): Promise<boolean> {
    return this.#deleted(this.#db, repo, filename);
  }

  /**
   * The file of release `versionKey` of `project` that is the distribution `distKey`
   * (DistFilename.identity), or undefined when the release has none.
   */
  async sameDistribution(
    repo: string,
    project: string,
    versionKey: string,
    distKey: string,
  ): Promise<string | undefined> {
    return this.#sameDistribution(this.#db, repo, project, versionKey, distKey);
  }

  /**
   * Adds a file, creating its project and release when new (a file whose version is spelled
   * differently but is PEP 440-equal joins the existing release). One transaction. Throws
   * "File already exists" (400) when the filename is taken in `repo` (fileExistsError) or the
   * release already has this distribution under another name (sameDistributionError).
   */
  addFile(repo: string, file: NewFile): Promise<{ release: string; uploadTime: number }> {
    return this.#bumping(repo, file.project, () => this.#addFile(repo, file));
  }

  async #addFile(repo: string, file: NewFile): Promise<{ release: string; uploadTime: number }> {
    const now = this.#now();
    try {
      return await this.#db.transaction().execute(async (trx) => {
        if (await this.#exists(trx, repo, file.filename)) throw fileExistsError(file.filename);
        if (await this.#deleted(trx, repo, file.filename)) throw filenameUsedError(file.filename);
        const same = await this.#sameDistribution(
          trx,
          repo,
          file.project,
          file.versionKey,
          file.distKey,
        );
        if (same !== undefined) throw this.#distributionError(file, same);
        await trx
          .insertInto('pypi_projects')
          .values({
            repo,
            name: file.project,
            display_name: file.displayName,
            created_at: now,
          })
          .onConflict((oc) => oc.doNothing())
          .execute();
        await trx
          .insertInto('pypi_releases')
          .values({
            repo,
            project: file.project,
            version_key: file.versionKey,
            version: file.version,
            created_at: now,
            yanked: 0,
            yanked_reason: null,
            meta: JSON.stringify(file.meta),
          })
          .onConflict((oc) => oc.doNothing())
          .execute();
        const release = await trx
          .selectFrom('pypi_releases')
          .select('version')
          .where('repo', '=', repo)
          .where('project', '=', file.project)
          .where('version_key', '=', file.versionKey)
          .executeTakeFirstOrThrow();
        await trx
          .insertInto('pypi_files')
          .values({
            repo,
            project: file.project,
            filename: file.filename,
            version_key: file.versionKey,
            version: file.version,
            packagetype: file.packagetype,
            python_version: file.pythonVersion,
            sha256: file.sha256,
            md5: file.md5,
            blake2_256: file.blake2_256,
            size: file.size,
            blob: file.blob,
            requires_python: file.requiresPython ?? null,
            upload_time: now,
            metadata_blob: file.metadata?.blob ?? null,
            metadata_sha256: file.metadata?.sha256 ?? null,
            metadata_size: file.metadata?.size ?? null,
            uploader: file.uploader ?? null,
            dist_key: file.distKey,
          })
          .execute();
        return { release: release.version, uploadTime: now };
      });
    } catch (err) {
      // Two concurrent uploads of one filename (the primary key refuses the second) or of two
      // spellings of one distribution (the pypi_files_dist index does): name what won.
      if (err instanceof Error && /UNIQUE constraint failed: pypi_files/.test(err.message)) {
        if (await this.fileExists(repo, file.filename)) throw fileExistsError(file.filename);
        const same = await this.sameDistribution(repo, file.project, file.versionKey, file.distKey);
        throw same === undefined
          ? fileExistsError(file.filename)
          : this.#distributionError(file, same);
      }
      throw err;
    }
  }

  #distributionError(file: NewFile, existing: string): RegistryError {
    return sameDistributionError(
      file.filename,
      existing,
      file.distKey === 'sdist' ? 'sdist' : 'wheel',
    );
  }

  async #sameDistribution(
    trx: Kysely<PypiTables>,
    repo: string,
    project: string,
    versionKey: string,
    distKey: string,
  ): Promise<string | undefined> {
    const row = await trx
      .selectFrom('pypi_files')
      .select('filename')
      .where('repo', '=', repo)
      .where('project', '=', project)
      .where('version_key', '=', versionKey)
      .where('dist_key', '=', distKey)
      .executeTakeFirst();
    return row?.filename;
  }

  /**
   * PEP 592: yanks (reason a string, '' for none) or unyanks (reason false) the release
   * `versionKey`. False when there is no such release.
   */
  setYanked(
    repo: string,
    project: string,
    versionKey: string,
    reason: false | string,
  ): Promise<boolean> {
    return this.#bumping(repo, project, () => this.#setYanked(repo, project, versionKey, reason));
  }

  async #setYanked(
    repo: string,
    project: string,
    versionKey: string,
    reason: false | string,
  ): Promise<boolean> {
    const result = await this.#db
      .updateTable('pypi_releases')
      .set({ yanked: reason === false ? 0 : 1, yanked_reason: reason === false ? null : reason })
      .where('repo', '=', repo)
      .where('project', '=', project)
      .where('version_key', '=', versionKey)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Deletes a release and all its files; returns the deleted files (empty: no such release). */
  deleteRelease(repo: string, project: string, versionKey: string): Promise<StoredFile[]> {
    return this.#bumping(repo, project, () => this.#deleteRelease(repo, project, versionKey));
  }

  async #deleteRelease(repo: string, project: string, versionKey: string): Promise<StoredFile[]> {
    return this.#db.transaction().execute(async (trx) => {
      const files = await trx
        .selectFrom('pypi_files')
        .selectAll()
        .where('repo', '=', repo)
        .where('project', '=', project)
        .where('version_key', '=', versionKey)
        .execute();
      const release = await trx
        .deleteFrom('pypi_releases')
        .where('repo', '=', repo)
        .where('project', '=', project)
        .where('version_key', '=', versionKey)
        .executeTakeFirst();
      if (release.numDeletedRows === 0n) return [];
      await this.#remember(trx, repo, files);
      await trx
        .deleteFrom('pypi_files')
        .where('repo', '=', repo)
        .where('project', '=', project)
        .where('version_key', '=', versionKey)
        .execute();
      return files.map(toStoredFile);
    });
  }

  /** Deletes one file (its release too when it was the last); undefined when there is none. */
  deleteFile(repo: string, project: string, filename: string): Promise<StoredFile | undefined> {
    return this.#bumping(repo, project, () => this.#deleteFile(repo, project, filename));
  }

  async #deleteFile(
    repo: string,
    project: string,
    filename: string,
  ): Promise<StoredFile | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('pypi_files')
        .selectAll()
        .where('repo', '=', repo)
        .where('project', '=', project)
        .where('filename', '=', filename)
        .executeTakeFirst();
      if (!row) return undefined;
      await this.#remember(trx, repo, [row]);
      await trx
        .deleteFrom('pypi_files')
        .where('repo', '=', repo)
        .where('filename', '=', filename)
        .execute();
      const left = await trx
        .selectFrom('pypi_files')
        .select('filename')
        .where('repo', '=', repo)
        .where('project', '=', project)
        .where('version_key', '=', row.version_key)
        .limit(1)
        .executeTakeFirst();
      if (!left) {
        await trx
          .deleteFrom('pypi_releases')
          .where('repo', '=', repo)
          .where('project', '=', project)
          .where('version_key', '=', row.version_key)
          .execute();
      }
      return toStoredFile(row);
    });
  }

  async #remember(
    trx: Kysely<PypiTables>,
    repo: string,
    files: readonly { readonly filename: string; readonly sha256: string }[],
  ): Promise<void> {
    const deletedAt = this.#now();
    for (const file of files) {
      await trx
        .insertInto('pypi_deleted_files')
        .values({ repo, filename: file.filename, sha256: file.sha256, deleted_at: deletedAt })
        .onConflict((oc) => oc.columns(['repo', 'filename']).doNothing())
        .execute();
    }
  }

  async #deleted(trx: Kysely<PypiTables>, repo: string, filename: string): Promise<boolean> {
    const row = await trx
      .selectFrom('pypi_deleted_files')
      .select('filename')
      .where('repo', '=', repo)
      .where('filename', '=', filename)
      .executeTakeFirst();
    return row !== undefined;
  }

  async #exists(trx: Kysely<PypiTables>, repo: string, filename: string): Promise<boolean> {
    const row = await trx
      .selectFrom('pypi_files')
      .select('filename')
      .where('repo', '=', repo)
      .where('filename', '=', filename)
      .executeTakeFirst();
    return row !== undefined;
  }
}

function toStoredFile(row: PypiFilesTable): StoredFile {
  return {
    filename: row.filename,
    versionKey: row.version_key,
    version: row.version,
    packagetype: row.packagetype,
    pythonVersion: row.python_version,
    sha256: row.sha256,
    md5: row.md5,
    blake2_256: row.blake2_256,
    size: row.size,
    blob: row.blob,
    requiresPython: row.requires_python ?? undefined,
    uploadTime: row.upload_time,
    metadata:
      row.metadata_blob !== null && row.metadata_sha256 !== null
        ? { blob: row.metadata_blob, sha256: row.metadata_sha256, size: row.metadata_size ?? 0 }
        : undefined,
    uploader: row.uploader ?? undefined,
  };
}

function parseMeta(text: string): ReleaseMeta {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      return value as ReleaseMeta;
    }
  } catch {
    // A row is written by addFile only; unparsable means nothing usable.
  }
  return {};
}
