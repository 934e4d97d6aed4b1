/**
 * `nora serve` refuses a `[database] path` that a running NORA server uses with another storage
 * (trial 25 ops F5): it started silently, both servers then recorded blobs the other's storage
 * does not hold, and every hosted read of either answered 410 "missing from storage". A process
 * that holds the database without being such a server (`nora gc`, here a plain connection) does
 * not stop a start. Real processes, as an operator runs them.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { nora } from '../../helpers/cli.ts';
import { freePort, startNoraProcess } from '../../helpers/process.ts';
import { tempDir } from '../../helpers/tmp.ts';

const BASE = { NORA_RATE_LIMIT_ENABLED: 'false', NORA_AUTH_ENABLED: 'false' };

/** `nora serve` expected to refuse: its exit code and stderr, and what it left in `storage`. */
async function refusedServe(storage: string, database: string) {
  // An existing directory, as an operator makes one (refuseMissingStorage).
  await fs.mkdir(storage, { recursive: true });
  const result = await nora(
    ['serve'],
    {
      ...BASE,
      NORA_HOST: '127.0.0.1',
      NORA_PORT: String(await freePort()),
      NORA_STORAGE_PATH: storage,
      NORA_DATABASE_PATH: database,
    },
    undefined,
    60_000,
  );
  return result;
}

test('a serve on the database of a running server with another storage is refused in one line', async () => {
  await using dir = await tempDir('nora-shared-db-');
  const first = path.join(dir.path, 'd1');
  const second = path.join(dir.path, 'd9');
  const database = path.join(first, 'nora.db');
  await using server = await startNoraProcess({
    env: { ...BASE, NORA_STORAGE_PATH: first },
    port: await freePort(),
  });
  assert.equal(
    (await fetch(`${server.url}/raw/a/x.txt`, { method: 'PUT', body: 'one' })).status,
    201,
  );

  const result = await refusedServe(second, database);
  assert.equal(result.code, 1, result.stderr);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, result.stderr);
  assert.equal(
    lines[0],
    `nora: the database ${database} is in use by the NORA server (pid ${String(server.child.pid)}) of another storage: two servers sharing a database but not a storage answer 410 for each other's files; give this one its own [database] path (NORA_DATABASE_PATH), or stop pid ${String(server.child.pid)} first`,
  );
  // The same database reached through a symbolic link is the same database.
  const link = path.join(dir.path, 'd1link');
  await fs.symlink(first, link);
  const linked = await refusedServe(path.join(dir.path, 'd8'), path.join(link, 'nora.db'));
  assert.equal(linked.code, 1, linked.stderr);
  assert.match(linked.stderr, /is in use by the NORA server \(pid \d+\) of another storage/);
  // Nothing of the refused server is left to name it.
  assert.deepEqual(await fs.readdir(path.join(second, '.nora-serve')).catch(() => []), []);
  // The running server is untouched.
  assert.equal(await (await fetch(`${server.url}/raw/a/x.txt`)).text(), 'one');
});

test('a database kept apart from both storages: a second server with another storage is refused too', async () => {
  await using dir = await tempDir('nora-shared-db-apart-');
  const database = path.join(dir.path, 'db', 'nora.db');
  await using server = await startNoraProcess({
    env: { ...BASE, NORA_STORAGE_PATH: path.join(dir.path, 's1'), NORA_DATABASE_PATH: database },
    port: await freePort(),
  });
  // Its marker beside the database says which storage and database it serves.
  const marker = JSON.parse(
    await fs.readFile(path.join(dir.path, 'db', '.nora-serve', String(server.child.pid)), 'utf8'),
  ) as unknown;
  assert.deepEqual(marker, { storage: path.join(dir.path, 's1'), database });

  const result = await refusedServe(path.join(dir.path, 's2'), database);
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /is in use by the NORA server \(pid \d+\) of another storage/);
  await server[Symbol.asyncDispose]();
  // Both markers removed at its shutdown.
  assert.deepEqual(await fs.readdir(path.join(dir.path, 'db', '.nora-serve')), []);
  assert.deepEqual(await fs.readdir(path.join(dir.path, 's1', '.nora-serve')), []);
});

test('a database held open by a process that is no server (nora gc, a sqlite3 shell) does not stop a start', async () => {
  await using dir = await tempDir('nora-shared-db-held-');
  const storage = path.join(dir.path, 'd1');
  const database = path.join(storage, 'nora.db');
  {
    await using server = await startNoraProcess({
      env: { ...BASE, NORA_STORAGE_PATH: storage },
      port: await freePort(),
    });
    assert.equal((await fetch(`${server.url}/health`)).status, 200);
  }
  const held = new DatabaseSync(database);
  try {
    held.prepare('SELECT count(*) FROM blobs').get();
    await fs.mkdir(path.join(dir.path, 'd9'));
    await using server = await startNoraProcess({
      env: { ...BASE, NORA_STORAGE_PATH: path.join(dir.path, 'd9'), NORA_DATABASE_PATH: database },
      port: await freePort(),
    });
    assert.equal((await fetch(`${server.url}/health`)).status, 200);
  } finally {
    held.close();
  }
});
