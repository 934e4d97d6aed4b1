/**
 * Adapts Node's built-in `node:sqlite` (no native addon) to Kysely's SqliteDialect, which expects
 * a better-sqlite3-shaped database. Prepared statements are cached per SQL text.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

const STATEMENT_CACHE_LIMIT = 500;

type SqlValue = null | number | bigint | string | Uint8Array;

export function adaptNodeSqlite(db: DatabaseSync): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => {
      db.close();
    },
    prepare(sql: string): SqliteStatement {
      const cached = cache.get(sql);
      if (cached) return cached;
      const statement = db.prepare(sql);
      const adapted = adaptStatement(statement);
      if (cache.size >= STATEMENT_CACHE_LIMIT) cache.clear();
      cache.set(sql, adapted);
      return adapted;
    },
  };
}

function adaptStatement(statement: StatementSync): SqliteStatement {
  const reader = statement.columns().length > 0;
  return {
    reader,
    all: (parameters) => statement.all(...toSqlValues(parameters)),
    run: (parameters) => statement.run(...toSqlValues(parameters)),
    iterate: (parameters) => statement.iterate(...toSqlValues(parameters)),
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
