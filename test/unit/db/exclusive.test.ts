/**
 * exclusive() (src/db/sqlite-handle.ts): synchronous statements on the SQLite handle run at once
 * while no transaction is open, and wait for a Kysely transaction that holds the connection
 * across awaits (they must never become part of it). The proxy state store's precompiled path
 * (src/proxy/state.ts) is checked against the same database.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SqlBlobIndex } from '../../../src/db/blob-index.ts';
import { openDatabase } from '../../../src/db/database.ts';
import { exclusive, sqliteHandleOf } from '../../../src/db/sqlite-handle.ts';
import { ProxyStateStore, proxyMigrations } from '../../../src/proxy/state.ts';

/** An in-memory database with the proxy tables, counting the write generation's bumps. */
async function countedDb() {
  const counted = { writes: 0 };
  const db = await openDatabase({
    file: ':memory:',
    migrations: proxyMigrations,
    onWrite: () => {
      counted.writes += 1;
    },
  });
  return { db, counted };
}

test('exclusive runs at once with no transaction open, and waits for an open one', async () => {
  const { db, counted } = await countedDb();
  try {
    const sqlite = sqliteHandleOf(db);
    assert.ok(sqlite);
    const insert = (digest: string) =>
      sqlite.prepare('INSERT INTO blobs (digest, size, created_at) VALUES (?, 1, 0)').run(digest);
    const before = counted.writes;
    let ranAt: 'now' | 'later' = 'later';
    const direct = exclusive(db, () => {
      ranAt = 'now';
      return insert('sha256:a');
    });
    assert.equal(ranAt, 'now'); // ran synchronously, before the promise settled
    assert.ok(counted.writes > before); // the write generation was bumped in the same tick
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
    // A blob row's group transaction (grouped) waits too, even across turns.
    const recorded = new SqlBlobIndex(db).record('sha256:g', 1);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    release();
    assert.equal(await trx, 'rolled back');
    await waiting;
    await recorded;
    const digests = sqlite
      .prepare('SELECT digest FROM blobs ORDER BY digest')
      .all()
      .map((row) => (row as { digest: string }).digest);
    assert.deepEqual(digests, ['sha256:a', 'sha256:c', 'sha256:g']);
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
    await state.touch('r', 'k', 3000, { etag: '"f"' });
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

test('the proxy state store writes behind: answered at once, committed together after the turn', async () => {
  const { db, counted } = await countedDb();
  const failures: unknown[] = [];
  try {
    const sqlite = sqliteHandleOf(db);
    assert.ok(sqlite);
    const rows = () =>
      sqlite
        .prepare('SELECT key, etag, fetched_at FROM proxy_entries ORDER BY key')
        .all()
        .map((row) => ({ ...(row as object) }));
    const state = new ProxyStateStore(db, (err) => failures.push(err));
    const entry = { digest: 'sha256:d', size: 5, mediaType: undefined, etag: '"a"', upstream: 'u' };
    const before = counted.writes;
    await state.put('r', 'k1', entry, 1000);
    await state.put('r', 'k2', entry, 1000);
    await state.touch('r', 'k1', 2000, { etag: '"b"' });
    // Visible to readers and to the memo's generation at once; not in the table yet.
    assert.ok(counted.writes > before);
    assert.equal((await state.get('r', 'k1'))?.etag, '"b"');
    assert.equal((await state.get('r', 'k1'))?.fetchedAt, 2000);
    assert.deepEqual(rows(), []);
    // A touch of a row nobody wrote changes nothing, as the UPDATE would not.
    await state.touch('r', 'absent', 3000);
    assert.equal(await state.get('r', 'absent'), undefined);
    // keys() sees the queued rows without committing them (a commit per caller made a cold
    // `cargo fetch` commit once per crate, see docs/performance.md); delete() runs the queue.
    assert.deepEqual(await state.keys('r', 'k'), ['k1', 'k2']);
    assert.deepEqual(await state.keys('r', 'k', 1), ['k1']);
    assert.deepEqual(rows(), []);
    await state.flush();
    assert.deepEqual(rows(), [
      { key: 'k1', etag: '"b"', fetched_at: 2000 },
      { key: 'k2', etag: '"a"', fetched_at: 1000 },
    ]);
    await state.put('r', 'k2', { ...entry, etag: '"c"' }, 5000);
    await state.delete('r', 'k2');
    assert.equal(await state.get('r', 'k2'), undefined);
    assert.deepEqual(rows(), [{ key: 'k1', etag: '"b"', fetched_at: 2000 }]);
    // Left alone, the queue commits after the current turn of the event loop.
    await state.put('r', 'k3', entry, 6000);
    await new Promise((resolve) => setImmediate(resolve));
    await state.flush();
    assert.equal(rows().length, 2);
    assert.deepEqual(failures, []);
  } finally {
    await db.destroy();
  }
});

test('a batch of proxy state writes that cannot commit is reported and dropped, not retried forever', async () => {
  const db = await openDatabase({ file: ':memory:', migrations: proxyMigrations });
  const failures: unknown[] = [];
  try {
    const sqlite = sqliteHandleOf(db);
    assert.ok(sqlite);
    const state = new ProxyStateStore(db, (err) => failures.push(err));
    sqlite.db.exec('DROP TABLE proxy_entries');
    await state.put(
      'r',
      'k',
      { digest: 'sha256:d', size: 1, mediaType: undefined, etag: undefined, upstream: undefined },
      1,
    );
    assert.equal((await state.get('r', 'k'))?.digest, 'sha256:d');
    await state.flush();
    assert.equal(failures.length, 1);
    // The overlay went with the batch: the next read goes to the table (which is gone here).
    assert.throws(() => sqlite.prepare('SELECT * FROM proxy_entries').all());
  } finally {
    await db.destroy();
  }
});

test('proxy state keys() merges committed and queued rows in key order without a commit', async () => {
  const { db } = await countedDb();
  try {
    const sqlite = sqliteHandleOf(db);
    assert.ok(sqlite);
    const committed = () => sqlite.prepare('SELECT count(*) AS n FROM proxy_entries').get()?.['n'];
    const state = new ProxyStateStore(db);
    const entry = {
      digest: 'sha256:d',
      size: 5,
      mediaType: undefined,
      etag: undefined,
      upstream: undefined,
    };
    await state.put('r', 'c:a1', entry, 1);
    await state.put('r', 'c:a3', entry, 1);
    await state.put('other', 'c:a0', entry, 1);
    await state.flush();
    await state.put('r', 'c:a2', entry, 2);
    await state.put('r', 'd:a0', entry, 2);
    assert.deepEqual(await state.keys('r', 'c:'), ['c:a1', 'c:a2', 'c:a3']);
    assert.deepEqual(await state.keys('r', 'c:', 2), ['c:a1', 'c:a2']);
    assert.deepEqual(await state.keys('r', 'c:a3'), ['c:a3']);
    assert.equal(committed(), 3);
    await state.flush();
    assert.equal(committed(), 5);
  } finally {
    await db.destroy();
  }
});
