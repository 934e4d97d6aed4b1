/**
 * The installation id: a UUID made once with the metadata database (its migration inserts it)
 * and made anew by `nora restore` (src/backup/restore.ts). It names "this storage's contents":
 * a NORA whose storage was wiped (a new database) or restored from an archive answers at the
 * same address with another id, so a client that remembered what it did to the old one (the
 * resume state of `nora import run`, src/import/state.ts) can tell. Exposed to users and tokens
 * as `installation` in `GET /api/v1/repositories` (http/repositories-api.ts).
 *
 * Not the S3 lease's owner id (`.nora-owner`, storage/bucket-lease.ts): that one names the
 * local directory that holds a bucket, and must survive a restore to keep its own lease.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import type { Db } from './database.ts';

export interface InstallationTable {
  id: string;
  /** Unix milliseconds when this id was made. */
  created_at: number;
}

type InstallationTables = { installation: InstallationTable };

export const installationMigrations: Record<string, Migration> = {
  // Named after every migration before it (0922_curation_first_seen_at): on an existing database
  // Kysely refuses a new name that sorts before one already run (db/migrate.ts checkRecorded).
  '0925_core_installation': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('installation')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('created_at', 'integer', (c) => c.notNull())
        .execute();
      // Made here, not on first read: a database opened read-only (a dry run) has it too.
      await (db as Kysely<InstallationTables>)
        .insertInto('installation')
        .values({ id: randomUUID(), created_at: Date.now() })
        .execute();
    },
  },
};

/** The database's installation id (one row; the newest if a hand edit left several). */
export async function readInstallation(db: Db): Promise<string> {
  const row = await db
    .$extendTables<InstallationTables>()
    .selectFrom('installation')
    .select('id')
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  // A row deleted by hand: the storage is as good as new to a client.
  return row?.id ?? 'none';
}

/** Replaces the id with a new one (a restored database is not the one its archive was taken of). */
export async function renewInstallation(db: Db): Promise<string> {
  const id = randomUUID();
  const tables = db.$extendTables<InstallationTables>();
  await tables.deleteFrom('installation').execute();
  await tables.insertInto('installation').values({ id, created_at: Date.now() }).execute();
  return id;
}
