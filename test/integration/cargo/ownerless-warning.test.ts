/**
 * The warning about Cargo crates without owners (published while auth was off), with NORA run
 * as operators run it (`nora serve -c config.toml`): logged when a SIGHUP turns auth on, and
 * once at every start with auth on; nothing while auth stays off.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { freePort, startNoraProcess } from '../../helpers/process.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { crateBody } from './fixtures.ts';

const WARNING = /2 hosted Cargo crate\(s\) have no owner \(published while \[auth\] was off\)/;

async function waitFor(what: string, condition: () => boolean, timeoutMs = 15_000) {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) assert.fail(`not within ${String(timeoutMs)} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('owner-less crates are warned about when auth turns on (SIGHUP) and at each start with auth on', async () => {
  await using dir = await tempDir('nora-cargo-ownerless-');
  const file = path.join(dir.path, 'config.toml');
  const config = (enabled: boolean) =>
    [
      '[storage]',
      `path = ${JSON.stringify(path.join(dir.path, 'storage'))}`,
      '[auth]',
      `enabled = ${String(enabled)}`,
      `htpasswd_file = ${JSON.stringify(path.join(dir.path, 'users.htpasswd'))}`,
      '[cargo]',
      'proxy = ""',
      '[rate_limit]',
      'enabled = false',
      '',
    ].join('\n');
  await fs.writeFile(file, config(false));
  const first = await startNoraProcess({
    port: await freePort(),
    args: ['serve', '-c', file],
    env: {},
  });
  try {
    for (const name of ['rg-alpha', 'rg-beta']) {
      const res = await fetch(`${first.url}/cargo/api/v1/crates/new`, {
        method: 'PUT',
        body: await crateBody(name, '1.0.0'),
      });
      assert.equal(res.status, 200, await res.text());
    }
    // A reload that keeps auth off says nothing about owners.
    first.child.kill('SIGHUP');
    await waitFor('the first reload', () => first.output().includes('configuration reloaded'));
    assert.doesNotMatch(first.output(), /have no owner/);
    await fs.writeFile(file, config(true));
    first.child.kill('SIGHUP');
    await waitFor('the warning on reload', () => WARNING.test(first.output()));
    const line =
      first
        .output()
        .split('\n')
        .find((l) => WARNING.test(l)) ?? '';
    const logged = JSON.parse(line) as { level: number; first: string[]; msg: string };
    assert.equal(logged.level, 40, 'warn');
    assert.deepEqual(logged.first, ['cargo-hosted/rg-alpha', 'cargo-hosted/rg-beta']);
    assert.match(logged.msg, /only an admin may publish, yank or change their owners/);
    assert.match(logged.msg, /cargo owner --add <user> <crate>/);
  } finally {
    first.child.kill('SIGTERM');
    await first.exited;
  }
  const second = await startNoraProcess({
    port: await freePort(),
    args: ['serve', '-c', file],
    env: {},
  });
  try {
    await waitFor('the warning at start', () => WARNING.test(second.output()));
    assert.equal(
      second
        .output()
        .split('\n')
        .filter((l) => WARNING.test(l)).length,
      1,
      'once',
    );
  } finally {
    second.child.kill('SIGTERM');
    await second.exited;
  }
});
