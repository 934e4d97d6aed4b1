/**
 * `nora backup` and `nora restore` as an operator runs them (real processes, bin/nora.js):
 * a backup taken while the server runs, after raw, npm and OCI publishes, restored into a fresh
 * data directory whose server then answers every artifact byte for byte; garbage (a deleted raw
 * file's blob) left out; refusals (a target holding data without --force, a live server on it);
 * a damaged or missing blob fails the backup (no archive left); and bad archives (not gzip,
 * truncated, a traversal entry name, a blob whose bytes do not match its name, a foreign format
 * version, an oversized metadata.json, a database that is none) fail the restore with nothing
 * left in the target.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { nora } from '../../helpers/cli.ts';
import { startTestServer } from '../../helpers/server.ts';
import { flipByteAt } from '../../helpers/storage.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { NpmHttp } from '../npm/client.ts';
import { tarballOf } from '../npm/fixtures.ts';
import { Client, OCI_MANIFEST, startOciServer } from '../oci/helpers.ts';

const sha256hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** Every file under `dir`, relative, sorted ([] when there is no `dir`). */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

/** The entry names of a tar.gz, in order. */
async function entryNames(archive: Buffer): Promise<string[]> {
  const extract = tar.extract();
  const names: string[] = [];
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      names.push(header.name);
      stream.on('end', next);
      stream.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  extract.end(gunzipSync(archive));
  await done;
  return names;
}

/** A tar.gz of these entries, as a hand-made (hostile or broken) archive. */
async function makeArchive(entries: readonly [string, Buffer | string][]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk) => {
    chunks.push(chunk as Buffer);
  });
  const ended = new Promise<void>((resolve) => {
    pack.on('end', () => {
      resolve();
    });
  });
  for (const [name, body] of entries) {
    await new Promise<void>((resolve, reject) => {
      pack.entry({ name }, Buffer.from(body), (err) => {
        if (err) reject(err);
        else resolve();
      });
    });
  }
  pack.finalize();
  await ended;
  return gzipSync(Buffer.concat(chunks));
}

function metadataJson(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    format: 'nora-backup',
    format_version: 1,
    nora_version: '0.1.0',
    created_at: new Date().toISOString(),
    database_bytes: 3,
    blobs: 1,
    blob_bytes: 5,
    total_bytes: 8,
    ...overrides,
  });
}

