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

export type HelmTables = {
  helm_charts: HelmChartsTable;
  helm_names: HelmNamesTable;
  helm_proxy_charts: HelmProxyChartsTable;
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
