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
import { freePort, serveNora, waitFor, writeConfigToml } from '../../helpers/process.ts';
import { nora as noraIn } from '../../helpers/cli.ts';

/** `nora <args>`, NORA_* of the test's environment left out; 60 s: a serve that wrongly starts. */
const nora = (args: string[], env: Record<string, string> = {}) =>
  noraIn(args, env, undefined, 60_000);

const SECRET = `nra_${'Xy7'.repeat(15)}`;
/** Hex only (no capital: the log redaction's token shape does not take it), pasted with a space. */
const HEX_SECRET = 'nra_0123456789abcdef0123456789abcdef';

async function exposedConfig(dir: string): Promise<string> {
  const htpasswd = path.join(dir, 'users.htpasswd');
  await fs.writeFile(htpasswd, `alice:${bcrypt.hashSync('pw', 4)}\n`);
  return writeConfigToml(dir, [
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
  ]);
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

    await using server = await serveNora({ configFile: file });
    await waitFor(() => server.output().includes('nora listening'));
    for (const pattern of expected) assert.match(server.output(), pattern);
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
