/**
 * Configuration warnings as `nora config check` and the server give them (trial 19 authx F8, F10):
 * - a setting is named with its NORA_* variable only when the variable set the value, `(default)`
 *   when nothing did, the file key alone when config.toml did: "[auth] read_only_users
 *   (NORA_AUTH_READ_ONLY_USERS)" for a list in config.toml sent operators looking for a variable
 *   nobody set;
 * - the auth-off warning no longer ends "anyone who can reach this server can read and write",
 *   which the server logs at start anyway (start-up said it twice);
 * - the htpasswd lines the server skips (an `htpasswd -m` MD5 line) are warned by the check too,
 *   in the server's words, not only in the server's log.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { loadCheckedConfig } from '../../../src/app.ts';
import { originNote, parseConfigObject } from '../../../src/config/load.ts';
import { htpasswdOf } from '../../helpers/auth.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { configWarnings as check } from '../../helpers/config.ts';

/** checkConfig of `raw` + `env` as the loader hands it over (with where each value came from). */
test('originNote: the variable that set a key, "(default)" when nothing did, nothing for the file', () => {
  const { origins } = parseConfigObject(
    { auth: { enabled: false, oidc: { enabled: false } } },
    { NORA_AUTH_ADMIN_USERS: 'root' },
  );
  assert.equal(originNote(origins, 'auth.admin_users'), ' (NORA_AUTH_ADMIN_USERS)');
  assert.equal(originNote(origins, 'auth.enabled'), '');
  assert.equal(originNote(origins, 'auth.oidc.enabled'), '');
  assert.equal(originNote(origins, 'auth.read_only_users'), ' (default)');
  assert.equal(originNote(undefined, 'auth.enabled'), '');
});

test('auth off: the variable named only when it turned auth off; the warning says it once', () => {
  const lists = { read_only_users: ['carol'] };
  assert.deepEqual(check({ auth: { enabled: false, ...lists } }), [
    '[auth] enabled = false: read_only_users has no effect until it is true',
  ]);
  assert.deepEqual(check({ auth: lists }), [
    '[auth] enabled = false (default): read_only_users has no effect until it is true',
  ]);
  assert.deepEqual(check({ auth: { enabled: true, ...lists } }, { NORA_AUTH_ENABLED: 'false' }), [
    '[auth] enabled = false (NORA_AUTH_ENABLED): read_only_users has no effect until it is true',
  ]);
});

test('a listed name that is no user: its list named with the variable only when the variable set it', async () => {
  await using dir = await tempDir('nora-origins-');
  const htpasswd = path.join(dir.path, 'users.htpasswd');
  await fs.writeFile(htpasswd, htpasswdOf({ carol: 'pw', root: 'pw' }));
  const auth = { enabled: true, htpasswd_file: htpasswd };
  const typos = (raw: Record<string, unknown>, env: Record<string, string> = {}) =>
    check(raw, env)
      .filter((w) => w.includes('is not in the htpasswd file'))
      .map((w) => w.slice(0, w.indexOf(': user')));
  assert.deepEqual(
    typos({ auth: { ...auth, read_only_users: ['carl'], admin_users: ['rooot'] } }),
    ['[auth] read_only_users', '[auth] admin_users'],
  );
  assert.deepEqual(
    typos(
      { auth: { ...auth, admin_users: ['rooot'] } },
      { NORA_AUTH_READ_ONLY_USERS: 'carl', NORA_AUTH_ADMIN_USERS: 'rooot' },
    ),
    [
      '[auth] read_only_users (NORA_AUTH_READ_ONLY_USERS)',
      '[auth] admin_users (NORA_AUTH_ADMIN_USERS)',
    ],
  );
});

test('a missing htpasswd file: named by the key, the variable, or as the default', async () => {
  await using dir = await tempDir('nora-origins-');
  const missing = path.join(dir.path, 'no.htpasswd');
  const where = (raw: Record<string, unknown>, env: Record<string, string> = {}) =>
    check(raw, env)
      .filter((w) => w.includes('does not exist'))
      .map((w) => w.slice(0, w.indexOf(': the file "')));
  assert.deepEqual(where({ auth: { enabled: true, htpasswd_file: missing } }), [
    '[auth] htpasswd_file',
  ]);
  assert.deepEqual(where({ auth: { enabled: true } }, { NORA_AUTH_HTPASSWD_FILE: missing }), [
    '[auth] htpasswd_file (NORA_AUTH_HTPASSWD_FILE)',
  ]);
  // The default, users.htpasswd in the working directory: the file is loaded from an empty one.
  const cwd = process.cwd();
  process.chdir(dir.path);
  try {
    assert.deepEqual(where({ auth: { enabled: true } }), ['[auth] htpasswd_file (default)']);
  } finally {
    process.chdir(cwd);
  }
});

test('htpasswd lines the server skips are warned by the check, in the server’s words', async () => {
  await using dir = await tempDir('nora-origins-');
  const htpasswd = path.join(dir.path, 'users.htpasswd');
  // What `htpasswd -m` writes for mike (MD5), after a bcrypt user.
  await fs.writeFile(
    htpasswd,
    `${htpasswdOf({ alice: 'pw' })}# a comment\nmike:$apr1$Qm3Jc1s9$5dYyQy2vWqRrV1Gm0o1qX/\nnocolon\n`,
  );
  const file = path.join(dir.path, 'config.toml');
  await fs.writeFile(file, `[auth]\nenabled = true\nhtpasswd_file = ${JSON.stringify(htpasswd)}\n`);
  const skipped = [
    'htpasswd line 3 (user "mike") skipped: MD5 ($apr1$) hash: only bcrypt (htpasswd -B) is accepted',
    'htpasswd line 4 skipped: not a "user:hash" line',
  ];
  const lines = (warnings: readonly string[]) => warnings.filter((w) => w.startsWith('htpasswd'));
  // nora config check (and the other offline commands that print the check's warnings).
  assert.deepEqual(lines((await loadCheckedConfig({ file, env: {} })).warnings), skipped);
  // The server logs them itself on every read of the file; `nora token`'s identity too.
  assert.deepEqual(
    lines((await loadCheckedConfig({ file, env: {} }, undefined, 'later')).warnings),
    [],
  );
  assert.deepEqual(
    lines((await loadCheckedConfig({ file, env: {} }, undefined, 'file-only', false)).warnings),
    [],
  );
  // Auth off: nobody logs in with the file, not read.
  assert.deepEqual(
    lines((await loadCheckedConfig({ file, env: { NORA_AUTH_ENABLED: 'false' } })).warnings),
    [],
  );
});
