/**
 * A disk filled to its last byte by uploads (root only: a 3 MiB tmpfs holding the storage and
 * its database; skipped, saying why, when mounting is not possible). The DELETE that would free
 * space used to be refused 507 (SQLite had no room for its log), so an operator could not free
 * space through NORA at all: NORA now keeps a reserve file next to the database
 * (`nora.db-reserve`, db/reserve.ts), releases it when a write meets SQLITE_FULL and tries that
 * write once more, so the DELETE commits; /health says the database was full; after gc frees
 * space the reserve is made again.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { nora } from '../../helpers/cli.ts';

let base = '';

/** Mounts a 3 MiB tmpfs at `base`; a reason to skip when that is not possible. */
function mountDisk(): string | false {
  if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs (run as root to cover it)';
  try {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'nora-fulldel-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', base], { stdio: 'pipe' });
  } catch (err) {
    if (base !== '') fs.rmSync(base, { recursive: true, force: true });
    base = '';
    return `mount is not available here: ${String(err).split('\n')[0]}`;
  }
  return false;
}

const skip = mountDisk();

const freeBytes = () => {
  const stats = fs.statfsSync(base);
  return stats.bavail * stats.bsize;
};

interface Health {
  status: string;
  database: { writable: boolean; full?: boolean; space_reserve?: string };
}

describe('DELETE on a disk uploads filled to its last byte', { skip }, () => {
  let server: TestServer;
  const url = (p: string) => `${server.url}${p}`;
  const storage = () => path.join(base, 'storage');
  const health = async () => (await (await fetch(url('/health'))).json()) as Health;

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

  test('the reserve lets the DELETE commit; /health says full; gc brings the reserve back', async () => {
    const reserve = path.join(storage(), 'nora.db-reserve');
    assert.ok(fs.existsSync(reserve), 'the reserve is made at start when there is room');
    const start = await health();
    assert.equal(start.database.space_reserve, 'held');
    assert.equal(start.database.full, false);

    // Uploads until the disk refuses one (507).
    const stored: string[] = [];
    let refused = 0;
    for (let i = 0; i < 40 && refused === 0; i++) {
      const put = await fetch(url(`/raw/fill/f${i}.bin`), {
        method: 'PUT',
        body: Buffer.alloc(128 * 1024, i + 1),
      });
      const text = await put.text();
      if (put.status === 201) stored.push(`/raw/fill/f${i}.bin`);
      else {
        assert.equal(put.status, 507, text);
        refused = put.status;
      }
    }
    assert.equal(refused, 507, 'the disk filled');
    assert.ok(stored.length >= 4, `${stored.length} uploads stored`);
    // The refused upload's spool file was removed: more uploads take what is left, to the
    // last byte (small ones fit where a large one did not).
    for (let i = 0; i < 200 && freeBytes() > 0; i++) {
      const put = await fetch(url(`/raw/fill/small${i}.bin`), {
        method: 'PUT',
        body: Buffer.alloc(4096, i),
      });
      await put.text();
      if (put.status === 201) stored.push(`/raw/fill/small${i}.bin`);
      else if (freeBytes() < 64 * 1024) break;
    }
    assert.ok(freeBytes() < 64 * 1024, `disk full: ${freeBytes()} bytes free`);

    // Before: 507 "the metadata database is full". Now: the reserve is released and it commits.
    const first = stored[0] ?? '';
    const deleted = await fetch(url(first), { method: 'DELETE' });
    assert.equal(deleted.status, 204, await deleted.text());
    assert.equal((await fetch(url(first))).status, 404);
    assert.ok(!fs.existsSync(reserve), 'the reserve was used');
    const full = await health();
    assert.equal(full.database.full, true, JSON.stringify(full));
    assert.equal(full.database.space_reserve, 'released');
    assert.equal(full.status, 'degraded');

    // Every other file can be deleted too (the reserve's room holds many commits).
    for (const p of stored.slice(1)) {
      const res = await fetch(url(p), { method: 'DELETE' });
      assert.equal(res.status, 204, `${p}: ${await res.text()}`);
    }
    const gc = await nora(['gc', '--apply', '--grace', '0'], { NORA_STORAGE_PATH: storage() });
    assert.equal(gc.code, 0, gc.stdout + gc.stderr);
    assert.ok(freeBytes() >= 1024 * 1024, `space freed: ${freeBytes()} bytes free`);
    // Room again: the reserve is made again (here by /health; also after a server gc pass and
    // at the next start), and the condition clears.
    const back = await health();
    assert.equal(back.database.space_reserve, 'held', JSON.stringify(back));
    assert.equal(back.database.full, false);
    assert.equal(back.status, 'healthy');
    assert.ok(fs.existsSync(reserve));
    const again = await fetch(url('/raw/fill/after.bin'), {
      method: 'PUT',
      body: Buffer.alloc(4096, 9),
    });
    assert.equal(again.status, 201, await again.text());
  });
});
