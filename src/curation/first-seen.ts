/**
 * The first-seen store (src/curation/types.ts FirstSeenStore): when a proxy first stored an
 * artifact, the digest quarantine's clock and the min release age's fallback. One table in the
 * metadata database, `curation_first_seen`, so it survives a restart and is in `nora backup`
 * with the rest of the database. The gate asks it synchronously inside `guard`. On SQLite (the
 * server) each look-up is a prepared statement on the connection (the primary key answers
 * name@version, an index the digest), remembered in a bounded LRU (LRU_ENTRIES, "not seen"
 * too), so memory and start-up time do not grow with the table (at 1,000,000 rows, reading it
 * all at start took 36 s and 1.1 GiB RSS); `load` only prunes rows older than 90 days, and a
 * running server prunes hourly (startPruning), each run bounded (PRUNE_ROWS_PER_RUN). Every
 * record is written in the background, in batches (one transaction per BATCH_MS burst), and kept
 * in memory until written (a failed write
 * is logged; the time stays in memory for this process). Without SQLite (tests, offline
 * commands) the rows are kept in memory.
 */
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Kysely, sql } from 'kysely';
import type { Migration } from 'kysely/migration';
import { type PeriodicPass, startEveryInterval } from '../core/periodic-pass.ts';
import { type Db, openForReading } from '../db/database.ts';
import { exclusive, type SqliteHandle, sqliteHandleOf } from '../db/sqlite-handle.ts';
import { FIRST_SEEN_KEEP_MS, type FirstSeenKey, type FirstSeenStore } from './types.ts';

// Type alias, not an interface: Kysely's $extendTables needs index-signature-compatible shapes.
export type FirstSeenTable = {
  registry: string;
  /** The name as the engine compares it (firstSeenKey). */
  name: string;
  /** '' when unknown. */
  version: string;
  /** `sha256:<hex>` / npm `sha512-…`; '' when unknown. */
  digest: string;
  /** ms since the epoch. */
  first_seen_at: number;
};

export type FirstSeenTables = { curation_first_seen: FirstSeenTable };

export const firstSeenMigrations: Record<string, Migration> = {
  // Named after every migration before it: on an existing database Kysely refuses a new name
  // that sorts before one already run (db/migrate.ts checkRecorded), so not 01xx.
  '0920_curation_first_seen': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('curation_first_seen')
        .addColumn('registry', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('first_seen_at', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('curation_first_seen_pk', [
          'registry',
          'name',
          'version',
          'digest',
        ])
        .execute();
    },
  },
  // A digest's clock is looked up by registry + digest (SqlFirstSeenStore.get) on every
  // download: without it each look-up would scan the table.
  '0921_curation_first_seen_digest': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createIndex('curation_first_seen_digest')
        .on('curation_first_seen')
        .columns(['registry', 'digest'])
        .execute();
    },
  },
  // The prune (pruneOld) deletes the oldest rows in bounded batches, hourly: without it each
  // batch would scan the table.
  '0922_curation_first_seen_at': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createIndex('curation_first_seen_at')
        .on('curation_first_seen')
        .column('first_seen_at')
        .execute();
    },
  },
};

/** Rows one DELETE of a prune removes, at most (a short write transaction each). */
export const PRUNE_BATCH_ROWS = 5_000;
/** Rows one prune run removes, at most: the rest wait for the next run (hourly). */
export const PRUNE_ROWS_PER_RUN = 50_000;
/** Seconds between the prunes of a running server. */
export const PRUNE_INTERVAL_SECONDS = 3600;

/** How long a first record waits for others to share its write (ms). */
const BATCH_MS = 20;
/** Rows per INSERT statement (5 bound values each: well under SQLite's variable limit). */
const BATCH_ROWS = 500;

/** First-seen look-ups remembered (SQLite mode), at most; the oldest used leaves first. */
export const LRU_ENTRIES = 100_000;

const SELECT_BY_DIGEST =
  'SELECT min(first_seen_at) AS at FROM curation_first_seen WHERE registry = ? AND digest = ?';
const SELECT_BY_VERSION =
  'SELECT min(first_seen_at) AS at FROM curation_first_seen WHERE registry = ? AND name = ? AND version = ?';

