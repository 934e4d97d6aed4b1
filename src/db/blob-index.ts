/** SQL bookkeeping of the blob store (implements storage's BlobIndex). */
import type { BlobIndex } from '../storage/blob-store.ts';
import type { Db } from './database.ts';
import { grouped, type SqliteHandle, sqliteHandleOf } from './sqlite-handle.ts';

/**
 * `created_at` is the time these bytes were last stored (ingest, fill, commit), not the first:
 * `nora gc` keeps an unreferenced blob younger than its grace period, and an upload of bytes
 * stored long ago must count as young until its metadata refers to them (src/gc/collector.ts).
 */
const RECORD_BLOB =
  'INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?)' +
  ' ON CONFLICT (digest) DO UPDATE SET created_at = excluded.created_at';

export class SqlBlobIndex implements BlobIndex {
  readonly #db: Db;
  /**
   * On SQLite: `record` runs a precompiled statement (one per ingest and fill; no compilation) in
   * the connection's group transaction.
   */
  readonly #sqlite: SqliteHandle | undefined;

  constructor(db: Db) {
    this.#db = db;
    this.#sqlite = sqliteHandleOf(db);
  }

  async record(digest: string, size: number): Promise<void> {
    const sqlite = this.#sqlite;
    if (sqlite !== undefined) {
      // Joins the turn's group transaction (with other fills' blob rows and the proxy state's
      // write-behind batch) instead of a commit of its own; resolves once committed, as before.
      const now = Date.now();
      await grouped(this.#db, () => sqlite.prepare(RECORD_BLOB).run(digest, size, now), {
        single: true,
      });
      return;
    }
    const now = Date.now();
    await this.#db
      .insertInto('blobs')
      .values({ digest, size, created_at: now })
      .onConflict((oc) => oc.column('digest').doUpdateSet({ created_at: now }))
      .execute();
  }

  async removeIfOlder(digest: string, before: number): Promise<'removed' | 'absent' | 'kept'> {
    // One statement: a row stored again meanwhile (by this or another process) is not removed.
    const result = await this.#db
      .deleteFrom('blobs')
      .where('digest', '=', digest)
      .where('created_at', '<', before)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) > 0) return 'removed';
    const row = await this.#db
      .selectFrom('blobs')
      .select('digest')
      .where('digest', '=', digest)
      .executeTakeFirst();
    return row === undefined ? 'absent' : 'kept';
  }

  async has(digest: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('blobs')
      .select('digest')
      .where('digest', '=', digest)
      .executeTakeFirst();
    return row !== undefined;
  }

  async storedAt(digest: string): Promise<number | undefined> {
    const row = await this.#db
      .selectFrom('blobs')
      .select('created_at')
      .where('digest', '=', digest)
      .executeTakeFirst();
    return row?.created_at;
  }

  async remove(digest: string): Promise<void> {
    await this.#db.deleteFrom('blobs').where('digest', '=', digest).execute();
  }

  async totalSize(): Promise<number> {
    const row = await this.#db
      .selectFrom('blobs')
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('size'), eb.lit(0)).as('total'))
      .executeTakeFirst();
    return row?.total ?? 0;
  }
}
