/** SQL bookkeeping of the blob store (implements storage's BlobIndex). */
import type { BlobIndex } from '../storage/blob-store.ts';
import type { Db } from './database.ts';

export class SqlBlobIndex implements BlobIndex {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async record(digest: string, size: number): Promise<void> {
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
