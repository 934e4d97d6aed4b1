/**
 * The web UI's index of proxy caches: one row per cached file of a version (`ui_proxy_files`)
 * and one summary row per cached name (`ui_proxy_names`: its distinct versions, newest fetch
 * time, total bytes), so a proxy's list page reads its page of names by index (PRIMARY KEY
 * (repository, name)) instead of regrouping every cache row on every page
 * (docs/performance.md "Web UI on a big proxy cache").
 *
 * Kept by SQLite triggers, not by the fill code: every write of the source tables (a fill, a
 * revalidation, `nora gc`, the upstream sweep, a delete through any path) updates the index in
 * the same transaction, so it cannot drift from the cache. A format describes once how its
 * cache rows become files of versions (`CacheIndexSource.select`, SQL over a table expression
 * given to it); its migration installs the triggers and backfills the rows already cached
 * (`cacheIndexMigration`).
 *
 * Cost per source write: one small SELECT over the written row per format trigger, and the
 * written name's summary recomputed from its own files (index (repository, name)).
 */
import { type Kysely, sql } from 'kysely';
import type { Migration } from 'kysely/migration';

/** A cached file of a version, as the UI lists it. */
export type UiProxyFilesTable = {
  repository: string;
  /** Which table the row comes from (`proxy_entries`, `maven_proxy_files`). */
  source: string;
  /** The source row's key (its `key`, or Maven's `path`). */
  key: string;
  /** The format's browse name (`crate`, `group:artifact`…). */
  name: string;
  version: string;
  /** Epoch ms of the fetch. */
  at: number;
  bytes: number;
  /** The file's name, as the detail page shows it. */
  file: string;
  /** `sha256:<hex>`. */
  digest: string;
};

/** One cached name of a proxy: what a list page shows. */
export type UiProxyNamesTable = {
  repository: string;
  name: string;
  versions: number;
  at: number;
  bytes: number;
};

export type CacheIndexTables = {
  ui_proxy_files: UiProxyFilesTable;
  ui_proxy_names: UiProxyNamesTable;
};

/** How one format's cache rows become files of versions. */
export interface CacheIndexSource {
  /** Names the triggers (`ui_cache_<id>_…`): unique per format. */
  readonly id: string;
  /** The table whose rows are cached files (`proxy_entries`, `maven_proxy_files`). */
  readonly table: string;
  /** Its key column (`key`, `path`). */
  readonly keyColumn: string;
  /** The columns of `table` that `select` reads (for the one-row table of a trigger). */
  readonly columns: readonly string[];
  /**
   * A SELECT over `from` (a table expression with `columns`, `repository` and `keyColumn`)
   * yielding `repository`, `key`, `name`, `version`, `at`, `bytes`, `file`, `digest` for the
   * rows that are files of a version (others: no row).
   */
  readonly select: (from: string) => string;
  /**
   * Another table whose writes change what `select` yields for a source row (Helm's
   * `helm_proxy_charts`), keyed by the same (repository, key).
   */
  readonly joined?: string | undefined;
}

/** The summary of (repository, name) recomputed from its files: the triggers' body. */
function summarize(repo: string, name: string): string {
  return `DELETE FROM ui_proxy_names WHERE repository = ${repo} AND name = ${name};
    INSERT INTO ui_proxy_names (repository, name, versions, at, bytes)
      SELECT repository, name, COUNT(DISTINCT version), MAX(at), SUM(bytes) FROM ui_proxy_files
      WHERE repository = ${repo} AND name = ${name} GROUP BY repository, name;`;
}

/** Creates the index tables and their summary triggers when absent (any format's migration). */
async function ensureTables(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE TABLE IF NOT EXISTS ui_proxy_files (repository TEXT NOT NULL,
    source TEXT NOT NULL, key TEXT NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL,
    at INTEGER NOT NULL, bytes INTEGER NOT NULL, file TEXT NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (repository, source, key))`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS ui_proxy_files_name
    ON ui_proxy_files (repository, name)`.execute(db);
  await sql`CREATE TABLE IF NOT EXISTS ui_proxy_names (repository TEXT NOT NULL,
    name TEXT NOT NULL, versions INTEGER NOT NULL, at INTEGER NOT NULL, bytes INTEGER NOT NULL,
    PRIMARY KEY (repository, name))`.execute(db);
  for (const [event, row] of [
    ['INSERT', 'NEW'],
    ['DELETE', 'OLD'],
  ] as const) {
    await sql
      .raw(
        `CREATE TRIGGER IF NOT EXISTS ui_proxy_files_${event.toLowerCase()}
        AFTER ${event} ON ui_proxy_files BEGIN
        ${summarize(`${row}.repository`, `${row}.name`)} END`,
      )
      .execute(db);
  }
}

