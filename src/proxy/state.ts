/**
 * Proxy freshness state in SQL: for each (repository, key) the content digest last fetched, its
 * ETag and Last-Modified upstream, media type, size and when it was fetched. The bytes themselves are blobs in the shared
 * blob store. Keys are chosen by the format (`packument:<name>`, `tag@<route>:<name>:<tag>`…).
 *
 * `proxyMigrations` is exported for every format with proxy repositories to include in its
 * FormatModule.migrations; Kysely keys migrations by name, so including it twice is harmless.
 */
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import type { Db } from '../db/database.ts';
import { grouped, type SqliteHandle, sqliteHandleOf } from '../db/sqlite-handle.ts';

// Type aliases, not interfaces: Kysely's withTables needs index-signature-compatible shapes.
export type ProxyEntriesTable = {
  repository: string;
  key: string;
  digest: string;
  size: number;
  media_type: string | null;
  etag: string | null;
  /** Which upstream answered (its label), for diagnostics. */
  upstream: string | null;
  /** Epoch ms of the last successful fetch or revalidation. */
  fetched_at: number;
  /**
   * The upstream's `Last-Modified`, epoch ms (whole seconds), when it sent one: asked with
   * If-Modified-Since on revalidation and served as the file's Last-Modified. Null: none known.
   */
  modified_at: number | null;
};

export type ProxyTables = {
  proxy_entries: ProxyEntriesTable;
};

export const proxyMigrations: Record<string, Migration> = {
  '0300_proxy_entries': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('proxy_entries')
        .addColumn('repository', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('media_type', 'text')
        .addColumn('etag', 'text')
        .addColumn('upstream', 'text')
        .addColumn('fetched_at', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('proxy_entries_pk', ['repository', 'key'])
        .execute();
    },
  },
  // Named after every migration before it (Kysely refuses, on an existing database, a new name
  // that sorts before one already run), not in the 03xx block of the table it changes.
  '0900_proxy_entries_modified_at': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('proxy_entries').addColumn('modified_at', 'integer').execute();
    },
  },
};

/** One cached entry as the engine and formats see it. */
export interface CachedEntry {
  readonly key: string;
  /** Content address in the blob store, e.g. `sha256:…`. */
  readonly digest: string;
  readonly size: number;
  readonly mediaType: string | undefined;
  readonly etag: string | undefined;
  readonly upstream: string | undefined;
  readonly fetchedAt: number;
  /**
   * The upstream's Last-Modified, epoch ms, when it sent one (the validator asked with
   * If-Modified-Since, and what a proxied file's Last-Modified says); undefined: none known.
   */
  readonly modifiedAt?: number | undefined;
}

export type EntryInput = Omit<CachedEntry, 'key' | 'fetchedAt'>;

/** What a cached file's `Last-Modified` says: the upstream's when known, else when it was fetched. */
export function lastModifiedOf(entry: Pick<CachedEntry, 'modifiedAt' | 'fetchedAt'>): number {
  return entry.modifiedAt ?? entry.fetchedAt;
}

/** Keys whose last write is remembered (see ProxyStateStore.writtenSince). */
const KEPT_WRITES = 16_384;

/**
 * On SQLite (the default), `get`, `put` and `touch` run precompiled statements (a cold fill
 * costs one read and one write here: Kysely's query compilation was most of their CPU), the
 * writes in the connection's group transaction (db/sqlite-handle.ts `grouped`). Elsewhere the
 * portable Kysely path runs.
 *
 * Write-behind (SQLite): `put` and `touch` change an in-memory overlay at once (what `get`
 * answers, and the write generation is bumped then) and queue their statement; the queue of one
 * turn joins the connection's next group transaction (with the blob rows recorded in that turn),
 * after the answer that caused the write is on its way. Why: the commit (a dozen lock and WAL-write syscalls, ~10 µs each on a VM) sat on the
 * critical path of every cold fill, between the upstream's answer and ours; now it is off it,
 * and the fills of one event-loop turn share one commit. The rows are a cache's bookkeeping: a
 * failed or lost batch (crash before it ran) costs refetches, never a wrong answer (the blob a
 * row names is checked before use). `delete` runs the queue first; `flush()` (engine
 * close) runs what is left.
 */
export class ProxyStateStore {
  readonly #db: Kysely<ProxyTables>;
  readonly #sqlite: SqliteHandle | undefined;
  /** Counts completed writes (put, touch, delete). */
  #epoch = 0;
  /** `<repository>\n<key>` → the epoch its last write completed at. */
  readonly #written = new Map<string, number>();
  /** Every key not in #written was last written at or before this epoch. */
  #forgottenUpTo = 0;
  /** SQLite: `<repository>\n<key>` → its row as written but not committed yet (the queue). */
  readonly #pending = new Map<string, ProxyEntriesTable>();
  #scheduled = false;
  #flushing: Promise<void> | undefined;
  readonly #onError: (err: unknown) => void;

