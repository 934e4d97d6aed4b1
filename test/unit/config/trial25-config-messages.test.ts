/**
 * Trial 25 ops F3 and F8: `config check`'s error and warning lines mask a token-shaped value as
 * the dump does; a unit or word left off a key (`leeway` for `leeway_secs`) gets a did-you-mean;
 * numeric NORA_* variables take plain decimal numbers only (no `0x10`, `0b11`, `0o17`, `1e3`).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { maskTokensIn } from '../../../src/config/describe.ts';
import { closest } from '../../../src/config/env.ts';
import { ConfigError, parseConfigObject } from '../../../src/config/load.ts';
import { nora } from '../../helpers/cli.ts';

/** Token-shaped, lowercase only: the shape `looksLikeToken` (the dump's mask) takes. */
const TOKEN = 'nra_0123456789abcdef0123456789abcdef01234567';

function refusal(raw: Record<string, unknown>, env: Record<string, string>): string {
  try {
    parseConfigObject(raw, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail(`accepted ${JSON.stringify({ raw, env })}`);
}

test('numeric variables take decimal digits only: 0x10, 0b11, 0o17, 1e3 are refused with the expected form', () => {
  for (const value of ['0x10', '0b11', '0o17', '1e3', '0x1p4', 'Infinity', '.5e1']) {
    const message = refusal({}, { NORA_PORT: value });
    assert.match(
      message,
      new RegExp(
        `server\\.port \\(from NORA_PORT\\): expected a number in decimal digits \\(such as 30 or 2\\.5; no 0x, 0o, 0b or exponent forms\\), got "${value.replace('.', '\\.')}"`,
      ),
      value,
    );
  }
  assert.match(refusal({}, { NORA_SHUTDOWN_TIMEOUT: '1e3' }), /server\.shutdown_timeout/);
  // Plain decimals still work, spaces around them too; a fraction where the key takes one.
  assert.equal(parseConfigObject({}, { NORA_PORT: ' 14000 ' }).config.server.port, 14000);
  assert.equal(parseConfigObject({}, { NORA_PORT: '0' }).config.server.port, 0);
  assert.equal(
    parseConfigObject({}, { NORA_SHUTDOWN_TIMEOUT: '2.5' }).config.server.shutdown_timeout,
    2.5,
  );
  // An integer key refuses a fraction, as the file does.
  assert.match(refusal({}, { NORA_PORT: '1.5' }), /server\.port \(from NORA_PORT\)/);
});

test('closest: a name that a single candidate starts with (a unit left off) is suggested', () => {
  assert.equal(closest('leeway', ['issuer', 'audience', 'leeway_secs']), 'leeway_secs');
  assert.equal(
    closest('NORA_AUTH_OIDC_LEEWAY', ['NORA_AUTH_OIDC_LEEWAY_SECS', 'NORA_AUTH_ENABLED']),
    'NORA_AUTH_OIDC_LEEWAY_SECS',
  );
  // Two candidates longer by a word: no guess.
  assert.equal(closest('max', ['max_size', 'max_age']), undefined);
  // Edit distance still wins when it finds one.
  assert.equal(closest('prot', ['port', 'prot_x']), 'port');
  // Too short to say.
  assert.equal(closest('a', ['a_b']), undefined);
});

test('[auth.oidc] leeway and NORA_AUTH_OIDC_LEEWAY are refused with "did you mean leeway_secs"', () => {
  assert.match(
    refusal({ auth: { oidc: { leeway: 30 } } }, {}),
    /auth\.oidc: unknown key "leeway" \(did you mean "leeway_secs"\?\)/,
  );
  assert.match(
    refusal({}, { NORA_AUTH_OIDC_LEEWAY: '30' }),
    /NORA_AUTH_OIDC_LEEWAY: unknown NORA_AUTH_\* variable \(did you mean NORA_AUTH_OIDC_LEEWAY_SECS\?\)/,
  );
});

test('maskTokensIn writes a token-shaped word nra_…(masked), and leaves other words alone', () => {
  assert.equal(maskTokensIn(`got "${TOKEN}"`), 'got "nra_…(masked)"');
  assert.equal(maskTokensIn(`user "nora_${TOKEN.slice(4)}" is`), 'user "nora_…(masked)" is');
  assert.equal(
    maskTokensIn('x_nra_0123456789abcdef0123456789'),
    'x_nra_0123456789abcdef0123456789',
  );
  assert.equal(maskTokensIn('nora_http_requests_total'), 'nora_http_requests_total');
});

test('config check masks a token quoted in its error lines as its dump does', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-f3-'));
  try {
    for (const env of [{ NORA_PORT: TOKEN }, { NORA_AUTH_TRUSTED_PROXIES: TOKEN }]) {
      const res = await nora(['config', 'check'], env, dir);
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, /got "nra_…\(masked\)"/);
      assert.ok(!res.stderr.includes(TOKEN.slice(4)), res.stderr);
    }
    const file = path.join(dir, 'c.toml');
    await fs.writeFile(file, `[auth]\nenabled = true\nadmin_users = ["${TOKEN}"]\n`);
    const both = await nora(['config', 'check', file], { NORA_AUTH_READ_ONLY_USERS: TOKEN }, dir);
    assert.equal(both.code, 2, both.stderr);
    assert.match(both.stderr, /user "nra_…\(masked\)" is also in \[auth\] admin_users/);
    assert.ok(!both.stderr.includes(TOKEN.slice(4)), both.stderr);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
