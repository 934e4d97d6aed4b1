/**
 * The audit log of a real `nora serve` process: NORA_AUDIT_LOG=stdout prints the lines on
 * stdout; the default (file) writes `<storage>/audit.jsonl`, and what is still queued when
 * SIGTERM comes is written before the process exits; a bad NORA_AUDIT_ACTIONS is refused.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { nora } from '../../helpers/cli.ts';
import { freePort, startNoraProcess, waitFor } from '../../helpers/process.ts';
import { tempDir } from '../../helpers/tmp.ts';

test('NORA_AUDIT_LOG=stdout: one JSON line per event on stdout', async () => {
  await using dir = await tempDir('nora-audit-proc-');
  await using server = await startNoraProcess({
    port: await freePort(),
    env: {
      NORA_STORAGE_PATH: path.join(dir.path, 'storage'),
      NORA_AUDIT_LOG: 'stdout',
      NORA_LOG_LEVEL: 'warn',
    },
  });
  const put = await fetch(`${server.url}/raw/a/b.txt`, { method: 'PUT', body: 'x' });
  assert.equal(put.status, 201);
  await waitFor(() => server.output().includes('"action":"push"'), 5_000);
  const line =
    server
      .output()
      .split('\n')
      .find((l) => l.includes('"action":"push"')) ?? '';
  const event = JSON.parse(line) as Record<string, unknown>;
  assert.equal(event['artifact'], 'a/b.txt');
  assert.equal(event['actor'], 'anonymous');
  await assert.rejects(fs.stat(path.join(dir.path, 'storage', 'audit.jsonl')), { code: 'ENOENT' });
});

test('file (default): events queued at SIGTERM are written before exit', async () => {
  await using dir = await tempDir('nora-audit-proc-');
  const server = await startNoraProcess({
    port: await freePort(),
    env: { NORA_STORAGE_PATH: path.join(dir.path, 'storage'), NORA_LOG_LEVEL: 'warn' },
  });
  try {
    for (let i = 0; i < 5; i++) {
      const put = await fetch(`${server.url}/raw/f/${i}.txt`, { method: 'PUT', body: 'x' });
      assert.equal(put.status, 201);
    }
    // At once, within the 500 ms the batch waits.
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);
  } finally {
    await server[Symbol.asyncDispose]();
  }
  const text = await fs.readFile(path.join(dir.path, 'storage', 'audit.jsonl'), 'utf8');
  assert.equal(text.split('\n').filter((l) => l.includes('"action":"push"')).length, 5);
});

test('NORA_AUDIT_ACTIONS with an unknown action: config check refuses it, naming the variable', async () => {
  const res = await nora(['config', 'check'], { NORA_AUDIT_ACTIONS: 'push,download' });
  assert.equal(res.code, 2, res.stderr);
  assert.match(res.stderr, /NORA_AUDIT_ACTIONS/);
});
