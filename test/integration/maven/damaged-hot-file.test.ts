/**
 * Maven's hot-file cache keeps the body of a small file read twice (hot-files.ts). That body is
 * read with a ranged read, which the blob store does not verify; kept unchecked, a file damaged
 * on disk was then answered 200 with its damaged bytes for as long as it stayed hot. Now the
 * kept body is hashed first: a damaged one is never kept, and the request reads the file whole
 * (verified: 503, the file removed) instead.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { exists, flipBlobByte } from '../../helpers/storage.ts';
import { digestOf } from '../../../src/core/digest.ts';

test('a damaged file is never kept as a hot body: 503, removed, never a 200 of damaged bytes', async () => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-maven-hot-'));
  try {
    const body = randomBytes(200 * 1024);
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
    assert.equal(whole.status, 503);
    assert.equal(await exists(file), false, 'the damaged file is removed');
    const again = await fetch(url(server.url));
    assert.equal(again.status, 503);
    await again.arrayBuffer();
  } finally {
    await fs.rm(dataDir, { recursive: true, force: true });
  }
});
