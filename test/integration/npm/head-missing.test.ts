/**
 * A hosted tarball whose stored bytes are gone (removed by the read check, docs/storage.md):
 * GET answers 410 "stored content is missing from storage…" (hosted: nothing refills it, so
 * no client retries; docs/storage.md), and HEAD must say the same. It
 * answered 200 from the metadata alone. Put back, both answer 200 again.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { publishBody, tarballOf } from './fixtures.ts';

describe('npm: HEAD of a tarball whose bytes are gone', () => {
  test('410 like GET, 200 once the bytes are back', async () => {
    await using server = await startTestServer({});
    const spec = { name: 'head-gone', version: '1.0.0' };
    const put = await fetch(`${server.url}/npm/head-gone`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(publishBody(spec)),
    });
    assert.equal(put.status, 201, await put.text());
    const tarball = tarballOf(spec);
    const hex = createHash('sha512').update(tarball).digest('hex');
    const file = path.join(server.dataDir, 'storage', 'blobs', 'sha512', hex.slice(0, 2), hex);
    const url = `${server.url}/npm/head-gone/-/head-gone-1.0.0.tgz`;
    const status = async (method: string) => {
      const res = await fetch(url, { method });
      await res.arrayBuffer();
      return res.status;
    };
    assert.deepEqual([await status('HEAD'), await status('GET')], [200, 200]);

    const bytes = await fs.readFile(file);
    await fs.rm(file);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // past the answer memo
    const logged: string[] = [];
    server.app.context.blobs.observeGone((digest) => logged.push(digest.hex));
    assert.deepEqual([await status('HEAD'), await status('GET')], [410, 410]);
    // The GET's 410 is reported (the app logs it at warn: no error handler logs a 4xx).
    assert.deepEqual(logged, [hex]);

    await fs.writeFile(file, bytes);
    assert.deepEqual([await status('HEAD'), await status('GET')], [200, 200]);
  });
});
