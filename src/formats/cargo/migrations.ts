/**
 * Metadata of hosted Cargo repositories (`0600_cargo_*`): crates (one per canonical name, so
 * `foo-bar` and `Foo_Bar` are one crate), versions (one row per published version: the index
 * file is derived from these rows, so two concurrent publishes of different versions both land —
 * NORA lost entries when it rewrote one index document) and owners (NORA user names);
 * `0601_cargo_user_ids`: a stable integer per owner login (the owners API's `id`).
 */
import type { Generated, Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

export type CargoCratesTable = {
  repo: string;
  /** Lower-cased name: the index file's key. */
  name: string;
  /** names.ts canonicalName: unique per repository. */
  canon: string;
  /** As first published. */
  display_name: string;
  created_at: number;
  /** Search fields, from the highest version published. */
  description: string | null;
  /** JSON array of strings. */
  keywords: string;
  max_version: string;
};

export type CargoVersionsTable = {
  /** Publish order (the index file's line order). */
  id: Generated<number>;
  repo: string;
  crate: string;
  /** names.ts parseCrateVersion().key: one row per SemVer precedence class. */
  version_key: string;
  vers: string;
  /** JSON of the index entry without `yanked` (IndexEntry minus yanked). */
  entry: string;
  cksum: string;
  size: number;
  /** `sha256:<hex>` of the `.crate` in the blob store. */
  blob: string;
  yanked: number;
  published_by: string | null;
  published_at: number;
};

export type CargoOwnersTable = {
  repo: string;
  crate: string;
  login: string;
  added_at: number;
};

/**
 * The owners API's `id` per login: crates.io answers each user's own id, the same in every crate
 * and every answer, and Cargo reads it as a u32 (an autoincrement from 1 fits). Assigned on the
 * first owners read that meets the login; never reused (AUTOINCREMENT).
 */
export type CargoUserIdsTable = {
  id: Generated<number>;
  login: string;
};

export type CargoTables = {
  cargo_crates: CargoCratesTable;
  cargo_versions: CargoVersionsTable;
  cargo_owners: CargoOwnersTable;
  cargo_user_ids: CargoUserIdsTable;
};

export const cargoMigrations: Record<string, Migration> = {
  '0600_cargo_hosted': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('cargo_crates')
        .addColumn('repo', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('canon', 'text', (c) => c.notNull())
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'integer', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('keywords', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('max_version', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('cargo_crates_pk', ['repo', 'name'])
        .execute();
      await db.schema
        .createIndex('cargo_crates_canon')
        .on('cargo_crates')
        .columns(['repo', 'canon'])
        .unique()
        .execute();
      await db.schema
        .createTable('cargo_versions')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('repo', 'text', (c) => c.notNull())
        .addColumn('crate', 'text', (c) => c.notNull())
        .addColumn('version_key', 'text', (c) => c.notNull())
        .addColumn('vers', 'text', (c) => c.notNull())
        .addColumn('entry', 'text', (c) => c.notNull())
        .addColumn('cksum', 'text', (c) => c.notNull())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('blob', 'text', (c) => c.notNull())
        .addColumn('yanked', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('published_by', 'text')
        .addColumn('published_at', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('cargo_versions_key')
        .on('cargo_versions')
        .columns(['repo', 'crate', 'version_key'])
        .unique()
        .execute();
      await db.schema
        .createTable('cargo_owners')
        .addColumn('repo', 'text', (c) => c.notNull())
        .addColumn('crate', 'text', (c) => c.notNull())
        .addColumn('login', 'text', (c) => c.notNull())
        .addColumn('added_at', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('cargo_owners_pk', ['repo', 'crate', 'login'])
        .execute();
    },
  },
  '0601_cargo_user_ids': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('cargo_user_ids')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('login', 'text', (c) => c.notNull().unique())
        .execute();
    },
  },
};
