/**
 * `nora re-pin KEY --expected SHA256 [--file F] [--yes] [--json]` as an operator runs it, on the
 * storage a real server wrote: refused beside that server when it must write; a dry run changes
 * nothing; bytes that do not hash to --expected, or a digest with no stored blob, are refused
 * (exit 1); bad KEYs and formats it does not re-pin exit 2 with the reason; --yes re-points the
 * hosted raw file (the restarted server serves the new bytes) or stores its missing blob again;
 * a second run has nothing to do.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { nora } from '../../helpers/cli.ts';
import { freePort, startNoraProcess } from '../../helpers/process.ts';
import { tempDir } from '../../helpers/tmp.ts';

const BASE = { NORA_RATE_LIMIT_ENABLED: 'false', NORA_AUTH_ENABLED: 'false' };
const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');

/** Every entry under `dir`: relative name → kind, size and mtime (ns), to compare before/after. */
async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await fs.readdir(dir, { recursive: true })).sort()) {
    const stat = await fs.lstat(path.join(dir, name), { bigint: true });
    out[name] = `${stat.isDirectory() ? 'dir' : 'file'} ${stat.size} ${stat.mtimeNs}`;
  }
  return out;
}

test('nora re-pin: refusals, dry run, apply, restore a missing blob, idempotence', async () => {
  await using work = await tempDir('nora-re-pin-');
  const storage = path.join(work.path, 'storage');
  const env = { ...BASE, NORA_STORAGE_PATH: storage };
  const serve = async () => startNoraProcess({ env, port: await freePort(), cwd: work.path });
  const oldBytes = 'the bytes first uploaded\n';
  const newBytes = 'the bytes the operator vouches for\n';
  const key = 'raw/raw-hosted/dist/app-1.0.bin';
  const good = path.join(work.path, 'good.bin');
  await fs.writeFile(good, newBytes);
  const rePin = (...args: string[]) => nora(['re-pin', ...args], env, work.path);

  {
    await using server = await serve();
    const put = await fetch(`${server.url}/raw/dist/app-1.0.bin`, {
      method: 'PUT',
      body: oldBytes,
    });
    assert.equal(put.status, 201);
    // Beside the running server: a write is refused (exit 2), naming it.
    const refused = await rePin(key, '--expected', sha256(newBytes), '--file', good, '--yes');
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /^nora re-pin: a NORA server \(pid \d+\) is running on /);
    // A dry run beside it writes nothing, not even SQLite's WAL index (trial 31: nora.db-shm
    // changed: a read-only WAL reader updates its read marks there).
    const shm = path.join(storage, 'nora.db-shm');
    const shmBefore = await fs.readFile(shm);
    const besides = await rePin(key, '--expected', sha256(newBytes), '--file', good);
    assert.equal(besides.code, 0, besides.stderr);
    assert.match(besides.stdout, /dry run|would/i);
    assert.ok(shmBefore.equals(await fs.readFile(shm)), 'nora.db-shm unchanged');
  }

  // Bad KEYs, formats and flags: exit 2, the reason.
  const usage: [string[], RegExp][] = [
    [['nonsense', '--expected', sha256(newBytes)], /is not <format>\/<repository>\/<path>/],
    [[key, '--expected', 'abc'], /--expected must be a SHA-256: 64 hex digits/],
    [
      ['docker/docker-hosted/app/manifests/v1', '--expected', sha256(newBytes)],
      /docker files are not re-pinned: OCI manifests and blobs are named by their digest/,
    ],
    [['npm/npm-hosted/x/-/x-1.0.0.tgz', '--expected', sha256(newBytes)], /sha512/],
    [
      ['raw/nope/a.bin', '--expected', sha256(newBytes)],
      /no raw repository "nope" is configured \(hosted raw repositories: raw-hosted\)/,
    ],
    [['raw/raw-hosted/dist/', '--expected', sha256(newBytes)], /names no file/],
  ];
  for (const [args, message] of usage) {
    const result = await rePin(...args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }

  // Refused over data (exit 1): no such file; a file that is not the vouched bytes; no blob.
  const none = await rePin('raw/raw-hosted/dist/other.bin', '--expected', sha256(newBytes));
  assert.equal(none.code, 1, none.stderr);
  assert.match(none.stderr, /no file dist\/other\.bin in raw-hosted/);
  const wrong = await rePin(key, '--expected', sha256('something else'), '--file', good, '--yes');
  assert.equal(wrong.code, 1, wrong.stderr);
  assert.match(wrong.stderr, /hashes to sha256:[0-9a-f]{64}, not --expected/);
  const missing = await rePin(key, '--expected', sha256(newBytes));
  assert.equal(missing.code, 1, missing.stderr);
  assert.match(missing.stderr, /no blob sha256:[0-9a-f]{64} is stored: pass --file F/);

  // --json on failure: one JSON document on stdout too, the same exit codes (it printed nothing).
  for (const [args, code, kind, message] of [
    [
      ['nonsense', '--expected', sha256(newBytes)],
      2,
      'usage',
      /is not <format>\/<repository>\/<path>/,
    ],
    [[key, '--expected', sha256(newBytes)], 1, 'refused', /no blob sha256:[0-9a-f]{64} is stored/],
  ] as const) {
    const failed = await rePin(...args, '--json');
    assert.equal(failed.code, code, failed.stderr);
    const doc = JSON.parse(failed.stdout) as {
      key: string;
      error: { kind: string; message: string };
    };
    assert.equal(doc.key, args[0]);
    assert.equal(doc.error.kind, kind);
    assert.match(doc.error.message, message);
    assert.match(failed.stderr, message);
  }

  // Dry run: says what would change, changes nothing: no file of the storage (database, its
  // -wal/-shm, audit.jsonl, .tmp/) is created, removed, resized or touched.
  // Without audit.jsonl, as a storage whose server had no audit file yet: none is made.
  await fs.rm(path.join(storage, 'audit.jsonl'));
  const before = await tree(storage);
  const dry = await rePin(key, '--expected', sha256(newBytes), '--file', good, '--json');
  assert.equal(dry.code, 0, dry.stderr);
  assert.deepEqual(await tree(storage), before);
  const planned = JSON.parse(dry.stdout) as Record<string, unknown>;
  assert.deepEqual(
    [
      planned['outcome'],
      planned['stored'],
      planned['applied'],
      planned['blob'],
      planned['previous'],
    ],
    ['repointed', true, false, 'missing', `sha256:${sha256(oldBytes)}`],
  );
  const blobOf = (text: string) => {
    const hex = sha256(text);
    return path.join(storage, 'blobs/sha256', hex.slice(0, 2), hex);
  };
  await assert.rejects(fs.stat(blobOf(newBytes)), /ENOENT/);

  // Apply: stored, re-pointed; the server then serves the new bytes.
  const applied = await rePin(key, '--expected', sha256(newBytes), '--file', good, '--yes');
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(
    applied.stdout,
    /done: stored the bytes of --file as that blob, then pointed the file/,
  );
  assert.equal(await fs.readFile(blobOf(newBytes), 'utf8'), newBytes);
  // Again: nothing to do.
  const again = await rePin(key, '--expected', `sha256:${sha256(newBytes)}`, '--yes');
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /nothing to do/);

  // The blob lost: the same digest, its bytes stored again from --file.
  await fs.rm(blobOf(newBytes));
  const restored = await rePin(
    key,
    '--expected',
    sha256(newBytes),
    '--file',
    good,
    '--yes',
    '--json',
  );
  assert.equal(restored.code, 0, restored.stderr);
  const report = JSON.parse(restored.stdout) as Record<string, unknown>;
  assert.deepEqual(
    [report['outcome'], report['stored'], report['applied']],
    ['restored', true, true],
  );

  {
    await using server = await serve();
    const got = await fetch(`${server.url}/raw/dist/app-1.0.bin`);
    assert.equal(got.status, 200);
    assert.equal(await got.text(), newBytes);
  }
});

