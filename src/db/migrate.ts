/**
 * Runs the database migrations, each one and the `kysely_migration` row recording it in one
 * SQLite transaction (`BEGIN IMMEDIATE … COMMIT`).
 *
 * Kysely's Migrator runs SQLite migrations outside any transaction (its SqliteAdapter says
 * `supportsTransactionalDdl: false`, though SQLite's DDL is transactional): a process killed
 * between a migration's `CREATE TABLE` and its bookkeeping row (a crash, an OOM kill, a SIGHUP in
 * the first few hundred milliseconds) left a database whose every later start failed with "table
 * … already exists" (trial 25 ops F14). Here a kill at any point leaves the schema of the last
 * committed migration, and the next start runs the interrupted one again from its beginning.
 *
 * The bookkeeping is Kysely's own (`kysely_migration`: name, ISO timestamp), so databases made
 * by earlier builds go on, and so are its checks: a migration the database recorded must be known
 * to this build (a database of a newer NORA is refused), and new ones must sort after the last
 * one recorded.
 */
import { DatabaseSync } from 'node:sqlite';
import { Kysely, sql, SqliteDialect } from 'kysely';
import type { Migration } from 'kysely/migration';
import { adaptNodeSqlite } from './node-sqlite-dialect.ts';

/** Kysely's default table names, kept so that databases of earlier builds go on. */
const MIGRATION_TABLE = 'kysely_migration';

/** A migration failed (its transaction was rolled back): `migration` names it. */
export class MigrationError extends Error {
  override readonly name = 'MigrationError';
  readonly migration: string;
  constructor(migration: string, message: string, cause?: unknown) {
    super(message, { cause });
    this.migration = migration;
  }
}

/**
 * Applies the migrations of `migrations` the database has not recorded, in name order, each in
 * its own `BEGIN IMMEDIATE` transaction with its row in `kysely_migration` (IMMEDIATE: a second
 * process starting at the same moment waits for the write lock, busy timeout, then finds the
 * migration recorded and skips it). Returns the names applied. Throws MigrationError (nothing of
 * the failed migration is kept; the earlier ones stay committed).
 */
