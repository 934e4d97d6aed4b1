/**
 * Unknown `NORA_*` variables that are a known one with underscores left out or put in, or with
 * its last word left out (trial 25 devD F1): `NORA_AUTHENABLED` was only warned as unknown (it is
 * not under `NORA_AUTH_`), so `[auth] enabled` stayed off; `NORA_AUTH_HTPASSWD` was refused
 * without saying which variable was meant.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfigObject } from '../../../src/config/load.ts';
import { configError } from '../../helpers/config.ts';

test('NORA_AUTHENABLED is refused as a misspelt NORA_AUTH_* variable is, naming NORA_AUTH_ENABLED', () => {
  for (const [typo, meant] of [
    ['NORA_AUTHENABLED', 'NORA_AUTH_ENABLED'],
    ['NORA_AUTHANONYMOUS_READ', 'NORA_AUTH_ANONYMOUS_READ'],
    ['NORA_AUTH_READONLY_USERS', 'NORA_AUTH_READ_ONLY_USERS'],
    ['NORA_AUTH_ANONYMOUS__READ', 'NORA_AUTH_ANONYMOUS_READ'],
  ] as const) {
    const message = configError(() => parseConfigObject({}, { [typo]: 'true' }));
    assert.match(
      message,
      new RegExp(
        `^invalid configuration:\\n  ${typo}: unknown (NORA_AUTH_\\* )?variable \\(did you mean ${meant}\\?\\): refused, since a misspelt variable of \\[auth\\]`,
      ),
    );
    assert.doesNotMatch(message, /\(ignored\)/);
  }
});

test('outside [auth] the same near miss stays a warning, with the right name', () => {
  const { warnings } = parseConfigObject(
    {},
    { NORA_STORAGEPATH: '/srv/nora', NORA_DOCKERPROXIES: 'none', NORA_LOG_LEVEL: 'info' },
  );
  assert.deepEqual(warnings, [
    'unknown environment variable NORA_DOCKERPROXIES (ignored) (did you mean NORA_DOCKER_PROXIES?)',
    'unknown environment variable NORA_STORAGEPATH (ignored) (did you mean NORA_STORAGE_PATH?)',
  ]);
});

test('NORA_AUTH_HTPASSWD names NORA_AUTH_HTPASSWD_FILE', () => {
  const message = configError(() => parseConfigObject({}, { NORA_AUTH_HTPASSWD: '/etc/u' }));
  assert.match(
    message,
    /NORA_AUTH_HTPASSWD: unknown NORA_AUTH_\* variable \(did you mean NORA_AUTH_HTPASSWD_FILE\?\): refused/,
  );
  // A prefix of several variables suggests none of them.
  const oidc = configError(() => parseConfigObject({}, { NORA_AUTH_OIDC: 'true' }));
  assert.match(oidc, /NORA_AUTH_OIDC: unknown NORA_AUTH_\* variable: refused/);
});
