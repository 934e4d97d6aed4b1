/**
 * Raw metadata (`0800_raw_*`): the store is the source of truth for what a hosted raw repository
 * holds. One row per file (`raw_files`) and one per folder (`raw_dirs`, with the number of files
 * beneath it, so a folder exists exactly while it holds a file and disappears with its last one).
 * Listings read these rows by (repo, parent, name): a page costs two index range scans, whatever
 * the size of the tree, and storage is never scanned.
 */
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

export type RawFilesTable = {
  repo: string;
  /** Repository-relative path: `releases/1.0/tool.tar.gz`. */
  path: string;
  /** Its folder (`releases/1.0`; `` at the root) and its last segment (`tool.tar.gz`). */
  parent: string;
  name: string;
  /** Content address in the blob store, `sha256:<hex>` (the ETag is its hex). */
  digest: string;
  size: number;
  /** Milliseconds since the epoch. */
  created_at: number;
  updated_at: number;
};

export type RawDirsTable = {
  repo: string;
  path: string;
  parent: string;
  name: string;
  /** Files anywhere beneath this folder. */
  files: number;
  /** Newest write beneath it, ms. */
  updated_at: number;
};

export type RawTables = {
  raw_files: RawFilesTable;
  raw_dirs: RawDirsTable;
};

export const rawMigrations: Record<string, Migration> = {
  '0800_raw_files': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('raw_files')
        .addColumn('repo', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('parent', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('raw_files_pk', ['repo', 'path'])
        .execute();
      await db.schema
        .createIndex('raw_files_listing')
        .on('raw_files')
        .columns(['repo', 'parent', 'name'])
        .execute();
      await db.schema
        .createTable('raw_dirs')
        .addColumn('repo', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('parent', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('files', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('raw_dirs_pk', ['repo', 'path'])
        .execute();
      await db.schema
        .createIndex('raw_dirs_listing')
        .on('raw_dirs')
        .columns(['repo', 'parent', 'name'])
        .execute();
    },
  },
};
