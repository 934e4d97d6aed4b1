/**
 * Trial ops F3: `/health` said 200 "healthy", `writable: true`, while every upload answered 503
 * "the metadata database is not writable": a `nora.db` of mode 444 at start, or a read-only
 * `nora.db-shm` SQLite left beside it, opened without a word in the log and nothing named the
 * file; and blob shard directories (`blobs/sha256/xx`) made read-only (a restore as another user)
 * were not probed (the probe wrote into `blobs/` only). Now /health's write probe covers the
 * database too (`database.writable: false`, `write_error` naming the file → "degraded", still
 * 200), start-up logs an error naming the file, and the storage probe goes on into one shard
 * directory. Files are made unwritable with `chattr +i` as root (the mode does not stop root),
 * by their mode otherwise; skipped, saying so, when neither can be done.
 *
 * Twelfth session: a `nora.db-wal` made immutable while the server runs failed every upload's
 * COMMIT (SQLITE_IOERR, 503) while /health said "healthy": the probe rolled back, and SQLite
 * writes the `-wal` only at COMMIT. The probe now commits (a no-op `user_version` write).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { WRITE_PROBE_TTL_MS } from '../../../src/http/system-routes.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { unwritableMethod } from '../../helpers/storage.ts';
import { tempDir } from '../../helpers/tmp.ts';

const how = unwritableMethod();
const skip = how === 'chattr' || how === 'chmod' ? false : how;
const expectedErrno = how === 'chattr' ? 'EPERM' : 'EACCES';

function lock(file: string, on: boolean): void {
  if (how === 'chattr') execFileSync('chattr', [on ? '+i' : '-i', file]);
  else fs.chmodSync(file, on ? (fs.statSync(file).isDirectory() ? 0o555 : 0o444) : 0o755);
}

interface Health {
  status: string;
  storage: { reachable: boolean; writable: boolean; write_error?: string };
  database: { writable: boolean; write_error?: string };
}

async function healthUntil(server: TestServer, until: (h: Health) => boolean) {
  const deadline = Date.now() + WRITE_PROBE_TTL_MS + 5_000;
  for (;;) {
    const res = await fetch(`${server.url}/health`);
    const body = (await res.json()) as Health;
    if (until(body) || Date.now() > deadline) return { status: res.status, body };
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** A server on `dataDir` whose log lines are kept. */
async function serve(dataDir: string) {
  const lines: string[] = [];
  const server = await startTestServer({
    dataDir,
    logLevel: 'info',
    logStream: { write: (line) => lines.push(line) },
  });
  return { server, lines };
}

