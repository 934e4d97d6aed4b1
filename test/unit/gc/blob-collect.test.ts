/**
 * BlobStore.collect, the removal `nora gc` and the `[gc]` pass go through: kept when this process
 * stored the bytes since the cut-off or the index row says so; an ingest of the same bytes that
 * starts during a removal waits for it and stores the bytes again (never a reference to a file
 * that is about to disappear).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { test } from 'node:test';
import { SqlBlobIndex } from '../../../src/db/blob-index.ts';
import { openDatabase } from '../../../src/db/database.ts';
import { BlobStore } from '../../../src/storage/blob-store.ts';
import { FsDriver } from '../../../src/storage/drivers/fs-driver.ts';
import { GuardedDriver } from '../../../src/storage/guarded-driver.ts';
import { blobKey } from '../../../src/storage/keys.ts';
import { removeDir } from '../../helpers/tmp.ts';

async function setup() {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-gc-collect-'));
  const db = await openDatabase({ file: path.join(dir, 'nora.db'), migrations: {} });
  const driver = new GuardedDriver(await FsDriver.open(path.join(dir, 'storage')));
  const store = () => new BlobStore(driver, new SqlBlobIndex(db));
  const age = async (hex: string, ms: number) => {
    const at = Date.now() - ms;
    await fs.utimes(
      path.join(dir, 'storage', blobKey({ algorithm: 'sha256', hex })),
      at / 1000,
      at / 1000,
    );
    await db
      .updateTable('blobs')
      .set({ created_at: at })
      .where('digest', '=', `sha256:${hex}`)
      .execute();
  };
  return {
    store,
    age,
    db,
    async [Symbol.asyncDispose]() {
      await db.destroy();
      await driver.close();
      await removeDir(dir);
    },
  };
}

const bytes = (s: string) => Readable.from([Buffer.from(s)]);

test('kept when stored since the cut-off: in this process, or by another one', async () => {
  await using t = await setup();
  const server = t.store();
  const stored = await server.ingest(bytes('just stored here'));
  await t.age(stored.digest.hex, 60_000);
  // This process noted the ingest a moment ago: kept, whatever the row and file say.
  assert.equal(await server.collect(stored.digest, Date.now() - 1_000), undefined);
  // Another process (its own store) sees only the row and the file, both older: removed.
  const other = t.store();
  assert.equal(await other.collect(stored.digest, Date.now() - 1_000), 'just stored here'.length);
  assert.equal(await server.stat(stored.digest), undefined);
  const row = await t.db.selectFrom('blobs').selectAll().execute();
  assert.deepEqual(row, [], 'the index row went first');

  // Stored again by "another process" after the pass decided: the row's time keeps the blob.
  const again = await other.ingest(bytes('stored again meanwhile'));
  await t.age(again.digest.hex, 60_000);
  const cutoff = Date.now() - 1_000;
  await t.store().ingest(bytes('stored again meanwhile')); // refreshes the row's time
  assert.equal(await t.store().collect(again.digest, cutoff), undefined);
  assert.ok(await server.stat(again.digest));
});

test('an ingest of the same bytes during a removal waits for it and stores them again', async () => {
  await using t = await setup();
  const first = t.store();
  const stored = await first.ingest(bytes('raced bytes'));
  await t.age(stored.digest.hex, 60_000);
  // A fresh store (no ingest noted), so collect goes ahead; the ingest starts in the same tick.
  const blobs = t.store();
  const removal = blobs.collect(stored.digest, Date.now() - 1_000);
  // The quickest store there is (a verified fill's): straight to the look-up of the blob.
  const again = blobs.storeVerified([Buffer.from('raced bytes')], stored.digest, 11);
  assert.equal(await removal, 'raced bytes'.length);
  assert.equal(await again, true, 'stored again after the removal');
  assert.equal(await text(await blobs.open(stored.digest)), 'raced bytes');
});

/**
 * Makes every write that needs free space fail with ENOSPC, as on a full disk: the driver's
 * writes and copies, and the spool paths handed out (a spool file the disk has no room for).
 */
