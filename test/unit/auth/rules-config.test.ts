import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { loadCheckedConfig } from '../../../src/app.ts';
import { tempDir } from '../../helpers/tmp.ts';

test('a config file with a bad rule is refused as a whole (a SIGHUP keeps the running one)', async () => {
  await using dir = await tempDir('nora-rules-');
  const file = path.join(dir.path, 'config.toml');
  const write = (rule: string) =>
    fs.writeFile(file, `[auth]\nenabled = true\n\n[[auth.rules]]\n${rule}\n`);
  await write('users = ["alice"]\npaths = ["team/**"]\nactions = ["read", "write"]');
  const loaded = await loadCheckedConfig({ file, env: {} });
  assert.deepEqual(loaded.config.auth.rules[0]?.paths, ['team/**']);
  for (const [rule, message] of [
    ['users = ["a"]\npath = ["team/**"]\nactions = ["read"]', /path/],
    ['users = ["a"]\nactions = ["push"]', /actions/],
    ['anonymous = true\nactions = ["write"]', /anonymous/],
    ['users = ["a"]\nrepositories = ["a/b"]\nactions = ["read"]', /repository name/],
  ] as const) {
    await write(rule);
    await assert.rejects(loadCheckedConfig({ file, env: {} }), message);
  }
});

test('anonymous_read on a [[repositories]] entry', async () => {
  await using dir = await tempDir('nora-rules-');
  const file = path.join(dir.path, 'config.toml');
  await fs.writeFile(
    file,
    '[[repositories]]\nname = "open"\nformat = "npm"\nkind = "hosted"\nanonymous_read = true\n',
  );
  const loaded = await loadCheckedConfig({ file, env: {} });
  assert.equal(loaded.config.repositories[0]?.anonymous_read, true);
});
