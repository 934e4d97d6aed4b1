/**
 * Trial ops F4 (server side): a blob file the server's user may not read (a restore with the
 * wrong owner) answered GET 503 "storage is unavailable (EACCES)" but HEAD 200, as if it could be
 * downloaded. HEAD now opens the file (reading nothing) and answers the same 503. The server runs
 * as `nobody` when the tests run as root (root opens any file whatever its mode); skipped, saying
 * so, when that cannot be done.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { freePort, NODE_FLAGS, startNoraProcess } from '../../helpers/process.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { PROJECT_ROOT } from '../../helpers/tools.ts';

const asRoot = process.getuid?.() === 0;
const DROP = ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'];

function cannotDrop(): string | false {
  if (!asRoot) return false;
  try {
    execFileSync(DROP[0] ?? 'setpriv', [...DROP.slice(1), 'true'], { stdio: 'pipe' });
    return false;
  } catch (err) {
    return `running as root and setpriv cannot drop to nobody here: ${String(err).split('\n')[0]}`;
  }
}

test(
  'HEAD of a blob the server may not read answers 503 as its GET does',
  { skip: cannotDrop() },
  async () => {
    await using dir = await tempDir('nora-unreadable-head-');
    const storage = path.join(dir.path, 'data');
    await fs.mkdir(storage);
    if (asRoot) execFileSync('chown', ['-R', 'nobody:nogroup', dir.path]);
    const port = await freePort();
    const server = await startNoraProcess({
      env: { NORA_STORAGE_PATH: storage, NORA_RATE_LIMIT_ENABLED: 'false' },
      port,
      cwd: dir.path,
      ...(asRoot
        ? {
            command: [
              ...DROP,
              process.execPath,
              ...NODE_FLAGS,
              path.join(PROJECT_ROOT, 'bin/nora.js'),
              'serve',
            ],
          }
        : {}),
    });
    try {
      // Past the raw small-file memory cache (a HEAD of a file kept in memory is served from it).
      const body = 'unreadable later\n'.padEnd(2 * 1024 * 1024, '.');
      const url = `${server.url}/raw/perm/big.bin`;
      const put = await fetch(url, { method: 'PUT', body });
      assert.equal(put.status, 201, await put.text());
      const hex = createHash('sha256').update(body).digest('hex');
      await fs.chmod(path.join(storage, 'blobs', 'sha256', hex.slice(0, 2), hex), 0o000);

      const get = await fetch(url);
      const getText = await get.text();
      assert.equal(get.status, 503, getText);
      assert.match(getText, /storage is unavailable \(EACCES\)/);
      const head = await fetch(url, { method: 'HEAD' });
      assert.equal(head.status, 503);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  },
);
