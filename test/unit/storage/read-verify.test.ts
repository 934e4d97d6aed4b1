/**
 * Whole reads of a blob are checked against its digest (BlobStore.open): damaged bytes are never
 * handed out as a complete copy, they are removed so the next upload writes them again, and the
 * app is told. A file read unchanged since it was verified is not hashed again.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import { digestOf, type Digest } from '../../../src/core/digest.ts';
import { storageFault } from '../../../src/core/errors.ts';
import {
  BlobIntegrityError,
  BlobStore,
  PRECHECK_FILE_BYTES,
  type DamagedBlob,
  type ReadObserver,
} from '../../../src/storage/blob-store.ts';
import { FsDriver } from '../../../src/storage/drivers/fs-driver.ts';
import { MemoryDriver } from '../../../src/storage/drivers/memory-driver.ts';
import { GuardedDriver } from '../../../src/storage/guarded-driver.ts';
import { blobKey } from '../../../src/storage/keys.ts';
import { localFileOf } from '../../../src/storage/local-file.ts';
import { flipByteAt, MapIndex } from '../../helpers/storage.ts';

/**
 * A blob store on a temp dir. Local files over 1 MiB are checked as they are read (the default
 * moves that line to PRECHECK_FILE_BYTES, 64 MiB): the "large" blobs below are 2–3 MiB.
 */
async function store(precheckBytes = 1024 * 1024) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-verify-'));
  const index = new MapIndex();
  const blobs = new BlobStore(new GuardedDriver(await FsDriver.open(dir)), index, {
    precheckBytes,
  });
  const damaged: { digest: Digest; removed: boolean }[] = [];
  const observer: ReadObserver = ({ digest, removal }) => {
    void removal.then(({ removed }) => damaged.push({ digest, removed }));
    removals.push(removal);
  };
  blobs.observeReads(observer);
  const file = (digest: Digest) => path.join(dir, blobKey(digest));
  return { dir, index, blobs, damaged, file };
}

/** The removals of damaged files the stores' observers were told of, not awaited yet. */
const removals: Promise<DamagedBlob>[] = [];

/**
 * Settles once every removal reported so far has (a read's verifier finished outside open(), e.g.
 * by send-body, starts it and moves on). A 20 ms sleep before: a loaded disk took longer.
 */
async function settle(): Promise<void> {
  await Promise.allSettled(removals.splice(0));
}

test('a small blob damaged in place is refused before any byte, removed, reported, and re-stored by the next ingest', async () => {
  const { blobs, index, damaged, file } = await store();
  const data = Buffer.from('a small artifact, read whole by the driver');
  const { digest } = await blobs.ingest(Readable.from([data]), { expectedSize: data.length });
  assert.deepEqual(await buffer(await blobs.open(digest)), data);

  await flipByteAt(file(digest), 5);
  await assert.rejects(blobs.open(digest), (err: unknown) => err instanceof BlobIntegrityError);
  await settle();
  assert.deepEqual(damaged, [{ digest, removed: true }]);
  assert.equal(await blobs.stat(digest), undefined, 'the damaged file is gone');
  assert.equal(index.sizes.size, 0);

  // Without the removal the same-size damaged file would stay: ingest skips a blob it has.
  const again = await blobs.ingest(Readable.from([data]), { expectedSize: data.length });
  assert.equal(again.created, true);
  assert.deepEqual(await buffer(await blobs.open(digest)), data);
});

