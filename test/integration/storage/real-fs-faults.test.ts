/**
 * Storage faults on a real file system (root only: a small tmpfs, bind-mounted so it can be
 * made read-only while the server holds it; skipped, saying so, when mounting is not possible).
 * What the fault-injecting tests (storage-faults.test.ts) cannot reach: the kernel's own errors
 * on the spool (ENOSPC mid-stream), and Node's recursive mkdir that reports EROFS as ENOENT
 * (the spool directory on a read-only disk was a 500, and a 400 "bad gzip" for npm publish).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { publishBody } from '../npm/fixtures.ts';
import { MULTIPART, makeWheel, multipartBody, twineFields } from '../pypi/fixtures.ts';

// Made only when the mounts can be (root): a skipped run leaves nothing behind.
let base = '';
let disk = '';
let view = '';

/** Mounts a 4 MiB tmpfs with a bind view of it; a reason to skip when that is not possible. */
function mountDisk(): string | false {
  if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs (run as root to cover it)';
  try {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'nora-fsfault-'));
    disk = path.join(base, 'disk');
    view = path.join(base, 'view');
    fs.mkdirSync(disk);
    fs.mkdirSync(view);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', disk], { stdio: 'pipe' });
  } catch (err) {
    if (base !== '') fs.rmSync(base, { recursive: true, force: true });
    return `mount is not available here: ${String(err).split('\n')[0]}`;
  }
  try {
    execFileSync('mount', ['--bind', disk, view], { stdio: 'pipe' });
  } catch (err) {
    execFileSync('umount', [disk]);
    fs.rmSync(base, { recursive: true, force: true });
    return `bind mount is not available here: ${String(err).split('\n')[0]}`;
  }
  return false;
}

const skip = mountDisk();
const mounted = skip === false;
const remount = (mode: 'ro' | 'rw') =>
  execFileSync('mount', ['-o', `remount,${mode},bind`, view], { stdio: 'pipe' });

describe('storage faults on a real file system', { skip }, () => {
  let server: TestServer;
  const url = (p: string) => `${server.url}${p}`;
  const npmPublish = (name: string) =>
    fetch(url(`/npm/${name}`), {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        publishBody({ name, version: '1.0.0', description: 'd'.repeat(200_000) }),
      ),
    });
  const answer = async (res: Response) => ({ status: res.status, text: await res.text() });

  before(async () => {
    // The database and the audit log (which keeps its file open for append) elsewhere: the bind
    // view can then be made read-only (no file open for write).
    fs.mkdirSync(path.join(base, 'db'));
    server = await startTestServer({
      dataDir: view,
      config: {
        database: { path: path.join(base, 'db', 'nora.db') },
        audit: { path: path.join(base, 'db', 'audit.jsonl') },
      },
    });
    const put = await fetch(url('/raw/fs/kept.bin'), { method: 'PUT', body: 'kept\n' });
    assert.equal(put.status, 201);
  });
  after(async () => {
    await server.close();
    if (mounted) {
      execFileSync('umount', [view]);
      execFileSync('umount', [disk]);
    }
    fs.rmSync(base, { recursive: true, force: true });
  });

  test('read-only: 503 for raw (buffered and spooled) and npm, reads go on, then recovery', async () => {
    remount('ro');
    try {
      const small = await answer(
        await fetch(url('/raw/fs/ro-small.bin'), { method: 'PUT', body: 'small' }),
      );
      const big = await answer(
        await fetch(url('/raw/fs/ro-big.bin'), {
          method: 'PUT',
          body: Buffer.alloc(1536 * 1024, 1),
        }),
      );
      const npm = await answer(await npmPublish('ro-pkg'));
      assert.deepEqual(
        [small.status, big.status, npm.status],
        [503, 503, 503],
        JSON.stringify({ small, big, npm }),
      );
      assert.match(npm.text, /storage is unavailable \(EROFS\)/);
      const kept = await fetch(url('/raw/fs/kept.bin'));
      assert.equal(kept.status, 200);
      assert.equal(await kept.text(), 'kept\n');
    } finally {
      remount('rw');
    }
    for (const res of [
      await fetch(url('/raw/fs/ro-small.bin'), { method: 'PUT', body: 'small' }),
      await npmPublish('ro-pkg'),
    ]) {
      assert.equal(res.status, 201, await res.text());
    }
  });

  test('disk full: 507 mid-stream for raw, OCI PATCH and npm, nothing visible, recovery', async () => {
    const filler = path.join(disk, 'filler');
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { stdio: 'pipe' });
    } catch {
      // dd stops with ENOSPC: the disk is full, as wanted.
    }
    try {
      const big = await answer(
        await fetch(url('/raw/fs/full.bin'), { method: 'PUT', body: Buffer.alloc(1536 * 1024, 2) }),
      );
      const npm = await answer(await npmPublish('full-pkg'));
      const started = await fetch(url('/v2/fs/app/blobs/uploads/'), { method: 'POST' });
      await started.arrayBuffer();
      const patch = await answer(
        await fetch(new URL(started.headers.get('location') ?? '', server.url), {
          method: 'PATCH',
          headers: { 'content-type': 'application/octet-stream' },
          body: Buffer.alloc(512 * 1024, 3),
        }),
      );
      assert.deepEqual(
        [big.status, npm.status, patch.status],
        [507, 507, 507],
        JSON.stringify({ big, npm, patch }),
      );
      assert.match(npm.text, /insufficient storage/);
      const missing = await fetch(url('/raw/fs/full.bin'));
      await missing.arrayBuffer();
      assert.equal(missing.status, 404);
      const health = await fetch(url('/health'));
      await health.arrayBuffer();
      assert.equal(health.status, 200);
    } finally {
      fs.rmSync(filler, { force: true });
    }
    const big = await fetch(url('/raw/fs/full.bin'), {
      method: 'PUT',
      body: Buffer.alloc(1536 * 1024, 2),
    });
    assert.equal(big.status, 201, await big.text());
    const npm = await npmPublish('full-pkg');
    assert.equal(npm.status, 201, await npm.text());
  });

  test('disk full: a twine upload gets 507, not a hang, and leaves no spool file', async () => {
    // Large enough that busboy still has body to parse when the spool's first write fails: it
    // used to wait forever for its destroyed file stream to be read (the request never ended).
    const wheel = makeWheel('full-py', '1.0', {
      extra: [{ name: 'full_py/data.bin', data: Buffer.alloc(1536 * 1024, 7), store: true }],
    });
    const upload = () =>
      fetch(url('/simple/'), {
        method: 'POST',
        headers: { 'content-type': MULTIPART },
        body: multipartBody(twineFields('full-py', '1.0', wheel), wheel),
        signal: AbortSignal.timeout(20_000),
      });
    const spools = () => {
      const dir = path.join(disk, '.tmp', 'pypi-upload');
      return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
    };
    const filler = path.join(disk, 'filler');
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { stdio: 'pipe' });
    } catch {
      // dd stops with ENOSPC: the disk is full, as wanted.
    }
    try {
      const full = await answer(await upload());
      assert.equal(full.status, 507, full.text);
      assert.match(full.text, /insufficient storage/);
      assert.deepEqual(spools(), []);
      const missing = await fetch(url('/simple/full-py/'));
      await missing.arrayBuffer();
      assert.equal(missing.status, 404);
    } finally {
      fs.rmSync(filler, { force: true });
    }
    const ok = await upload();
    assert.equal(ok.status, 200, await ok.text());
  });
});
