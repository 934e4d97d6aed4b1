/**
 * RawStore on an in-memory SQLite: write conditions (immutable, create-only, compare-and-swap),
 * racing CAS writers, file/folder shape, folder counts, and listing pagination (two tables merged
 * by name, byte order, cursors) with a big folder.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { RegistryError } from '../../../src/core/errors.ts';
import { openDatabase, type Db } from '../../../src/db/database.ts';
import { sqliteHandleOf } from '../../../src/db/sqlite-handle.ts';
import { rawMigrations, type RawTables } from '../../../src/formats/raw/migrations.ts';
import { RawStore } from '../../../src/formats/raw/store.ts';
import { tempDir } from '../../helpers/tmp.ts';

const d = (hex: string) => `sha256:${hex.padEnd(64, '0')}`;
const status = (code: number) => (err: unknown) =>
  err instanceof RegistryError && err.status === code;

// The SQLite fast path (synchronous statements, group commit) and the portable Kysely path keep
// the same contract: the whole suite runs against both.
for (const portable of [false, true]) {
  describe(`RawStore (${portable ? 'portable Kysely path' : 'SQLite fast path'})`, () => {
    let db: Db;
    let store: RawStore;

    before(async () => {
      db = await openDatabase({ file: ':memory:', migrations: rawMigrations });
      store = new RawStore(db.$extendTables<RawTables>(), { portable });
    });
    after(async () => {
      await db.destroy();
    });

    test('create, immutable (409), create-only (412), compare-and-swap (412 / replace)', async () => {
      assert.deepEqual(await store.put('r', 'a/b.txt', d('1'), 1, { kind: 'create' }), {
        created: true,
        previous: undefined,
      });
      await assert.rejects(store.put('r', 'a/b.txt', d('2'), 1, { kind: 'create' }), status(409));
      await assert.rejects(
        store.put('r', 'a/b.txt', d('2'), 1, { kind: 'create-only' }),
        status(412),
      );
      await assert.rejects(
        store.put('r', 'a/b.txt', d('2'), 1, { kind: 'match', etags: ['ff'] }),
        status(412),
      );
      await assert.rejects(
        store.put('r', 'a/none.txt', d('2'), 1, { kind: 'match', etags: ['*'] }),
        status(412),
      );
      const swapped = await store.put('r', 'a/b.txt', d('2'), 2, {
        kind: 'match',
        etags: ['x', '1'.padEnd(64, '0')],
      });
      assert.deepEqual(swapped, { created: false, previous: d('1') });
      assert.equal((await store.file('r', 'a/b.txt'))?.digest, d('2'));
      assert.equal((await store.dir('r', 'a'))?.files, 1);
      // Another repository is another namespace.
      assert.equal((await store.put('r2', 'a/b.txt', d('3'), 1, { kind: 'create' })).created, true);
    });

    test('racing compare-and-swap writers: exactly one wins', async () => {
      await store.put('r', 'race.bin', d('a'), 1, { kind: 'create' });
      const etag = 'a'.padEnd(64, '0');
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          store.put('r', 'race.bin', d(`b${i.toString(16)}`), 1, { kind: 'match', etags: [etag] }),
        ),
      );
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      assert.ok(
        results.every((r) => r.status === 'fulfilled' || status(412)(r.reason)),
        'the losers get 412',
      );
    });

    test('shape: no file under a file, no file over a folder; folders follow their files', async () => {
      await store.put('s', 'x/y/z.txt', d('1'), 1, { kind: 'create' });
      await store.put('s', 'x/y/w.txt', d('1'), 1, { kind: 'create' });
      await assert.rejects(
        store.put('s', 'x/y/z.txt/q', d('1'), 1, { kind: 'create' }),
        status(409),
      );
      await assert.rejects(store.put('s', 'x/y', d('1'), 1, { kind: 'any' }), status(409));
      assert.equal((await store.dir('s', 'x'))?.files, 2);
      assert.equal(await store.delete('s', 'x/y/z.txt'), d('1'));
      assert.equal((await store.dir('s', 'x/y'))?.files, 1);
      await assert.rejects(store.delete('s', 'x/y/w.txt', ['ff']), status(412));
      assert.equal(await store.delete('s', 'x/y/w.txt', ['1'.padEnd(64, '0')]), d('1'));
      assert.equal(await store.dir('s', 'x/y'), undefined);
      assert.equal(await store.dir('s', 'x'), undefined);
      assert.equal(await store.delete('s', 'x/y/w.txt'), undefined);
    });

    test('listing: folders and files merged by byte order, paginated exactly', async () => {
      const names: string[] = [];
      for (let i = 0; i < 250; i++) {
        const name = `f-${String(i).padStart(3, '0')}.bin`;
        names.push(name);
        await store.put('big', `dir/${name}`, d('c'), i, { kind: 'create' });
      }
      for (const sub of ['a-sub', 'f-100a', 'zz', 'É']) {
        await store.put('big', `dir/${sub}/inner.txt`, d('c'), 1, { kind: 'create' });
        names.push(sub);
      }
      names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      const seen: string[] = [];
      let after: string | undefined;
      let pages = 0;
      for (;;) {
        const page = await store.list('big', 'dir', after, 40);
        seen.push(...page.entries.map((e) => e.name));
        pages++;
        if (!page.more) break;
        after = page.entries.at(-1)?.name;
      }
      assert.deepEqual(seen, names);
      assert.equal(pages, Math.ceil(names.length / 40));
      const root = await store.list('big', '', undefined, 10);
      assert.deepEqual(
        root.entries.map((e) => [e.kind, e.name]),
        [['dir', 'dir']],
      );
      assert.equal(root.more, false);
    });

    test('concurrent PUTs: each keeps its own outcome, a refused one leaves no row', async () => {
      const results = await Promise.allSettled([
        store.put('gc', 'x/1.txt', d('1'), 1, { kind: 'create' }),
        store.put('gc', 'x/1.txt', d('2'), 1, { kind: 'create' }), // 409: the first one won
        store.put('gc', 'x/2.txt', d('3'), 1, { kind: 'create' }),
        store.put('gc', 'x/2.txt/under', d('4'), 1, { kind: 'create' }), // 409: a file
        store.put('gc', 'x', d('5'), 1, { kind: 'create' }), // 409: a folder
        store.put('gc', 'y/3.txt', d('6'), 1, { kind: 'create' }, { recordBlob: true }),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'rejected', 'fulfilled'],
      );
      for (const r of results) {
        if (r.status === 'rejected') assert.ok(status(409)(r.reason), String(r.reason));
      }
      assert.equal((await store.file('gc', 'x/1.txt'))?.digest, d('1'));
      assert.equal(await store.file('gc', 'x/2.txt/under'), undefined);
      assert.equal(await store.file('gc', 'x'), undefined);
      assert.equal((await store.dir('gc', 'x'))?.files, 2);
      assert.equal((await store.dir('gc', 'y'))?.files, 1);
      assert.deepEqual(await store.pathState('gc', 'x'), { file: undefined, dir: true });
      assert.deepEqual(await store.pathState('gc', 'x/1.txt'), { file: d('1'), dir: false });
      // recordBlob: the blob index row committed with the file row.
      const blob = await db
        .selectFrom('blobs')
        .selectAll()
        .where('digest', '=', d('6'))
        .executeTakeFirst();
      assert.equal(blob?.size, 1);
      assert.equal(await store.delete('gc', 'x/1.txt'), d('1'));
      assert.equal((await store.dir('gc', 'x'))?.files, 1);
      assert.equal(await store.delete('gc', 'x/2.txt'), d('3'));
      assert.equal(await store.dir('gc', 'x'), undefined);
    });
  });
}

test('durable PUTs on a file database: committed rows are in the synced WAL', async () => {
  await using dir = await tempDir();
  const file = path.join(dir.path, 'nora.db');
  const db = await openDatabase({ file, migrations: rawMigrations });
  const store = new RawStore(db.$extendTables<RawTables>());
  const puts = Array.from({ length: 20 }, (_, i) =>
    store.put('dur', `a/${i}.txt`, d(String(i)), 1, { kind: 'create' }, { durable: true }),
  );
  assert.equal((await Promise.all(puts)).filter((r) => r.created).length, 20);
  await store.sync();
  // A second connection (another process would see the same) reads every acknowledged row.
  const other = new DatabaseSync(file);
  const row = other
    .prepare('SELECT files FROM raw_dirs WHERE repo = ? AND path = ?')
    .get('dur', 'a');
  other.close();
  assert.equal(row?.['files'], 20);
  await db.destroy();
});

test('RawStore: durable PUTs arriving while the log syncs commit together, before the next sync', async () => {
  const db = await openDatabase({ file: ':memory:', migrations: rawMigrations });
  const store = new RawStore(db.$extendTables<RawTables>());
  const sqlite = sqliteHandleOf(db);
  assert.ok(sqlite !== undefined);
  // The log sync is held until released; commits are counted.
  const syncs: (() => void)[] = [];
  Object.defineProperty(sqlite, 'syncWal', {
    value: () => new Promise<void>((resolve) => syncs.push(resolve)),
  });
  let commits = 0;
  const prepare = sqlite.prepare.bind(sqlite);
  Object.defineProperty(sqlite, 'prepare', {
    value: (sql: string) => {
      if (sql === 'COMMIT') commits++;
      return prepare(sql);
    },
  });
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  const first = store.put('r', 'a/0.bin', d('a0'), 1, { kind: 'create' }, { durable: true });
  while (syncs.length === 0) await turn();
  assert.equal(commits, 1);
  // Three PUTs in three turns while the first one's sync runs: none commits yet…
  const later: Promise<unknown>[] = [];
  for (const i of [1, 2, 3]) {
    later.push(store.put('r', `a/${i}.bin`, d(`a${i}`), 1, { kind: 'create' }, { durable: true }));
    await turn();
    await turn();
  }
  assert.equal(commits, 1);
  assert.equal(await store.file('r', 'a/1.bin'), undefined);
  // …and once it ends they commit in one transaction, then wait for their own sync.
  syncs.shift()?.();
  await first;
  while (syncs.length === 0) await turn();
  assert.equal(commits, 2);
  assert.equal((await store.file('r', 'a/3.bin'))?.digest, d('a3'));
  syncs.shift()?.();
  await Promise.all(later);
  await db.destroy();
});

test('RawStore: a PUT of a new file one folder deep runs 9 statements in its batch (perfP)', async () => {
  const db = await openDatabase({ file: ':memory:', migrations: rawMigrations });
  const store = new RawStore(db.$extendTables<RawTables>());
  const sqlite = sqliteHandleOf(db);
  assert.ok(sqlite !== undefined);
  await store.put('r', 'a/0.bin', d('a0'), 1, { kind: 'create' }, { recordBlob: true });
  const statements: string[] = [];
  const prepare = sqlite.prepare.bind(sqlite);
  Object.defineProperty(sqlite, 'prepare', {
    value: (sql: string) => {
      statements.push(sql);
      return prepare(sql);
    },
  });
  await store.put('r', 'a/1.bin', d('a1'), 1, { kind: 'create' }, { recordBlob: true });
  // BEGIN, SAVEPOINT, the path's state (file digest and folder test in one), the parent-is-a-
  // file test, the blob row, the file row, the folder upsert, RELEASE, COMMIT.
  assert.equal(statements.length, 9, statements.join('\n'));
  // The conflicts the merged statement decides are still refused.
  await assert.rejects(
    store.put('r', 'a', d('x'), 1, { kind: 'create' }),
    (err: unknown) => err instanceof RegistryError && err.code === 'CONFLICT',
  );
  await assert.rejects(
    store.put('r', 'a/1.bin', d('y'), 1, { kind: 'create' }),
    (err: unknown) => err instanceof RegistryError && err.status === 409,
  );
  await db.destroy();
});
