/**
 * Trial 25 devA: `nora restore` and `nora backup` when things go wrong around them.
 *
 * - F1: a restore ended by SIGINT or SIGTERM midway (a large archive, an operator's Ctrl-C or
 *   `kill`) left its spooled database and the blobs it had already added in the target. It now
 *   removes them, as after any failure, and exits 130 / 143.
 * - F3: `nora backup -o -` with a damaged blob printed a stack trace; it exits 1 with the one line
 *   `-o FILE` prints.
 * - F4: two `nora backup -o F` at once shared `F.tmp`; each now writes its own
 *   `F.<pid>.<random>.tmp` and removes it on failure.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { BIN, cleanEnv, nora } from '../../helpers/cli.ts';
import { startTestServer } from '../../helpers/server.ts';
import { flipByteAt } from '../../helpers/storage.ts';
import { tempDir } from '../../helpers/tmp.ts';

const sha256hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** Every file under `dir`, relative, sorted ([] when there is no `dir`). */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

/**
 * A NORA-shaped archive of `count` random blobs of `size` bytes (the database entry a
 * placeholder: an interrupted restore never gets to open it).
 */
async function bigArchive(count: number, size: number): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk) => {
    chunks.push(chunk as Buffer);
  });
  const ended = new Promise<void>((resolve) => pack.on('end', resolve));
  const add = (name: string, body: Buffer) =>
    new Promise<void>((resolve, reject) => {
      pack.entry({ name }, body, (err) => {
        if (err) reject(err);
        else resolve();
      });
    });
  const metadata = {
    format: 'nora-backup',
    format_version: 1,
    nora_version: '0.1.0',
    created_at: new Date().toISOString(),
    database_bytes: 3,
    blobs: count,
    blob_bytes: count * size,
    total_bytes: count * size + 3,
  };
  await add('metadata.json', Buffer.from(JSON.stringify(metadata)));
  await add('nora.db', Buffer.from('not'));
  for (let i = 0; i < count; i += 1) {
    const body = randomBytes(size);
    const hex = sha256hex(body);
    await add(`blobs/sha256/${hex.slice(0, 2)}/${hex}`, body);
  }
  pack.finalize();
  await ended;
  return gzipSync(Buffer.concat(chunks), { level: 1 });
}

