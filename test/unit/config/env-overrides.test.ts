/**
 * Keys of config.toml that a NORA_* variable overrides (trial 18 authx F11): what `nora config
 * check` notes and what a SIGHUP reload warns about when the file's value was edited since.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  describeOverride,
  type LoadedConfig,
  parseConfigObject,
} from '../../../src/config/load.ts';
import { overriddenEdits } from '../../../src/main.ts';

const load = (raw: Record<string, unknown>, env: Record<string, string>): LoadedConfig => ({
  ...parseConfigObject(raw, env),
  file: '/etc/nora/config.toml',
});

test('file keys a variable overrides: listed with whether the values differ, secrets unshown', () => {
  const { overridden } = parseConfigObject(
    {
      server: { port: 4000, log_level: 'info' },
      auth: { read_only_users: ['carol', 'dave'] },
      storage: { s3_secret_key: 'in-the-file' },
    },
    {
      NORA_PORT: '4000',
      NORA_AUTH_READ_ONLY_USERS: 'carol',
      NORA_STORAGE_S3_SECRET_KEY: 'from-env',
      NORA_AUTH_ADMIN_USERS: 'root', // not in the file: nothing overridden
    },
  );
  assert.deepEqual(overridden.map((o) => [o.key, o.variable, o.differs, o.secret]).sort(), [
    ['auth.read_only_users', 'NORA_AUTH_READ_ONLY_USERS', true, false],
    ['server.port', 'NORA_PORT', false, false],
    ['storage.s3_secret_key', 'NORA_STORAGE_S3_SECRET_KEY', true, true],
  ]);
  const [readOnly] = overridden.filter((o) => o.key === 'auth.read_only_users');
  assert.ok(readOnly);
  assert.equal(
    describeOverride(readOnly, '/etc/nora/config.toml'),
    `auth.read_only_users in /etc/nora/config.toml is overridden by NORA_AUTH_READ_ONLY_USERS: the file's ["carol","dave"] is not used`,
  );
  const [secret] = overridden.filter((o) => o.key === 'storage.s3_secret_key');
  assert.ok(secret);
  assert.doesNotMatch(describeOverride(secret, undefined), /in-the-file/);
});

test('a reload warns about an overridden key only when its file value changed', () => {
  const env = { NORA_AUTH_READ_ONLY_USERS: 'carol' };
  const first = load({ auth: { read_only_users: ['carol'] } }, env);
  const edited = load({ auth: { read_only_users: ['carol', 'dave'] } }, env);
  assert.deepEqual(overriddenEdits(first, first), []);
  assert.deepEqual(overriddenEdits(first, edited), [
    `auth.read_only_users in /etc/nora/config.toml is overridden by NORA_AUTH_READ_ONLY_USERS: the file's ["carol","dave"] is not used; the edit takes effect only once the variable is unset and the server restarted`,
  ]);
  // Set in the file for the first time: an edit too.
  assert.equal(overriddenEdits(load({}, env), edited).length, 1);
  // Not overridden: any edit is applied (or named as needing a restart) by the reload itself.
  assert.deepEqual(
    overriddenEdits(
      load({ auth: { read_only_users: ['carol'] } }, {}),
      load({ auth: { read_only_users: ['dave'] } }, {}),
    ),
    [],
  );
});
