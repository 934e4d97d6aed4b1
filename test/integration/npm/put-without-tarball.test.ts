/**
 * A PUT of a packument without `_attachments` only changes a package that exists; for a new
 * name the 400 (a 404 until the eighth session's trial: the request is what is wrong) says what a
 * publish lacks instead of a bare "not found" (trial 2026-12-02: a
 * hand-made publish without its tarball got `package foo not found`, which reads as a routing
 * mistake).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

describe('npm: PUT without a tarball of a package that does not exist', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  test('400 saying a first publish must carry its tarball; nothing created', async () => {
    const res = await fetch(`${server.url}/npm/no-tarball-pkg`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'no-tarball-pkg',
        versions: { '1.0.0': { name: 'no-tarball-pkg', version: '1.0.0' } },
        'dist-tags': { latest: '1.0.0' },
      }),
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: string };
    assert.equal(
      body.error,
      'package no-tarball-pkg does not exist, and a first publish must carry its tarball in _attachments',
    );
    assert.equal((await fetch(`${server.url}/npm/no-tarball-pkg`)).status, 404);
  });
});
