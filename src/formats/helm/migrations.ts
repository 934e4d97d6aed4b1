/**
 * Helm metadata (`0850_helm_*`): one row per chart version of a hosted repository, holding its
 * index entry pre-rendered (chart.ts `entryFragment`), so `index.yaml` is built from these rows
 * (never by rescanning storage) and re-rendered only when a row changes; and (`0851`) one row per
 * chart name ever published in a hosted repository (the group's name guard outlives deletes).
 */
import { type Kysely, sql } from 'kysely';
import type { Migration } from 'kysely/migration';

export type HelmChartsTable = {
  repo: string;
  name: string;
  version: string;
  /** `<name>-<version>.tgz` (unique per repository: what the download URLs name). */
  filename: string;
  /** Content address of the archive in the blob store, `sha256:<hex>`. */
  digest: string;
  size: number;
  /** The provenance file, when uploaded. */
  prov_digest: string | null;
  prov_size: number | null;
  /** The index entry (Helm's ChartVersion) as one JSON text. */
  entry: string;
  /** Milliseconds since the epoch. */
  created_at: number;
  updated_at: number;
};

/**
 * Every chart name ever published in a hosted repository, kept after its last version is deleted:
 * a group with `protect_hosted_names` never takes that name from a proxy member again (npm keeps
 * the same promise for unpublished packages).
 */
export type HelmNamesTable = {
  repo: string;
  name: string;
  /** Milliseconds since the epoch of its first upload. */
  first_published_at: number;
};

/**
 * What a Helm proxy knows of each chart file it caches (`0926`): the cache row's key
 * (`chart@<upstream id>:<file>`, in `proxy_entries`) → the chart's name and version, as the
 * upstream index entry it was fetched for gave them. The web UI lists a proxy's cached charts
 * from these (a file name `<name>-<version>.tgz` cannot be split: names hold dashes and digits,
 * versions dashes). A row without its cache row is ignored (the join drops it).
 */
export type HelmProxyChartsTable = {
  repository: string;
  key: string;
  name: string;
  version: string;
};

/**
 * The Helm proxies whose chart files cached before `0926` still need their chart recorded
 * (`0945`, proxy.ts `backfillCharts`): seeded once by the migration with each repository that
 * then had a `chart@` cache row without a `helm_proxy_charts` row, deleted when its backfill is
 * done. `after_key`: the last cache key a bounded run covered (the next start resumes after it).
 * A start reads this table only: no scan of the cache rows once it is empty.
 */
export type HelmProxyBackfillTable = {
  repository: string;
  after_key: string;
};

/**
 * What a deleted chart version was (`0946`): one row per (repository, chart, version as it was
 * spelled) ever deleted, the archive digest it had when deleted (the last one, should it be
 * deleted again). With `[helm] allow_overwrite = false` an upload of that version (in either
 * spelling, `1.2.3` / `v1.2.3`) with other bytes is a 409 (store.ts `put`): versions stay
 * immutable across a delete (trial 33 newA). Identical bytes may come back. Not a blob reference:
 * gc may free the bytes.
 */
export type HelmDeletedVersionsTable = {
  repo: string;
  name: string;
  version: string;
  /** `sha256:<hex>` of the archive deleted. */
  digest: string;
  /** Milliseconds since the epoch. */
  deleted_at: number;
};

export type HelmTables = {
  helm_charts: HelmChartsTable;
  helm_names: HelmNamesTable;
  helm_proxy_charts: HelmProxyChartsTable;
  helm_proxy_backfill: HelmProxyBackfillTable;
  helm_deleted_versions: HelmDeletedVersionsTable;
};

export const helmMigrations: Record<string, Migration> = {
  '0850_helm_charts': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('helm_charts')
        .addColumn('repo', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('filename', 'text', (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('prov_digest', 'text')
        .addColumn('prov_size', 'integer')
        .addColumn('entry', 'text', (c) => c.notNull())
        .addColumn('created_at', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('helm_charts_pk', ['repo', 'name', 'version'])
        .execute();
      await db.schema
        .createIndex('helm_charts_file')
        .on('helm_charts')
        .columns(['repo', 'filename'])
        .unique()
        .execute();
    },
  },
  '0851_helm_names': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('helm_names')
        .addColumn('repo', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('first_published_at', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('helm_names_pk', ['repo', 'name'])
        .execute();
      // Names published before this table existed (deleted ones are gone: nothing to recover).
      await sql`INSERT INTO helm_names (repo, name, first_published_at)
        SELECT repo, name, MIN(created_at) FROM helm_charts GROUP BY repo, name`.execute(db);
    },
  },
  '0926_helm_proxy_charts': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('helm_proxy_charts')
        .addColumn('repository', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('helm_proxy_charts_pk', ['repository', 'key'])
        .execute();
    },
  },
};

/**
 * `0945_helm_proxy_backfill_pending` (registered in index.ts after the UI cache migrations it
 * must sort after): the `helm_proxy_backfill` marks (HelmProxyBackfillTable).
 */
export const helmProxyBackfillMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('helm_proxy_backfill')
      .addColumn('repository', 'text', (c) => c.notNull().primaryKey())
      .addColumn('after_key', 'text', (c) => c.notNull().defaultTo(''))
      .execute();
    // The proxies with files cached before 0926: the only ones a start ever backfills (files
    // cached since have their chart recorded when fetched).
    await sql`INSERT INTO helm_proxy_backfill (repository, after_key)
      SELECT DISTINCT p.repository, '' FROM proxy_entries AS p
      WHERE substr(p.key, 1, 6) = 'chart@'
        AND NOT EXISTS (SELECT 1 FROM helm_proxy_charts AS c
          WHERE c.repository = p.repository AND c.key = p.key)`.execute(db);
  },
};

/**
 * `0946_helm_deleted_versions` (registered in index.ts after 0945): the tombstones of deleted
 * chart versions (HelmDeletedVersionsTable). Versions deleted before it are not known: nothing to
 * recover.
 */
export const helmDeletedVersionsMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('helm_deleted_versions')
      .addColumn('repo', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('version', 'text', (c) => c.notNull())
      .addColumn('digest', 'text', (c) => c.notNull())
      .addColumn('deleted_at', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('helm_deleted_versions_pk', ['repo', 'name', 'version'])
      .execute();
  },
};
