/**
 * Maven metadata (`0500_maven_*`): one row per stored file of a hosted repository. Everything a
 * `maven-metadata.xml` says is derived from these rows when it is asked for (never a document
 * read, modified and written back), so two concurrent deploys of different versions both appear.
 * And (`0910_maven_deploy_memory`) what a deploy's guards remember between its requests.
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

/**
 * A main archive refused at deploy, per build (refused-archives.ts): the files the same deploy
 * sends after it that would list the version are refused while it is fresh. In the database so
 * that a restart, or another node over the same database, still refuses them.
 */
export type MavenRefusedArchivesTable = {
  repo: string;
  group_id: string;
  artifact_id: string;
  version: string;
  /** A timestamped snapshot build's `<timestamp>-<buildNumber>`; '' for a release or non-unique name. */
  build: string;
  /** The refused archive's layout path and extension. */
  path: string;
  extension: string;
  /** A few words: `no zip end record`, `a web page`… */
  reason: string;
  /** When it was refused, ms since the epoch; forgotten REFUSED_ARCHIVE_TTL_MS later. */
  refused_at: number;
};

/**
 * Who stored a file new at its path a moment ago (deploy-withdrawal.ts): what a refused main
 * archive may withdraw of its own deploy. Written in the transaction that records the file
 * (MavenStore.put), removed when the file is replaced or withdrawn, forgotten
 * RECENT_DEPLOY_TTL_MS after `stored_at`.
 */
export type MavenRecentDeploysTable = {
  repo: string;
  path: string;
  /** `user <name>` or `anonymous from <address>` (service.ts `uploaderOf`). */
  uploader: string;
  /** ms since the epoch. */
  stored_at: number;
};

export type MavenTables = {
  maven_files: MavenFilesTable;
  maven_refused_archives: MavenRefusedArchivesTable;
  maven_recent_deploys: MavenRecentDeploysTable;
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
  // Named after every migration before it (Kysely refuses, on an existing database, a new name
  // that sorts before one already run), not in the 05xx block.
  '0910_maven_deploy_memory': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('maven_refused_archives')
        .addColumn('repo', 'text', (c) => c.notNull())
        .addColumn('group_id', 'text', (c) => c.notNull())
        .addColumn('artifact_id', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('build', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('extension', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('refused_at', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('maven_refused_archives_pk', [
          'repo',
          'group_id',
          'artifact_id',
          'version',
          'build',
        ])
        .execute();
      await db.schema
        .createIndex('maven_refused_archives_at')
        .on('maven_refused_archives')
        .column('refused_at')
        .execute();
      await db.schema
        .createTable('maven_recent_deploys')
        .addColumn('repo', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('uploader', 'text', (c) => c.notNull())
        .addColumn('stored_at', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('maven_recent_deploys_pk', ['repo', 'path'])
        .execute();
      await db.schema
        .createIndex('maven_recent_deploys_at')
        .on('maven_recent_deploys')
        .column('stored_at')
        .execute();
    },
  },
};
