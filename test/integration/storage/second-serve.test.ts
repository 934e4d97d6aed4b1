/**
 * Trial ops F6: a second `nora serve` started by mistake on the storage of a running one wiped
 * the running server's request spools (`.tmp/ingest`) at start, then failed on the port; the
 * running server never made the folder again, so every upload answered 503 "storage is
 * unavailable (ENOENT)" until its restart, while /health said healthy. Now the serving process
 * is named in `<storage>/.nora-serve/` and a second one leaves the spools alone (warning),
 * and a spool folder removed under a live server (`rm -rf .tmp/*`) is made again on the next
 * upload. Real processes, as an operator runs them.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { nora } from '../../helpers/cli.ts';
import { freePort, startNoraProcess } from '../../helpers/process.ts';
import { tempDir } from '../../helpers/tmp.ts';

test('a second serve on the same storage leaves the running server uploading; a removed spool folder is made again', async () => {
  await using dir = await tempDir('nora-second-serve-');
  const storage = path.join(dir.path, 'data');
  const port = await freePort();
  const env = { NORA_STORAGE_PATH: storage, NORA_RATE_LIMIT_ENABLED: 'false' };
  const first = await startNoraProcess({ env, port });
  try {
    // Past the in-memory ingest (SMALL_INGEST_BYTES): spooled under .tmp/ingest.
    const body = (name: string) => `bytes of ${name}\n`.padEnd(4 * 1024 * 1024, '.');
    const put = (name: string) =>
      fetch(`${first.url}/raw/ops/${name}`, { method: 'PUT', body: body(name) });
    assert.equal((await put('one.txt')).status, 201);
    const serving = () => fs.readdir(path.join(storage, '.nora-serve'));
    assert.deepEqual(await serving(), [String(first.child.pid)]);
    assert.ok(existsSync(path.join(storage, '.tmp', 'ingest')));

    // The same command again: the port is taken, so it exits; the spools are left alone.
    const second = await nora(['serve'], {
      ...env,
      NORA_HOST: '127.0.0.1',
      NORA_PORT: String(port),
    });
    assert.notEqual(second.code, 0, second.stderr);
    assert.match(
      second.stdout + second.stderr,
      /another NORA process \(pid \d+\) uses this storage/,
    );
    assert.ok(
      existsSync(path.join(storage, '.tmp', 'ingest')),
      'the running server keeps its spool',
    );
    assert.equal((await put('two.txt')).status, 201);
    assert.deepEqual(await serving(), [String(first.child.pid)], 'the failed one is not named');

    // An operator clearing the spools by hand on a live server: the next upload still works.
    for (const name of await fs.readdir(path.join(storage, '.tmp'))) {
      await fs.rm(path.join(storage, '.tmp', name), { recursive: true, force: true });
    }
    const three = await put('three.txt');
    assert.equal(three.status, 201, await three.text());
    const got = await (await fetch(`${first.url}/raw/ops/three.txt`)).text();
    assert.ok(got === body('three.txt'), `${got.length} bytes: ${got.slice(0, 40)}`);
  } finally {
    first.child.kill('SIGTERM');
    await first.exited;
  }
  assert.deepEqual(await fs.readdir(path.join(storage, '.nora-serve')), [], 'removed at shutdown');
});

test('a rolling restart on one host (a new server beside the old, then the old stopped): a third start still leaves the new one alone', async () => {
  // Smoke trial F4: only the first server was named, so once it stopped, the mistake above
  // wiped the spool of the server still running.
  await using dir = await tempDir('nora-rolling-serve-');
  const storage = path.join(dir.path, 'data');
  const env = { NORA_STORAGE_PATH: storage, NORA_RATE_LIMIT_ENABLED: 'false' };
  const old = await startNoraProcess({ env, port: await freePort() });
  const port = await freePort();
  let fresh: Awaited<ReturnType<typeof startNoraProcess>> | undefined;
  try {
    fresh = await startNoraProcess({ env, port });
    assert.match(fresh.output(), /another NORA process \(pid \d+\) uses this storage/);
    old.child.kill('SIGTERM');
    await old.exited;
    const big = `rolling\n`.padEnd(4 * 1024 * 1024, '.');
    assert.equal(
      (await fetch(`${fresh.url}/raw/ops/a.bin`, { method: 'PUT', body: big })).status,
      201,
    );
    assert.ok(existsSync(path.join(storage, '.tmp', 'ingest')));
    const third = await nora(['serve'], {
      ...env,
      NORA_HOST: '127.0.0.1',
      NORA_PORT: String(port),
    });
    assert.notEqual(third.code, 0, third.stderr);
    assert.match(third.stdout + third.stderr, /another NORA process \(pid \d+\) uses this storage/);
    assert.ok(
      existsSync(path.join(storage, '.tmp', 'ingest')),
      'the running server keeps its spool',
    );
  } finally {
    if (old.child.exitCode === null) old.child.kill('SIGTERM');
    await old.exited;
    if (fresh !== undefined) {
      fresh.child.kill('SIGTERM');
      await fresh.exited;
    }
  }
});
