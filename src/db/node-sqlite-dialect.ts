/**
 * Adapts Node's built-in `node:sqlite` (no native addon) to Kysely's SqliteDialect, which expects
 * a better-sqlite3-shaped database. Prepared statements are cached per SQL text. Every statement
 * that may write (anything but SELECT / read-only WITH / PRAGMA / EXPLAIN) calls `onWrite` after
 * it ran: the one choke point every write of the store passes (core/write-generation.ts).
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { SqliteDatabase, SqliteStatement } from 'kysely';
import { retryOnFull, type SpaceReserve } from './reserve.ts';

const STATEMENT_CACHE_LIMIT = 500;

type SqlValue = null | number | bigint | string | Uint8Array;

/**
 * `reserve`: a statement that may write and fails with SQLITE_FULL releases it and runs once
 * more (db/reserve.ts retryOnFull): Kysely's COMMIT, or a DELETE outside a transaction.
 */
export function adaptNodeSqlite(
  db: DatabaseSync,
  onWrite?: () => void,
  reserve?: SpaceReserve,
): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => {
      db.close();
    },
    prepare(sql: string): SqliteStatement {
      const cached = cache.get(sql);
      if (cached) return cached;
      const statement = db.prepare(sql);
      const writes = mayWrite(sql);
      let adapted = adaptStatement(
        statement,
        onWrite !== undefined && writes ? onWrite : undefined,
      );
      if (reserve !== undefined && writes && !ROLLBACK.test(sql))
        adapted = retriedOnFull(db, reserve, adapted);
      if (ROLLBACK.test(sql)) adapted = skipWithoutTransaction(db, adapted);
      if (cache.size >= STATEMENT_CACHE_LIMIT) cache.clear();
      cache.set(sql, adapted);
      return adapted;
    },
  };
}

const ROLLBACK = /^\s*rollback\b/i;

/**
 * A ROLLBACK (or ROLLBACK TO) that does nothing when no transaction is open: SQLite rolls a
 * transaction back by itself on some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM, …), and
 * Kysely's rollback that follows would fail with "cannot rollback - no transaction is active",
 * replacing the error that says what happened (a full disk: 507) with a bare 500.
 */
function skipWithoutTransaction(db: DatabaseSync, statement: SqliteStatement): SqliteStatement {
  return {
    ...statement,
    run: (parameters) =>
      db.isTransaction ? statement.run(parameters) : { changes: 0, lastInsertRowid: 0 },
  };
}

/** `statement` with its `run` and `all` retried once on a full disk (db/reserve.ts). */
function retriedOnFull(
  db: DatabaseSync,
  reserve: SpaceReserve,
  statement: SqliteStatement,
): SqliteStatement {
  return {
    ...statement,
    all: (parameters) => retryOnFull(db, reserve, () => statement.all(parameters)),
    run: (parameters) => retryOnFull(db, reserve, () => statement.run(parameters)),
  };
}

const READ_ONLY = /^\s*(?:select|pragma|explain)\b/i;
const WRITE_WORD = /\b(?:insert|update|delete|replace)\b/i;

/**
 * Whether `sql` may change a row, decided once per statement text. Conservative: a statement
 * that is not recognisably a read counts as a write (BEGIN/COMMIT/ROLLBACK/SAVEPOINT included);
 * `WITH … SELECT` is a read unless it names a write.
 */
export function mayWrite(sql: string): boolean {
  if (READ_ONLY.test(sql)) return false;
  if (/^\s*with\b/i.test(sql)) return WRITE_WORD.test(sql);
  return true;
}

function adaptStatement(statement: StatementSync, onWrite?: () => void): SqliteStatement {
  const reader = statement.columns().length > 0;
  if (onWrite === undefined) {
    return {
      reader,
      all: (parameters) => statement.all(...toSqlValues(parameters)),
      run: (parameters) => statement.run(...toSqlValues(parameters)),
      iterate: (parameters) => statement.iterate(...toSqlValues(parameters)),
    };
  }
  // Bumped after the statement (even a failed one: it may have changed rows before failing).
  return {
    reader,
    all: (parameters) => {
      try {
        return statement.all(...toSqlValues(parameters));
      } finally {
        onWrite();
      }
    },
    run: (parameters) => {
      try {
        return statement.run(...toSqlValues(parameters));
      } finally {
        onWrite();
      }
    },
    iterate: (parameters) => {
      // Rows of a writing statement with RETURNING, read lazily: counted when it starts and ends.
      onWrite();
      const rows = statement.iterate(...toSqlValues(parameters));
      return (function* () {
        try {
          yield* rows;
        } finally {
          onWrite();
        }
      })();
    },
  };
}

/** node:sqlite accepts neither booleans nor undefined: store them as SQLite does. */
function toSqlValues(parameters: readonly unknown[]): SqlValue[] {
  return parameters.map((value) => {
    if (value === undefined || value === null) return null;
    if (typeof value === 'boolean') return value ? 1 : 0;
    if (value instanceof Date) return value.getTime();
    return value as SqlValue;
  });
}
