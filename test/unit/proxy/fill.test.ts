/**
 * BlobFill readers: one that keeps up is served from memory, one that falls behind the memory
 * window reads the spool file, one that arrives after the commit reads the store's copy; all get
 * the same verified bytes, and a digest mismatch reaches every reader as an error. A small body
 * (≤ 1 MiB announced) is held in memory and committed without a spool file.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { digestOf } from '../../../src/core/digest.ts';
import { SqlBlobIndex } from '../../../src/db/blob-index.ts';
import { type Db, openDatabase } from '../../../src/db/database.ts';
import { BlobFill } from '../../../src/proxy/fill.ts';
import { BlobStore } from '../../../src/storage/blob-store.ts';
import { FsDriver } from '../../../src/storage/drivers/fs-driver.ts';
import { GuardedDriver } from '../../../src/storage/guarded-driver.ts';
import { tempDir } from '../../helpers/tmp.ts';

const CHUNK = 64 * 1024;

/** An upstream body in 64 KiB chunks, pausing now and then like a network would. */
function upstream(payload: Buffer): Readable {
  return Readable.from(
    (async function* () {
      for (let offset = 0; offset < payload.length; offset += CHUNK) {
        if (offset % (4 * 1024 * 1024) === 0) await sleep(1);
        yield payload.subarray(offset, offset + CHUNK);
      }
    })(),
  );
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('BlobFill readers', async () => {
  await using dir = await tempDir();
  let db: Db;
  let blobs: BlobStore;

  before(async () => {
    db = await openDatabase({ file: ':memory:', migrations: {} });
    blobs = new BlobStore(new GuardedDriver(await FsDriver.open(dir.path)), new SqlBlobIndex(db));
  });

  after(async () => {
    await db.destroy();
  });

  test('fast, slow (beyond the memory window), ranged and late readers get the same bytes', async () => {
    const payload = randomBytes(24 * 1024 * 1024 + 123);
    const digest = digestOf(payload);
    const fill = await BlobFill.start(
      blobs,
      { body: upstream(payload), size: payload.length },
      {
        expected: digest,
      },
    );
    const fast = readAll(fill.reader());
    const slowStream = fill.reader();
    const ranged = readAll(fill.reader({ start: 3 * 1024 * 1024 + 7, end: 20 * 1024 * 1024 }));
    // The slow reader takes one chunk, then waits until the whole blob went past the window.
    const first = await new Promise<Buffer>((resolve) =>
      slowStream.once('data', (chunk: Buffer) => {
        slowStream.pause();
        resolve(chunk);
      }),
    );
    const result = await fill.done;
    assert.equal(result.size, payload.length);
    slowStream.resume();
    const rest = await readAll(slowStream);
    assert.ok(Buffer.concat([first, rest]).equals(payload), 'slow reader');
    assert.ok((await fast).equals(payload), 'fast reader');
    assert.ok((await ranged).equals(payload.subarray(3 * 1024 * 1024 + 7, 20 * 1024 * 1024 + 1)));
    assert.equal(fill.state, 'committed');
    const stored = await blobs.stat(digest);
    assert.equal(stored?.size, payload.length);
  });

  test('bodies of any length and chunking land intact (slab edges, exact multiples, empty)', async () => {
    const MiB = 1024 * 1024;
    const cases: { size: number; chunks: number[] }[] = [
      { size: 0, chunks: [] },
      { size: 1, chunks: [1] },
      { size: 2 * MiB, chunks: [MiB, MiB] },
      { size: 2 * MiB + 5, chunks: [2 * MiB + 5] },
      {
        size: 3 * MiB + 17,
        chunks: [1, 333_333, MiB - 1, MiB + 7, 3 * MiB + 17 - 1 - 333_333 - (MiB - 1) - (MiB + 7)],
      },
    ];
    // Concurrent fills share the slab pool: none may see another's bytes.
    await Promise.all(
      cases.map(async ({ size, chunks }) => {
        const payload = randomBytes(size);
        let offset = 0;
        const pieces = chunks.map((length) => payload.subarray(offset, (offset += length)));
        const fill = await BlobFill.start(
          blobs,
          { body: Readable.from(pieces), size },
          { expected: digestOf(payload) },
        );
        const read = readAll(fill.reader());
        assert.equal((await fill.done).size, size);
        assert.ok((await read).equals(payload), `reader, ${size} bytes`);
        const stored = await readAll(await blobs.open(digestOf(payload)));
        assert.ok(stored.equals(payload), `stored, ${size} bytes`);
      }),
    );
  });

  test('a digest mismatch fails every reader and commits nothing', async () => {
    const payload = randomBytes(3 * 1024 * 1024);
    const claimed = digestOf(Buffer.from('something else'));
    const fill = await BlobFill.start(
      blobs,
      { body: upstream(payload), size: payload.length },
      {
        expected: claimed,
      },
    );
    const readers = Promise.allSettled([
      readAll(fill.reader()),
      readAll(fill.reader({ start: 10 })),
    ]);
    await assert.rejects(fill.done, /does not match its digest/);
    for (const reader of await readers) assert.equal(reader.status, 'rejected');
    assert.equal(await blobs.stat(claimed), undefined);
  });

  test('a reader never gets the whole of a body that fails its check: ≤ 64 KiB ones nothing', async () => {
    /** Bytes a reader delivered before it failed (it must fail). */
    const delivered = async (stream: Readable): Promise<number> => {
      let bytes = 0;
      try {
        for await (const chunk of stream) bytes += (chunk as Buffer).length;
      } catch {
        return bytes;
      }
      assert.fail(`the reader ended normally after ${bytes} bytes`);
    };
    for (const size of [5 * 1024, 200 * 1024, 3 * 1024 * 1024]) {
      const payload = randomBytes(size);
      const claimed = digestOf(Buffer.from(`not ${size}`));
      const fill = await BlobFill.start(
        blobs,
        { body: upstream(payload), size: payload.length },
        { expected: claimed },
      );
      const whole = delivered(fill.reader());
      const range = delivered(fill.reader({ start: 0, end: 99 }));
      await assert.rejects(fill.done, /does not match its digest/);
      const [got, ranged] = [await whole, await range];
      if (size <= 64 * 1024) assert.equal(got, 0, `${size} B: held until verified`);
      else assert.ok(got < size, `${size} B: ${got} bytes delivered`);
      assert.ok(ranged < 100, `${size} B: range got ${ranged} of 100 bytes`);
    }
  });

  test('a small body that drips past the hold time flows as it arrives (no client read timeout)', async () => {
    // Trial hostile F5: 220 bytes at a byte a second reached curl only after 220 s.
    const payload = randomBytes(30);
    let lastSentAt = 0;
    const drip = Readable.from(
      (async function* () {
        for (let i = 0; i < payload.length; i++) {
          await sleep(20);
          lastSentAt = Date.now();
          yield payload.subarray(i, i + 1);
        }
      })(),
    );
    const fill = await BlobFill.start(
      blobs,
      { body: drip, size: payload.length },
      { expected: digestOf(payload), heldWholeMs: 100 },
    );
    let firstAt: number | undefined;
    const chunks: Buffer[] = [];
    for await (const chunk of fill.reader()) {
      firstAt ??= Date.now();
      chunks.push(chunk as Buffer);
    }
    assert.ok(Buffer.concat(chunks).equals(payload));
    await fill.done;
    assert.ok(firstAt !== undefined);
    assert.ok(firstAt < lastSentAt - 150, `first byte ${lastSentAt - firstAt} ms before the last`);
  });

  test('a small body is held in memory: readers get it, no spool file, committed verified', async () => {
    const payload = randomBytes(300 * 1024 + 7);
    const spoolDir = path.join(blobs.driver.spoolDir(), 'ingest');
    const before = await fs.readdir(spoolDir).catch(() => []);
    const fill = await BlobFill.start(
      blobs,
      { body: upstream(payload), size: payload.length },
      { expected: digestOf(payload) },
    );
    assert.deepEqual(await fs.readdir(spoolDir).catch(() => []), before);
    const [whole, ranged] = await Promise.all([
      readAll(fill.reader()),
      readAll(fill.reader({ start: 100_000, end: 200_000 })),
    ]);
    assert.ok(whole.equals(payload));
    assert.ok(ranged.equals(payload.subarray(100_000, 200_001)));
    const result = await fill.done;
    assert.equal(result.size, payload.length);
    assert.equal(fill.state, 'committed');
    const stored = await readAll(await blobs.open(digestOf(payload)));
    assert.ok(stored.equals(payload));
  });

  test('verify: sees the hashes and the whole small body; a refusal commits nothing', async () => {
    for (const size of [200 * 1024, 1024 * 1024 + 3, 3 * 1024 * 1024]) {
      for (const announce of [true, false]) {
        const payload = randomBytes(size);
        const seen: { sha1?: string | undefined; body?: Buffer | undefined }[] = [];
        const accepted = await BlobFill.start(
          blobs,
          { body: upstream(payload), size: announce ? payload.length : undefined },
          {
            hashes: ['sha1'],
            verify: (result, chunks) => {
              seen.push({
                sha1: result.hashes.sha1,
                body: chunks === undefined ? undefined : Buffer.concat(chunks),
              });
              return Promise.resolve();
            },
          },
        );
        assert.ok((await readAll(accepted.reader())).equals(payload));
        await accepted.done;
        const [first] = seen;
        assert.ok(first !== undefined && seen.length === 1, 'verify runs once');
        assert.equal(first.sha1, createHash('sha1').update(payload).digest('hex'));
        // The whole body when the fill still holds all of it (always up to 1 MiB), else none.
        const body = first.body;
        if (size <= 1024 * 1024) assert.ok(body?.equals(payload), `${size} body`);
        else assert.ok(body === undefined || body.equals(payload), `${size} body`);

        const other = randomBytes(size);
        const refused = await BlobFill.start(
          blobs,
          { body: upstream(other), size: announce ? other.length : undefined },
          { verify: () => Promise.reject(new Error('checksum differs')) },
        );
        const [reader] = await Promise.allSettled([readAll(refused.reader())]);
        await assert.rejects(refused.done, /checksum differs/);
        assert.equal(reader.status, 'rejected');
        assert.equal(await blobs.stat(digestOf(other)), undefined);
      }
    }
  });

  test('verify: hashOf gives a hash the fill did not compute, over the whole body (memory and spool fills)', async () => {
    for (const size of [0, 200 * 1024, 1024 * 1024 + 3, 9 * 1024 * 1024 + 5]) {
      for (const announce of [true, false]) {
        const payload = randomBytes(size);
        const got: Record<string, string> = {};
        const fill = await BlobFill.start(
          blobs,
          { body: upstream(payload), size: announce ? payload.length : undefined },
          {
            hashes: ['sha1'],
            verify: async (result, _chunks, _ends, hashOf) => {
              assert.equal(result.hashes.sha512, undefined, 'not hashed while receiving');
              got['sha512'] = await hashOf('sha512');
              got['md5'] = await hashOf('md5');
              got['sha1'] = await hashOf('sha1');
            },
          },
        );
        assert.ok((await readAll(fill.reader())).equals(payload));
        await fill.done;
        for (const name of ['sha512', 'md5', 'sha1'])
          assert.equal(
            got[name],
            createHash(name).update(payload).digest('hex'),
            `${size} ${name}`,
          );
      }
    }
  });

  test('a small body longer than announced, or not matching its digest, commits nothing', async () => {
    const payload = randomBytes(200 * 1024);
    const longer = await BlobFill.start(
      blobs,
      { body: upstream(payload), size: payload.length - 1 },
      { expected: digestOf(payload.subarray(0, payload.length - 1)) },
    );
    const reader = readAll(longer.reader());
    await assert.rejects(longer.done, /more than the \d+ bytes announced/);
    await assert.rejects(reader);
    assert.equal(await blobs.stat(digestOf(payload)), undefined);
    assert.equal(await blobs.stat(digestOf(payload.subarray(0, payload.length - 1))), undefined);

    const claimed = digestOf(Buffer.from('another body'));
    const wrong = await BlobFill.start(
      blobs,
      { body: upstream(payload), size: payload.length },
      { expected: claimed },
    );
    const wrongReader = readAll(wrong.reader());
    await assert.rejects(wrong.done, /does not match its digest/);
    await assert.rejects(wrongReader);
    assert.equal(await blobs.stat(claimed), undefined);
    assert.equal(await blobs.stat(digestOf(payload)), undefined);
  });
});
