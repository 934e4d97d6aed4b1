/**
 * `/health` on a storage that can be read but not written: it said 200 "healthy" while every
 * upload answered 503 "storage is unavailable (EPERM)" (an operator's `chattr -R +i` of the blob
 * directory). A write probe (cached WRITE_PROBE_TTL_MS) now makes it 200 "degraded" with
 * `storage.writable: false` and the reason; `/ready` stays 200 (reads go on), and both recover
 * when the storage is writable again. The blob directory is made immutable (`chattr +i`, root)
 * or read-only by its mode (not root, where the mode does not stop writes); skipped, saying
 * so, when neither can be done.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WRITE_PROBE_TTL_MS } from '../../../src/http/system-routes.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { unwritableMethod } from '../../helpers/storage.ts';

const how = unwritableMethod();
const skip = how === 'chattr' || how === 'chmod' ? false : how;

interface Health {
  status: string;
  storage: { reachable: boolean; writable: boolean; write_error?: string };
}

describe('/health on a storage that cannot be written', { skip }, () => {
  let server: TestServer;
  const url = (p: string) => `${server.url}${p}`;
  const blobsDir = () => path.join(server.config.storage.path, 'blobs');
  /**
   * Locks the blob directory, or with `whole` every directory of the storage (`.tmp/` too) and
   * the storage directory itself, though not the files in it: the metadata database beside
   * them (here under the storage, its default place) is open and mapped, and an immutable
   * mapped file kills the process (SIGBUS) — a read-only mount would stop its writes instead.
   */
  const lock = (on: boolean, whole = false) => {
    const root = server.config.storage.path;
    const trees = whole
      ? fs
          .readdirSync(root, { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => path.join(root, entry.name))
      : [blobsDir()];
    const flag = on ? '+i' : '-i';
    for (const dir of trees) {
      if (how === 'chattr') execFileSync('chattr', ['-R', flag, dir]);
      else fs.chmodSync(dir, on ? 0o555 : 0o755);
    }
    if (!whole) return;
    if (how === 'chattr') execFileSync('chattr', [flag, root]);
    else fs.chmodSync(root, on ? 0o555 : 0o755);
  };
  /** /health, polled until `until` holds (the probe's answer is kept WRITE_PROBE_TTL_MS). */
  const healthUntil = async (until: (h: Health) => boolean) => {
    const deadline = Date.now() + WRITE_PROBE_TTL_MS + 5_000;
    for (;;) {
      const res = await fetch(url('/health'));
      const body = (await res.json()) as Health;
      if (until(body) || Date.now() > deadline) return { status: res.status, body };
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };

  before(async () => {
    server = await startTestServer({});
    const put = await fetch(url('/raw/probe/kept.txt'), { method: 'PUT', body: 'kept bytes' });
    assert.equal(put.status, 201);
  });
  after(async () => {
    try {
      lock(false, true);
    } finally {
      await server.close();
    }
  });

  test('200 "degraded", writable false with the reason; /ready 200; healthy again after', async () => {
    const healthy = await healthUntil(() => true);
    assert.equal(healthy.status, 200);
    assert.equal(healthy.body.status, 'healthy');
    assert.equal(healthy.body.storage.writable, true);

    lock(true);
    try {
      const put = await fetch(url('/raw/probe/new.txt'), { method: 'PUT', body: 'new bytes' });
      assert.equal(put.status, 503, await put.text());
      const degraded = await healthUntil((h) => h.status !== 'healthy');
      assert.equal(degraded.status, 200);
      assert.deepEqual(
        [degraded.body.status, degraded.body.storage.reachable, degraded.body.storage.writable],
        ['degraded', true, false],
        JSON.stringify(degraded.body),
      );
      assert.equal(degraded.body.storage.write_error, how === 'chattr' ? 'EPERM' : 'EACCES');
      const ready = await fetch(url('/ready'));
      assert.equal(ready.status, 200, await ready.text());
      const read = await fetch(url('/raw/probe/kept.txt'));
      assert.equal(await read.text(), 'kept bytes');
    } finally {
      lock(false);
    }
    const again = await healthUntil((h) => h.status === 'healthy');
    assert.equal(again.status, 200);
    assert.equal(again.body.storage.writable, true, JSON.stringify(again.body));
    assert.equal(again.body.storage.write_error, undefined);
    const put = await fetch(url('/raw/probe/new.txt'), { method: 'PUT', body: 'new bytes' });
    assert.equal(put.status, 201);
    const left = fs.readdirSync(blobsDir()).filter((name) => name.startsWith('.probe'));
    assert.deepEqual(left, [], 'no probe file left');
  });

  test('a whole storage read-only (its .tmp/ too, as `chmod -R a-w` or a read-only mount): still "degraded", /ready 200', async () => {
    lock(true, true);
    try {
      const degraded = await healthUntil((h) => h.status !== 'healthy');
      assert.equal(degraded.status, 200, JSON.stringify(degraded.body));
      assert.deepEqual(
        [degraded.body.status, degraded.body.storage.reachable, degraded.body.storage.writable],
        ['degraded', true, false],
        JSON.stringify(degraded.body),
      );
      assert.ok(degraded.body.storage.write_error !== undefined, JSON.stringify(degraded.body));
      const ready = await fetch(url('/ready'));
      assert.equal(ready.status, 200, await ready.text());
      const read = await fetch(url('/raw/probe/kept.txt'));
      assert.equal(await read.text(), 'kept bytes');
    } finally {
      lock(false, true);
    }
    const again = await healthUntil((h) => h.status === 'healthy');
    assert.equal(again.body.status, 'healthy', JSON.stringify(again.body));
  });
});
