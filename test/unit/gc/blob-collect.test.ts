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
