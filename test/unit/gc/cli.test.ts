/**
 * `nora gc` as an operator runs it (a real process on a stopped server's storage): a dry run by
 * default that names the orphan and deletes nothing, `--apply --grace 0` that removes it and
 * keeps what is referenced, usage and safety refusals (exit 2 on a bad option, exit 1 when there
 * is no database to judge references by), and `nora --help` listing the verb.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { blobKey } from '../../../src/storage/keys.ts';
import { startTestServer } from '../../helpers/server.ts';
import { removeDir } from '../../helpers/tmp.ts';
import { nora } from '../../helpers/cli.ts';

describe('nora gc', () => {
  test('dry run by default, --apply removes, referenced bytes stay', async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-gc-cli-'));
    try {
      const storage = path.join(dataDir, 'storage');
      let orphanKey: string;
      let keptKey: string;
      {
        await using server = await startTestServer({ dataDir });
        const put = await fetch(`${server.url}/raw/docs/readme.txt`, {
          method: 'PUT',
          body: 'referenced bytes',
        });
        assert.equal(put.status, 201);
        const { blobs, db } = server.app.context;
        const orphan = await blobs.ingest(Readable.from([Buffer.from('nobody refers to me')]));
        orphanKey = blobKey(orphan.digest);
        const name = `sha256:${orphan.digest.hex}`;
        const old = Date.now() - 30 * 86_400_000;
        await sql`UPDATE blobs SET created_at = ${old} WHERE digest = ${name}`.execute(db);
        await fs.utimes(path.join(storage, orphanKey), old / 1000, old / 1000);
        const kept = await sql<{ digest: string }>`SELECT digest FROM raw_files`.execute(db);
        const hex = kept.rows[0]?.digest.slice('sha256:'.length) ?? '';
        keptKey = blobKey({ algorithm: 'sha256', hex });
      }
      const env = { NORA_STORAGE_PATH: storage };

      const dry = await nora(['gc'], env);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /dry run \(nothing deleted; --apply deletes\), grace 604800 s/);
      assert.match(dry.stdout, /would remove 1 unreferenced blobs, 19 bytes/);
      assert.ok(dry.stdout.includes(path.basename(orphanKey)), dry.stdout);
      await fs.stat(path.join(storage, orphanKey)); // still there

      const applied = await nora(['gc', '--apply', '--grace', '0'], env);
      assert.equal(applied.code, 0, applied.stderr);
      assert.match(applied.stdout, /removed unreferenced blobs older than 0 s/);
      assert.match(applied.stdout, /removed 1 unreferenced blobs, 19 bytes/);
      await assert.rejects(fs.stat(path.join(storage, orphanKey)));
      assert.equal(await fs.readFile(path.join(storage, keptKey), 'utf8'), 'referenced bytes');

      // NORA_GC_GRACE is the default of --grace.
      const byEnv = await nora(['gc'], { ...env, NORA_GC_GRACE: '60' });
      assert.equal(byEnv.code, 0, byEnv.stderr);
      assert.match(byEnv.stdout, /grace 60 s/);
    } finally {
      await removeDir(dataDir);
    }
  });

  test('a referenced blob missing from storage is reported (its artifact answers 503)', async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-gc-cli-'));
    try {
      const storage = path.join(dataDir, 'storage');
      {
        await using server = await startTestServer({ dataDir });
        for (const name of ['lost.txt', 'kept.txt']) {
          const put = await fetch(`${server.url}/raw/docs/${name}`, { method: 'PUT', body: name });
          assert.equal(put.status, 201);
        }
      }
      // What the read check leaves when it removes a damaged file (or a disk loses it).
      const hex = createHash('sha256').update('lost.txt').digest('hex');
      await fs.rm(path.join(storage, blobKey({ algorithm: 'sha256', hex })));
      const dry = await nora(['gc'], { NORA_STORAGE_PATH: storage });
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /^1 referenced blobs are missing from storage: /m);
      assert.match(dry.stdout, new RegExp(`^  sha256:${hex}$`, 'm'));
      assert.match(dry.stdout, /would remove 0 unreferenced blobs/);
    } finally {
      await removeDir(dataDir);
    }
  });

  test('refusals: a bad --grace (exit 2), no database to read references from (exit 1)', async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-gc-cli-'));
    try {
      const env = { NORA_STORAGE_PATH: path.join(dataDir, 'storage') };
      const bad = await nora(['gc', '--grace', '-5'], env);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /^nora gc: option '--grace <seconds>' argument '-5' is invalid/);
      const none = await nora(['gc', '--apply'], env);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /^nora gc: no database at .*: refusing to sweep/);
      const memory = await nora(['gc'], { NORA_STORAGE_MODE: 'memory' });
      assert.equal(memory.code, 1);
      assert.match(memory.stderr, /^nora gc: storage.mode = "memory"/);
    } finally {
      await removeDir(dataDir);
    }
  });

  test('nora --help lists gc as a built verb', async () => {
    const help = await nora(['--help'], {});
    assert.equal(help.code, 0);
    assert.match(help.stdout, /gc \[options\]\s+remove blobs nothing references/);
    assert.doesNotMatch(help.stdout, /gc .*not available/);
  });
});
