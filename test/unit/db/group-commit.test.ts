/**
 * grouped() (src/db/sqlite-handle.ts): the statements of one event-loop turn — blob rows
 * (SqlBlobIndex.record) and the proxy state store's write-behind batch — share one transaction,
 * each caller resolving once it is committed; one caller's failure stays its own. That a group
 * waits for an open Kysely transaction is checked in exclusive.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SQLInputValue, StatementSync } from 'node:sqlite';
import { SqlBlobIndex } from '../../../src/db/blob-index.ts';
import { openDatabase } from '../../../src/db/database.ts';
import { grouped, sqliteHandleOf } from '../../../src/db/sqlite-handle.ts';
import { ProxyStateStore, proxyMigrations } from '../../../src/proxy/state.ts';

const RECORD_BLOB =
  'INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?)' +
  ' ON CONFLICT (digest) DO UPDATE SET created_at = excluded.created_at';

test('blob rows and proxy state rows of one turn share one commit', async () => {
  const db = await openDatabase({ file: ':memory:', migrations: proxyMigrations });
  try {
    const sqlite = sqliteHandleOf(db);
    assert.ok(sqlite);
    // Count the transactions begun, and whether each blob row ran inside one.
    let begun = 0;
    const exec = sqlite.db.exec.bind(sqlite.db);
    sqlite.db.exec = (sql: string) => {
      if (sql.startsWith('BEGIN')) begun += 1;
      exec(sql);
    };
    const record: StatementSync = sqlite.prepare(RECORD_BLOB);
    const run = record.run.bind(record);
    const inTransaction: boolean[] = [];
    record.run = ((...args: SQLInputValue[]) => {
      inTransaction.push(sqlite.db.isTransaction);
      return run(...args);
    }) as StatementSync['run'];
    const index = new SqlBlobIndex(db);
    const state = new ProxyStateStore(db);
    const entry = { digest: 'sha256:a', size: 1, mediaType: undefined, etag: undefined };
    const writes = [
      index.record('sha256:a', 1),
      index.record('sha256:b', 2),
      state.put('r', 'k1', { ...entry, upstream: undefined }, 1),
      state.put('r', 'k2', { ...entry, upstream: undefined }, 1),
      index.record('sha256:c', 3),
    ];
    // Nothing is in the table before the turn ends.
    assert.equal(sqlite.prepare('SELECT count(*) AS n FROM blobs').get()?.['n'], 0);
    await Promise.all(writes);
    await state.flush();
    // Resolved once committed: visible through Kysely, no transaction left open.
    assert.equal(sqlite.db.isTransaction, false);
    const blobs = await db.selectFrom('blobs').select('digest').orderBy('digest').execute();
    assert.deepEqual(
      blobs.map((b) => b.digest),
      ['sha256:a', 'sha256:b', 'sha256:c'],
    );
    assert.equal(sqlite.prepare('SELECT count(*) AS n FROM proxy_entries').get()?.['n'], 2);
    // Each blob row ran inside a transaction (not an autocommit of its own); the blob rows and
    // the state batch took at most two (the state batch joins the group of the turn after its
    // own write-behind turn; with the blob rows of that turn it shares one).
    assert.deepEqual(inTransaction, [true, true, true]);
    assert.ok(begun <= 2, `${begun} transactions for 3 blob rows and 2 state rows`);
  } finally {
    await db.destroy();
  }
});

test('one failing work in a group fails alone; the others commit', async () => {
  const db = await openDatabase({ file: ':memory:', migrations: proxyMigrations });
  try {
    const sqlite = sqliteHandleOf(db);
    assert.ok(sqlite);
    const insert = (digest: string) => () =>
      sqlite.prepare(RECORD_BLOB).run(digest, 1, Date.now()).changes;
    const first = grouped(db, insert('sha256:1'));
    const failing = grouped(db, () => {
      insert('sha256:2')();
      throw new Error('refused');
    });
    const last = grouped(db, insert('sha256:3'));
    assert.equal(await first, 1);
    await assert.rejects(failing, /refused/);
    assert.equal(await last, 1);
    assert.equal(sqlite.db.isTransaction, false);
    const digests = sqlite
      .prepare('SELECT digest FROM blobs ORDER BY digest')
      .all()
      .map((row) => (row as { digest: string }).digest);
    // The failing work's own row was rolled back with it.
    assert.deepEqual(digests, ['sha256:1', 'sha256:3']);
  } finally {
    await db.destroy();
  }
});