export async function runMigrations(
  db: Kysely<unknown>,
  migrations: Readonly<Record<string, Migration>>,
  warn: (message: string) => void = () => undefined,
): Promise<string[]> {
  const names = Object.keys(migrations).sort();
  return await db.connection().execute(async (conn) => {
    // Nothing is written when nothing is pending: a database that cannot be written (a
    // read-only `nora.db-shm`) still opens, and /health says why (db/database.ts).
    const table = await sql<{
      name: string;
    }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name = ${MIGRATION_TABLE}`.execute(
      conn,
    );
    if (table.rows.length > 0) {
      const executed = await executedMigrations(conn);
      checkRecorded(names, executed);
      if (names.every((name) => executed.names.has(name))) return [];
    } else {
      await sql`CREATE TABLE IF NOT EXISTS ${sql.table(MIGRATION_TABLE)} (
        name varchar(255) NOT NULL PRIMARY KEY,
        timestamp varchar(255) NOT NULL
      )`.execute(conn);
    }
    const applied: string[] = [];
    for (;;) {
      const done = await sql`BEGIN IMMEDIATE`.execute(conn).then(async () => {
        try {
          const executed = await executedMigrations(conn);
          checkRecorded(names, executed);
          const next = names.find((name) => !executed.names.has(name));
          if (next === undefined) {
            await sql`COMMIT`.execute(conn);
            return true;
          }
          const migration = migrations[next];
          await sql`SAVEPOINT nora_migration`.execute(conn);
          try {
            await migration?.up(conn);
          } catch (err) {
            if (!LEFTOVER_ERROR.test(String(err))) {
              throw new MigrationError(
                next,
                `database migration ${next} failed: ${String(err)}`,
                err,
              );
            }
            // What an interrupted run of a build before this one left (see repairLeftovers).
            await sql`ROLLBACK TO nora_migration`.execute(conn);
            const dropped = await repairLeftovers(conn, migrations, executed.ordered).catch(
              (repairErr: unknown) => {
                throw new MigrationError(
                  next,
                  `database migration ${next} failed: ${String(err)}; the database holds part of it, left by a process stopped while it ran this migration (a build before 2026-12), and removing that part failed (${String(repairErr)}): see docs/storage.md "A database that fails a migration"`,
                  err,
                );
              },
            );
            try {
              await migration?.up(conn);
            } catch (again) {
              throw new MigrationError(
                next,
                `database migration ${next} failed: ${String(again)} (also after removing what an interrupted earlier run left: ${dropped.join(', ') || 'nothing found'}): see docs/storage.md "A database that fails a migration"`,
                again,
              );
            }
            warn(
              `database migration ${next}: removed what a process stopped while it ran this migration had left (${dropped.join(', ')}), then ran it again`,
            );
          }
          await sql`RELEASE nora_migration`.execute(conn);
          // Kysely's timestamps: strictly increasing, also when the clock is behind the last.
          const at = new Date(Math.max(Date.now(), executed.latest + 1)).toISOString();
          await sql`INSERT INTO ${sql.table(MIGRATION_TABLE)} (name, timestamp) VALUES (${next}, ${at})`.execute(
            conn,
          );
          await sql`COMMIT`.execute(conn);
          applied.push(next);
          return false;
        } catch (err) {
          // SQLite may have rolled back by itself (SQLITE_FULL, SQLITE_IOERR): ROLLBACK is then
          // a no-op of the dialect (node-sqlite-dialect.ts skipWithoutTransaction).
          await sql`ROLLBACK`.execute(conn).catch(() => undefined);
          throw err;
        }
      });
      if (done) return applied;
    }
  });
}

async function executedMigrations(
  conn: Kysely<unknown>,
): Promise<{ names: Set<string>; ordered: string[]; latest: number }> {
  const { rows } = await sql<{
    name: string;
    timestamp: string;
  }>`SELECT name, timestamp FROM ${sql.table(MIGRATION_TABLE)} ORDER BY name`.execute(conn);
  let latest = 0;
  for (const row of rows) latest = Math.max(latest, Date.parse(row.timestamp) || 0);
  const ordered = rows.map((row) => row.name);
  return { names: new Set(ordered), ordered, latest };
}

/** Kysely Migrator's checks of what the database recorded against what this build knows. */
function checkRecorded(names: readonly string[], executed: { ordered: string[] }): void {
  for (const name of executed.ordered) {
    if (!names.includes(name)) {
      throw new MigrationError(
        name,
        `database migration ${name} recorded in the database is unknown to this build (a database of a newer NORA?): run the NORA version that made it, or restore a backup made by this one`,
      );
    }
  }
  executed.ordered.forEach((name, index) => {
    if (names[index] !== name) {
      throw new MigrationError(
        names[index] ?? name,
        `database migrations out of order: ${names[index] ?? '(none)'} sorts before the recorded ${name} but was never applied`,
      );
    }
  });
}

/** What re-running a half-applied migration meets: its own objects, made by the earlier run. */
const LEFTOVER_ERROR = /already exists|duplicate column name/i;

/** Objects and columns of a schema, by name (`sqlite_*` and the bookkeeping tables left out). */
interface Schema {
  readonly objects: Map<string, { type: string; table: string }>;
  readonly columns: Map<string, Set<string>>;
}

async function schemaOf(conn: Kysely<unknown>): Promise<Schema> {
  const { rows } = await sql<{ type: string; name: string; tbl_name: string }>`
    SELECT type, name, tbl_name FROM sqlite_master
    WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE 'kysely_migration%'`.execute(conn);
  const objects = new Map(rows.map((r) => [r.name, { type: r.type, table: r.tbl_name }]));
  const columns = new Map<string, Set<string>>();
  for (const row of rows) {
    if (row.type !== 'table') continue;
    const info = await sql<{
      name: string;
    }>`SELECT name FROM pragma_table_info(${row.name})`.execute(conn);
    columns.set(row.name, new Set(info.rows.map((c) => c.name)));
  }
  return { objects, columns };
}

/**
 * Removes what an interrupted run of a migration left, inside the caller's transaction: builds
 * (in memory) the schema the recorded migrations `executed` make, and drops every table, index,
 * trigger, view and column of the database beyond it. Before this build a migration's statements
 * committed one by one, so a process killed inside one left some of them applied and no row
 * saying so. Nothing else writes there in between: a server starts serving only once every
 * migration ran, so those objects hold nothing but what the migration itself put in them (and it
 * runs again). Returns what was dropped (`table raw_files`, `column pypi_files.dist_key`).
 */
async function repairLeftovers(
  conn: Kysely<unknown>,
  migrations: Readonly<Record<string, Migration>>,
  executed: readonly string[],
): Promise<string[]> {
  const memory = new DatabaseSync(':memory:');
  const reference = new Kysely<unknown>({
    dialect: new SqliteDialect({ database: adaptNodeSqlite(memory) }),
  });
  let expected: Schema;
  try {
    const recorded = Object.fromEntries(
      executed.flatMap((name) => {
        const migration = migrations[name];
        return migration === undefined ? [] : [[name, migration] as const];
      }),
    );
    await runMigrations(reference, recorded);
    expected = await schemaOf(reference);
  } finally {
    await reference.destroy();
  }
  const actual = await schemaOf(conn);
  const dropped: string[] = [];
  const extra = [...actual.objects].filter(([name]) => !expected.objects.has(name));
  // Indexes, triggers and views first: a column they use cannot be dropped.
  for (const [name, { type }] of extra.filter(([, o]) => o.type !== 'table')) {
    const kind = type === 'index' ? sql`INDEX` : type === 'trigger' ? sql`TRIGGER` : sql`VIEW`;
    await sql`DROP ${kind} IF EXISTS ${sql.id(name)}`.execute(conn);
    dropped.push(`${type} ${name}`);
  }
  for (const [table, names] of actual.columns) {
    const wanted = expected.columns.get(table);
    if (wanted === undefined) continue;
    for (const column of names) {
      if (wanted.has(column)) continue;
      await sql`ALTER TABLE ${sql.table(table)} DROP COLUMN ${sql.id(column)}`.execute(conn);
      dropped.push(`column ${table}.${column}`);
    }
  }
  for (const [name] of extra.filter(([, o]) => o.type === 'table')) {
    await sql`DROP TABLE IF EXISTS ${sql.table(name)}`.execute(conn);
    dropped.push(`table ${name}`);
  }
  return dropped;
}
