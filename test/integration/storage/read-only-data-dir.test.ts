/**
 * Trial 25 devA F2: a data directory made read-only after a clean stop (the directory that holds
 * `nora.db`: a volume mounted read-only, `chmod a-w`) stopped `nora serve` with a bare "unable to
 * open database file": SQLite could make no `-wal` / `-shm` beside the database. Now the database
 * opens read-only and the server starts degraded (/health names why), serving reads; uploads
 * answer 503. `/v2/token` signs with the key stored before; with none stored yet its 503 says the
 * data directory is read-only. When a read-only open is not safe (a `-wal` holding commits the
 * database lacks: the last stop was not clean), the start fails with one line naming the
 * directory and what to do. Files are made unwritable with `chattr +i` as root (the mode does not
 * stop root), by their mode otherwise; skipped, saying so, when neither can be done.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { nora } from '../../helpers/cli.ts';
import { freePort, serveNora } from '../../helpers/process.ts';
import { startTestServer } from '../../helpers/server.ts';
import { unwritableMethod } from '../../helpers/storage.ts';
import { tempDir } from '../../helpers/tmp.ts';

const how = unwritableMethod();
const skip = how === 'chattr' || how === 'chmod' ? false : how;

function lock(dir: string, on: boolean): void {
  if (how === 'chattr') execFileSync('chattr', [on ? '+i' : '-i', dir]);
  else fs.chmodSync(dir, on ? 0o555 : 0o755);
}

/** Runs `work` with `dir` unwritable, writable again after it (also when it throws). */
async function whileLocked<T>(dir: string, work: () => Promise<T>): Promise<T> {
  lock(dir, true);
  try {
    return await work();
  } finally {
    lock(dir, false);
  }
}

/** The `kid` of a JWT's header: which signing key signed it. */
function kidOf(jwt: string): string {
  const header = JSON.parse(Buffer.from(jwt.split('.')[0] ?? '', 'base64url').toString()) as {
    kid: string;
  };
  return header.kid;
}

interface Health {
  status: string;
  database: { writable: boolean; write_error?: string };
}

describe('nora serve on a data directory that cannot be written', { skip }, () => {
  test('starts degraded on a read-only database: reads, the stored token key, uploads 503', async () => {
    await using dir = await tempDir('nora-ro-dir-');
    let key: string;
    {
      await using server = await startTestServer({ dataDir: dir.path });
      const put = await fetch(`${server.url}/raw/docs/kept.txt`, {
        method: 'PUT',
        body: 'kept bytes',
      });
      assert.equal(put.status, 201);
      // The signing key is made (and stored) at the first token.
      const token = await fetch(`${server.url}/v2/token?service=nora`);
      assert.equal(token.status, 200);
      key = kidOf(((await token.json()) as { token: string }).token);
    }
    const storage = path.join(dir.path, 'storage');
    assert.ok(!fs.existsSync(path.join(storage, 'nora.db-wal')), 'a clean stop leaves no -wal');

    await whileLocked(storage, async () => {
      await using server = await startTestServer({ dataDir: dir.path });
      const health = await fetch(`${server.url}/health`);
      assert.equal(health.status, 200);
      const body = (await health.json()) as Health;
      assert.equal(body.status, 'degraded', JSON.stringify(body));
      assert.equal(body.database.writable, false);
      assert.match(
        body.database.write_error ?? '',
        /^SQLITE_READONLY: its directory is not writable \((EPERM|EACCES)\); opened read-only at start-up: restart NORA once it is writable$/,
      );
      assert.equal((await fetch(`${server.url}/ready`)).status, 200);

      const read = await fetch(`${server.url}/raw/docs/kept.txt`);
      assert.equal(read.status, 200);
      assert.equal(await read.text(), 'kept bytes');
      const refused = await fetch(`${server.url}/raw/docs/new.txt`, { method: 'PUT', body: 'new' });
      assert.equal(refused.status, 503, await refused.text());

      // The key stored before signs; its token is accepted back.
      const token = await fetch(`${server.url}/v2/token?service=nora`);
      assert.equal(token.status, 200, await token.clone().text());
      const jwt = ((await token.json()) as { token: string }).token;
      assert.equal(kidOf(jwt), key);
      const v2 = await fetch(`${server.url}/v2/`, { headers: { authorization: `Bearer ${jwt}` } });
      assert.equal(v2.status, 200);
    });
    // Writable again: a restart takes uploads.
    await using again = await startTestServer({ dataDir: dir.path });
    const put = await fetch(`${again.url}/raw/docs/new.txt`, { method: 'PUT', body: 'new' });
    assert.equal(put.status, 201);
    const health = (await (await fetch(`${again.url}/health`)).json()) as Health;
    assert.equal(health.database.writable, true, JSON.stringify(health));
  });

  test('no signing key stored yet: /v2/token 503 says the data directory is read-only', async () => {
    await using dir = await tempDir('nora-ro-nokey-');
    {
      await using server = await startTestServer({ dataDir: dir.path });
      assert.equal((await fetch(`${server.url}/health`)).status, 200);
    }
    await whileLocked(path.join(dir.path, 'storage'), async () => {
      await using server = await startTestServer({ dataDir: dir.path });
      const token = await fetch(`${server.url}/v2/token?service=nora`);
      assert.equal(token.status, 503);
      assert.match(
        await token.text(),
        /no registry-token signing key exists yet, and none can be stored: the metadata database is read-only \(its data directory cannot be written\); make the data directory writable and restart NORA/,
      );
    });
  });

  test('a -wal holding commits (an unclean stop) and no -shm: one line naming the directory, exit 1', async () => {
    await using dir = await tempDir('nora-ro-wal-');
    const storage = path.join(dir.path, 'storage');
    {
      const server = await serveNora({ dir: dir.path });
      const put = await fetch(`${server.url}/raw/docs/last.txt`, { method: 'PUT', body: 'last' });
      assert.equal(put.status, 201);
      server.child.kill('SIGKILL');
      await server.exited;
    }
    assert.ok(fs.statSync(path.join(storage, 'nora.db-wal')).size > 0);
    fs.rmSync(path.join(storage, 'nora.db-shm'), { force: true });
    const port = await freePort();
    const result = await whileLocked(storage, () =>
      nora(
        ['serve'],
        { NORA_STORAGE_PATH: storage, NORA_HOST: '127.0.0.1', NORA_PORT: String(port) },
        dir.path,
        60_000,
      ),
    );
    assert.equal(result.code, 1, result.stdout + result.stderr);
    const database = path.join(storage, 'nora.db');
    assert.equal(
      result.stderr,
      `nora: the metadata database ${database} cannot be opened: its directory ${storage} is not writable (${how === 'chattr' ? 'EPERM' : 'EACCES'}), and its nora.db-wal holds ${fs.statSync(`${database}-wal`).size} bytes of commits not yet in the database (the last stop was not clean), which SQLite can only apply in a writable directory; make ${storage} writable for this user (chmod u+w, chown, chattr -i, or mount it read-write) and start NORA again\n`,
    );
    // Writable again: the commit made before the kill is served.
    await using server = await serveNora({ dir: dir.path });
    assert.equal(await (await fetch(`${server.url}/raw/docs/last.txt`)).text(), 'last');
  });
});