const INSERT_ROW =
  'INSERT INTO curation_first_seen (registry, name, version, digest, first_seen_at)' +
  ' VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING';

const byDigest = (key: FirstSeenKey): string => `${key.registry}\n${key.digest}`;
const byVersion = (key: FirstSeenKey): string => `${key.registry}\n${key.name}\n${key.version}`;
const byRow = (key: FirstSeenKey): string => `${byVersion(key)}\n${key.digest}`;

/** SQL-backed, memory-served FirstSeenStore (module comment). */
export class SqlFirstSeenStore implements FirstSeenStore {
  readonly #db: Kysely<FirstSeenTables> | undefined;
  readonly #onError: (err: unknown) => void;
  /** Every row: key → time. */
  readonly #rows = new Map<string, { key: FirstSeenKey; at: number }>();
  /** Earliest time per registry + digest, and per registry + name + version. */
  readonly #digests = new Map<string, number>();
  readonly #versions = new Map<string, number>();
  #writes: Promise<unknown> = Promise.resolve();
  /** SQLite mode: the connection the look-ups run on; undefined: every row in memory. */
  readonly #sqlite: SqliteHandle | undefined;
  /** SQLite mode: look-ups by byDigest / byVersion id → time, null: not seen (bounded, LRU). */
  readonly #lru = new Map<string, number | null>();
  /** SQLite mode: times recorded and not yet written, by byDigest / byVersion id. */
  readonly #pending = new Map<string, number>();
  /** Rows recorded and not yet handed to a write (record, #writeQueued). */
  readonly #queue: { key: FirstSeenKey; at: number; ids: string[] }[] = [];

  /** `db` undefined: memory only (tests, offline commands). */
  constructor(db: Db | undefined, onError: (err: unknown) => void) {
    this.#db = db?.$extendTables<FirstSeenTables>();
    this.#onError = onError;
    this.#sqlite = db === undefined ? undefined : sqliteHandleOf(db);
  }

