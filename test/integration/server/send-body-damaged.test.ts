/**
 * A stored blob found damaged while it is sent (past the size checked before answering): the
 * connection is cut, and only once the damaged file is removed. A client reacting to the cut (a
 * retry, the upload of the same bytes that repairs it) then never meets the damaged file, as
 * with the 503 sent before any byte (BlobStore.open waits for the same removal).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import Fastify from 'fastify';
import { sendBody } from '../../../src/http/send-body.ts';
import { BlobStore } from '../../../src/storage/blob-store.ts';
import { FsDriver } from '../../../src/storage/drivers/fs-driver.ts';
import { GuardedDriver } from '../../../src/storage/guarded-driver.ts';
import { blobKey } from '../../../src/storage/keys.ts';
import { flipByteAt, MapIndex } from '../../helpers/storage.ts';

test('a blob damaged on disk, sent past the precheck: the cut comes once the file is removed', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-send-damaged-'));
  // Files over 1 MiB are checked as they are sent (the default line is 64 MiB).
  const blobs = new BlobStore(new GuardedDriver(await FsDriver.open(dir)), new MapIndex(), {
    precheckBytes: 1024 * 1024,
  });
  // A slow store (a loaded disk, an object store): the removal takes a while.
  const driver = blobs.driver;
  const remove = driver.delete.bind(driver);
  driver.delete = async (key) => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return remove(key);
  };
  const data = Buffer.alloc(3 * 1024 * 1024, 6);
  const { digest } = await blobs.ingest(Readable.from([data]));
  await flipByteAt(path.join(dir, blobKey(digest)), data.length - 1);

  const app = Fastify();
  app.get('/blob', async (_request, reply) => {
    const stream = await blobs.open(digest);
    return sendBody(reply.header('content-length', data.length), stream);
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    const address = app.server.address();
    assert.ok(typeof address === 'object' && address !== null);
    const received = await new Promise<number>((resolve) => {
      let bytes = 0;
      const request = http.get(`http://127.0.0.1:${address.port}/blob`, (response) => {
        response.on('data', (chunk: Buffer) => (bytes += chunk.length));
        response.on('error', () => undefined);
        response.on('close', () => {
          resolve(bytes);
        });
      });
      request.on('error', () => {
        resolve(bytes);
      });
    });
    assert.ok(received < data.length, `${received} of ${data.length} bytes: the body was cut`);
    assert.equal(await blobs.stat(digest), undefined, 'the damaged file is gone at the cut');
  } finally {
    await app.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
});