function fullDisk(store: BlobStore): void {
  const fail = () =>
    Promise.reject(
      Object.assign(new Error('ENOSPC: no space left on device, write'), {
        code: 'ENOSPC',
        errno: -28,
        syscall: 'write',
      }),
    );
  const driver = store.driver as unknown as Record<string, unknown>;
  for (const name of ['write', 'writeFile', 'copy']) driver[name] = fail;
  (store as unknown as Record<string, unknown>)['spoolPath'] = fail;
}

/** A database with no room for its log: SQLite's error as node:sqlite raises it. */
function sqliteFull(): Error {
  return Object.assign(new Error('database or disk is full'), {
    code: 'ERR_SQLITE_ERROR',
    errcode: 13,
    errstr: 'database or disk is full',
  });
}

test('a full disk: the file is moved aside and removed, no byte copied (it used to be)', async () => {
  await using t = await setup();
  const stored = await t.store().ingest(bytes('bytes on a full disk'));
  await t.age(stored.digest.hex, 60_000);
  const blobs = t.store();
  fullDisk(blobs);
  assert.equal(
    await blobs.collect(stored.digest, Date.now() - 1_000),
    'bytes on a full disk'.length,
  );
  assert.equal(await blobs.stat(stored.digest), undefined);
  assert.deepEqual(await t.db.selectFrom('blobs').selectAll().execute(), []);
  const spool = await fs.readdir(blobs.driver.spoolDir(), { recursive: true });
  assert.deepEqual(
    spool.filter((name) => name.includes('gc')),
    [],
    'nothing held aside is left',
  );
});

test('a database that cannot be written: the file goes all the same, the row is said to be left', async () => {
  await using t = await setup();
  const stored = await t.store().ingest(bytes('bytes of a full database'));
  await t.age(stored.digest.hex, 60_000);
  class FullIndex extends SqlBlobIndex {
    override removeIfOlder(): Promise<'removed' | 'absent' | 'kept'> {
      return Promise.reject(sqliteFull());
    }
  }
  const blobs = new BlobStore(t.store().driver, new FullIndex(t.db));
  fullDisk(blobs);
  const left: unknown[] = [];
  const freed = await blobs.collect(stored.digest, Date.now() - 1_000, {
    rowLeft: (err) => left.push(err),
  });
  assert.equal(freed, 'bytes of a full database'.length);
  assert.equal(await blobs.stat(stored.digest), undefined, 'the file is removed');
  assert.equal(left.length, 1);
  assert.match(String(left[0]), /database or disk is full/);
  const rows = await t.db.selectFrom('blobs').select('digest').execute();
  assert.deepEqual(
    rows.map((row) => row.digest),
    [`sha256:${stored.digest.hex}`],
    'the row is left',
  );
});

test('a database that cannot be written: a row recorded again meanwhile keeps the blob', async () => {
  await using t = await setup();
  const text0 = 'bytes stored again while the database is full for gc';
  const stored = await t.store().ingest(bytes(text0));
  await t.age(stored.digest.hex, 60_000);
  const cutoff = Date.now() - 1_000;
  // Too recent already when the pass reads the row: kept without touching the file.
  const server = t.store();
  class FullIndex extends SqlBlobIndex {
    override removeIfOlder(): Promise<'removed' | 'absent' | 'kept'> {
      return Promise.reject(sqliteFull());
    }
  }
  await server.ingest(bytes(text0));
  assert.equal(
    await new BlobStore(server.driver, new FullIndex(t.db)).collect(stored.digest, cutoff),
    undefined,
  );
  assert.ok(await server.stat(stored.digest));

  // Recorded again between the pass's first read of the row and its second (the server found
  // the file in place just before it was set aside): the file is put back.
  await t.age(stored.digest.hex, 60_000);
  let reads = 0;
  class RacingIndex extends FullIndex {
    override async storedAt(name: string): Promise<number | undefined> {
      const at = await super.storedAt(name);
      if (++reads === 1) await t.store().ingest(bytes(text0)); // refreshes the row
      return at;
    }
  }
  const blobs = new BlobStore(server.driver, new RacingIndex(t.db));
  assert.equal(await blobs.collect(stored.digest, Date.now() - 1_000), undefined);
  assert.equal(await text(await t.store().open(stored.digest)), text0, 'put back');
});
