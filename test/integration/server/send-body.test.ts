/**
 * http/send-body.ts: stored files go out through reused buffers. Checked over a real socket:
 * bytes and headers, ranges, a file shorter than announced, a client that goes away, and bodies
 * that must take Fastify's ordinary path.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { once } from 'node:events';
import http from 'node:http';
import path from 'node:path';
import { describe, it, before, after } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { sendBody } from '../../../src/http/send-body.ts';
import { FsDriver } from '../../../src/storage/drivers/fs-driver.ts';
import type { StorageKey } from '../../../src/storage/driver.ts';
import { tempDir } from '../../helpers/tmp.ts';

const SIZE = 3 * 1024 * 1024 + 12_345; // several pool chunks and an odd tail
const BIG = 48 * 1024 * 1024;

/** How many descriptors this process holds open on `file`. */
async function openCount(file: string): Promise<number> {
  let count = 0;
  for (const fd of await fs.readdir('/proc/self/fd')) {
    const target = await fs.readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target === file) count += 1;
  }
  return count;
}

describe('sendBody', async () => {
  await using dir = await tempDir();
  const data = randomBytes(SIZE);
  let app: FastifyInstance;
  let base = '';

  before(async () => {
    const driver = await FsDriver.open(dir.path);
    await driver.write('objects/small' as StorageKey, data);
    await driver.write('objects/big' as StorageKey, Buffer.alloc(BIG, 7));
    app = Fastify();
    app.get('/file/:name', async (request, reply) => {
      const { name } = request.params as { name: string };
      const query = request.query as { start?: string; end?: string; announce?: string };
      const start = query.start === undefined ? undefined : Number(query.start);
      const end = query.end === undefined ? undefined : Number(query.end);
      const stream = await driver.read(`objects/${name}` as StorageKey, {
        ...(start === undefined ? {} : { start }),
        ...(end === undefined ? {} : { end }),
      });
      const info = await driver.stat(`objects/${name}` as StorageKey);
      const length =
        query.announce !== undefined
          ? Number(query.announce)
          : (end ?? (info?.size ?? 0) - 1) - (start ?? 0) + 1;
      void reply
        .code(start === undefined ? 200 : 206)
        .header('content-length', length)
        .header('x-extra', 'kept');
      return sendBody(reply, stream);
    });
    app.get('/read-once', async (_request, reply) => {
      const stream = await driver.read('objects/small' as StorageKey);
      // Something already pulled bytes: the tag no longer describes what is left to send.
      await once(stream, 'readable');
      assert.ok(Buffer.isBuffer(stream.read(100)));
      return sendBody(reply, stream);
    });
    app.get('/buffer', (_request, reply) => sendBody(reply, Buffer.from('plain')));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    assert.ok(typeof address === 'object' && address !== null);
    base = `http://127.0.0.1:${address.port}`;
  });

  after(async () => {
    await app.close();
  });

  await it('sends the whole file with the headers set on the reply', async () => {
    const response = await fetch(`${base}/file/small`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-extra'), 'kept');
    assert.equal(response.headers.get('content-length'), String(SIZE));
    assert.ok(Buffer.from(await response.arrayBuffer()).equals(data));
  });

  await it('sends a byte range', async () => {
    const start = 1024 * 1024 - 3;
    const end = 2 * 1024 * 1024 + 17;
    const response = await fetch(`${base}/file/small?start=${start}&end=${end}`);
    assert.equal(response.status, 206);
    assert.ok(Buffer.from(await response.arrayBuffer()).equals(data.subarray(start, end + 1)));
  });

  await it('cuts the connection when the file is shorter than announced', async () => {
    await assert.rejects(async () => {
      const response = await fetch(`${base}/file/small?announce=${SIZE + 10}`);
      await response.arrayBuffer();
    });
    // The server is still healthy afterwards.
    const again = await fetch(`${base}/file/small`);
    assert.equal((await again.arrayBuffer()).byteLength, SIZE);
  });

  await it('closes the file when the client goes away mid-transfer', async () => {
    const bigFile = path.join(dir.path, 'objects', 'big');
    await new Promise<void>((resolve, reject) => {
      const request = http.get(`${base}/file/big`, (response) => {
        response.once('data', () => {
          request.destroy();
          resolve();
        });
      });
      request.on('error', (err) => {
        if (!request.destroyed) reject(err);
      });
    });
    let open = await openCount(bigFile);
    for (let i = 0; i < 100 && open > 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      open = await openCount(bigFile);
    }
    assert.equal(open, 0, 'the stored file is still open');
  });

  await it('falls back to a stream that was already read from, and to plain buffers', async () => {
    const response = await fetch(`${base}/read-once`);
    assert.ok(Buffer.from(await response.arrayBuffer()).equals(data.subarray(100)));
    const plain = await fetch(`${base}/buffer`);
    assert.equal(await plain.text(), 'plain');
  });

  await it('reuses pooled buffers without mixing concurrent transfers', async () => {
    const bodies = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const start = i * 1000;
        const response = await fetch(`${base}/file/small?start=${start}&end=${SIZE - 1}`);
        return { start, body: Buffer.from(await response.arrayBuffer()) };
      }),
    );
    for (const { start, body } of bodies) assert.ok(body.equals(data.subarray(start)));
  });
});
