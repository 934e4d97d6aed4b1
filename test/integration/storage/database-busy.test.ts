/**
 * Another process holding the metadata database's write lock past the busy timeout (5 s: a long
 * `nora gc`, a second NORA on the same data directory, an operator's sqlite3 shell) answers a
 * write with 503 and Retry-After in the protocol's own shape, never a 500 (trial 15 godel F9: an
 * admin's Go delete met a 500). Reads keep working meanwhile (WAL), and the same write succeeds
 * once the lock is released.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

test('a write while another process holds the write lock: 503 + Retry-After, then it succeeds', async () => {
  const put = await fetch(`${server.url}/raw/busy/a.txt`, { method: 'PUT', body: 'one' });
  assert.equal(put.status, 201);

  // Another connection (as another process would) takes the write lock and keeps it.
  const other = new DatabaseSync(path.join(server.dataDir, 'storage', 'nora.db'));
  other.exec('PRAGMA busy_timeout = 0');
  other.exec('BEGIN IMMEDIATE');
  try {
    const del = await fetch(`${server.url}/raw/busy/a.txt`, { method: 'DELETE' });
    const body = await del.text();
    assert.equal(del.status, 503, body);
    assert.equal(del.headers.get('retry-after'), '5');
    assert.match(body, /database is busy/);
    // A read needs no write lock.
    const get = await fetch(`${server.url}/raw/busy/a.txt`);
    assert.equal(get.status, 200);
    assert.equal(await get.text(), 'one');
  } finally {
    other.exec('ROLLBACK');
    other.close();
  }
  const del = await fetch(`${server.url}/raw/busy/a.txt`, { method: 'DELETE' });
  assert.ok(del.status === 204 || del.status === 200, String(del.status));
  assert.equal((await fetch(`${server.url}/raw/busy/a.txt`)).status, 404);
});