/** `nora restore` as a child process the test signals; resolves its exit code and stderr. */
function restoreProcess(args: readonly string[], storage: string) {
  const child = spawn(process.execPath, [BIN, 'restore', ...args], {
    env: { ...cleanEnv(), NORA_STORAGE_PATH: storage },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.resume();
  const exited = new Promise<{ code: number | null; signal: string | null; stderr: string }>(
    (resolve) => {
      child.on('exit', (code, signal) => {
        resolve({ code, signal, stderr });
      });
    },
  );
  return { child, exited };
}

/** Waits until some blob file has landed under `storage` (the restore is midway). */
async function untilBlobsLand(storage: string, exited: Promise<unknown>): Promise<void> {
  let done = false;
  void exited.then(() => (done = true));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const files = await filesUnder(path.join(storage, 'blobs'));
    if (files.length > 0) return;
    assert.ok(!done, 'the restore ended before any blob landed');
    assert.ok(Date.now() < deadline, 'no blob landed in 60 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('nora restore interrupted, nora backup failing', () => {
  test('SIGINT midway through a restore from a file: what it wrote is removed, exit 130', async () => {
    await using dir = await tempDir('nora-restore-int-');
    const archive = path.join(dir.path, 'big.tar.gz');
    // 200 x 128 KiB, each spooled, hashed, fsynced and moved in: seconds of work.
    await fs.writeFile(archive, await bigArchive(200, 128 * 1024));
    const storage = path.join(dir.path, 'storage');
    const { child, exited } = restoreProcess(['-i', archive], storage);
    await untilBlobsLand(storage, exited);
    child.kill('SIGINT');
    const result = await exited;
    assert.equal(result.code, 130, result.stderr);
    assert.match(
      result.stderr,
      /^nora restore: interrupted \(SIGINT\): the blobs and the database it had written so far were removed; nothing was restored\n$/,
    );
    assert.deepEqual(await filesUnder(storage), []);
    assert.deepEqual(await filesUnder(dir.path), ['big.tar.gz']);
  });

  test('SIGTERM while a restore waits on stdin midway: what it wrote is removed, exit 143', async () => {
    await using dir = await tempDir('nora-restore-term-');
    const bytes = await bigArchive(8, 64 * 1024);
    const storage = path.join(dir.path, 'storage');
    const { child, exited } = restoreProcess(['-i', '-'], storage);
    // Half the archive, then nothing more: the restore is surely midway when signalled.
    child.stdin.write(bytes.subarray(0, Math.floor(bytes.length / 2)));
    await untilBlobsLand(storage, exited);
    assert.ok((await fs.readdir(storage)).some((name) => name.startsWith('nora.db.restore-')));
    child.kill('SIGTERM');
    const result = await exited;
    child.stdin.destroy();
    assert.equal(result.code, 143, result.stderr);
    assert.match(result.stderr, /^nora restore: interrupted \(SIGTERM\)/);
    assert.deepEqual(await filesUnder(storage), []);
  });

  test('backup -o - with a damaged blob: one line, exit 1, no stack trace', async () => {
    await using data = await tempDir('nora-backup-stdout-');
    const storage = path.join(data.path, 'storage');
    const body = 'bytes that will rot before the backup to stdout';
    {
      await using server = await startTestServer({ dataDir: data.path });
      const put = await fetch(`${server.url}/raw/docs/rot.txt`, { method: 'PUT', body });
      assert.equal(put.status, 201);
    }
    const hex = sha256hex(body);
    await flipByteAt(path.join(storage, 'blobs', 'sha256', hex.slice(0, 2), hex), 3);
    const env = { NORA_STORAGE_PATH: storage };
    const toFile = await nora(['backup', '-o', path.join(data.path, 'out.tar.gz')], env);
    assert.equal(toFile.code, 1, toFile.stderr);
    const toStdout = await nora(['backup', '-o', '-'], env);
    assert.equal(toStdout.code, 1, toStdout.stderr);
    assert.equal(toStdout.stderr, toFile.stderr);
    assert.match(
      toStdout.stderr,
      new RegExp(`^nora backup: blob sha256:${hex} is damaged[^\\n]*\\n$`),
    );
    assert.deepEqual(
      (await filesUnder(storage)).filter((name) => name.startsWith('.tmp')),
      [],
    );
  });

  test('two backups to one file at once: each its own temp file, both whole; a failed one leaves none', async () => {
    await using data = await tempDir('nora-backup-twice-');
    const storage = path.join(data.path, 'storage');
    {
      await using server = await startTestServer({ dataDir: data.path });
      for (let i = 0; i < 20; i += 1) {
        const put = await fetch(`${server.url}/raw/docs/f${i}.bin`, {
          method: 'PUT',
          body: randomBytes(256 * 1024),
        });
        assert.equal(put.status, 201);
      }
    }
    const env = { NORA_STORAGE_PATH: storage };
    const out = path.join(data.path, 'out', 'backup.tar.gz');
    await fs.mkdir(path.dirname(out));
    // Watch the directory while both run: their temp files must differ.
    const seen = new Set<string>();
    const watching = { on: true };
    const watcher = (async () => {
      while (watching.on) {
        for (const name of await fs.readdir(path.dirname(out))) seen.add(name);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    const [a, b] = await Promise.all([
      nora(['backup', '-o', out], env),
      nora(['backup', '-o', out], env),
    ]);
    watching.on = false;
    await watcher;
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const temps = [...seen].filter((name) => name.endsWith('.tmp'));
    for (const name of temps) assert.match(name, /^backup\.tar\.gz\.\d+\.[0-9a-f]+\.tmp$/);
    assert.ok(!seen.has('backup.tar.gz.tmp'), [...seen].join(' '));
    assert.deepEqual(await fs.readdir(path.dirname(out)), ['backup.tar.gz']);
    const restored = await nora(['restore', '-i', out], {
      NORA_STORAGE_PATH: path.join(data.path, 'restored'),
    });
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, /^nora restore: 20 blobs/);

    // A failed backup (a damaged blob) leaves no temp file of its own.
    const hex = (await filesUnder(path.join(storage, 'blobs')))[0]?.split('/').pop() ?? '';
    await flipByteAt(path.join(storage, 'blobs', 'sha256', hex.slice(0, 2), hex), 7);
    const failed = await nora(['backup', '-o', out], env);
    assert.equal(failed.code, 1, failed.stderr);
    assert.deepEqual(await fs.readdir(path.dirname(out)), ['backup.tar.gz']);
  });
});