test('nora re-pin: a missing KEY or --expected is a usage error with its --json document; --file that is not there says so; a dry run on a wrong storage path writes nothing', async () => {
  await using work = await tempDir('nora-re-pin-usage-');
  const storage = path.join(work.path, 'not-a-storage');
  await fs.mkdir(storage);
  const env = { ...BASE, NORA_STORAGE_PATH: storage };
  const rePin = (...args: string[]) => nora(['re-pin', ...args], env, work.path);
  const digest = sha256('x');
  const key = 'raw/raw-hosted/a.bin';
  for (const [args, message] of [
    [['--expected', digest, '--json'], /missing KEY/],
    [[key, '--json'], /missing --expected SHA256/],
  ] as const) {
    const failed = await rePin(...args);
    assert.equal(failed.code, 2, failed.stderr);
    const doc = JSON.parse(failed.stdout) as {
      key: string;
      error: { kind: string; message: string };
    };
    assert.equal(doc.error.kind, 'usage');
    assert.match(doc.error.message, message);
    assert.match(failed.stderr, message);
  }
  const nope = path.join(work.path, 'nope');
  const noFile = await rePin(key, '--expected', digest, '--file', nope);
  assert.equal(noFile.code, 1, noFile.stderr);
  assert.equal(noFile.stderr, `nora re-pin: --file ${nope}: no such file: nothing was changed\n`);
  // A dry run against a directory holding no NORA: refused as --yes is, nothing created there.
  const dry = await rePin(key, '--expected', digest);
  assert.equal(dry.code, 2, dry.stderr);
  assert.match(dry.stderr, /^nora re-pin: no database at .*: nothing to re-pin/);
  assert.deepEqual(await fs.readdir(storage), []);
});