test('a damaged file leaves blobs/ for quarantine/, kept with its damaged bytes as evidence (trial 35)', async () => {
  const { dir, blobs, file } = await store();
  const data = Buffer.from('a hosted file whose disk went bad');
  const { digest } = await blobs.ingest(Readable.from([data]), { expectedSize: data.length });
  await flipByteAt(file(digest), 3);
  const damagedBytes = await fs.readFile(file(digest));
  const told: DamagedBlob[] = [];
  blobs.observeReads(({ removal }) => {
    void removal.then((outcome) => told.push(outcome));
  });
  await assert.rejects(blobs.open(digest), (err: unknown) => err instanceof BlobIntegrityError);
  assert.equal(await blobs.stat(digest), undefined, 'gone from blobs/');
  const kept = told[0]?.kept;
  assert.match(kept ?? '', new RegExp(`^quarantine/sha256/${digest.hex}\\.\\d{8}T\\d{9}Z$`));
  assert.deepEqual(await fs.readFile(path.join(dir, kept ?? '')), damagedBytes);

  // nora verify --remove (scrub) moves a damaged file aside the same way.
  await blobs.ingest(Readable.from([data]), { expectedSize: data.length });
  await flipByteAt(file(digest), 4);
  await new Promise((resolve) => setTimeout(resolve, 2)); // another millisecond, another name
  const scrubbed = await blobs.scrub(digest, { remove: true });
  assert.equal(scrubbed.removed, true);
  assert.notEqual(scrubbed.kept, kept);
  assert.equal((await fs.readdir(path.join(dir, 'quarantine', 'sha256'))).length, 2);
});

test('a refusal before any byte comes only once the damaged file is gone (the upload it asks for stores the bytes again)', async () => {
  // CI once lost this race: the 503 went out, the repairing upload found the damaged file still
  // there (so stored nothing), and only then was it removed.
  const { blobs, file } = await store();
  // A slow store (a loaded disk, an object store): the removal takes a while.
  const driver = blobs.driver;
  const remove = driver.delete.bind(driver);
  driver.delete = async (key) => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    return remove(key);
  };
  for (const size of [40, 200 * 1024]) {
    const data = Buffer.alloc(size, size & 0xff);
    const { digest } = await blobs.ingest(Readable.from([data]), { expectedSize: size });
    await flipByteAt(file(digest), 3);
    await assert.rejects(blobs.open(digest), (err: unknown) => err instanceof BlobIntegrityError);
    assert.equal(await blobs.stat(digest), undefined, `${size} bytes: gone when refused`);
    const again = await blobs.ingest(Readable.from([data]), { expectedSize: size });
    assert.equal(again.created, true, `${size} bytes: stored again`);
  }
});

test('the refusal is a 503 naming the condition, not a 500', () => {
  const answer = storageFault(new BlobIntegrityError(digestOf('x')));
  assert.ok(answer !== undefined);
  assert.equal(answer.status, 503);
  assert.match(answer.message, /integrity check/);
});

test('blobs/ on another file system than .tmp/ (EXDEV on the rename) is a 503 naming it, not a 500', () => {
  const answer = storageFault(Object.assign(new Error('cross-device link'), { code: 'EXDEV' }));
  assert.ok(answer !== undefined);
  assert.equal(answer.status, 503);
  assert.match(answer.message, /storage is unavailable \(EXDEV\)/);
});

test('a large blob read as a stream errors before its last chunk when damaged', async () => {
  const { blobs, damaged, file } = await store();
  const data = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < data.length; i += 1) data[i] = (i * 7) & 0xff;
  const { digest } = await blobs.ingest(Readable.from([data]));
  assert.deepEqual(await buffer(await blobs.open(digest)), data, 'a good read passes');

  await flipByteAt(file(digest), data.length - 1);
  const stream = await blobs.open(digest);
  let received = 0;
  await assert.rejects(
    (async () => {
      for await (const chunk of stream as AsyncIterable<Buffer>) received += chunk.length;
    })(),
    (err: unknown) => err instanceof BlobIntegrityError,
  );
  assert.ok(received < data.length, `${received} of ${data.length} bytes passed`);
  await settle();
  assert.equal(damaged.length, 1);
  assert.equal(await blobs.stat(digest), undefined);
});

test('a file of at most 1 MiB is hashed before open() returns: a damaged one is a 503, never a cut connection', async () => {
  const { blobs, damaged, file } = await store();
  // Past the driver's 64 KiB whole read: a local file, sent in one 1 MiB chunk by send-body.ts.
  const data = Buffer.alloc(200 * 1024, 5);
  const { digest } = await blobs.ingest(Readable.from([data]));
  const good = await blobs.open(digest);
  assert.equal(localFileOf(good)?.verifier, undefined, 'checked already: no verifier to feed');
  assert.deepEqual(await buffer(good), data);

  await flipByteAt(file(digest), 100 * 1024);
  await assert.rejects(blobs.open(digest), (err: unknown) => err instanceof BlobIntegrityError);
  await settle();
  assert.deepEqual(damaged, [{ digest, removed: true }]);
  assert.equal(await blobs.stat(digest), undefined, 'the damaged file is gone');
});

