/** SQL bookkeeping of the blob store (implements storage's BlobIndex). */
import type { BlobIndex } from '../storage/blob-store.ts';
import type { Db } from './database.ts';
import { exclusive, type SqliteHandle, sqliteHandleOf } from './sqlite-handle.ts';

const RECORD_BLOB =
  'INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?) ON CONFLICT (digest) DO NOTHING';

export class SqlBlobIndex implements BlobIndex {
  readonly #db: Db;
  /** On SQLite: `record` runs a precompiled statement (one per ingest and fill; no compilation). */
  readonly #sqlite: SqliteHandle | undefined;

  constructor(db: Db) {
    this.#db = db;
    this.#sqlite = sqliteHandleOf(db);
  }

  async record(digest: string, size: number): Promise<void> {
    const sqlite = this.#sqlite;
    if (sqlite !== undefined) {
      await exclusive(this.#db, () => sqlite.prepare(RECORD_BLOB).run(digest, size, Date.now()));
      return;
    }
    await this.#db
      .insertInto('blobs')
      .values({ digest, size, created_at: Date.now() })
      .onConflict((oc) => oc.column('digest').doNothing())
      .execute();
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
