/**
 * Start-up logs each config-file key a NORA_* variable overrides, in the words `nora config
 * check` notes it (trial 20 authx F3: start-up was silent, where an operator who forgot an
 * `Environment=` line of a unit looks first; only SIGHUP and the check said it).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serveNora, waitFor, writeConfigToml } from '../../helpers/process.ts';
import { tempDir } from '../../helpers/tmp.ts';

test('start-up logs one line per file key a variable overrides with another value', async () => {
  await using dir = await tempDir('nora-startup-overrides-');
  const file = await writeConfigToml(dir.path, [
    '[auth]',
    'admin_users = ["alice"]',
    'read_only_users = ["carol"]',
  ]);
  await using server = await serveNora(
    { configFile: file },
    // read_only_users: the same value in both, no news.
    { NORA_AUTH_ADMIN_USERS: 'alice,dave', NORA_AUTH_READ_ONLY_USERS: 'carol' },
  );
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
});
