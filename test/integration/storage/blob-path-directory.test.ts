/**
 * A directory made by hand where a blob's file belongs (local storage): reads answered 500
 * (EISDIR from the read) and an upload of the same bytes 500 (EISDIR from the rename). Now a read
 * is "missing from storage" (503, as HEAD and `nora gc` already said) and the upload 503 "storage
 * is unavailable (EISDIR)"; once the directory is gone, the same upload repairs the file.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';

describe('a directory at a blob path', () => {
  test('GET/HEAD 410 missing, same-bytes PUT 503 unavailable, repaired once removed', async () => {
    await using server = await startTestServer();
    const body = 'bytes under a directory\n';
    const hex = createHash('sha256').update(body).digest('hex');
    const url = `${server.url}/raw/dir/file.txt`;
    assert.equal((await fetch(url, { method: 'PUT', body })).status, 201);
    const blob = path.join(server.dataDir, 'storage', 'blobs', 'sha256', hex.slice(0, 2), hex);
    await fs.rm(blob);
    await fs.mkdir(path.join(blob, 'inside'), { recursive: true });

    const get = await fetch(url);
    assert.equal(get.status, 410);
    assert.match(await get.text(), /missing from storage/);
    assert.equal((await fetch(url, { method: 'HEAD' })).status, 410);

    const replace = () => fetch(url, { method: 'PUT', body, headers: { 'if-match': `"${hex}"` } });
    const refused = await replace();
    assert.equal(refused.status, 503);
    assert.match(await refused.text(), /storage is unavailable \(EISDIR\)/);

    await fs.rm(blob, { recursive: true });
    assert.equal((await replace()).status, 200);
    const again = await fetch(url);
    assert.equal(again.status, 200);
    assert.equal(await again.text(), body);
  });
});
