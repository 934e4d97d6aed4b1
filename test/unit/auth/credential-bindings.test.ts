/**
 * CredentialBindings (resolvers.ts): the check every request with a registry token makes that the
 * credential it was minted from is still valid. It reads the store once per store version: no
 * read while nothing was written, a read after any write or clear(); expiry against the clock.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { UserDirectory } from '../../../src/auth/directory.ts';
import { CredentialBindings } from '../../../src/auth/resolvers.ts';
import type { TokenInfo, TokenStore } from '../../../src/auth/users.ts';

function setup() {
  const rows = new Map<string, Partial<TokenInfo>>([
    ['k1', { key: 'k1', user: 'bob', expiresAt: undefined }],
    ['k2', { key: 'k2', user: 'bob', expiresAt: 5_000 }],
  ]);
  const fingerprints = new Map([['bob', 'aa11']]);
  let reads = 0;
  const tokens = {
    lookupKey: (key: string) => {
      reads += 1;
      return Promise.resolve(rows.get(key) as TokenInfo | undefined);
    },
  } as unknown as TokenStore;
  const directory = {
    account: (name: string) =>
      Promise.resolve(name === 'bob' ? { name, roles: ['write'], source: 'store' } : undefined),
    passwordFingerprint: (name: string) => {
      reads += 1;
      return Promise.resolve(fingerprints.get(name));
    },
  } as unknown as UserDirectory;
  let local = 0;
  const bindings = new CredentialBindings(tokens, directory, {
    local: () => local,
    external: () => 0,
  });
  return {
    bindings,
    rows,
    fingerprints,
    reads: () => reads,
    write: () => {
      local += 1;
    },
  };
}

test('a token binding: read once while the store is unchanged, refused at once after revocation', async () => {
  const s = setup();
  const k1 = { kind: 'token', id: 'k1' } as const;
  for (let i = 0; i < 5; i++) assert.equal(await s.bindings.valid('bob', k1), true);
  assert.equal(s.reads(), 1, 'one store read for five requests');
  assert.equal(await s.bindings.valid('carol', k1), false, "another user's token id");
  s.rows.delete('k1');
  s.write();
  assert.equal(await s.bindings.valid('bob', k1), false);
  assert.equal(s.reads(), 2);
  assert.equal(await s.bindings.valid('bob', { kind: 'token', id: 'nope' }), false);
});

test('a token binding expires with the API token, by the clock', async () => {
  const s = setup();
  const k2 = { kind: 'token', id: 'k2' } as const;
  assert.equal(await s.bindings.valid('bob', k2, 4_999), true);
  assert.equal(await s.bindings.valid('bob', k2, 5_000), false);
  assert.equal(s.reads(), 1);
});

test('a password binding: the current fingerprint must match; clear() re-reads', async () => {
  const s = setup();
  const old = { kind: 'password', fingerprint: 'aa11' } as const;
  assert.equal(await s.bindings.valid('bob', old), true);
  assert.equal(await s.bindings.valid('bob', old), true);
  assert.equal(s.reads(), 1);
  s.fingerprints.set('bob', 'bb22');
  // The htpasswd file's change reaches identity.ts, which calls clear().
  s.bindings.clear();
  assert.equal(await s.bindings.valid('bob', old), false);
  s.fingerprints.delete('bob');
  s.write();
  assert.equal(await s.bindings.valid('bob', { kind: 'password', fingerprint: 'bb22' }), false);
});
