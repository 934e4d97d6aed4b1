/**
 * The metadata store: SQL is the source of truth for everything that is not bytes. SQLite through
 * `node:sqlite` is the embedded default (WAL, busy timeout, foreign keys). Queries go through
 * Kysely so the same code can later run on PostgreSQL. Each module contributes its own versioned
 * migrations (name-ordered: `0000_core`, `0100_oci_…`, `0200_npm_…`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Kysely, SqliteDialect } from 'kysely';
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration';
import { adaptNodeSqlite } from './node-sqlite-dialect.ts';
import { coreMigrations } from './core-migrations.ts';
import { registerSqliteHandle, SqliteHandle } from './sqlite-handle.ts';
import type { CoreTables } from './tables.ts';

export type Db = Kysely<CoreTables>;
export type Migrations = Readonly<Record<string, Migration>>;

export interface OpenDatabaseOptions {
  /** File path, or ':memory:'. */
  readonly file: string;
  readonly migrations?: Migrations;
  /** Called after every statement that may write (node-sqlite-dialect.ts `mayWrite`). */
  readonly onWrite?: () => void;
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<Db> {
  if (options.file !== ':memory:')
    fs.mkdirSync(path.dirname(path.resolve(options.file)), { recursive: true });
  const sqlite = new DatabaseSync(options.file, {
    timeout: 5000,
    enableForeignKeyConstraints: true,
  });
  sqlite.exec('PRAGMA journal_mode = WAL');
  sqlite.exec('PRAGMA synchronous = NORMAL');
  sqlite.exec('PRAGMA foreign_keys = ON');
  // NORMAL in WAL mode: commits are atomic and consistent but not synced; writers that answer
  // "stored" call SqliteHandle.syncWal() (an off-thread fdatasync shared by concurrent commits)
  // before they answer. See sqlite-handle.ts for what holds across a power loss.
  const handle = new SqliteHandle(sqlite, options.file, options.onWrite);
  const database = adaptNodeSqlite(sqlite, options.onWrite);
  const db = new Kysely<CoreTables>({
    dialect: new SqliteDialect({
      database: {
        ...database,
        close: () => {
          handle.close();
          database.close();
        },
      },
    }),
  });
  registerSqliteHandle(db as unknown as Kysely<never>, handle);
  await migrate(db, { ...coreMigrations, ...options.migrations });
  return db;
}

async function migrate(db: Db, migrations: Migrations): Promise<void> {
  const provider: MigrationProvider = { getMigrations: () => Promise.resolve({ ...migrations }) };
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error !== undefined || failed) {
    const name = failed?.migrationName ?? 'unknown';
    throw new Error(`database migration ${name} failed: ${String(error)}`, { cause: error });
  }
}

/** Readiness probe. */
export async function checkDatabase(db: Db): Promise<void> {
  await db.selectFrom('blobs').select('digest').limit(1).execute();
}
