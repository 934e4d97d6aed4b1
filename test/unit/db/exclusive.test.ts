/**
 * exclusive() (src/db/sqlite-handle.ts): synchronous statements on the SQLite handle run at once
 * while no transaction is open, and wait for a Kysely transaction that holds the connection
 * across awaits (they must never become part of it). The proxy state store's precompiled path
 * (src/proxy/state.ts) is checked against the same database.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openDatabase } from '../../../src/db/database.ts';
import { exclusive, sqliteHandleOf } from '../../../src/db/sqlite-handle.ts';
import { ProxyStateStore, proxyMigrations } from '../../../src/proxy/state.ts';

test('exclusive runs at once with no transaction open, and waits for an open one', async () => {
  let writes = 0;
  const db = await openDatabase({
    file: ':memory:',
    migrations: proxyMigrations,
    onWrite: () => {
      writes += 1;
    },
  });
  try {
    const sqlite = sqliteHandleOf(db);
    assert.ok(sqlite);
    const insert = (digest: string) =>
      sqlite.prepare('INSERT INTO blobs (digest, size, created_at) VALUES (?, 1, 0)').run(digest);
    const before = writes;
    let ranAt: 'now' | 'later' = 'later';
    const direct = exclusive(db, () => {
      ranAt = 'now';
      return insert('sha256:a');
    });
    assert.equal(ranAt, 'now'); // ran synchronously, before the promise settled
    assert.ok(writes > before); // the write generation was bumped in the same tick
    await direct;

    // A transaction that holds the connection across an await, then rolls back: a write asked
    // for meanwhile runs after it, so the rollback cannot take it along.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const trx = db
      .transaction()
      .execute(async (t) => {
        await t
          .insertInto('blobs')
          .values({ digest: 'sha256:b', size: 1, created_at: 0 })
          .execute();
        await gate;
        throw new Error('roll back');
      })
      .catch(() => 'rolled back');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(sqlite.db.isTransaction, true);
    const waiting = exclusive(db, () => insert('sha256:c'));
    release();
    assert.equal(await trx, 'rolled back');
    await waiting;
    const digests = sqlite
      .prepare('SELECT digest FROM blobs ORDER BY digest')
      .all()
      .map((row) => (row as { digest: string }).digest);
    assert.deepEqual(digests, ['sha256:a', 'sha256:c']);
  } finally {
    await db.destroy();
  }
});

test('the proxy state store reads back what it wrote (precompiled statements)', async () => {
  const db = await openDatabase({ file: ':memory:', migrations: proxyMigrations });
  try {
    const state = new ProxyStateStore(db);
    assert.equal(await state.get('r', 'k'), undefined);
    const entry = {
      digest: 'sha256:d',
      size: 5,
      mediaType: 'text/plain',
      etag: '"e"',
      upstream: 'r#0',
    };
    const put = await state.put('r', 'k', entry, 1000);
    assert.deepEqual(await state.get('r', 'k'), put);
    assert.deepEqual(put, { key: 'k', ...entry, fetchedAt: 1000 });
    await state.put('r', 'k', { ...entry, etag: undefined, mediaType: undefined }, 2000);
    assert.deepEqual(await state.get('r', 'k'), {
      key: 'k',
      digest: 'sha256:d',
      size: 5,
      mediaType: undefined,
      etag: undefined,
      upstream: 'r#0',
      fetchedAt: 2000,
    });
    await state.touch('r', 'k', 3000, '"f"');
    assert.equal((await state.get('r', 'k'))?.etag, '"f"');
    await state.touch('r', 'k', 4000);
    const touched = await state.get('r', 'k');
    assert.ok(touched);
    assert.equal(touched.etag, '"f"');
    assert.equal(touched.fetchedAt, 4000);
  } finally {
    await db.destroy();
  }
});
