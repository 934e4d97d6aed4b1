/**
 * A request still in flight when a SIGTERM's graceful stop gives up on it (`shutdown_timeout`)
 * leaves an access line with `"cut":"shutdown"` (trial F11): before, the process exited without
 * writing one, so an operator could not tell which uploads were lost. It also removes its
 * `.nora-serve/<pid>` marker (trial 25 ops F6).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { freePort, startNoraProcess } from '../../helpers/process.ts';
import { removeDir } from '../../helpers/tmp.ts';

test('SIGTERM with a slow upload in flight: the upload is logged cut by the shutdown', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-cut-log-'));
  const port = await freePort();
  const server = await startNoraProcess({
    port,
    env: {
      NORA_STORAGE_PATH: path.join(dir, 'storage'),
      NORA_AUTH_ENABLED: 'false',
      NORA_LOG_LEVEL: 'info',
      NORA_SHUTDOWN_TIMEOUT: '1',
    },
  });
  try {
    // A streaming upload that sends 3000 bytes, then nothing (a slow client).
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: 'PUT',
      path: '/raw/slow/upload.bin',
      headers: { 'content-type': 'application/octet-stream', 'content-length': '100000' },
      agent: false,
    });
    const closed = new Promise<void>((resolve) => {
      req.on('error', () => {
        resolve();
      });
      req.on('close', () => {
        resolve();
      });
    });
    req.write(Buffer.alloc(3000, 1));
    // Until the server has the request (its onRequest ran): the body is being read.
    await new Promise((r) => setTimeout(r, 500));
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 1, server.output());
    await closed;
    const lines = server
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const cut = lines.filter((l) => l['msg'] === 'request' && l['url'] === '/raw/slow/upload.bin');
    assert.equal(cut.length, 1, server.output());
    const line = cut[0] ?? {};
    assert.equal(line['cut'], 'shutdown');
    assert.equal(line['method'], 'PUT');
    assert.equal(line['status'], 503);
    assert.equal(line['bytesIn'], 3000, server.output());
    assert.equal(line['bytesOut'], 0);
    assert.equal(typeof line['ms'], 'number');
    const exitLine = lines.find((l) => String(l['msg']).includes('did not finish within 1s'));
    assert.equal(exitLine?.['cut'], 1, server.output());
    // Its `.nora-serve/<pid>` went with it (trial 25 ops F6: only a stop that finished removed
    // it, so a process reusing the PID, a new container's node, seemed a live server).
    assert.deepEqual(await fs.readdir(path.join(dir, 'storage', '.nora-serve')), []);
  } finally {
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
    await removeDir(dir);
  }
});
