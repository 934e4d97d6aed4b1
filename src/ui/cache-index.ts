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
 * Cost per source write (since 0940–0944, `cacheIndexUpkeepMigration`): a format's trigger runs
 * only for its own rows (`WHEN` `filter`, a prefix test), upserts the one index row of the written
 * source row, and the name's summary is adjusted by that row's delta (versions by an index probe
 * of the same version's other files, newest time by `max`, bytes by the difference); only a
 * delete or a refresh of the name's newest file that moves its time back rescans the name's files.
 * Stop 50's triggers (0930–0934) recomputed the summary from all the name's files on each write
 * and ran every format's trigger for every row: 40–55 µs per `proxy_entries` write, 400–900 µs
 * per `maven_proxy_files` one (docs/performance.md "Cold fills: pool trips per blob, and the UI
 * index triggers").
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
   * A cheap predicate over a row's columns, each written `${row}<column>` (`row`: `NEW.` in a
   * trigger, '' in `select`), true for every row `select` may yield: a trigger whose row fails it
   * does nothing (another format's row of a shared table).
   */
  readonly filter: (row: string) => string;
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

/**
 * The upsert of `select`'s row over `from` into the index (a refresh rewrites the row in place).
 * `WHERE true`: SQLite's parse of an INSERT … SELECT followed by ON CONFLICT needs it.
 */
function indexUpsert(source: CacheIndexSource, from: string): string {
  return `${indexInsert(source, from)} WHERE true
    ON CONFLICT (repository, source, key) DO UPDATE SET name = excluded.name,
      version = excluded.version, at = excluded.at, bytes = excluded.bytes,
      file = excluded.file, digest = excluded.digest;`;
}

/** The newest time of (repository, name)'s files, scanned: after its newest file went or aged. */
function newestOf(row: 'NEW' | 'OLD'): string {
  return `coalesce((SELECT MAX(at) FROM ui_proxy_files
    WHERE repository = ${row}.repository AND name = ${row}.name), 0)`;
}

/**
 * Replaces stop 50's summary triggers (a name's summary recomputed from all its files on every
 * write) by ones adjusting it by the written file's delta, and the (repository, name) index by
 * (repository, name, version), which the "another file of this version?" probe reads. Idempotent:
 * each format's upkeep migration runs it.
 */
async function ensureUpkeep(db: Kysely<unknown>): Promise<void> {
  const otherOfVersion = (row: 'NEW' | 'OLD', self: string): string =>
    `EXISTS (SELECT 1 FROM ui_proxy_files AS f WHERE f.repository = ${row}.repository
      AND f.name = ${row}.name AND f.version = ${row}.version${self})`;
  const statements = [
    'DROP TRIGGER IF EXISTS ui_proxy_files_insert',
    'DROP TRIGGER IF EXISTS ui_proxy_files_delete',
    `CREATE INDEX IF NOT EXISTS ui_proxy_files_version
      ON ui_proxy_files (repository, name, version)`,
    'DROP INDEX IF EXISTS ui_proxy_files_name',
    `CREATE TRIGGER IF NOT EXISTS ui_proxy_names_add AFTER INSERT ON ui_proxy_files BEGIN
      INSERT INTO ui_proxy_names (repository, name, versions, at, bytes)
        VALUES (NEW.repository, NEW.name, 1, NEW.at, NEW.bytes)
        ON CONFLICT (repository, name) DO UPDATE SET
          versions = versions + NOT ${otherOfVersion(
            'NEW',
            ' AND NOT (f.source = NEW.source AND f.key = NEW.key)',
          )},
          at = max(at, NEW.at), bytes = bytes + NEW.bytes;
      END`,
    // The name's row goes with its last file (a file always has a version: versions >= 1).
    `CREATE TRIGGER IF NOT EXISTS ui_proxy_names_remove AFTER DELETE ON ui_proxy_files BEGIN
      UPDATE ui_proxy_names SET versions = versions - NOT ${otherOfVersion('OLD', '')},
        bytes = bytes - OLD.bytes,
        at = CASE WHEN OLD.at < at THEN at ELSE ${newestOf('OLD')} END
        WHERE repository = OLD.repository AND name = OLD.name;
      DELETE FROM ui_proxy_names
        WHERE repository = OLD.repository AND name = OLD.name AND versions <= 0;
      END`,
    // A refresh (same name and version): bytes by the difference; the newest time rescanned only
    // when the newest file's time went back.
    `CREATE TRIGGER IF NOT EXISTS ui_proxy_names_change AFTER UPDATE ON ui_proxy_files
      WHEN OLD.repository = NEW.repository AND OLD.name = NEW.name AND OLD.version = NEW.version
      BEGIN
      UPDATE ui_proxy_names SET bytes = bytes - OLD.bytes + NEW.bytes,
        at = CASE WHEN NEW.at >= at THEN NEW.at WHEN OLD.at < at THEN at
          ELSE ${newestOf('NEW')} END
        WHERE repository = NEW.repository AND name = NEW.name;
      END`,
    // A file moved to another name or version (rare: a Helm chart record rewritten).
    `CREATE TRIGGER IF NOT EXISTS ui_proxy_names_move AFTER UPDATE ON ui_proxy_files
      WHEN NOT (OLD.repository = NEW.repository AND OLD.name = NEW.name
        AND OLD.version = NEW.version)
      BEGIN
      ${summarize('OLD.repository', 'OLD.name')}
      ${summarize('NEW.repository', 'NEW.name')}
      END`,
  ];
  for (const statement of statements) await sql.raw(statement).execute(db);
}

/**
 * The migration (after stop 50's `cacheIndexMigration` of the same source) making the upkeep of
 * `source`'s rows O(1) per write: its triggers replaced by ones gated by `filter` that upsert the
 * written row's index row, and the summary triggers by incremental ones (`ensureUpkeep`). The
 * index's contents are kept: they are what both generations of triggers compute.
 */
export function cacheIndexUpkeepMigration(source: CacheIndexSource): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await ensureUpkeep(db);
      const { id, table, keyColumn } = source;
      const when = source.filter('NEW.');
      const written = rowTable(source, 'NEW');
      const statements = [
        `DROP TRIGGER IF EXISTS ui_cache_${id}_insert`,
        `DROP TRIGGER IF EXISTS ui_cache_${id}_update`,
        `CREATE TRIGGER ui_cache_${id}_insert AFTER INSERT ON ${table} WHEN ${when} BEGIN
          ${indexUpsert(source, written)} END`,
        // Only writes of what the index shows (a state-store upsert sets them all).
        `CREATE TRIGGER ui_cache_${id}_update
          AFTER UPDATE OF ${[keyColumn, ...source.columns].join(', ')} ON ${table}
          WHEN ${when} BEGIN ${indexUpsert(source, written)} END`,
      ];
      if (source.joined !== undefined) {
        const joined = source.joined;
        const row = `(SELECT * FROM ${table}
          WHERE repository = NEW.repository AND ${keyColumn} = NEW.key)`;
        statements.push(
          `DROP TRIGGER IF EXISTS ui_cache_${id}_joined_insert`,
          `DROP TRIGGER IF EXISTS ui_cache_${id}_joined_update`,
          `CREATE TRIGGER ui_cache_${id}_joined_insert AFTER INSERT ON ${joined} BEGIN
            ${indexUpsert(source, row)} END`,
          // A renamed chart's file moves to its new name (ui_proxy_names_move).
          `CREATE TRIGGER ui_cache_${id}_joined_update AFTER UPDATE ON ${joined} BEGIN
            DELETE FROM ui_proxy_files WHERE repository = OLD.repository AND source = '${table}'
              AND key = OLD.key AND OLD.key <> NEW.key;
            ${indexUpsert(source, row)} END`,
        );
      }
      for (const statement of statements) await sql.raw(statement).execute(db);
    },
  };
}