  /**
   * Prunes (pruneOld), then reads the rest; returns how many were pruned. A database that
   * cannot be written (a read-only data directory: the server starts degraded and still serves
   * reads) fails only the prune, reported to `onError`: the rows are still read, and old ones
   * are simply kept until a later prune can delete them.
   */
  async load(now: number): Promise<number> {
    const db = this.#db;
    if (db === undefined) return this.prune(now - FIRST_SEEN_KEEP_MS);
    const pruned = await this.pruneOld(now).catch((err: unknown) => {
      this.#onError(err);
      return 0;
    });
    this.#lru.clear();
    if (this.#sqlite !== undefined) return pruned;
    const rows = await db.selectFrom('curation_first_seen').selectAll().execute();
    this.#rows.clear();
    for (const row of rows) {
      const key: FirstSeenKey = {
        registry: row.registry as FirstSeenKey['registry'],
        name: row.name,
        version: row.version,
        digest: row.digest,
      };
      this.#remember(key, row.first_seen_at);
    }
    this.#index();
    return pruned;
  }

  record(key: FirstSeenKey, at: number): number {
    const known = this.get(key);
    if (known !== undefined) return known;
    const ids = key.digest !== '' ? [byDigest(key), byVersion(key)] : [byVersion(key)];
    if (this.#sqlite !== undefined) {
      for (const id of ids) {
        this.#earliest(this.#pending, id, at);
        const cached = this.#lru.get(id);
        if (cached !== undefined) this.#lru.set(id, cached === null ? at : Math.min(cached, at));
      }
    } else {
      this.#remember(key, at);
      if (key.digest !== '') this.#earliest(this.#digests, byDigest(key), at);
      this.#earliest(this.#versions, byVersion(key), at);
    }
    const db = this.#db;
    if (db !== undefined) {
      this.#queue.push({ key, at, ids });
      // One write per batch: every fill is recorded (whatever the curation settings), so a cold
      // fill of many files must not cost a statement and a commit each.
      if (this.#queue.length === 1) {
        this.#writes = this.#writes
          .then(() => sleep(BATCH_MS))
          .then(() => this.#writeQueued(db))
          .catch(this.#onError);
      }
    }
    return at;
  }

  /**
   * Inserts every queued row in one transaction: on SQLite one precompiled statement per row,
   * run synchronously between BEGIN and COMMIT (no Kysely: compiling its multi-row INSERT and
   * its transaction's connection turns were ~3-4% of a cold `cargo fetch`'s main thread, more
   * than the SQL); elsewhere BATCH_ROWS per Kysely statement.
   */
  async #writeQueued(db: Kysely<FirstSeenTables>): Promise<void> {
    const rows = this.#queue.splice(0);
    const sqlite = this.#sqlite;
    if (sqlite !== undefined) {
      await exclusive(db, () => {
        sqlite.db.exec('BEGIN IMMEDIATE');
        try {
          const insert = sqlite.prepare(INSERT_ROW);
          for (const { key, at } of rows) {
            insert.run(key.registry, key.name, key.version, key.digest, at);
          }
          sqlite.db.exec('COMMIT');
        } catch (err) {
          sqlite.db.exec('ROLLBACK');
          throw err;
        }
      });
    } else {
      await this.#insertKysely(db, rows);
    }
    // Written: SQL answers for them from now on (a failed write keeps them pending).
    for (const { ids, at } of rows) {
      for (const id of ids) if (this.#pending.get(id) === at) this.#pending.delete(id);
    }
  }

  async #insertKysely(
    db: Kysely<FirstSeenTables>,
    rows: readonly { key: FirstSeenKey; at: number }[],
  ): Promise<void> {
    await db.transaction().execute(async (trx) => {
      for (let i = 0; i < rows.length; i += BATCH_ROWS) {
        await trx
          .insertInto('curation_first_seen')
          .values(
            rows.slice(i, i + BATCH_ROWS).map(({ key, at }) => ({ ...key, first_seen_at: at })),
          )
          .onConflict((oc) => oc.doNothing())
          .execute();
      }
    });
  }

  get(key: FirstSeenKey): number | undefined {
    const sqlite = this.#sqlite;
    if (sqlite === undefined) {
      return key.digest !== ''
        ? this.#digests.get(byDigest(key))
        : this.#versions.get(byVersion(key));
    }
    const id = key.digest !== '' ? byDigest(key) : byVersion(key);
    let at = this.#lru.get(id);
    if (at !== undefined) {
      // Most recently used last: the first key is the one to evict.
      this.#lru.delete(id);
    } else {
      const row = (
        key.digest !== ''
          ? sqlite.prepare(SELECT_BY_DIGEST).get(key.registry, key.digest)
          : sqlite.prepare(SELECT_BY_VERSION).get(key.registry, key.name, key.version)
      ) as { at: number | null } | undefined;
      at = row?.at ?? null;
      const pending = this.#pending.get(id);
      if (pending !== undefined && (at === null || pending < at)) at = pending;
      if (this.#lru.size >= LRU_ENTRIES) {
        const oldest = this.#lru.keys().next();
        if (oldest.done !== true) this.#lru.delete(oldest.value);
      }
    }
    this.#lru.set(id, at);
    return at ?? undefined;
  }

  prune(before: number): number {
    if (this.#sqlite !== undefined) {
      // The rows are in SQL only: deleted there (counted by load at start); the LRU forgets all.
      this.#lru.clear();
      this.#deleteBefore(before);
      return 0;
    }
    let pruned = 0;
    for (const [id, row] of this.#rows) {
      if (row.at >= before) continue;
      this.#rows.delete(id);
      pruned++;
    }
    if (pruned > 0) {
      this.#index();
      this.#deleteBefore(before);
    }
    return pruned;
  }

  /**
   * Deletes the rows first seen before `now - 90 days`, oldest first, at most `maxRows`
   * (PRUNE_BATCH_ROWS per statement, the event loop let go between them), so one run stays
   * short however large the table grew; returns how many. Errors are the database's.
   */
  async pruneOld(now: number, maxRows = PRUNE_ROWS_PER_RUN): Promise<number> {
    const db = this.#db;
    const before = now - FIRST_SEEN_KEEP_MS;
    if (db === undefined) return this.prune(before);
    let pruned = 0;
    while (pruned < maxRows) {
      const batch = Math.min(PRUNE_BATCH_ROWS, maxRows - pruned);
      // rowid IN (… LIMIT): SQLite's DELETE takes no LIMIT unless built with it.
      const result =
        await sql`DELETE FROM curation_first_seen WHERE rowid IN (SELECT rowid FROM curation_first_seen WHERE first_seen_at < ${before} ORDER BY first_seen_at LIMIT ${batch})`.execute(
          db,
        );
      const deleted = Number(result.numAffectedRows ?? 0n);
      pruned += deleted;
      if (deleted < batch) break;
      await sleep(0);
    }
    // The LRU may hold a pruned row's time.
    if (pruned > 0) this.#lru.clear();
    return pruned;
  }

  /** Deletes the rows first seen before `before` from the table, in the background. */
  #deleteBefore(before: number): void {
    const db = this.#db;
    if (db === undefined) return;
    this.#writes = this.#writes
      .then(() =>
        db.deleteFrom('curation_first_seen').where('first_seen_at', '<', before).execute(),
      )
      .catch(this.#onError);
  }

  /** Settles when every write so far is done (close, tests). */
  flush(): Promise<unknown> {
    return this.#writes;
  }

  #remember(key: FirstSeenKey, at: number): void {
    this.#rows.set(byRow(key), { key, at });
  }

  #index(): void {
    this.#digests.clear();
    this.#versions.clear();
    for (const { key, at } of this.#rows.values()) {
      if (key.digest !== '') this.#earliest(this.#digests, byDigest(key), at);
      this.#earliest(this.#versions, byVersion(key), at);
    }
  }

