/**
 * `[auth]` settings as `nora config check` and `nora serve` meet them, as real processes (trial 21
 * authx F1, F3, F6, F8): a misspelt `[auth]` key stops both with exit 2 and a "did you mean";
 * trusted_proxies of every address, allow_registration and a token secret in a rule's `tokens`
 * are warned by the check and logged at start-up; bracketed IPv6 in NORA_AUTH_TRUSTED_PROXIES
 * is taken; the auth-off warning names the variables that set the user lists.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { freePort, startNoraProcess } from '../../helpers/process.ts';
import { PROJECT_ROOT, run } from '../../helpers/tools.ts';

const BIN = path.join(PROJECT_ROOT, 'bin/nora.js');

/** Runs `nora <args>` with no NORA_* variable from the test's own environment. */
const nora = (args: string[], env: Record<string, string> = {}, cwd = os.tmpdir()) =>
  run(process.execPath, [BIN, ...args], {
    check: false,
    // A serve that wrongly starts would otherwise run until run()'s 5 minutes.
    timeoutMs: 60_000,
    env: {
      ...Object.fromEntries(
        Object.entries(process.env).filter(
          (entry): entry is [string, string] =>
            !entry[0].startsWith('NORA_') && entry[1] !== undefined,
        ),
      ),
      ...env,
    },
    cwd,
  });

const SECRET = `nra_${'Xy7'.repeat(15)}`;
/** Hex only (no capital: the log redaction's token shape does not take it), pasted with a space. */
const HEX_SECRET = 'nra_0123456789abcdef0123456789abcdef';

async function exposedConfig(dir: string): Promise<string> {
  const htpasswd = path.join(dir, 'users.htpasswd');
  await fs.writeFile(htpasswd, `alice:${bcrypt.hashSync('pw', 4)}\n`);
  const file = path.join(dir, 'config.toml');
  await fs.writeFile(
    file,
    [
      '[storage]',
      `path = ${JSON.stringify(path.join(dir, 'storage'))}`,
      '[auth]',
      'enabled = true',
      'allow_registration = true',
      `htpasswd_file = ${JSON.stringify(htpasswd)}`,
      'trusted_proxies = ["0.0.0.0/0"]',
      '[[auth.rules]]',
      'users = ["alice"]',
      'actions = ["read"]',
      '[[auth.rules]]',
      'repositories = ["raw-hosted"]',
      `tokens = ["${SECRET}", " ${HEX_SECRET}"]`,
      'actions = ["read"]',
      '',
    ].join('\n'),
  );
  return file;
}

test('config check: a misspelt [auth] key is exit 2 with "did you mean"; serve refuses it too', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-auth-typo-'));
  try {
    const file = path.join(dir, 'config.toml');
    await fs.writeFile(
      file,
      `[auth]\nenable = true\nanonymous_reads = false\n[storage]\npath = ${JSON.stringify(path.join(dir, 'storage'))}\n`,
    );
    const check = await nora(['config', 'check', file]);
    const serve = await nora(['serve', '-c', file], { NORA_PORT: String(await freePort()) });
    for (const res of [check, serve]) {
      assert.equal(res.code, 2, res.stderr);
      assert.match(
        res.stderr,
        /auth: unknown keys "enable" \(did you mean "enabled"\?\), "anonymous_reads" \(did you mean "anonymous_read"\?\)/,
      );
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('config check and start-up warn about every address trusted, registration, a secret in a rule', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-auth-exposed-'));
  try {
    const file = await exposedConfig(dir);
    const expected = [
      /\[auth\] trusted_proxies trusts every address with 0\.0\.0\.0\/0: any client can forge X-Forwarded-For/,
      /\[auth\] allow_registration = true: anyone who can reach this server can create an account/,
      /auth\.rules\[1\]\.tokens\[0\] is a token secret, not a token id/,
      // Numbered from 0 as the rules are, and found with a space before it (trial 23 authx F3).
      /auth\.rules\[1\]\.tokens\[1\] is a token secret, not a token id/,
    ];
    const check = await nora(['config', 'check', file]);
    assert.equal(check.code, 0, check.stderr);
    for (const pattern of expected) assert.match(check.stderr, pattern);
    for (const secret of [SECRET, HEX_SECRET]) {
      assert.ok(!check.stderr.includes(secret), 'the warning does not repeat the secret');
      // Nor does the effective configuration printed after it.
      assert.ok(!check.stdout.includes(secret), check.stdout);
    }
    assert.match(check.stdout, /tokens = \[ "nra_…\(masked\)", "nra_…\(masked\)" \]/);

    const server = await startNoraProcess({
      port: await freePort(),
      args: ['serve', '-c', file],
      env: {},
    });
    try {
      const start = Date.now();
      while (!server.output().includes('nora listening') && Date.now() - start < 10_000) {
        await new Promise((r) => setTimeout(r, 20));
      }
      for (const pattern of expected) assert.match(server.output(), pattern);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('config check: bracketed IPv6 proxies taken; auth-off lists named with their variables', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-auth-env-'));
  try {
    const file = path.join(dir, 'off.toml');
    await fs.writeFile(file, '[auth]\nenabled = false\n');
    const res = await nora(['config', 'check', file], {
      NORA_AUTH_TRUSTED_PROXIES: '[::1], [fd00::1]/64',
      NORA_AUTH_ADMIN_USERS: 'bob',
      NORA_AUTH_READ_ONLY_USERS: 'carol',
    });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /trusted_proxies = \[ "::1", "fd00::1\/64" \]/);
    assert.match(
      res.stderr,
      /\[auth\] enabled = false: read_only_users \(NORA_AUTH_READ_ONLY_USERS\), admin_users \(NORA_AUTH_ADMIN_USERS\) have no effect until it is true/,
    );
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
