/**
 * The storage directory gone from under a running server (a volume unmounted, a data directory
 * moved away): /health answers 503 "reachable": false, and a small raw PUT, which opens its temp
 * file in `<storage>/.tmp` directly, answered a bare 500 (ENOENT). It now answers 503 "storage
 * is unavailable (ENOENT)", and succeeds once the directory is back.
 * (Still open, reported: other uploads — a spooled raw PUT, npm publish, twine upload, an OCI
 * upload session — make the missing directories again, recursively, and store into them; on an
 * unmounted volume that is the mount point's disk.)
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';

describe('storage directory removed while the server runs', () => {
  test('a small raw PUT: 503 storage is unavailable, then recovery', async () => {
    await using server = await startTestServer();
    const storage = path.join(server.dataDir, 'storage');
    const url = (p: string) => `${server.url}${p}`;
    const put = () => fetch(url('/raw/gone/small.txt'), { method: 'PUT', body: 'small\n' });
    const first = await fetch(url('/raw/gone/first.txt'), { method: 'PUT', body: 'a\n' });
    assert.equal(first.status, 201);

    const moved = `${storage}.moved`;
    await fs.rename(storage, moved);
    try {
      assert.equal((await fetch(url('/health'))).status, 503);
      const res = await put();
      const text = await res.text();
      assert.equal(res.status, 503, text);
      assert.match(text, /storage is unavailable \(ENOENT\)/);
    } finally {
      await fs.rm(storage, { recursive: true, force: true });
      await fs.rename(moved, storage);
    }

    assert.equal((await fetch(url('/health'))).status, 200);
    assert.equal((await put()).status, 201);
    assert.equal(await (await fetch(url('/raw/gone/small.txt'))).text(), 'small\n');
    assert.equal(await (await fetch(url('/raw/gone/first.txt'))).text(), 'a\n');
  });
});
