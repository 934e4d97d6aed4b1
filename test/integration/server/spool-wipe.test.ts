/**
 * What a crash leaves in the spool is removed at the next start (a new-user trial found
 * 16-21 MB of killed PyPI and Go uploads surviving restarts): every request-scoped spool folder
 * and the storage driver's temp files go; OCI upload sessions, which outlive a restart, stay.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';

test('a start removes leftover request spools and temp files, not OCI upload sessions', async () => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-spool-'));
  try {
    const spool = path.join(dataDir, 'storage', '.tmp');
    const leftovers = ['ingest', 'pypi-upload', 'go-upload', 'cargo-publish'].map((dir) =>
      path.join(spool, dir, randomUUID()),
    );
    const temp = path.join(spool, `w-${randomUUID()}`);
    const session = path.join(spool, 'uploads', randomUUID());
    for (const file of [...leftovers, temp, session]) {
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.writeFile(file, 'half an upload');
    }
    const server = await startTestServer({ dataDir });
    await server.close();
    for (const file of [...leftovers, temp]) {
      await assert.rejects(fs.stat(file), { code: 'ENOENT' }, `${file} removed`);
    }
    assert.equal(await fs.readFile(session, 'utf8'), 'half an upload', 'upload session kept');
  } finally {
    await fs.rm(dataDir, { recursive: true, force: true });
  }
});
