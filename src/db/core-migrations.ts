/** Core schema: bookkeeping of stored blobs (sizes for /health and GC). */
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

export const coreMigrations: Record<string, Migration> = {
  '0000_core_blobs': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('blobs')
        .addColumn('digest', 'text', (c) => c.primaryKey())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'integer', (c) => c.notNull())
        .execute();
    },
  },
};
