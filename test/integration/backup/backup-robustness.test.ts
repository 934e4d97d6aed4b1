/**
 * Trial 25 ops F13, F11 and devA's leftover: `nora backup` stopped, on a full storage disk, and on
 * a read-only data directory. Real `bin/nora.js` processes.
 *
 * - F13: SIGINT / SIGTERM midway left the unfinished archive and the database snapshot (a full
 *   copy of users, token hashes and the signing key) under the storage's `.tmp/`. It now removes
 *   both and exits 130 / 143, as `nora restore` does (one helper, src/core/interrupts.ts).
 * - F11: the snapshot was made under the storage's `.tmp/`, so a backup failed on a full storage
 *   disk even with `-o` on another disk ("database or disk is full"). It is made beside the
 *   archive now (or where `--snapshot-dir` says), and a full disk is named with what to do.
 * - Read-only data directory: the backup ended "unable to open database file"; it reads the
 *   database the way `nora serve` does there (SQLite immutable, read-only) and writes its archive.
 *
 * The full disk is a small tmpfs (root only) and the read-only directory `chattr +i` (root) or
 * its mode; each is skipped, saying so, when that cannot be done here.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { mkdirSync, mkdtempSync, rmSync, statfsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BIN, cleanEnv, nora } from '../../helpers/cli.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { unwritableMethod } from '../../helpers/storage.ts';
import { tempDir } from '../../helpers/tmp.ts';

/** Every file under `dir`, relative, sorted ([] when there is no `dir`). */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

