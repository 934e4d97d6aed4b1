/**
 * `nora migrate` between two local storages (the S3 side, with real clients, is
 * test/e2e/s3/migrate.test.ts): the real CLI process on a store of blob files. A dry run writes
 * nothing; a run copies every object verified and leaves the source as it was; a second run
 * skips everything; a damaged target copy is replaced; a source blob whose bytes do not match
 * its digest fails (exit 1) and is not copied; SIGINT midway ends with 130 and no spool file, and
 * the next run copies only the rest; a running server or bad flags refuse with exit 2.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { BIN, cleanEnv, nora } from '../../helpers/cli.ts';
import { serveNora } from '../../helpers/process.ts';
import { tempDir } from '../../helpers/tmp.ts';

/** Writes `count` random blobs under `<storage>/blobs/sha256/…`; returns their keys. */
async function fillBlobs(storage: string, count: number, size = 2000): Promise<string[]> {
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    const bytes = randomBytes(size + i);
    const hex = createHash('sha256').update(bytes).digest('hex');
    const key = `blobs/sha256/${hex.slice(0, 2)}/${hex}`;
    await fs.mkdir(path.join(storage, path.dirname(key)), { recursive: true });
    await fs.writeFile(path.join(storage, key), bytes);
    keys.push(key);
  }
  return keys;
}

/** Every file under `dir/blobs` as key → sha256 (empty when there is none). */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const entries = await fs
    .readdir(path.join(dir, 'blobs'), { recursive: true, withFileTypes: true })
    .catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    const bytes = await fs.readFile(full);
    out.set(path.relative(dir, full), createHash('sha256').update(bytes).digest('hex'));
  }
  return out;
}

const migrate = (dir: string, args: readonly string[]) =>
  nora(['migrate', ...args], { NORA_STORAGE_PATH: path.join(dir, 'storage') }, dir, 120_000);

