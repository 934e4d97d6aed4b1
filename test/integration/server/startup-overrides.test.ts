/**
 * Start-up logs each config-file key a NORA_* variable overrides, in the words `nora config
 * check` notes it (trial 20 authx F3: start-up was silent, where an operator who forgot an
 * `Environment=` line of a unit looks first; only SIGHUP and the check said it).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { freePort, startNoraProcess } from '../../helpers/process.ts';

async function waitFor(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('start-up logs one line per file key a variable overrides with another value', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-startup-overrides-'));
  const file = path.join(dir, 'config.toml');
  await fs.writeFile(
    file,
    [
      '[storage]',
      `path = ${JSON.stringify(path.join(dir, 'storage'))}`,
      '[auth]',
      'admin_users = ["alice"]',
      'read_only_users = ["carol"]',
      '',
    ].join('\n'),
  );
  const server = await startNoraProcess({
    port: await freePort(),
    args: ['serve', '-c', file],
    // read_only_users: the same value in both, no news.
    env: { NORA_AUTH_ADMIN_USERS: 'alice,dave', NORA_AUTH_READ_ONLY_USERS: 'carol' },
  });
  try {
    await waitFor(() => server.output().includes('nora listening'));
    const lines = server
      .output()
      .split('\n')
      .filter((line) => line.includes('is overridden by'));
    assert.equal(lines.length, 1, server.output());
    const entry = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    assert.equal(entry['level'], 40);
    assert.equal(
      entry['msg'],
      `auth.admin_users in ${file} is overridden by NORA_AUTH_ADMIN_USERS: the file's ["alice"] is not used`,
    );
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
    await fs.rm(dir, { recursive: true, force: true });
  }
});
