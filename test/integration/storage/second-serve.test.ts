/**
 * Trial ops F6: a second `nora serve` started by mistake on the storage of a running one wiped
 * the running server's request spools (`.tmp/ingest`) at start, then failed on the port; the
 * running server never made the folder again, so every upload answered 503 "storage is
 * unavailable (ENOENT)" until its restart, while /health said healthy. Now the serving process
 * is named in `<storage>/.nora-serve.pid` and a second one leaves the spools alone (warning),
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
    const pidFile = path.join(storage, '.nora-serve.pid');
    assert.equal((await fs.readFile(pidFile, 'utf8')).trim(), String(first.child.pid));
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
    assert.equal((await fs.readFile(pidFile, 'utf8')).trim(), String(first.child.pid));

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
  assert.equal(existsSync(path.join(storage, '.nora-serve.pid')), false, 'removed at shutdown');
});
