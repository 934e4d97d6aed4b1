/**
 * `nora gc --apply` on a disk that is full to the last byte (root only: a 2 MiB tmpfs holding
 * the storage and its database, as an operator's trial had it; skipped, saying so, when mounting
 * is not possible). gc used to copy each blob into a spool file on the same disk before removing
 * it, so it failed with a bare "ENOSPC … write" and freed nothing: it now moves the file aside
 * (a rename, no space) and removes it, and goes on when SQLite itself has no room to record the
 * removal. The fault-injected variant, which runs anywhere, is test/unit/gc/blob-collect.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Readable } from 'node:stream';
import { sql } from 'kysely';
import { SqlBlobIndex } from '../../../src/db/blob-index.ts';
import { FORMATS } from '../../../src/formats/index.ts';
import { collectGarbage, GcFailedError } from '../../../src/gc/collector.ts';
import { BlobStore } from '../../../src/storage/blob-store.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { nora } from '../../helpers/cli.ts';

let base = '';

/** Mounts a 2 MiB tmpfs at `base`; a reason to skip when that is not possible. */
function mountDisk(): string | false {
  if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs (run as root to cover it)';
  try {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'nora-gcfull-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', base], { stdio: 'pipe' });
  } catch (err) {
    if (base !== '') fs.rmSync(base, { recursive: true, force: true });
    base = '';
    return `mount is not available here: ${String(err).split('\n')[0]}`;
  }
  return false;
}

const skip = mountDisk();

/** Fills the disk to its last byte (dd stops with ENOSPC). */
function fill(file: string): void {
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=4k'], { stdio: 'pipe' });
  } catch {
    // ENOSPC: full, as wanted.
  }
}

const freeBytes = () => {
  const stats = fs.statfsSync(base);
  return stats.bavail * stats.bsize;
};

describe('nora gc on a full disk', { skip }, () => {
  let server: TestServer;
  const url = (p: string) => `${server.url}${p}`;
  const storage = () => path.join(base, 'storage');

  before(async () => {
    server = await startTestServer({ dataDir: base });
  });
  after(async () => {
    await server.close();
    if (skip === false) {
      execFileSync('umount', [base]);
      fs.rmSync(base, { recursive: true, force: true });
    }
  });

  test('--apply frees a deleted file on a disk with no byte left, database full too', async () => {
    const put = await fetch(url('/raw/full/b1'), {
      method: 'PUT',
      body: Buffer.alloc(600 * 1024, 1),
    });
    assert.equal(put.status, 201, await put.text());
    const deleted = await fetch(url('/raw/full/b1'), { method: 'DELETE' });
    assert.equal(deleted.status, 204, await deleted.text());
    const filler = path.join(base, 'filler');
    // Removed by the test, or by the unmount after a failure.
    fill(filler);
    assert.ok(freeBytes() < 64 * 1024, `disk full: ${freeBytes()} bytes free`);
    const gc = await nora(['gc', '--apply', '--grace', '0'], { NORA_STORAGE_PATH: storage() });
    assert.equal(gc.code, 0, gc.stdout + gc.stderr);
    assert.match(gc.stdout, /removed 1 unreferenced blobs, 614400 bytes/);
    assert.ok(freeBytes() >= 600 * 1024, `space freed: ${freeBytes()} bytes free`);
    const shard = path.join(storage(), 'blobs', 'sha256');
    const left = fs
      .readdirSync(shard, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile());
    assert.deepEqual(left, [], 'no blob file left');
    const spool = fs.readdirSync(path.join(storage(), '.tmp'), { recursive: true });
    assert.ok(
      !spool.some((name) => String(name).startsWith('gc')),
      `nothing held aside: ${spool.join(', ')}`,
    );
    // SQLite had no room to record the removal (its log could not grow), or had: either way
    // the file went, and a row it could not remove is said to be left.
    const rowLeft =
      /the database could not be written \(database or disk is full\): 1 removed blobs keep their index row/.test(
        gc.stdout,
      );
    fs.rmSync(filler);
    // With room again, a pass removes the row left (a row without a file: 0 bytes).
    const next = await nora(['gc', '--apply', '--grace', '0'], { NORA_STORAGE_PATH: storage() });
    assert.equal(next.code, 0, next.stdout + next.stderr);
    assert.match(
      next.stdout,
      rowLeft ? /removed 1 unreferenced blobs, 0 bytes/ : /removed 0 unreferenced blobs/,
    );
    assert.doesNotMatch(next.stdout, /could not be written/);
    const rows = await server.app.context.db.selectFrom('blobs').select('digest').execute();
    assert.deepEqual(rows, []);
    // The server goes on: the same bytes can be stored again.
    const again = await fetch(url('/raw/full/b2'), {
      method: 'PUT',
      body: Buffer.alloc(600 * 1024, 1),
    });
    assert.equal(again.status, 201, await again.text());
  });
});

describe('a removal gc cannot make', () => {
  test('says what it had removed, what failed and what to do (not a bare errno)', async () => {
    await using server = await startTestServer({});
    const { blobs, db } = server.app.context;
    const old = Date.now() - 30 * 86_400_000;
    for (const body of ['first orphan', 'second orphan']) {
      const stored = await blobs.ingest(Readable.from([Buffer.from(body)]));
      const name = `sha256:${stored.digest.hex}`;
      await sql`UPDATE blobs SET created_at = ${old} WHERE digest = ${name}`.execute(db);
      const file = path.join(
        server.config.storage.path,
        'blobs/sha256',
        stored.digest.hex.slice(0, 2),
        stored.digest.hex,
      );
      fs.utimesSync(file, old / 1000, old / 1000);
    }
    // The second removal is refused as an immutable file is (chattr +i): EPERM.
    const driver = blobs.driver as unknown as Record<string, unknown>;
    const setAside = blobs.driver.setAside.bind(blobs.driver);
    let calls = 0;
    driver['setAside'] = (key: never) =>
      ++calls === 2
        ? Promise.reject(
            Object.assign(new Error(`EPERM: operation not permitted, rename '${String(key)}'`), {
              code: 'EPERM',
            }),
          )
        : setAside(key);
    try {
      const pass = collectGarbage({
        db,
        blobs: new BlobStore(blobs.driver, new SqlBlobIndex(db)),
        formats: FORMATS,
        graceSeconds: 0,
        apply: true,
      });
      await assert.rejects(pass, (err: Error) => {
        assert.ok(err instanceof GcFailedError, String(err));
        assert.match(
          err.message,
          /^removed 1 unreferenced blobs \(\d+ bytes\), then could not remove sha256:[0-9a-f]{64}: EPERM: operation not permitted, rename .*; this user may not change the storage \(ownership, mode, or an immutable file: lsattr\): run it as the user the server runs as$/,
        );
        return true;
      });
    } finally {
      Reflect.deleteProperty(driver, 'setAside');
    }
  });
});
