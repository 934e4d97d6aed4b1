/**
 * Maven's hot-file cache keeps the body of a small file read twice (hot-files.ts). That body is
 * read with a ranged read, which the blob store does not verify; kept unchecked, a file damaged
 * on disk was then answered 200 with its damaged bytes for as long as it stayed hot. Now the
 * kept body is hashed first: a damaged one is never kept, and the request reads the file whole
 * (verified: 410 for a hosted file, the file removed) instead.
 *
 * That answer is the integrity failure's, not "missing from storage": the failed whole read had
 * been followed by a second read of the file the store had just removed (a StorageNotFoundError
 * logged at error, the client told the content was missing).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { exists, flipBlobByte } from '../../helpers/storage.ts';
import { digestOf } from '../../../src/core/digest.ts';
import { zipLike } from '../../helpers/zip-fixtures.ts';

test('a damaged file is never kept as a hot body: 410, removed, never a 200 of damaged bytes', async () => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-maven-hot-'));
  try {
    const body = zipLike(200 * 1024);
    const url = (base: string) => `${base}/maven2/com/example/hot/1.0/hot-1.0.jar`;
    {
      await using server = await startTestServer({ dataDir });
      const put = await fetch(url(server.url), { method: 'PUT', body });
      assert.equal(put.status, 201);
    }
    const file = await flipBlobByte(path.join(dataDir, 'storage'), digestOf(body).hex);
    await using server = await startTestServer({ dataDir });
    // A ranged read first (a resumed download): not verified, a part cannot be.
    const part = await fetch(url(server.url), { headers: { range: 'bytes=0-9' } });
    assert.equal(part.status, 206);
    await part.arrayBuffer();
    // The second open reads the body to keep it hot.
    const whole = await fetch(url(server.url));
    const got = Buffer.from(await whole.arrayBuffer());
    assert.notEqual(whole.status, 200, `damaged bytes answered 200 (${got.length} bytes)`);
    // Hosted: 410 at once (trial 17 auth F3), nothing can fetch it again.
    assert.equal(whole.status, 410);
    assert.match(
      got.toString(),
      /stored file failed its integrity check and was removed, so retrying will not help/,
    );
    assert.equal(await exists(file), false, 'the damaged file is removed');
    const again = await fetch(url(server.url));
    assert.equal(again.status, 410);
    await again.arrayBuffer();
  } finally {
    await fs.rm(dataDir, { recursive: true, force: true });
  }
});

/** The server's log lines from now on (its pino stream's writes), parsed. */
function captureLog(server: TestServer): Record<string, unknown>[] {
  const log = server.app.fastify.log as unknown as Record<symbol, { write(line: string): void }>;
  const stream = log[pino.symbols.streamSym];
  assert.ok(stream !== undefined, "the logger's stream");
  const lines: Record<string, unknown>[] = [];
  const write = stream.write.bind(stream);
  stream.write = (line: string) => {
    lines.push(JSON.parse(line) as Record<string, unknown>);
    write(line);
  };
  return lines;
}

test('a jar damaged while the server runs: 410 "failed its integrity check", no StorageNotFoundError logged', async () => {
  await using server = await startTestServer({ logLevel: 'error' });
  const lines = captureLog(server);
  const body = zipLike(200 * 1024);
  const url = `${server.url}/maven2/org/example/demo/1.0/demo-1.0.jar`;
  assert.equal((await fetch(url, { method: 'PUT', body })).status, 201);
  // Asked once before the damage (a ranged read: the answer memo keeps no part): the next
  // request is the hot cache's second, which reads the body whole to keep it.
  const part = await fetch(url, { headers: { range: 'bytes=0-9' } });
  assert.equal(part.status, 206);
  await part.arrayBuffer();
  const file = await flipBlobByte(path.join(server.dataDir, 'storage'), digestOf(body).hex);
  const damaged = await fetch(url);
  const text = await damaged.text();
  assert.equal(damaged.status, 410);
  assert.match(
    text,
    /stored file failed its integrity check and was removed, so retrying will not help/,
  );
  assert.doesNotMatch(text, /missing/);
  assert.equal(await exists(file), false, 'the damaged file is removed');
  // The removal's own log line is written once the removal settles.
  const deadline = Date.now() + 20_000; // bounds a failure only
  while (!lines.some((l) => String(l['msg']).includes('failed its integrity check'))) {
    assert.ok(Date.now() < deadline, 'the integrity failure is logged');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const types = lines.map((l) => (l['err'] as { type?: string } | undefined)?.type);
  assert.ok(!types.includes('StorageNotFoundError'), `logged: ${JSON.stringify(types)}`);
  // Afterwards the file is gone: 410 "missing from storage" until it is uploaded again (storage.md).
  const later = await fetch(url);
  assert.equal(later.status, 410);
  assert.match(await later.text(), /missing from storage/);
  // The same bytes PUT again repair it.
  assert.equal((await fetch(url, { method: 'PUT', body })).status, 200);
  const repaired = await fetch(url);
  assert.equal(repaired.status, 200);
  assert.deepEqual(Buffer.from(await repaired.arrayBuffer()), body);
});