  #earliest(map: Map<string, number>, id: string, at: number): void {
    const known = map.get(id);
    if (known === undefined || at < known) map.set(id, at);
  }
}

/** One first-seen clock of an artifact as `nora curation explain` shows it. */
export interface FirstSeenEntry {
  /** The content digest the clock is keyed by; undefined: keyed by name@version (or raw path). */
  readonly digest: string | undefined;
  /** ms since the epoch: the earliest time of the digest (any name), else of name@version. */
  readonly at: number;
}

/**
 * The first-seen clocks of `key` (its digest left out: every digest stored for the name and
 * version) in the metadata database `file`, read as the gate reads them (SqlFirstSeenStore.get):
 * a digest's clock is its earliest row under any name, the version's the earliest of its rows.
 * Oldest first; empty when never seen or the file or table does not exist. Opens the file for
 * reading only (db/database.ts openForReading: beside a running server's writes too), never
 * migrates it. Throws the database's error (a damaged file, DatabaseUnusableError).
 */
export function readFirstSeen(file: string, key: FirstSeenKey): FirstSeenEntry[] {
  if (file === ':memory:' || !fs.existsSync(file)) return [];
  const db = openForReading(file, 'run nora curation explain again');
  try {
    const table = db
      .prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'curation_first_seen'")
      .get();
    if (table === undefined) return [];
    const rows = db
      .prepare(
        'SELECT digest, min(first_seen_at) AS at FROM curation_first_seen WHERE registry = ? AND name = ? AND version = ? GROUP BY digest',
      )
      .all(key.registry, key.name, key.version) as { digest: string; at: number }[];
    const byDigest = db.prepare(
      'SELECT min(first_seen_at) AS at FROM curation_first_seen WHERE registry = ? AND digest = ?',
    );
    const entries = rows.map((row): FirstSeenEntry => {
      if (row.digest === '') return { digest: undefined, at: row.at };
      const earliest = byDigest.get(key.registry, row.digest) as { at: number } | undefined;
      return { digest: row.digest, at: earliest?.at ?? row.at };
    });
    return entries.sort((a, b) => a.at - b.at);
  } finally {
    db.close();
  }
}

/**
 * The running server's prunes after the one at load: every `intervalSeconds` (default
 * PRUNE_INTERVAL_SECONDS, unref'd timer, never two at once), each bounded (pruneOld).
 * `onPruned` hears each run's count, `onError` a failed run. `stop()` at close.
 */
export function startPruning(
  store: SqlFirstSeenStore,
  onPruned: (count: number) => void,
  onError: (err: unknown) => void,
  intervalSeconds = PRUNE_INTERVAL_SECONDS,
): PeriodicPass {
  return startEveryInterval(intervalSeconds, () =>
    store.pruneOld(Date.now()).then(onPruned, onError),
  );
}