/** The bytes of every file under `dir` but `except`. */
async function bytesUnder(dir: string, except: string): Promise<number> {
  let total = 0;
  for (const name of await filesUnder(dir)) {
    if (name === except) continue;
    total += (await fs.stat(path.join(dir, name)).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

/** The names under the storage's `.tmp/` a backup makes (its snapshot directory). */
async function backupSpools(storage: string): Promise<string[]> {
  const names = await fs.readdir(path.join(storage, '.tmp')).catch(() => []);
  return names.filter((name) => name.startsWith('backup-'));
}

/** `nora backup` as a child process the test signals. */
function backupProcess(args: readonly string[], storage: string) {
  const child = spawn(process.execPath, [BIN, 'backup', ...args], {
    env: { ...cleanEnv(), NORA_STORAGE_PATH: storage },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let ended = false;
  const exited = new Promise<{ code: number | null; signal: string | null; stderr: string }>(
    (resolve) => {
      child.on('exit', (code, signal) => {
        ended = true;
        resolve({ code, signal, stderr });
      });
    },
  );
  return { child, exited, ended: () => ended };
}

/** Polls `ready` every 2 ms until true; fails when the process ends first or after 60 s. */
async function until(ready: () => Promise<boolean>, ended: () => boolean, what: string) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (await ready()) return;
    assert.ok(!ended(), `the backup ended before ${what}`);
    assert.ok(Date.now() < deadline, `not ${what} in 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe('nora backup interrupted', () => {
  let data: { path: string; [Symbol.asyncDispose](): Promise<void> };
  let storage: string;

  before(async () => {
    data = await tempDir('nora-backup-int-');
    storage = path.join(data.path, 'storage');
    // 16 MiB that does not compress: the archive takes a while to write.
    await using server = await startTestServer({ dataDir: data.path });
    for (let i = 0; i < 16; i += 1) {
      const put = await fetch(`${server.url}/raw/big/b${i}.bin`, {
        method: 'PUT',
        body: randomBytes(1024 * 1024),
      });
      assert.equal(put.status, 201);
    }
  });
  after(async () => {
    await data[Symbol.asyncDispose]();
  });

  test('SIGINT midway through -o FILE: the unfinished archive and the snapshot are removed, FILE untouched, exit 130', async () => {
    const out = path.join(data.path, 'out');
    await fs.mkdir(out);
    const file = path.join(out, 'backup.tar.gz');
    await fs.writeFile(file, 'an older backup');
    const { child, exited, ended } = backupProcess(['-o', file], storage);
    await until(
      async () => (await bytesUnder(out, 'backup.tar.gz')) > 0,
      ended,
      'its archive was being written',
    );
    // Held still while the test looks: both the archive and the snapshot are there.
    child.kill('SIGSTOP');
    const during = await filesUnder(out);
    assert.ok(during.length > 1, during.join(' '));
    child.kill('SIGINT');
    child.kill('SIGCONT');
    const result = await exited;
    assert.equal(result.code, 130, `${String(result.signal)} ${result.stderr}`);
    assert.equal(
      result.stderr,
      `nora backup: interrupted (SIGINT): the unfinished archive and the database snapshot were removed; nothing was written to ${file}\n`,
    );
    assert.deepEqual(await fs.readdir(out), ['backup.tar.gz']);
    assert.equal(await fs.readFile(file, 'utf8'), 'an older backup');
    assert.deepEqual(await backupSpools(storage), []);
  });

  test('SIGTERM midway through -o -: the snapshot under .tmp/ is removed, exit 143', async () => {
    const { child, exited, ended } = backupProcess(['-o', '-'], storage);
    // stdout is not read: the backup blocks on the full pipe, its snapshot made.
    let first = false;
    child.stdout.once('readable', () => (first = true));
    await until(
      async () => first && (await backupSpools(storage)).length > 0,
      ended,
      'the archive was being streamed',
    );
    child.kill('SIGTERM');
    child.stdout.resume();
    const result = await exited;
    assert.equal(result.code, 143, `${String(result.signal)} ${result.stderr}`);
    assert.match(
      result.stderr,
      /^nora backup: interrupted \(SIGTERM\): the database snapshot was removed; the archive on stdout is incomplete/,
    );
    assert.deepEqual(await backupSpools(storage), []);
  });
});

/** Mounts a 4 MiB tmpfs; its directory, or a reason to skip. */
function mountDisk(): { base: string } | string {
  if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs (run as root to cover it)';
  const base = mkdtempSync(path.join(os.tmpdir(), 'nora-backup-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', base], { stdio: 'pipe' });
  } catch (err) {
    rmSync(base, { recursive: true, force: true });
    return `mount is not available here: ${String(err).split('\n')[0]}`;
  }
  return { base };
}

const disk = mountDisk();

describe('nora backup on a full storage disk', { skip: typeof disk === 'string' && disk }, () => {
  const base = typeof disk === 'string' ? '' : disk.base;
  let server: TestServer;
  let elsewhere: { path: string; [Symbol.asyncDispose](): Promise<void> };
  const storage = () => path.join(base, 'storage');
  const env = () => ({ NORA_STORAGE_PATH: storage() });

  before(async () => {
    elsewhere = await tempDir('nora-backup-full-out-');
    // A server keeps running on the full disk, as in the trial.
    server = await startTestServer({ dataDir: base });
    for (let i = 0; i < 3; i += 1) {
      const put = await fetch(`${server.url}/raw/full/f${i}.bin`, {
        method: 'PUT',
        body: randomBytes(100 * 1024),
      });
      assert.equal(put.status, 201);
    }
    mkdirSync(path.join(base, 'snap'));
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${path.join(base, 'filler')}`, 'bs=4k'], {
        stdio: 'pipe',
      });
    } catch {
      // ENOSPC: full, as wanted.
    }
    const stats = statfsSync(base);
    assert.ok(stats.bavail * stats.bsize < 64 * 1024, 'the disk is full');
  });
  after(async () => {
    await server.close();
    await elsewhere[Symbol.asyncDispose]();
    execFileSync('umount', [base]);
    rmSync(base, { recursive: true, force: true });
  });

  test('-o on another disk: the backup is written (the snapshot beside it) and restores', async () => {
    const file = path.join(elsewhere.path, 'b.tar.gz');
    const result = await nora(['backup', '-o', file], env());
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /and 3 blobs/);
    assert.deepEqual(await fs.readdir(elsewhere.path), ['b.tar.gz']);
    assert.deepEqual(await backupSpools(storage()), []);
    const restored = await nora(['restore', '-i', file], {
      NORA_STORAGE_PATH: path.join(elsewhere.path, 'restored'),
    });
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, /^nora restore: 3 blobs/);
  });

  test('the snapshot on the full disk: one line naming the disk, what it needs and what to do', async () => {
    const file = path.join(elsewhere.path, 'c.tar.gz');
    const snap = path.join(base, 'snap');
    const result = await nora(['backup', '-o', file, '--snapshot-dir', snap], env());
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(
        `^nora backup: could not snapshot the database ${storage()}/nora\\.db: the disk holding ${snap} \\(the file system mounted at ${base}\\) is full \\(\\d+ bytes free\\); the snapshot needs about \\d+ bytes \\(the database's size\\) there: free space on it, or write the backup to another disk with -o \\(the snapshot is made beside it\\), or pass --snapshot-dir DIR naming a directory on a disk with room\\n$`,
      ),
    );
    assert.deepEqual(await fs.readdir(snap), []);
    assert.deepEqual(await fs.readdir(elsewhere.path), ['b.tar.gz', 'restored']);

    // -o on the full disk itself: the same line, naming that disk.
    const onFull = await nora(['backup', '-o', path.join(base, 'd.tar.gz')], env());
    assert.equal(onFull.code, 1, onFull.stderr);
    assert.match(
      onFull.stderr,
      new RegExp(
        `^nora backup: could not snapshot [^\\n]*: the disk holding ${base} \\(the file system mounted at ${base}\\) is full`,
      ),
    );
    assert.deepEqual(
      (await fs.readdir(base)).filter((name) => name.startsWith('d.tar.gz')),
      [],
    );
  });
});