test('by default a file of up to 64 MiB is checked before open() returns', async () => {
  assert.equal(PRECHECK_FILE_BYTES, 64 * 1024 * 1024);
  const { blobs, file } = await store(PRECHECK_FILE_BYTES);
  const data = Buffer.alloc(3 * 1024 * 1024, 4);
  const { digest } = await blobs.ingest(Readable.from([data]));
  await flipByteAt(file(digest), data.length - 1);
  await assert.rejects(blobs.open(digest), (err: unknown) => err instanceof BlobIntegrityError);
});

test('a large blob sent as a file carries a verifier that refuses the damaged last chunk', async () => {
  const { blobs, file } = await store();
  const data = Buffer.alloc(2 * 1024 * 1024, 3);
  const { digest } = await blobs.ingest(Readable.from([data]));
  await flipByteAt(file(digest), 0);
  const stream = await blobs.open(digest);
  const source = localFileOf(stream);
  assert.ok(source?.verifier !== undefined, 'the local file tag is kept, with its verifier');
  const bytes = await fs.readFile(file(digest));
  source.verifier.update(bytes);
  assert.equal(source.verifier.finish(), false);
  stream.destroy();
  await settle();
  assert.equal(await blobs.stat(digest), undefined);
});

test('a blob read unchanged since it was verified is not hashed again; a rewrite is', async () => {
  const { blobs, file } = await store();
  const data = Buffer.alloc(2 * 1024 * 1024, 9);
  const { digest } = await blobs.ingest(Readable.from([data]));
  const first = await blobs.open(digest);
  assert.ok(localFileOf(first)?.verifier !== undefined, 'first read: checked');
  await buffer(first);
  const second = await blobs.open(digest);
  assert.equal(localFileOf(second)?.verifier, undefined, 'same file: trusted');
  second.destroy();

  // Rewritten with the same bytes: a new file (mtime/ctime), checked again.
  await fs.writeFile(file(digest), data);
  const third = await blobs.open(digest);
  assert.ok(localFileOf(third)?.verifier !== undefined);
  third.destroy();
});

test('ranged reads are passed through unchecked (a part cannot be verified)', async () => {
  const { blobs, file, damaged } = await store();
  const data = Buffer.from('0123456789abcdef');
  const { digest } = await blobs.ingest(Readable.from([data]), { expectedSize: data.length });
  await flipByteAt(file(digest), 0);
  const part = await buffer(await blobs.open(digest, { start: 2, end: 5 }));
  assert.equal(part.toString(), '2345');
  await settle();
  assert.deepEqual(damaged, []);
});

test('a damaged file replaced by a good one before its removal is left in place', async () => {
  const { blobs, file } = await store();
  const data = Buffer.alloc(2 * 1024 * 1024, 1);
  const { digest } = await blobs.ingest(Readable.from([data]));
  await flipByteAt(file(digest), 10);
  const stream = await blobs.open(digest);
  const verifier = localFileOf(stream)?.verifier;
  assert.ok(verifier !== undefined);
  verifier.update(await fs.readFile(file(digest)));
  // A good copy lands (a new inode) between the read and the verdict.
  const good = `${file(digest)}.good`;
  await fs.writeFile(good, data);
  await fs.rename(good, file(digest));
  assert.equal(verifier.finish(), false);
  stream.destroy();
  await settle();
  assert.deepEqual(await fs.readFile(file(digest)), data);
});

test('the memory driver: whole reads verified too (and trusted once verified)', async () => {
  const driver = await MemoryDriver.open();
  const blobs = new BlobStore(new GuardedDriver(driver), new MapIndex());
  const data = Buffer.from('in memory');
  const { digest } = await blobs.ingest(Readable.from([data]), { expectedSize: data.length });
  assert.deepEqual(await buffer(await blobs.open(digest)), data);
  assert.deepEqual(await buffer(await blobs.open(digest)), data);
  await driver.close();
});

