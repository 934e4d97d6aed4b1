/**
 * A missing htpasswd file, as operators meet it (found by new users): with auth on, a mistyped
 * `[auth] htpasswd_file` is a warning from `nora config check` and at start-up (warn level),
 * naming the key (its variable only when the variable set it: trial 19 authx F8) and the
 * resolved path, and saying that with registration off no
 * password login works until the file exists; with auth off, SIGHUP says nothing about a file
 * nobody configured.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { nora } from '../../helpers/cli.ts';
import { freePort, startNoraProcess } from '../../helpers/process.ts';
import { tempDir } from '../../helpers/tmp.ts';

async function waitFor(what: string, condition: () => boolean, timeoutMs = 15_000) {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) assert.fail(`not within ${String(timeoutMs)} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const MISSING =
  /\[auth\] htpasswd_file(?: \((?:NORA_AUTH_HTPASSWD_FILE|default)\))?: the file "([^"]+)" does not exist/;
const NO_LOGIN =
  /with \[auth\] allow_registration = false, at a start nobody can log in with a password until it exists, except users already in the metadata store \(npm adduser\), whose API tokens still work, as OIDC identities do; API tokens of htpasswd users are refused until then; a running server reloaded \(SIGHUP\) onto this path keeps the htpasswd users it read last, and their API tokens, until the file can be read/;

test('nora config check warns about a missing htpasswd file when auth is on', async () => {
  await using dir = await tempDir('nora-htpasswd-missing-');
  const file = path.join(dir.path, 'config.toml');
  const typo = path.join(dir.path, 'users.htpassword');
  await fs.writeFile(
    file,
    `[auth]\nenabled = true\nhtpasswd_file = ${JSON.stringify(typo)}\n[storage]\npath = ${JSON.stringify(path.join(dir.path, 'storage'))}\n`,
  );
  const checked = await nora(['config', 'check', file], {});
  assert.equal(checked.code, 0, checked.stderr);
  const warning = checked.stderr.split('\n').find((l) => MISSING.test(l)) ?? '';
  assert.match(warning, /^warning: /, checked.stderr);
  assert.equal(MISSING.exec(warning)?.[1], typo);
  // The path is config.toml's: no variable named (one nobody set sent operators looking for it).
  assert.ok(
    warning.startsWith(`warning: [auth] htpasswd_file: the file "${typo}" does not exist`),
    warning,
  );
  assert.match(warning, NO_LOGIN);
  // With registration on, the file's absence is still said, without the "nobody" part.
  const open = await nora(['config', 'check', file], { NORA_AUTH_ALLOW_REGISTRATION: 'true' });
  assert.match(open.stderr, MISSING);
  assert.doesNotMatch(open.stderr, /nobody can log in/);
  // A relative path is shown resolved (from the working directory, as serve reads it).
  const relative = await nora(['config', 'check', file], {
    NORA_AUTH_HTPASSWD_FILE: 'no-such-dir/users.htpasswd',
  });
  assert.ok(
    MISSING.exec(relative.stderr)?.[1]?.endsWith(`${path.sep}no-such-dir${path.sep}users.htpasswd`),
    relative.stderr,
  );
  assert.ok(path.isAbsolute(MISSING.exec(relative.stderr)?.[1] ?? ''), relative.stderr);
  // The variable set it: named.
  assert.match(relative.stderr, /\[auth\] htpasswd_file \(NORA_AUTH_HTPASSWD_FILE\): the file "/);
  // Auth off: no warning, the file is not needed.
  const off = await nora(['config', 'check', file], { NORA_AUTH_ENABLED: 'false' });
  assert.equal(off.code, 0, off.stderr);
  assert.doesNotMatch(off.stderr, /htpasswd_file|warning/);
  // The file's `enabled = true` is not what runs: said as a note (trial 18 authx F11).
  assert.match(off.stderr, /note: auth\.enabled in .* is overridden by NORA_AUTH_ENABLED/);
});

test('nora serve: the warning at start-up with auth on; nothing on SIGHUP with auth off', async () => {
  await using dir = await tempDir('nora-htpasswd-missing-');
  const file = path.join(dir.path, 'config.toml');
  const typo = path.join(dir.path, 'users.htpassword');
  const config = (enabled: boolean) =>
    `[auth]\nenabled = ${String(enabled)}\nhtpasswd_file = ${JSON.stringify(typo)}\n` +
    `[storage]\npath = ${JSON.stringify(path.join(dir.path, 'storage'))}\n`;
  await fs.writeFile(file, config(true));
  const on = await startNoraProcess({
    port: await freePort(),
    args: ['serve', '-c', file],
    env: {},
  });
  try {
    // Log lines are JSON: the message's quotes are escaped in the raw output.
    const KEY = /htpasswd_file: the file/;
    await waitFor('the warning', () => KEY.test(on.output()));
    const line =
      on
        .output()
        .split('\n')
        .find((l) => KEY.test(l)) ?? '';
    const logged = JSON.parse(line) as { level: number; msg: string };
    assert.equal(logged.level, 40, line);
    assert.equal(MISSING.exec(logged.msg)?.[1], typo);
    assert.match(logged.msg, NO_LOGIN);
    assert.doesNotMatch(on.output(), /no htpasswd file: users come only from/);
  } finally {
    on.child.kill('SIGTERM');
    await on.exited;
  }
  await fs.writeFile(file, config(false));
  const off = await startNoraProcess({
    port: await freePort(),
    args: ['serve', '-c', file],
    env: {},
  });
  try {
    for (let i = 1; i <= 2; i++) {
      off.child.kill('SIGHUP');
      await waitFor(
        `reload ${String(i)}`,
        () => off.output().split('configuration reloaded').length > i,
      );
    }
    assert.doesNotMatch(off.output(), /htpasswd/, off.output());
  } finally {
    off.child.kill('SIGTERM');
    await off.exited;
  }
});
