/**
 * Metadata of hosted PyPI repositories (`0400_pypi_*`): projects (kept after their last file is
 * deleted, so a name once hosted stays protected from upstreams), releases (one per PEP 440
 * equivalence class of versions: `1.0` and `1.0.0` are one release) and files (unique filename
 * per repository, and unique distribution per release: `dist_key`).
 */
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import { parseDistFilename } from './filenames.ts';

export type PypiProjectsTable = {
  repo: string;
  /** PEP 503-normalised. */
  name: string;
  /** The name as first uploaded (`My.Package`). */
  display_name: string;
  created_at: number;
};

export type PypiReleasesTable = {
  repo: string;
  project: string;
  /** versions.ts parseVersion().key: the equivalence class. */
  version_key: string;
  /** The version as the first file of the release spelled it. */
  version: string;
  created_at: number;
  /** PEP 592: 1 when yanked. */
  yanked: number;
  yanked_reason: string | null;
  /** JSON: core-metadata fields of the release's first upload (summary, author, classifiers…). */
  meta: string;
};

export type PypiFilesTable = {
  repo: string;
  project: string;
  filename: string;
  version_key: string;
  /** The version as this file's filename spells it. */
  version: string;
  /** `bdist_wheel` or `sdist`. */
  packagetype: string;
  /** The upload's `pyversion` (`py3`, `source`). */
  python_version: string;
  sha256: string;
  md5: string;
  blake2_256: string;
  size: number;
  /** The blob holding the bytes (`sha256:<hex>`). */
  blob: string;
  requires_python: string | null;
  /** Milliseconds since the epoch. */
  upload_time: number;
  /** PEP 658: the wheel's METADATA blob (`sha256:<hex>`), null for sdists. */
  metadata_blob: string | null;
  metadata_sha256: string | null;
  metadata_size: number | null;
  uploader: string | null;
  /**
   * filenames.ts DistFilename.identity (`sdist`, `wheel <build>-<py>-<abi>-<platform>`): unique
   * per (repo, project, version_key), so installers never see two files they take for one.
   * Null only for files stored before 0402 that already shared one with an older file.
   */
  dist_key: string | null;
};

/** Filenames of deleted files: never accepted again in that repository (as on the public index). */
export type PypiDeletedFilesTable = {
  repo: string;
  filename: string;
  sha256: string;
  deleted_at: number;
};

export type PypiTables = {
  pypi_projects: PypiProjectsTable;
  pypi_releases: PypiReleasesTable;
  pypi_files: PypiFilesTable;
  pypi_deleted_files: PypiDeletedFilesTable;
};

export const pypiMigrations: Record<string, Migration> = {
  '0400_pypi_hosted': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('pypi_projects')
        .addColumn('repo', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('pypi_projects_pk', ['repo', 'name'])
        .execute();
      await db.schema
        .createTable('pypi_releases')
        .addColumn('repo', 'text', (c) => c.notNull())
        .addColumn('project', 'text', (c) => c.notNull())
        .addColumn('version_key', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('created_at', 'integer', (c) => c.notNull())
        .addColumn('yanked', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('yanked_reason', 'text')
        .addColumn('meta', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('pypi_releases_pk', ['repo', 'project', 'version_key'])
        .execute();
      await db.schema
        .createTable('pypi_files')
        .addColumn('repo', 'text', (c) => c.notNull())
        .addColumn('project', 'text', (c) => c.notNull())
        .addColumn('filename', 'text', (c) => c.notNull())
        .addColumn('version_key', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('packagetype', 'text', (c) => c.notNull())
        .addColumn('python_version', 'text', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('md5', 'text', (c) => c.notNull())
        .addColumn('blake2_256', 'text', (c) => c.notNull())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('blob', 'text', (c) => c.notNull())
        .addColumn('requires_python', 'text')
        .addColumn('upload_time', 'integer', (c) => c.notNull())
        .addColumn('metadata_blob', 'text')
        .addColumn('metadata_sha256', 'text')
        .addColumn('metadata_size', 'integer')
        .addColumn('uploader', 'text')
        .addPrimaryKeyConstraint('pypi_files_pk', ['repo', 'filename'])
        .execute();
      await db.schema
        .createIndex('pypi_files_project')
        .on('pypi_files')
        .columns(['repo', 'project', 'version_key'])
        .execute();
    },
  },
  '0401_pypi_deleted_files': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('pypi_deleted_files')
        .addColumn('repo', 'text', (c) => c.notNull())
        .addColumn('filename', 'text', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('deleted_at', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('pypi_deleted_files_pk', ['repo', 'filename'])
        .execute();
    },
  },
  '0402_pypi_files_dist_key': {
    async up(db: Kysely<unknown>): Promise<void> {
      // One file per normalised distribution of a release (trial 18 authx F5): `My_Pkg-1.0` and
      // `my_pkg-1.0.0` wheels with one tag triple, or two sdists of one release, were both kept
      // and pip picked one by its own ordering. The unique index settles concurrent uploads.
      await db.schema.alterTable('pypi_files').addColumn('dist_key', 'text').execute();
      const files = db as unknown as Kysely<PypiTables>;
      const rows = await files
        .selectFrom('pypi_files')
        .select(['repo', 'project', 'version_key', 'filename'])
        .orderBy('upload_time')
        .orderBy('filename')
        .execute();
      // Files already stored twice keep serving; only the oldest of them takes the key.
      const taken = new Set<string>();
      for (const row of rows) {
        const key = parseDistFilename(row.filename, row.project)?.identity;
        const slot = `${row.repo}\n${row.project}\n${row.version_key}\n${key}`;
        if (key === undefined || taken.has(slot)) continue;
        taken.add(slot);
        await files
          .updateTable('pypi_files')
          .set({ dist_key: key })
          .where('repo', '=', row.repo)
          .where('filename', '=', row.filename)
          .execute();
      }
      await db.schema
        .createIndex('pypi_files_dist')
        .unique()
        .on('pypi_files')
        .columns(['repo', 'project', 'version_key', 'dist_key'])
        .execute();
    },
  },
};
