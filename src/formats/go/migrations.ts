/**
 * Metadata of hosted Go module repositories (`0700_go_*`): one row per module version, holding
 * its `.mod` and `.zip` blobs and its `.info` time. A row is written once (the primary key makes
 * a version immutable: a second upload of it is refused), after both blobs are committed.
 */
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

export type GoModuleVersionsTable = {
  repo: string;
  /** Decoded module path (`github.com/Azure/x`), as go.mod declares it. */
  module: string;
  /** Canonical version (`v1.2.3`, `v0.0.0-2019…-abcdef123456`, `v2.0.0+incompatible`). */
  version: string;
  /** 1 for a pseudo-version (not listed in `@v/list`). */
  pseudo: number;
  /** `sha256:<hex>` of the `.mod` bytes (the zip's go.mod, or `module <path>` when it has none). */
  mod_blob: string;
  mod_size: number;
  /** `sha256:<hex>` of the `.zip` bytes as uploaded. */
  zip_blob: string;
  zip_size: number;
  /** The `.info` `Time`, RFC 3339 UTC. */
  time: string;
  /** Milliseconds since the epoch. */
  created_at: number;
  uploader: string | null;
};

export type GoTables = {
  go_module_versions: GoModuleVersionsTable;
};

export const goMigrations: Record<string, Migration> = {
  '0700_go_hosted': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('go_module_versions')
        .addColumn('repo', 'text', (c) => c.notNull())
        .addColumn('module', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('pseudo', 'integer', (c) => c.notNull())
        .addColumn('mod_blob', 'text', (c) => c.notNull())
        .addColumn('mod_size', 'integer', (c) => c.notNull())
        .addColumn('zip_blob', 'text', (c) => c.notNull())
        .addColumn('zip_size', 'integer', (c) => c.notNull())
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('created_at', 'integer', (c) => c.notNull())
        .addColumn('uploader', 'text')
        .addPrimaryKeyConstraint('go_module_versions_pk', ['repo', 'module', 'version'])
        .execute();
    },
  },
};
