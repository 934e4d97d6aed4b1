/**
 * Maven metadata (`0500_maven_*`): one row per stored file of a hosted repository. Everything a
 * `maven-metadata.xml` says is derived from these rows when it is asked for (never a document
 * read, modified and written back), so two concurrent deploys of different versions both appear.
 */
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

export type MavenFilesTable = {
  repo: string;
  /** Repository-relative layout path: `org/example/demo/1.0/demo-1.0.jar`. */
  path: string;
  group_id: string;
  artifact_id: string;
  /** The directory version: `1.0` or `1.0-SNAPSHOT`. */
  version: string;
  /** '' when none. */
  classifier: string;
  /** `jar`, `pom`, `jar.asc`… */
  extension: string;
  /** Timestamped snapshot builds: `20261130.101010`; null for releases and non-unique snapshots. */
  snapshot_ts: string | null;
  build_number: number | null;
  /** Content address in the blob store, `sha256:<hex>`. */
  digest: string;
  size: number;
  md5: string;
  sha1: string;
  sha256: string;
  sha512: string;
  /** POMs only: `<packaging>` and, for `maven-plugin`, the goal prefix and `<name>`. */
  packaging: string | null;
  plugin_prefix: string | null;
  plugin_name: string | null;
  /** Milliseconds since the epoch. */
  created_at: number;
  updated_at: number;
};

export type MavenTables = {
  maven_files: MavenFilesTable;
};

export const mavenMigrations: Record<string, Migration> = {
  '0500_maven_files': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('maven_files')
        .addColumn('repo', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('group_id', 'text', (c) => c.notNull())
        .addColumn('artifact_id', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('classifier', 'text', (c) => c.notNull())
        .addColumn('extension', 'text', (c) => c.notNull())
        .addColumn('snapshot_ts', 'text')
        .addColumn('build_number', 'integer')
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('md5', 'text', (c) => c.notNull())
        .addColumn('sha1', 'text', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('sha512', 'text', (c) => c.notNull())
        .addColumn('packaging', 'text')
        .addColumn('plugin_prefix', 'text')
        .addColumn('plugin_name', 'text')
        .addColumn('created_at', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('maven_files_pk', ['repo', 'path'])
        .execute();
      await db.schema
        .createIndex('maven_files_gav')
        .on('maven_files')
        .columns(['repo', 'group_id', 'artifact_id', 'version'])
        .execute();
    },
  },
};
