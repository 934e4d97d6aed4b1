/** npm metadata (`0200_npm_*`): packages, versions (immutable, tombstoned on unpublish), dist-tags. */
import type { ColumnType, Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

export type NpmPackagesTable = {
  repo: string;
  name: string;
  created_at: number;
  modified_at: number;
  /** Bumped on every write; the number part of `_rev`. */
  rev: number;
  /** JSON: package-level fields of the last publish (description, readme, maintainers, …). */
  meta: string;
  description: string;
  /** Space-separated, lowercase (search). */
  keywords: string;
};

export type NpmVersionsTable = {
  repo: string;
  name: string;
  version: string;
  /** JSON: the version manifest as published, without `dist.tarball` (built per request). */
  manifest: string;
  filename: string;
  /** `sha512:<hex>` of the tarball in the blob store. */
  digest: string;
  integrity: string;
  shasum: string;
  size: number;
  published_at: number;
  deprecated: string | null;
  /** Set when unpublished: the row stays so name@version can never be reused. */
  unpublished_at: number | null;
};

export type NpmDistTagsTable = {
  repo: string;
  name: string;
  tag: string;
  version: string;
};

/** Upstream packuments cached by proxy repositories: indexed for search only. */
export type NpmProxyIndexTable = {
  repo: string;
  name: string;
  description: string;
  keywords: string;
  latest: string;
  modified_at: number;
  /**
   * JSON: what a search result shows of the package (author, maintainers, publisher, links,
   * date = the latest version's publish time), taken from the upstream packument. '{}' for rows
   * indexed before 0202.
   */
  meta: ColumnType<string, string | undefined, string>;
};

export type NpmTables = {
  npm_packages: NpmPackagesTable;
  npm_versions: NpmVersionsTable;
  npm_dist_tags: NpmDistTagsTable;
  npm_proxy_index: NpmProxyIndexTable;
};

export const npmMigrations: Record<string, Migration> = {
  '0200_npm_packages': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('npm_packages')
        .addColumn('repo', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'integer', (c) => c.notNull())
        .addColumn('modified_at', 'integer', (c) => c.notNull())
        .addColumn('rev', 'integer', (c) => c.notNull())
        .addColumn('meta', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('keywords', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('npm_packages_pk', ['repo', 'name'])
        .execute();
      await db.schema
        .createTable('npm_versions')
        .addColumn('repo', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('manifest', 'text', (c) => c.notNull())
        .addColumn('filename', 'text', (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('integrity', 'text', (c) => c.notNull())
        .addColumn('shasum', 'text', (c) => c.notNull())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('published_at', 'integer', (c) => c.notNull())
        .addColumn('deprecated', 'text')
        .addColumn('unpublished_at', 'integer')
        .addPrimaryKeyConstraint('npm_versions_pk', ['repo', 'name', 'version'])
        .execute();
      await db.schema
        .createIndex('npm_versions_file')
        .on('npm_versions')
        .columns(['repo', 'name', 'filename'])
        .execute();
      await db.schema
        .createTable('npm_dist_tags')
        .addColumn('repo', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('tag', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('npm_dist_tags_pk', ['repo', 'name', 'tag'])
        .execute();
    },
  },
  '0201_npm_proxy_index': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('npm_proxy_index')
        .addColumn('repo', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('keywords', 'text', (c) => c.notNull())
        .addColumn('latest', 'text', (c) => c.notNull())
        .addColumn('modified_at', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('npm_proxy_index_pk', ['repo', 'name'])
        .execute();
    },
  },
  '0202_npm_proxy_index_meta': {
    async up(db: Kysely<unknown>): Promise<void> {
      // Search results of proxied packages carry their author, links and publish date.
      await db.schema
        .alterTable('npm_proxy_index')
        .addColumn('meta', 'text', (c) => c.notNull().defaultTo('{}'))
        .execute();
    },
  },
};