/** The one-row table of a trigger's `row` (NEW/OLD) with `source`'s columns. */
function rowTable(source: CacheIndexSource, row: 'NEW' | 'OLD'): string {
  const columns = ['repository', source.keyColumn, ...source.columns];
  return `(SELECT ${[...new Set(columns)].map((c) => `${row}.${c} AS ${c}`).join(', ')})`;
}

/**
 * The rows of `select` over `from` written to the index: the ones it holds for the same keys
 * deleted first (a refresh rewrites its row). Not `INSERT OR REPLACE`: a trigger's conflict
 * clause gives way to the firing statement's (an UPSERT's would fail the write). Only the keys
 * `select` yields are deleted: another format's trigger on the same table leaves them alone.
 */
function indexWrite(source: CacheIndexSource, from: string): string {
  return `DELETE FROM ui_proxy_files WHERE source = '${source.table}'
      AND (repository, key) IN (SELECT repository, key FROM (${source.select(from)}));
    ${indexInsert(source, from)};`;
}

/** The INSERT of `select`'s rows over `from` into the index. */
function indexInsert(source: CacheIndexSource, from: string): string {
  return `INSERT INTO ui_proxy_files
      (repository, source, key, name, version, at, bytes, file, digest)
    SELECT repository, '${source.table}', key, name, version, at, bytes, file, digest
    FROM (${source.select(from)})`;
}

/**
 * A migration installing `source`'s triggers and indexing what its table already caches (a
 * cache filled before this build is listed after the upgrade).
 */
export function cacheIndexMigration(source: CacheIndexSource): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await ensureTables(db);
      const { id, table, keyColumn } = source;
      const remove = (row: 'OLD', key: string): string =>
        `DELETE FROM ui_proxy_files WHERE repository = ${row}.repository
          AND source = '${table}' AND key = ${key};`;
      const statements = [
        `CREATE TRIGGER ui_cache_${id}_insert AFTER INSERT ON ${table} BEGIN
          ${indexWrite(source, rowTable(source, 'NEW'))} END`,
        // A refresh keeps its key (the state store's writes): its row is rewritten.
        `CREATE TRIGGER ui_cache_${id}_update AFTER UPDATE ON ${table} BEGIN
          ${indexWrite(source, rowTable(source, 'NEW'))} END`,
        `CREATE TRIGGER IF NOT EXISTS ui_cache_${table}_delete AFTER DELETE ON ${table} BEGIN
          ${remove('OLD', `OLD.${keyColumn}`)} END`,
      ];
      if (source.joined !== undefined) {
        // The joined table written before or after the source row: indexed once both exist.
        const joined = source.joined;
        const written = `(SELECT * FROM ${table}
          WHERE repository = NEW.repository AND ${keyColumn} = NEW.key)`;
        statements.push(
          `CREATE TRIGGER ui_cache_${id}_joined_insert AFTER INSERT ON ${joined} BEGIN
            ${indexWrite(source, written)} END`,
          // Its name may change: the old name's summary is recomputed by the delete.
          `CREATE TRIGGER ui_cache_${id}_joined_update AFTER UPDATE ON ${joined} BEGIN
            ${remove('OLD', 'OLD.key')}
            ${indexInsert(source, written)}; END`,
          `CREATE TRIGGER ui_cache_${id}_joined_delete AFTER DELETE ON ${joined} BEGIN
            ${remove('OLD', 'OLD.key')} END`,
        );
      }
      for (const statement of statements) await sql.raw(statement).execute(db);
      await sql.raw(indexInsert(source, table)).execute(db);
    },
  };
}