  /** `onError`: told when a batch of writes could not be committed (its rows are dropped). */
  constructor(db: Db, onError: (err: unknown) => void = () => undefined) {
    this.#db = db.$extendTables<ProxyTables>();
    this.#sqlite = sqliteHandleOf(db);
    this.#onError = onError;
  }

  /** Commits every queued write (one transaction); resolves when none is left. */
  async flush(): Promise<void> {
    while (this.#flushing !== undefined || this.#pending.size > 0) {
      if (this.#flushing === undefined) this.#flushing = this.#commit();
      await this.#flushing;
    }
  }

  /** Queues `row` (an upsert) and makes it what `get` answers at once. */
  #later(row: ProxyEntriesTable): void {
    this.#pending.set(`${row.repository}\n${row.key}`, row);
    // Readers of the memo see the new state at once (http/answer-memo.ts).
    this.#sqlite?.onWrite?.();
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.flush();
    });
  }

  async #commit(): Promise<void> {
    const sqlite = this.#sqlite;
    const batch = [...this.#pending];
    try {
      if (sqlite !== undefined && batch.length > 0) {
        // In the handle's group transaction: the blob rows of the same turn's fills share its
        // commit (db/sqlite-handle.ts grouped).
        await grouped(this.#db, () => {
          const upsert = sqlite.prepare(UPSERT_ENTRY);
          for (const [, r] of batch) {
            upsert.run(
              r.repository,
              r.key,
              r.digest,
              r.size,
              r.media_type,
              r.etag,
              r.upstream,
              r.fetched_at,
              r.modified_at,
            );
          }
        });
      }
    } catch (err) {
      this.#onError(err);
    } finally {
      // Rows written again since the batch was taken stay until their own batch ran.
      for (const [id, row] of batch) if (this.#pending.get(id) === row) this.#pending.delete(id);
      this.#flushing = undefined;
    }
  }

  /**
   * The write epoch now: take it before a `get`, and `writtenSince(…, epoch)` later says whether
   * that read may be out of date. Exact because every write of `proxy_entries` goes through this
   * store (one process owns the database) and a write counts only once its SQL has run: a write
   * counted after the epoch was taken may or may not have been seen (so it says "written"); one
   * counted before had run before the read.
   */
  epoch(): number {
    return this.#epoch;
  }

  /** True when (repository, key) may have been written since `epoch` (see epoch()). */
  writtenSince(repository: string, key: string, epoch: number): boolean {
    return (this.#written.get(`${repository}\n${key}`) ?? this.#forgottenUpTo) > epoch;
  }

  #wrote(repository: string, key: string): void {
    this.#epoch += 1;
    const id = `${repository}\n${key}`;
    this.#written.delete(id);
    if (this.#written.size >= KEPT_WRITES) {
      // Forget the oldest write; every key not remembered counts as written up to its epoch.
      const oldest = this.#written.entries().next();
      if (oldest.done !== true) {
        this.#written.delete(oldest.value[0]);
        this.#forgottenUpTo = Math.max(this.#forgottenUpTo, oldest.value[1]);
      }
    }
    this.#written.set(id, this.#epoch);
  }

  async get(repository: string, key: string): Promise<CachedEntry | undefined> {
    const sqlite = this.#sqlite;
    if (sqlite !== undefined) {
      const pending = this.#pending.get(`${repository}\n${key}`);
      if (pending !== undefined) return toEntry(pending);
      const found = sqlite.prepare(SELECT_ENTRY).get(repository, key) as
        ProxyEntriesTable | undefined;
      return found === undefined ? undefined : toEntry(found);
    }
    const row = await this.#db
      .selectFrom('proxy_entries')
      .selectAll()
      .where('repository', '=', repository)
      .where('key', '=', key)
      .executeTakeFirst();
    return row === undefined ? undefined : toEntry(row);
  }

  async put(
    repository: string,
    key: string,
    entry: EntryInput,
    fetchedAt: number,
  ): Promise<CachedEntry> {
    const row: ProxyEntriesTable = {
      repository,
      key,
      digest: entry.digest,
      size: entry.size,
      media_type: entry.mediaType ?? null,
      etag: entry.etag ?? null,
      upstream: entry.upstream ?? null,
      fetched_at: fetchedAt,
      modified_at: entry.modifiedAt ?? null,
    };
    if (this.#sqlite !== undefined) {
      this.#later(row);
      this.#wrote(repository, key);
      return toEntry(row);
    }
    await this.#db
      .insertInto('proxy_entries')
      .values(row)
      .onConflict((oc) =>
        oc.columns(['repository', 'key']).doUpdateSet({
          digest: row.digest,
          size: row.size,
          media_type: row.media_type,
          etag: row.etag,
          upstream: row.upstream,
          fetched_at: row.fetched_at,
          modified_at: row.modified_at,
        }),
      )
      .execute();
    this.#wrote(repository, key);
    return toEntry(row);
  }

  /**
   * Marks an entry fresh again after a successful revalidation (a 304). `validators`: what the
   * 304 sent (RFC 9110 §15.4.5: the ETag and Last-Modified a 200 would have); one not given keeps
   * the stored one.
   */
  async touch(
    repository: string,
    key: string,
    fetchedAt: number,
    validators: {
      readonly etag?: string | undefined;
      readonly modifiedAt?: number | undefined;
    } = {},
  ): Promise<void> {
    const { etag, modifiedAt } = validators;
    if (this.#sqlite !== undefined) {
      const current = await this.get(repository, key);
      // UPDATE of an absent row changes nothing: neither does this. Otherwise the queued
      // upsert of the whole row does what the UPDATE would.
      if (current === undefined) return;
      await this.put(
        repository,
        key,
        {
          ...current,
          etag: etag ?? current.etag,
          modifiedAt: modifiedAt ?? current.modifiedAt,
        },
        fetchedAt,
      );
      return;
    }
    await this.#db
      .updateTable('proxy_entries')
      .set({
        fetched_at: fetchedAt,
        ...(etag === undefined ? {} : { etag }),
        ...(modifiedAt === undefined ? {} : { modified_at: modifiedAt }),
      })
      .where('repository', '=', repository)
      .where('key', '=', key)
      .execute();
    this.#wrote(repository, key);
  }

  async delete(repository: string, key: string): Promise<void> {
    await this.flush();
    await this.#db
      .deleteFrom('proxy_entries')
      .where('repository', '=', repository)
      .where('key', '=', key)
      .execute();
    this.#wrote(repository, key);
  }

  /**
   * Entries of one repository whose key starts with `prefix` (e.g. every cached file of one
   * package: one range read of the primary key).
   */
  async entries(repository: string, prefix: string, limit = 10_000): Promise<CachedEntry[]> {
    const rows = await this.#db
      .selectFrom('proxy_entries')
      .selectAll()
      .where('repository', '=', repository)
      .where('key', '>=', prefix)
      .where('key', '<', `${prefix}\uffff`)
      .orderBy('key')
      .limit(limit)
      .execute();
    // Queued writes (not committed yet) are what `get` answers: they win (no flush waited for).
    const byKey = new Map(rows.map((row) => [row.key, row]));
    for (const row of this.#pending.values()) {
      if (row.repository === repository && row.key.startsWith(prefix)) byKey.set(row.key, row);
    }
    return [...byKey.values()].map(toEntry);
  }

  /**
   * Keys of one repository starting with `prefix` (e.g. every cached tag of an image), in key
   * order (SQLite's: UTF-8 bytes), at most `limit`. Queued writes (not committed yet) count, as
   * in `entries`, without waiting for their commit: a flush here made every caller a commit of
   * its own (the Cargo proxy asks once per new index file, so a cold `cargo fetch` committed
   * about one batch per crate instead of one per event-loop turn). Deletes are never queued.
   */
  async keys(repository: string, prefix: string, limit = 10_000): Promise<string[]> {
    const sqlite = this.#sqlite;
    const end = `${prefix}\uffff`;
    const found =
      sqlite !== undefined
        ? (
            sqlite.prepare(SELECT_KEYS).all(repository, prefix, end, limit) as {
              key: string;
            }[]
          ).map((r) => r.key)
        : (
            await this.#db
              .selectFrom('proxy_entries')
              .select('key')
              .where('repository', '=', repository)
              .where('key', '>=', prefix)
              .where('key', '<', end)
              .orderBy('key')
              .limit(limit)
              .execute()
          ).map((r) => r.key);
    let queued: string[] | undefined;
    for (const row of this.#pending.values()) {
      if (row.repository === repository && row.key.startsWith(prefix))
        (queued ??= []).push(row.key);
    }
    if (queued === undefined) return found;
    // The first `limit` of the union are among SQL's first `limit` and the queued ones.
    return [...new Set([...found, ...queued])].sort(byUtf8).slice(0, limit);
  }
}

/** SQLite's order of text keys (BINARY collation: their UTF-8 bytes). */
function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

// ---- SQLite fast path (see ProxyStateStore) ----

const SELECT_ENTRY = 'SELECT * FROM proxy_entries WHERE repository = ? AND key = ?';
const SELECT_KEYS =
  'SELECT key FROM proxy_entries WHERE repository = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?';
const UPSERT_ENTRY =
  'INSERT INTO proxy_entries' +
  ' (repository, key, digest, size, media_type, etag, upstream, fetched_at, modified_at)' +
  ' VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (repository, key) DO UPDATE SET' +
  ' digest = excluded.digest, size = excluded.size, media_type = excluded.media_type,' +
  ' etag = excluded.etag, upstream = excluded.upstream, fetched_at = excluded.fetched_at,' +
  ' modified_at = excluded.modified_at';

function toEntry(row: ProxyEntriesTable): CachedEntry {
  return {
    key: row.key,
    digest: row.digest,
    size: row.size,
    mediaType: row.media_type ?? undefined,
    etag: row.etag ?? undefined,
    upstream: row.upstream ?? undefined,
    fetchedAt: row.fetched_at,
    ...(row.modified_at === null ? {} : { modifiedAt: row.modified_at }),
  };
}