describe('/health and start-up on a metadata database that cannot be written', { skip }, () => {
  for (const which of ['nora.db', 'nora.db-shm']) {
    test(`${which} unwritable at start: an error naming it, /health "degraded" with database.write_error, uploads 503, reads 200`, async () => {
      await using dir = await tempDir('nora-health-db-');
      const first = await serve(dir.path);
      const dbFile = path.join(first.server.config.storage.path, 'nora.db');
      try {
        const put = await fetch(`${first.server.url}/raw/db/kept.txt`, {
          method: 'PUT',
          body: 'kept bytes',
        });
        assert.equal(put.status, 201);
        const healthy = await healthUntil(first.server, () => true);
        assert.equal(healthy.body.status, 'healthy', JSON.stringify(healthy.body));
        assert.deepEqual(healthy.body.database, {
          writable: true,
          full: false,
          space_reserve: 'held',
        });
      } finally {
        await first.server.close();
      }
      const target = path.join(path.dirname(dbFile), which);
      // The `-shm` a read-only database left behind (SQLite removes its own at a clean close).
      if (!fs.existsSync(target)) fs.writeFileSync(target, '');
      lock(target, true);
      try {
        const { server, lines } = await serve(dir.path);
        try {
          const logged = lines.find((line) => line.includes('cannot be written'));
          assert.ok(logged !== undefined, lines.join(''));
          assert.equal((JSON.parse(logged) as { level: number }).level, 50);
          assert.ok(
            logged.includes(`${target} is not writable (${expectedErrno})`),
            `names the file: ${logged}`,
          );
          const degraded = await healthUntil(server, (h) => h.status !== 'healthy');
          assert.equal(degraded.status, 200, JSON.stringify(degraded.body));
          assert.equal(degraded.body.status, 'degraded');
          assert.equal(degraded.body.storage.writable, true);
          assert.equal(degraded.body.database.writable, false);
          assert.equal(
            degraded.body.database.write_error,
            `SQLITE_READONLY: ${which} is not writable (${expectedErrno})`,
          );
          assert.equal((await fetch(`${server.url}/ready`)).status, 200);
          const refused = await fetch(`${server.url}/raw/db/new.txt`, {
            method: 'PUT',
            body: 'new bytes',
          });
          assert.equal(refused.status, 503, await refused.text());
          const read = await fetch(`${server.url}/raw/db/kept.txt`);
          assert.equal(await read.text(), 'kept bytes');
        } finally {
          await server.close();
        }
      } finally {
        lock(target, false);
      }
      // Writable again: a restart is healthy and takes uploads.
      const again = await serve(dir.path);
      try {
        const healthy = await healthUntil(again.server, (h) => h.status === 'healthy');
        assert.equal(healthy.body.status, 'healthy', JSON.stringify(healthy.body));
        const put = await fetch(`${again.server.url}/raw/db/new.txt`, {
          method: 'PUT',
          body: 'new bytes',
        });
        assert.equal(put.status, 201);
        assert.ok(!again.lines.some((line) => line.includes('cannot be written')));
      } finally {
        await again.server.close();
      }
    });
  }

  test(
    'nora.db-wal made immutable while serving: /health "degraded" naming it, uploads 503; writable again: healthy, uploads 201',
    {
      // SQLite holds the -wal open: a mode change stops none of its writes, an immutable flag does.
      skip:
        how === 'chattr'
          ? false
          : 'needs chattr +i as root (a mode change does not stop an open -wal)',
    },
    async () => {
      await using dir = await tempDir('nora-health-wal-');
      const { server, lines } = await serve(dir.path);
      const wal = path.join(server.config.storage.path, 'nora.db-wal');
      try {
        const put = await fetch(`${server.url}/raw/wal/kept.txt`, {
          method: 'PUT',
          body: 'kept bytes',
        });
        assert.equal(put.status, 201);
        assert.equal((await healthUntil(server, () => true)).body.status, 'healthy');
        assert.ok(fs.existsSync(wal), 'the -wal is there');
        lock(wal, true);
        try {
          const degraded = await healthUntil(server, (h) => h.status !== 'healthy');
          assert.equal(degraded.status, 200, JSON.stringify(degraded.body));
          assert.equal(degraded.body.status, 'degraded', JSON.stringify(degraded.body));
          assert.deepEqual(degraded.body.database, {
            writable: false,
            write_error: `SQLITE_IOERR: nora.db-wal is not writable (${expectedErrno})`,
            full: false,
            space_reserve: 'held',
          });
          const logged = lines.find((line) => line.includes('cannot be written'));
          assert.ok(logged !== undefined, lines.join(''));
          assert.ok(logged.includes(`${wal} is not writable (${expectedErrno})`), logged);
          const refused = await fetch(`${server.url}/raw/wal/new.txt`, {
            method: 'PUT',
            body: 'new bytes',
          });
          assert.equal(refused.status, 503, await refused.text());
          assert.equal(await (await fetch(`${server.url}/raw/wal/kept.txt`)).text(), 'kept bytes');
        } finally {
          lock(wal, false);
        }
        // No restart needed: the next probe commits, and so do uploads.
        const healthy = await healthUntil(server, (h) => h.status === 'healthy');
        assert.equal(healthy.body.status, 'healthy', JSON.stringify(healthy.body));
        const again = await fetch(`${server.url}/raw/wal/new.txt`, {
          method: 'PUT',
          body: 'new bytes',
        });
        assert.equal(again.status, 201);
      } finally {
        await server.close();
      }
    },
  );

  test('blob shard directories read-only (blobs/sha256/xx): /health "degraded", storage.write_error', async () => {
    await using dir = await tempDir('nora-health-shard-');
    const { server } = await serve(dir.path);
    const shardsRoot = path.join(server.config.storage.path, 'blobs', 'sha256');
    const shards: string[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const put = await fetch(`${server.url}/raw/shard/${i}.txt`, {
          method: 'PUT',
          body: `bytes ${i}`,
        });
        assert.equal(put.status, 201);
      }
      assert.equal((await healthUntil(server, () => true)).body.status, 'healthy');
      for (const name of fs.readdirSync(shardsRoot)) {
        const shard = path.join(shardsRoot, name);
        lock(shard, true);
        shards.push(shard);
      }
      const degraded = await healthUntil(server, (h) => h.status !== 'healthy');
      assert.equal(degraded.status, 200);
      assert.deepEqual(
        [degraded.body.status, degraded.body.storage.writable, degraded.body.storage.write_error],
        ['degraded', false, expectedErrno],
        JSON.stringify(degraded.body),
      );
      assert.equal(degraded.body.database.writable, true);
    } finally {
      for (const shard of shards) lock(shard, false);
    }
    try {
      const again = await healthUntil(server, (h) => h.status === 'healthy');
      assert.equal(again.body.status, 'healthy', JSON.stringify(again.body));
      const left = fs
        .readdirSync(shardsRoot, { recursive: true })
        .map(String)
        .filter((name) => path.basename(name).startsWith('.probe'));
      assert.deepEqual(left, [], 'no probe file left');
    } finally {
      await server.close();
    }
  });
});