describe('nora migrate, local to local', () => {
  test('dry run, copy, re-run, damaged target copy, damaged source blob', async () => {
    await using work = await tempDir('nora-migrate-');
    const source = path.join(work.path, 'storage');
    const target = path.join(work.path, 'other');
    const keys = await fillBlobs(source, 12);
    // A key that names no digest: compared by size and by hashing both sides.
    await fs.mkdir(path.join(source, 'blobs/notes'), { recursive: true });
    await fs.writeFile(path.join(source, 'blobs/notes/readme'), 'not content-addressed\n');
    const before = await snapshot(source);
    assert.equal(before.size, 13);

    const dry = await migrate(work.path, [
      '--from',
      'local',
      '--to',
      'local',
      '--to-path',
      target,
      '--dry-run',
    ]);
    assert.equal(dry.code, 0, dry.stderr);
    for (const key of keys) assert.ok(dry.stdout.includes(`would copy ${key} `), dry.stdout);
    assert.match(dry.stdout, /dry run: would copy 13 \(\d+ bytes\), already at the target 0 /);
    await assert.rejects(fs.stat(target), /ENOENT/, 'a dry run makes no target directory');

    const first = await migrate(work.path, [
      '--from',
      'local',
      '--to',
      'local',
      '--to-path',
      target,
    ]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stdout,
      /copied 13 \(\d+ bytes\), skipped \(already at the target\) 0 \(0 bytes\), failed 0 \(0 bytes\)/,
    );
    // The database stays in the old directory: the printed change keeps it there.
    assert.ok(first.stdout.includes(`mode = "local"`), first.stdout);
    assert.ok(first.stdout.includes(`path = ${JSON.stringify(target)}`), first.stdout);
    assert.ok(first.stdout.includes(`path = ${JSON.stringify(path.join(source, 'nora.db'))}`));
    assert.deepEqual(await snapshot(target), before);
    assert.deepEqual(await snapshot(source), before, 'the source is never changed');
    const spool = await fs.readdir(path.join(target, '.tmp'));
    assert.deepEqual(
      spool.filter((name) => name.startsWith('migrate-')),
      [],
    );

    const again = await migrate(work.path, [
      '--from',
      'local',
      '--to',
      'local',
      '--to-path',
      target,
      '--json',
    ]);
    assert.equal(again.code, 0, again.stderr);
    const report = JSON.parse(again.stdout) as {
      copied: { objects: number };
      skipped: { objects: number };
      skippedUnhashed: { objects: number };
      failed: { objects: number };
    };
    assert.equal(report.copied.objects, 0);
    assert.equal(report.skipped.objects, 13);
    // The one key that names no digest was hashed on both sides; the 12 others were not.
    assert.equal(report.skippedUnhashed.objects, 12);

    // A target copy of the wrong length (damaged) is copied again; one of the right length is
    // trusted for a content-addressed key.
    const damaged = keys[3] ?? '';
    await fs.truncate(path.join(target, damaged), 10);
    const repaired = await migrate(work.path, [
      '--from',
      'local',
      '--to',
      'local',
      '--to-path',
      target,
    ]);
    assert.equal(repaired.code, 0, repaired.stderr);
    assert.match(repaired.stdout, /copied 1 \(/);
    // 11 of the 12 skipped (all but the key naming no digest) were not hashed: the closing text says so and names the
    // command that hashes them (trial 28 newO F2); the JSON report counts them.
    assert.match(
      repaired.stdout,
      /11 of the objects skipped as already at the target were taken as the same by their digest name and size, not re-hashed: before removing the source, run `nora verify` with the settings above/,
    );
    assert.deepEqual(await snapshot(target), before);

    // A source blob whose bytes are not its digest is never copied: exit 1, the others are.
    const rotten = keys[5] ?? '';
    await fs.rm(path.join(target, rotten));
    await fs.rm(path.join(target, keys[6] ?? ''));
    const size = (await fs.stat(path.join(source, rotten))).size;
    await fs.writeFile(path.join(source, rotten), randomBytes(size));
    const failing = await migrate(work.path, [
      '--from',
      'local',
      '--to',
      'local',
      '--to-path',
      target,
    ]);
    assert.equal(failing.code, 1, failing.stdout);
    assert.ok(failing.stderr.includes(`failed ${rotten} `), failing.stderr);
    assert.match(failing.stderr, /not the digest the key names/);
    assert.match(
      failing.stdout,
      /copied 1 \(\d+ bytes\), skipped \(already at the target\) 11 \(\d+ bytes\), failed 1 \(/,
    );
    assert.doesNotMatch(failing.stdout, /To serve from it/);
    await assert.rejects(fs.stat(path.join(target, rotten)), /ENOENT/);
  });

  test('SIGINT midway: exit 130, no spool file left; the next run copies only the rest', async () => {
    await using work = await tempDir('nora-migrate-int-');
    const source = path.join(work.path, 'storage');
    const target = path.join(work.path, 'other');
    const total = 400;
    await fillBlobs(source, total, 500);
    const child = spawn(
      process.execPath,
      [
        BIN,
        'migrate',
        '--from',
        'local',
        '--to',
        'local',
        '--to-path',
        target,
        '--concurrency',
        '1',
      ],
      {
        cwd: work.path,
        env: { ...cleanEnv(), NORA_STORAGE_PATH: source },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!signalled && stdout.split('\ncopied ').length > 5) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    const copiedBefore = (await snapshot(target)).size;
    if (code === 0) {
      // The machine copied all of it before the signal landed: nothing to resume.
      assert.equal(copiedBefore, total);
    } else {
      assert.equal(code, 130, `${stdout}\n${stderr}`);
      assert.match(
        stderr,
        /nora migrate: interrupted \(SIGINT\): \d+ objects copied so far stay at the target; run the same command again/,
      );
      assert.ok(copiedBefore > 0 && copiedBefore < total, String(copiedBefore));
      const spool = await fs.readdir(path.join(target, '.tmp'));
      assert.deepEqual(
        spool.filter((name) => name.startsWith('migrate-')),
        [],
      );
    }
    const resumed = await migrate(work.path, [
      '--from',
      'local',
      '--to',
      'local',
      '--to-path',
      target,
      '--json',
    ]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const report = JSON.parse(resumed.stdout) as {
      copied: { objects: number };
      skipped: { objects: number };
    };
    assert.equal(report.skipped.objects, copiedBefore);
    assert.equal(report.copied.objects, total - copiedBefore);
    assert.deepEqual(await snapshot(target), await snapshot(source));
  });

  test('refused beside a running server, exit 2; nothing copied', async () => {
    await using work = await tempDir('nora-migrate-served-');
    await using server = await serveNora({ dir: work.path });
    await fetch(`${server.url}/raw/files/a.txt`, { method: 'PUT', body: 'hello' });
    const target = path.join(work.path, 'other');
    const refused = await migrate(work.path, [
      '--from',
      'local',
      '--to',
      'local',
      '--to-path',
      target,
    ]);
    assert.equal(refused.code, 2, refused.stdout);
    assert.match(
      refused.stderr,
      /^nora migrate: a NORA server \(pid \d+\) is running on .*: stop it first/,
    );
    await assert.rejects(fs.stat(target), /ENOENT/);
  });

  test('bad flags: exit 2 with a "nora migrate: …" line, nothing done', async () => {
    await using work = await tempDir('nora-migrate-flags-');
    await fillBlobs(path.join(work.path, 'storage'), 1);
    const cases: [readonly string[], RegExp][] = [
      [
        ['--from', 'gcs', '--to', 's3'],
        /--from gcs: Google Cloud Storage is not supported by this build/,
      ],
      [
        ['--from', 'local', '--to', 'gcs'],
        /--to gcs: Google Cloud Storage is not supported by this build/,
      ],
      [['--from', 'memory', '--to', 'local'], /--from memory: memory storage keeps nothing/],
      [['--from', 'azure', '--to', 'local'], /--from "azure": expected local or s3/],
      [
        ['--from', 'local', '--to', 'local'],
        /source and target are the same storage \(local .*\): name another with --to-path/,
      ],
      [['--from', 'local', '--to', 'local', '--to-path', 'storage/../storage'], /the same storage/],
      [
        ['--from', 'local', '--to', 'local', '--to-bucket', 'b'],
        /--to-bucket is the bucket of an s3 target/,
      ],
      [
        ['--from', 'local', '--to', 's3', '--to-path', 'x'],
        /--to-path is the directory of a local target/,
      ],
      [
        ['--from', 'local', '--to', 's3', '--concurrency', '0'],
        /option '--concurrency <n>' argument '0' is invalid/,
      ],
      [['--from', 'local'], /required option '--to <backend>' not specified/],
      [['--from', 'local', '--to', 's3', '--bogus'], /unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) {
      const result = await migrate(work.path, args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
      assert.match(result.stderr, /^nora migrate: /, args.join(' '));
      assert.match(result.stderr, message, args.join(' '));
    }
    assert.deepEqual(await fs.readdir(work.path), ['storage']);
  });
});
