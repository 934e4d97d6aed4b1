/**
 * trial 26 opsR F2: an upload POST the database refused (503: a read-only, busy or full
 * database) left an empty spool file in `.tmp/uploads/` per attempt. The session's row was never
 * written, so no client learns its UUID and nothing would ever finish or cancel it; a client
 * retrying in a loop multiplied the files until the orphan sweep or a restart. Now the spool file
 * goes with the refusal.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { RegistryError } from '../../../src/core/errors.ts';
import { type Db, openDatabase } from '../../../src/db/database.ts';
import { ociMigrations, OciStore } from '../../../src/formats/oci/store.ts';
import { UploadManager } from '../../../src/formats/oci/uploads.ts';
import { BlobStore } from '../../../src/storage/blob-store.ts';
import { FsDriver } from '../../../src/storage/drivers/fs-driver.ts';
import { GuardedDriver } from '../../../src/storage/guarded-driver.ts';
import { MapIndex } from '../../helpers/storage.ts';

/** An OciStore whose session INSERT fails as a read-only database's does. */
class ReadOnlyUploads extends OciStore {
  override createUpload(): Promise<void> {
    return Promise.reject(
      new RegistryError('UNAVAILABLE', 'the metadata database is not writable'),
    );
  }
}

const limits = () => ({
  maxSessions: 100,
  maxSessionsPerClient: 10,
  maxSessionBytes: 1 << 20,
  maxRequestBytes: 1 << 20,
  ttlSeconds: 3600,
  idleSeconds: 60,
});

test('an upload session the database refuses leaves no spool file behind', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-oci-spool-'));
  const db: Db = await openDatabase({ file: ':memory:', migrations: ociMigrations });
  t.after(async () => {
    await db.destroy();
    await fs.rm(dir, { recursive: true, force: true });
  });
  const blobs = new BlobStore(new GuardedDriver(await FsDriver.open(dir)), new MapIndex());
  const uploads = new UploadManager(new ReadOnlyUploads(db), blobs, limits);
  for (let i = 0; i < 5; i++) {
    await assert.rejects(uploads.start('docker', 'app', 'user:alice'), (err: unknown) => {
      assert.ok(err instanceof RegistryError);
      assert.equal(err.code, 'UNAVAILABLE');
      return true;
    });
  }
  const spool = path.dirname(await blobs.spoolPath('uploads'));
  assert.deepEqual(await fs.readdir(spool), [], 'no spool file left in .tmp/uploads');

  // A database that takes the row: the session's spool file is there, as before.
  const working = new UploadManager(new OciStore(db), blobs, limits);
  const started = await working.start('docker', 'app', 'user:alice');
  assert.equal(started.offset, 0);
  assert.equal((await fs.readdir(spool)).length, 1);
});