const how = unwritableMethod();
const readOnlySkip = how === 'chattr' || how === 'chmod' ? false : how;

function lock(dir: string, on: boolean): void {
  if (how === 'chattr') execFileSync('chattr', [on ? '+i' : '-i', dir]);
  else execFileSync('chmod', [on ? 'a-w' : 'u+w', dir]);
}

describe('nora backup of a read-only data directory', { skip: readOnlySkip }, () => {
  test('the database is read as nora serve reads it there; the archive is written and restores', async () => {
    await using data = await tempDir('nora-backup-ro-');
    {
      await using server = await startTestServer({ dataDir: data.path });
      const put = await fetch(`${server.url}/raw/docs/kept.txt`, {
        method: 'PUT',
        body: 'kept bytes',
      });
      assert.equal(put.status, 201);
    }
    const storage = path.join(data.path, 'storage');
    const file = path.join(data.path, 'ro.tar.gz');
    const env = { NORA_STORAGE_PATH: storage };
    lock(storage, true);
    let result;
    let stdoutCase;
    let snapshotDirCase;
    try {
      result = await nora(['backup', '-o', file], env);
      // `.tmp/` locked too: `-o -` makes its snapshot there by default, so it says so and how
      // to put it elsewhere, and --snapshot-dir does.
      lock(path.join(storage, '.tmp'), true);
      try {
        stdoutCase = await nora(['backup', '-o', '-'], env);
        await fs.mkdir(path.join(data.path, 'snap'));
        snapshotDirCase = await nora(
          ['backup', '-o', '-', '--snapshot-dir', path.join(data.path, 'snap')],
          env,
        );
      } finally {
        lock(path.join(storage, '.tmp'), false);
      }
    } finally {
      lock(storage, false);
    }
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /and 1 blobs/);
    const restored = await nora(['restore', '-i', file], {
      NORA_STORAGE_PATH: path.join(data.path, 'restored'),
    });
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, /^nora restore: 1 blobs/);

    assert.equal(stdoutCase.code, 1, stdoutCase.stderr);
    assert.match(
      stdoutCase.stderr,
      new RegExp(
        `^nora backup: cannot make ${storage}/\\.tmp/backup-[0-9a-f-]+ for the database snapshot \\([^\\n]*\\): it needs about \\d+ bytes \\(the database's size\\) in a writable directory; pass --snapshot-dir DIR naming one \\(with -o FILE the snapshot is made beside FILE\\)\\n$`,
      ),
    );
    assert.equal(snapshotDirCase.code, 0, snapshotDirCase.stderr);
    assert.deepEqual(await fs.readdir(path.join(data.path, 'snap')), []);
  });
});