describe('nora backup / nora restore', () => {
  test('a backup taken while the server runs restores into a fresh data directory byte for byte', async () => {
    await using source = await tempDir('nora-backup-src-');
    await using target = await tempDir('nora-backup-dst-');
    const sourceStorage = path.join(source.path, 'storage');
    const targetStorage = path.join(target.path, 'storage');
    const archive = path.join(source.path, 'backup.tar.gz');
    // Not a round number of read chunks, random: compresses to nothing less.
    const rawBody = Buffer.alloc(300_001);
    for (let i = 0; i < rawBody.length; i += 1) rawBody[i] = (i * 7919 + (i >> 9)) & 0xff;
    const spec = { name: 'backup-pkg', version: '1.0.0' };
    const garbage = 'bytes of a file deleted before the backup';
    let image: { digest: string; body: string; layer: string; config: string };
    {
      await using server = await startOciServer({ dataDir: source.path });
      const put = await fetch(`${server.url}/raw/docs/big.bin`, { method: 'PUT', body: rawBody });
      assert.equal(put.status, 201, await put.text());
      const gone = await fetch(`${server.url}/raw/docs/gone.txt`, { method: 'PUT', body: garbage });
      assert.equal(gone.status, 201);
      assert.equal(
        (await fetch(`${server.url}/raw/docs/gone.txt`, { method: 'DELETE' })).status,
        204,
      );
      const published = await new NpmHttp(`${server.url}/npm`).publish(spec);
      assert.equal(published.status, 201, published.text);
      image = await new Client(server.url).pushImage('team/app', 'v1');

      // While the server runs (and is named in .nora-serve/).
      const backup = await nora(['backup', '-o', archive], { NORA_STORAGE_PATH: sourceStorage });
      assert.equal(backup.code, 0, backup.stderr);
      assert.match(
        backup.stdout,
        /^nora backup: wrote .*backup\.tar\.gz: the database \(\d+ bytes\) and 5 blobs/,
      );
      // The archive holds the signing key and token hashes: its owner's only (trial 26 opsR F1).
      assert.equal((await fs.stat(archive)).mode & 0o777, 0o600);
      // No half-file, no work directory left behind.
      await assert.rejects(fs.stat(`${archive}.tmp`));
      assert.deepEqual(
        (await fs.readdir(path.join(sourceStorage, '.tmp'))).filter((n) => n.startsWith('backup-')),
        [],
      );

      // The server still owns its storage: a restore there is refused, touching nothing.
      const beside = await nora(['restore', '-i', archive, '--force'], {
        NORA_STORAGE_PATH: sourceStorage,
      });
      assert.equal(beside.code, 2, beside.stderr);
      assert.match(
        beside.stderr,
        /nora restore: a NORA server \(pid \d+\) is running on .*stop it first/,
      );
      // Another storage, but the running server's database as [database] path (trial 24 opsA
      // F5: --force replaced the live database and deleted its -wal under the server).
      const database = path.join(sourceStorage, 'nora.db');
      const before = await fs.stat(database);
      const shared = await nora(['restore', '-i', archive, '--force'], {
        NORA_STORAGE_PATH: path.join(source.path, 'elsewhere'),
        NORA_DATABASE_PATH: database,
      });
      assert.equal(shared.code, 2, shared.stderr);
      assert.match(shared.stderr, /the database .*nora\.db is open in another process/);
      assert.equal((await fs.stat(database)).ino, before.ino, 'the live database is untouched');
    }

    const bytes = await fs.readFile(archive);
    const names = await entryNames(bytes);
    assert.deepEqual(names.slice(0, 2), ['metadata.json', 'nora.db']);
    const blobNames = names.slice(2).filter((name) => !name.startsWith('audit.jsonl'));
    assert.equal(blobNames.length, 5);
    for (const name of blobNames)
      assert.match(name, /^blobs\/sha(256|512)\/[0-9a-f]{2}\/[0-9a-f]+$/);
    const rawHex = sha256hex(rawBody);
    assert.ok(blobNames.includes(`blobs/sha256/${rawHex.slice(0, 2)}/${rawHex}`));
    // Garbage (its file still in storage, its index row too) is not backed up.
    const garbageHex = sha256hex(garbage);
    assert.ok(!blobNames.some((name) => name.endsWith(garbageHex)));

    // Cut inside the database entry (as a full disk or an interrupted copy leaves it): the
    // restore used to wait forever for the cut entry to end (exit 13, "unsettled top-level
    // await") and leave its spooled database behind.
    const cut = path.join(target.path, 'cut.tar.gz');
    await fs.writeFile(cut, bytes.subarray(0, 1000));
    const cutStorage = path.join(target.path, 'cut');
    const truncated = await nora(['restore', '-i', cut], { NORA_STORAGE_PATH: cutStorage });
    assert.equal(truncated.code, 1, truncated.stderr);
    assert.match(truncated.stderr, /^nora restore: the archive is truncated/);
    assert.deepEqual(await filesUnder(cutStorage), []);

    const restored = await nora(['restore', '-i', archive], { NORA_STORAGE_PATH: targetStorage });
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(
      restored.stdout,
      /^nora restore: 5 blobs, \d+ bytes, \d audit log files and the database .*nora\.db restored/,
    );
    assert.deepEqual(
      (await fs.readdir(path.join(targetStorage, '.tmp'))).filter((n) => n.startsWith('restore-')),
      [],
    );
    const verified = await nora(['verify'], { NORA_STORAGE_PATH: targetStorage });
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, /nora verify: 5 blobs/);

    {
      await using server = await startOciServer({ dataDir: target.path });
      const raw = await fetch(`${server.url}/raw/docs/big.bin`);
      assert.equal(raw.status, 200);
      assert.ok(Buffer.from(await raw.arrayBuffer()).equals(rawBody));
      assert.equal((await fetch(`${server.url}/raw/docs/gone.txt`)).status, 404);

      const tgz = await fetch(`${server.url}/npm/backup-pkg/-/backup-pkg-1.0.0.tgz`);
      assert.equal(tgz.status, 200);
      assert.ok(Buffer.from(await tgz.arrayBuffer()).equals(tarballOf(spec)));
      const packument = (await (await fetch(`${server.url}/npm/backup-pkg`)).json()) as {
        versions: Record<string, unknown>;
      };
      assert.deepEqual(Object.keys(packument.versions), ['1.0.0']);

      const manifest = await fetch(`${server.url}/v2/team/app/manifests/v1`, {
        headers: { accept: OCI_MANIFEST },
      });
      assert.equal(manifest.status, 200);
      assert.equal(await manifest.text(), image.body);
      assert.equal(manifest.headers.get('docker-content-digest'), image.digest);
      for (const digest of [image.layer, image.config]) {
        const blob = await fetch(`${server.url}/v2/team/app/blobs/${digest}`);
        assert.equal(blob.status, 200);
        assert.equal(`sha256:${sha256hex(Buffer.from(await blob.arrayBuffer()))}`, digest);
      }

      const live = await nora(['restore', '-i', archive, '--force'], {
        NORA_STORAGE_PATH: targetStorage,
      });
      assert.equal(live.code, 2, live.stderr);
      assert.match(live.stderr, /is running on/);
    }

    // Stopped, the target now holds data: refused without --force, done with it.
    const again = await nora(['restore', '-i', archive], { NORA_STORAGE_PATH: targetStorage });
    assert.equal(again.code, 2, again.stderr);
    assert.match(
      again.stderr,
      /^nora restore: the target already holds data \(a database at .*nora\.db\).*--force/,
    );
    const forced = await nora(['restore', '-i', archive, '--force'], {
      NORA_STORAGE_PATH: targetStorage,
    });
    assert.equal(forced.code, 0, forced.stderr);
    const after = await nora(['verify'], { NORA_STORAGE_PATH: targetStorage });
    assert.equal(after.code, 0, after.stdout + after.stderr);
  });

  test('the audit log and its rotated files are backed up and restored', async () => {
    await using source = await tempDir('nora-backup-audit-src-');
    await using target = await tempDir('nora-backup-audit-dst-');
    const sourceStorage = path.join(source.path, 'storage');
    const targetStorage = path.join(target.path, 'storage');
    const archive = path.join(source.path, 'backup.tar.gz');
    {
      await using server = await startTestServer({ dataDir: source.path });
      const put = await fetch(`${server.url}/raw/audited.txt`, { method: 'PUT', body: 'a' });
      assert.equal(put.status, 201, await put.text());
    }
    const log = path.join(sourceStorage, 'audit.jsonl');
    const current = await fs.readFile(log, 'utf8');
    assert.match(current, /"action":"push","actor":"anonymous","artifact":"audited.txt"/);
    // A rotated file (as `[audit] max_size_mb` leaves it) and an empty one.
    const older = '{"ts":"2026-01-01T00:00:00.000Z","action":"push","artifact":"older"}\n';
    await fs.writeFile(`${log}.1`, older);
    await fs.writeFile(`${log}.2`, '');

    const backup = await nora(['backup', '-o', archive], { NORA_STORAGE_PATH: sourceStorage });
    assert.equal(backup.code, 0, backup.stderr);
    const names = await entryNames(await fs.readFile(archive));
    assert.deepEqual(names.slice(0, 5), [
      'metadata.json',
      'nora.db',
      'audit.jsonl',
      'audit.jsonl.1',
      'audit.jsonl.2',
    ]);

    const restored = await nora(['restore', '-i', archive], { NORA_STORAGE_PATH: targetStorage });
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, /^nora restore: 1 blobs, \d+ bytes, 3 audit log files and/);
    const back = path.join(targetStorage, 'audit.jsonl');
    assert.equal(await fs.readFile(back, 'utf8'), current);
    assert.equal(await fs.readFile(`${back}.1`, 'utf8'), older);
    assert.equal(await fs.readFile(`${back}.2`, 'utf8'), '');
    // The server's mode (audit/sink.ts AUDIT_FILE_MODE), not the umask's 0644: the log names
    // users and addresses.
    const mode = (await fs.stat(log)).mode & 0o777;
    assert.equal(mode & 0o007, 0, 'the server writes its audit log 0640 (no world bits)');
    for (const file of [back, `${back}.1`, `${back}.2`]) {
      assert.equal(((await fs.stat(file)).mode & 0o777).toString(8), mode.toString(8), file);
    }
    assert.deepEqual(
      (await fs.readdir(targetStorage)).filter((n) => n.includes('.restore-')),
      [],
      'no spooled audit file left',
    );
  });

  test('a restored storage gets a new installation id; the one backed up keeps its own', async () => {
    await using source = await tempDir('nora-backup-id-src-');
    await using target = await tempDir('nora-backup-id-dst-');
    const archive = path.join(source.path, 'backup.tar.gz');
    const installation = async (dataDir: string): Promise<string> => {
      await using server = await startTestServer({ dataDir });
      const got = await fetch(`${server.url}/api/v1/repositories`);
      assert.equal(got.status, 200);
      return ((await got.json()) as { installation: string }).installation;
    };
    const before = await installation(source.path);
    assert.match(before, /^[0-9a-f-]{36}$/);
    assert.equal(await installation(source.path), before, 'the same across restarts');
    const env = (dir: string) => ({ NORA_STORAGE_PATH: path.join(dir, 'storage') });
    const backup = await nora(['backup', '-o', archive], env(source.path));
    assert.equal(backup.code, 0, backup.stderr);
    const restored = await nora(['restore', '-i', archive], env(target.path));
    assert.equal(restored.code, 0, restored.stderr);
    const after = await installation(target.path);
    assert.match(after, /^[0-9a-f-]{36}$/);
    assert.notEqual(after, before, 'a restore is not the storage it was taken of');
    assert.equal(await installation(source.path), before);
  });

  test('a damaged or missing blob fails the backup, naming it, and leaves no archive', async () => {
    await using data = await tempDir('nora-backup-bad-');
    const storage = path.join(data.path, 'storage');
    const body = 'bytes that will rot before the backup';
    {
      await using server = await startTestServer({ dataDir: data.path });
      const put = await fetch(`${server.url}/raw/docs/rot.txt`, { method: 'PUT', body });
      assert.equal(put.status, 201);
    }
    const hex = sha256hex(body);
    const file = path.join(storage, 'blobs', 'sha256', hex.slice(0, 2), hex);
    const archive = path.join(data.path, 'out.tar.gz');
    const env = { NORA_STORAGE_PATH: storage };

    await flipByteAt(file, 3);
    const damaged = await nora(['backup', '-o', archive], env);
    assert.equal(damaged.code, 1, damaged.stderr);
    assert.match(damaged.stderr, new RegExp(`nora backup: blob sha256:${hex} is damaged`));
    await assert.rejects(fs.stat(archive));
    await assert.rejects(fs.stat(`${archive}.tmp`));

    await fs.rm(file);
    const missing = await nora(['backup', '-o', archive], env);
    assert.equal(missing.code, 1, missing.stderr);
    assert.match(missing.stderr, /1 referenced blob is missing from storage/);
    assert.ok(
      missing.stderr.includes(
        `sha256:${hex}, referenced by raw_files repo=raw-hosted name=rot.txt path=docs/rot.txt`,
      ),
      missing.stderr,
    );
    await assert.rejects(fs.stat(archive));
    assert.deepEqual(await filesUnder(path.join(storage, '.tmp')), []);
  });

  test('bad archives are refused with a clear error and nothing is left in the target', async () => {
    await using work = await tempDir('nora-restore-bad-');
    const good = Buffer.from('hello');
    const goodHex = sha256hex(good);
    const goodName = `blobs/sha256/${goodHex.slice(0, 2)}/${goodHex}`;
    const cases: [string, Buffer, RegExp][] = [
      ['not gzip', Buffer.from('just some text, not an archive\n'), /not a gzip file/],
      [
        'truncated',
        (
          await makeArchive([
            ['metadata.json', metadataJson()],
            ['nora.db', 'not'],
            [goodName, Buffer.alloc(200_000, 1)],
          ])
        ).subarray(0, 400),
        /the archive is truncated/,
      ],
      [
        'traversal',
        await makeArchive([
          ['metadata.json', metadataJson()],
          ['nora.db', 'not'],
          ['../../escaped.txt', 'out of the storage'],
        ]),
        /unknown entry "\.\.\/\.\.\/escaped\.txt"/,
      ],
      [
        'traversal under blobs/',
        await makeArchive([
          ['metadata.json', metadataJson()],
          [`blobs/sha256/${goodHex.slice(0, 2)}/../../../../escaped.txt`, good],
        ]),
        /unknown entry "blobs\/sha256\/.*escaped\.txt"/,
      ],
      [
        'wrong digest',
        await makeArchive([
          ['metadata.json', metadataJson()],
          ['nora.db', 'not'],
          [goodName, 'other bytes'],
        ]),
        new RegExp(`blob entry sha256:${goodHex} is damaged: its bytes hash to sha256:`),
      ],
      [
        'metadata.json not first',
        await makeArchive([
          ['nora.db', 'not'],
          ['metadata.json', metadataJson()],
        ]),
        /not a NORA backup: its first entry is "nora\.db", not metadata\.json/,
      ],
      [
        'huge metadata.json',
        await makeArchive([['metadata.json', ' '.repeat(100_000)]]),
        /metadata\.json is 100000 bytes, more than a NORA backup's/,
      ],
      [
        'future format version',
        await makeArchive([['metadata.json', metadataJson({ format_version: 2 })]]),
        /the archive's format version is 2; this NORA restores version 1/,
      ],
      [
        'a database that is none (a good blob restored first)',
        await makeArchive([
          ['metadata.json', metadataJson()],
          ['nora.db', 'not a database'],
          [goodName, good],
        ]),
        /the archive's nora\.db cannot be opened/,
      ],
    ];
    for (const [what, bytes, expected] of cases) {
      const dir = path.join(work.path, what.replaceAll(/\W+/g, '-'));
      const storage = path.join(dir, 'storage');
      const archive = path.join(dir, 'archive.tar.gz');
      await fs.mkdir(dir, { recursive: true });
      await fs.writeFile(archive, bytes);
      const result = await nora(['restore', '-i', archive], { NORA_STORAGE_PATH: storage });
      assert.equal(result.code, 1, `${what}: ${result.stderr}`);
      assert.match(result.stderr, /^nora restore: /, what);
      assert.match(result.stderr, expected, what);
      assert.deepEqual(await filesUnder(storage), [], `${what}: left ${result.stderr}`);
      assert.deepEqual(
        (await filesUnder(dir)).filter((name) => name !== 'archive.tar.gz'),
        [],
        what,
      );
    }
    await assert.rejects(fs.stat(path.join(work.path, 'escaped.txt')));
  });
});