/**
 * A driver whose quarantine move (moveIfSame, or the copy of a driver without it) waits for
 * `release`: an S3 CopyObject of a large blob, a loaded disk. `entered` settles once it waits.
 */
function slowedQuarantine<T extends object>(inner: T) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let enter!: () => void;
  const entered = new Promise<void>((resolve) => (enter = resolve));
  const driver = new Proxy(inner, {
    get(target, name) {
      const value: unknown = Reflect.get(target, name, target);
      if (typeof value !== 'function') return value;
      const bound = (value as (...args: unknown[]) => unknown).bind(target);
      if (name !== 'copy' && name !== 'moveIfSame') return bound;
      return async (...args: unknown[]) => {
        enter();
        await gate;
        return bound(...args);
      };
    },
  });
  return { driver, release, entered };
}

for (const backend of ['fs', 'memory'] as const) {
  test(`a good copy stored while a damaged one is being moved aside is never removed (${backend}; review 2026-12-06)`, async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-verify-race-'));
    const inner = backend === 'fs' ? await FsDriver.open(dir) : await MemoryDriver.open();
    const { driver, release, entered } = slowedQuarantine(new GuardedDriver(inner));
    const index = new MapIndex();
    const blobs = new BlobStore(driver, index, { precheckBytes: 1024 });
    let removal: Promise<DamagedBlob> | undefined;
    blobs.observeReads((event) => {
      removal = event.removal;
    });
    const data = Buffer.alloc(4096, 7);
    const { digest } = await blobs.ingest(Readable.from([data]), { expectedSize: data.length });
    // Damaged: short (fs: on disk; memory: rewritten through the driver, a new identity).
    if (backend === 'fs')
      await fs.writeFile(path.join(dir, blobKey(digest)), data.subarray(0, 100));
    else await inner.write(blobKey(digest), data.subarray(0, 100));
    const reading = blobs.open(digest).then(
      (stream) => buffer(stream),
      (err: unknown) => err,
    );
    await entered;
    // A client's retry (or a proxy fill) finds the file short and stores the bytes again.
    const again = await blobs.ingest(Readable.from([data]), { expectedSize: data.length });
    assert.equal(again.created, true);
    release();
    assert.ok((await reading) instanceof BlobIntegrityError);
    assert.equal((await removal)?.removed, false, 'the good copy is not the damaged one');
    assert.deepEqual(await buffer(await blobs.open(digest)), data, 'the good copy stays');
    assert.equal(index.sizes.get(`sha256:${digest.hex}`), data.length, 'and its index row');
    if (backend === 'fs') {
      const quarantined = await fs.readdir(path.join(dir, 'quarantine', 'sha256')).catch(() => []);
      assert.deepEqual(quarantined, [], 'no good bytes passed off as damaged');
    }
    await inner.close();
  });
}

test('readers finding one damaged file at once share its removal: told once, one file kept (review 2026-12-06)', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-verify-once-'));
  const inner = await FsDriver.open(dir);
  const { driver, release, entered } = slowedQuarantine(new GuardedDriver(inner));
  const blobs = new BlobStore(driver, new MapIndex(), { precheckBytes: 1024 });
  const told: Promise<DamagedBlob>[] = [];
  blobs.observeReads(({ removal }) => told.push(removal));
  const data = Buffer.alloc(4096, 9);
  const { digest } = await blobs.ingest(Readable.from([data]), { expectedSize: data.length });
  await flipByteAt(path.join(dir, blobKey(digest)), 7);
  const reads = [1, 2, 3].map(() =>
    blobs.open(digest).then(
      () => 'served',
      (err: unknown) => err,
    ),
  );
  await entered;
  // The others finish their check while the first removal is still moving the file.
  await new Promise((resolve) => setTimeout(resolve, 50));
  release();
  for (const read of await Promise.all(reads)) assert.ok(read instanceof BlobIntegrityError);
  assert.equal(told.length, 1, 'one removal, one report');
  assert.equal((await told[0])?.removed, true);
  assert.equal((await fs.readdir(path.join(dir, 'quarantine', 'sha256'))).length, 1);
  await inner.close();
});
