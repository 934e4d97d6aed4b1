/**
 * API tokens over a real (in-memory or temp-file) database: NORA's shape (`nra_`, hash at rest,
 * roles, expiry, last use), role capping by the owner's roles and admin_users, scopes, every
 * credential form (Bearer, Basic user:password, Basic anything:token, the bare token Cargo
 * sends), and the 0051 migration
 * of tokens made before it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { AccessControl, type Principal } from '../../../src/auth/access.ts';
import { createIdentity, type Identity } from '../../../src/auth/identity.ts';
import { authMigrations } from '../../../src/auth/migrations.ts';
import { LAST_USED_RESOLUTION_MS, sha256Hex } from '../../../src/auth/users.ts';
import { isRegistryError } from '../../../src/core/errors.ts';
import { WriteGeneration } from '../../../src/core/write-generation.ts';
import { type Db, openDatabase } from '../../../src/db/database.ts';
import type { Repository } from '../../../src/repos/repository.ts';
import { htpasswdOf, quietLogger } from '../../helpers/auth.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { PROJECT_ROOT } from '../../helpers/tools.ts';

const repo = (name: string) => ({ name }) as unknown as Repository;
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function expectUnauthorized(promise: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isRegistryError(err), String(err));
    assert.equal(err.status, 401);
    assert.match(err.message, message);
    return true;
  });
}

describe('API tokens', () => {
  let db: Db;
  let access: AccessControl;
  let identity: Identity;
  let dir: { path: string; [Symbol.asyncDispose](): Promise<void> };
  let htpasswd: string;
  let writes: WriteGeneration;

  beforeEach(async () => {
    dir = await tempDir('nora-tokens-');
    htpasswd = path.join(dir.path, 'users.htpasswd');
    // cost 4 keeps the test fast; the file format is htpasswd -B's.
    await fs.writeFile(
      htpasswd,
      `hanna:${bcrypt.hashSync('hanna-pw', 4).replace(/^\$2b\$/, '$2y$')}\nroot:${bcrypt.hashSync('root-pw', 4)}\n`,
    );
    // With the app's write counter, as app.ts builds it: token reads are remembered while the
    // store is unchanged, so every test below also checks that nothing stale is answered.
    writes = new WriteGeneration();
    db = await openDatabase({
      file: ':memory:',
      migrations: authMigrations,
      onWrite: () => {
        writes.bump();
      },
    });
    access = new AccessControl({ authEnabled: true, anonymousRead: false });
    identity = await createIdentity(
      db,
      access,
      { htpasswd_file: htpasswd, admin_users: ['root'] },
      { log: quietLogger, writes },
    );
    await identity.users.create('sam', 'sam-pw', undefined);
    await identity.users.create('rita', 'rita-pw', undefined, ['read']);
  });
  afterEach(async () => {
    identity.close();
    await db.destroy();
    await dir[Symbol.asyncDispose]();
  });

  const bearer = (secret: string) => access.authenticate({ authorization: `Bearer ${secret}` });

  test('a token is nra_ + 256 bits, stored as its sha256 and its first 6 characters (docs/auth.md says so); its principal says what it is', async () => {
    const { secret, info } = await identity.tokens.create('sam', {
      role: 'write',
      description: 'ci',
    });
    assert.match(secret, /^nra_[A-Za-z0-9_-]{43}$/);
    const rows = await db
      .$extendTables<{ auth_tokens: Record<string, unknown> }>()
      .selectFrom('auth_tokens')
      .selectAll()
      .execute();
    assert.equal(rows.length, 1);
    assert.ok(!JSON.stringify(rows).includes(secret.slice(4)), 'the secret is not stored');
    assert.equal(rows[0]?.['token_hash'], sha256Hex(secret));
    // `nra_` + 6 of its 43 characters (36 of 256 bits) are kept for `npm token list`; the docs
    // said "only its sha256 is stored" (trial 25 ops F7).
    assert.equal(rows[0]['token_prefix'], `${secret.slice(0, 10)}…`);
    const docs = await fs.readFile(path.join(PROJECT_ROOT, 'docs/auth.md'), 'utf8');
    assert.doesNotMatch(docs, /only its sha256 is stored/);
    assert.match(docs, /its sha256 and its first 6 characters are stored/);
    assert.equal(info.hashPrefix, sha256Hex(secret).slice(0, 16));
    const principal = await bearer(secret);
    assert.deepEqual(principal, {
      kind: 'user',
      name: 'sam',
      roles: ['write'],
      credential: 'token',
      tokenId: info.key,
    });
    assert.equal(await identity.tokens.revoke(info.key, 'sam'), true);
    await expectUnauthorized(bearer(secret), /invalid credentials/);
  });

  test('a token works as the Basic password under any username; an unknown one is refused', async () => {
    const { secret } = await identity.tokens.create('hanna', { role: 'read' });
    for (const user of ['token', 'hanna', 'anything-at-all', '']) {
      const principal = await access.authenticate({ authorization: basic(user, secret) });
      assert.equal(principal.kind === 'user' && principal.name, 'hanna', user);
      assert.equal(principal.kind === 'user' && principal.readOnly, true);
    }
    const fake = `nra_${'A'.repeat(43)}`;
    await expectUnauthorized(
      access.authenticate({ authorization: basic('hanna', fake) }),
      /invalid credentials/,
    );
  });

  test('a bare token as the whole Authorization value (how Cargo sends it) is a token', async () => {
    const { secret } = await identity.tokens.create('sam', { role: 'write' });
    const principal = await access.authenticate({ authorization: secret });
    assert.equal(principal.kind === 'user' && principal.name, 'sam');
    await expectUnauthorized(
      access.authenticate({ authorization: `nra_${'B'.repeat(43)}` }),
      /invalid credentials/,
    );
    // Anything not shaped like a token is not taken as one.
    await expectUnauthorized(access.authenticate({ authorization: 'sam-pw' }), /invalid/);
  });

  test('tokens made before the nra_ prefix (nora_…) keep working', async () => {
    const legacy = `nora_${'b'.repeat(43)}`;
    await db
      .$extendTables<{ auth_tokens: Record<string, unknown> }>()
      .insertInto('auth_tokens')
      .values({
        key: 'legacykey0000000',
        token_hash: sha256Hex(legacy),
        token_prefix: 'nora_bbbbbb…',
        user_name: 'sam',
        name: null,
        readonly: 0,
        cidr_whitelist: '[]',
        created_at: Date.now(),
      })
      .execute();
    const principal = await bearer(legacy);
    assert.equal(principal.kind === 'user' && principal.tokenId, 'legacykey0000000');
    assert.deepEqual(principal.kind === 'user' && principal.roles, ['write']);
    assert.equal(
      (await access.authenticate({ authorization: basic('x', legacy) })).kind,
      'user',
      'as a Basic password too',
    );
  });

  test('an expired token is refused with "token expired", even with auth off', async () => {
    const { secret, info } = await identity.tokens.create('sam', { role: 'write', ttlDays: 1 });
    assert.ok(info.expiresAt !== undefined && info.expiresAt > Date.now() + 86_000_000);
    assert.equal((await bearer(secret)).kind, 'user');
    await db
      .$extendTables<{ auth_tokens: { key: string; expires_at: number | null } }>()
      .updateTable('auth_tokens')
      .set({ expires_at: Date.now() - 1 })
      .where('key', '=', info.key)
      .execute();
    await expectUnauthorized(bearer(secret), /^token expired$/);
    await expectUnauthorized(
      access.authenticate({ authorization: basic('sam', secret) }),
      /^token expired$/,
    );
    access.updatePolicy({ authEnabled: false, anonymousRead: true });
    await expectUnauthorized(bearer(secret), /^token expired$/);
  });

  test('roles: the token role capped by the owner; admin only for admin_users', async () => {
    const caps: [string, 'read' | 'write' | 'admin', readonly string[], boolean][] = [
      ['sam', 'admin', ['write'], false], // not an admin: an admin token of sam's writes
      ['sam', 'read', ['read'], true],
      ['rita', 'write', ['read'], true], // a read-only user's write token reads
      ['hanna', 'write', ['write'], false],
      ['root', 'admin', ['admin'], false],
      ['root', 'write', ['write'], false],
    ];
    for (const [user, role, roles, readOnly] of caps) {
      const { secret } = await identity.tokens.create(user, { role });
      const principal = await bearer(secret);
      assert.ok(principal.kind === 'user');
      assert.deepEqual(principal.roles, roles, `${user} ${role}`);
      assert.equal(principal.readOnly === true, readOnly, `${user} ${role} readOnly`);
    }
    // root's password carries admin too; hanna's password (htpasswd) read+write.
    const rootPw = await access.authenticate({ authorization: basic('root', 'root-pw') });
    assert.ok(rootPw.kind === 'user' && rootPw.roles.includes('admin'));
    assert.equal(rootPw.credential, 'password');
    // admin_users is re-read on reload.
    await identity.reload({ htpasswd_file: htpasswd, admin_users: [] });
    const after = await access.authenticate({ authorization: basic('root', 'root-pw') });
    assert.ok(after.kind === 'user' && !after.roles.includes('admin'));
  });

  test('a read token cannot write; a scoped token reaches only its patterns', async () => {
    const read = await identity.tokens.create('sam', { role: 'read' });
    const reader = await bearer(read.secret);
    access.authorize(reader, repo('npm'), 'read', 'pkg');
    assert.throws(() => {
      access.authorize(reader, repo('npm'), 'write', 'pkg');
    }, /read-only/);

    const scoped = await identity.tokens.create('sam', {
      role: 'write',
      scope: ['docker:team-a/**', 'npm:@team-a/*'],
    });
    const principal: Principal = await bearer(scoped.secret);
    assert.ok(principal.kind === 'user' && principal.scope !== undefined);
    access.authorize(principal, repo('docker'), 'write', 'team-a/app');
    access.authorize(principal, repo('docker'), 'read', 'team-a/sub/app');
    access.authorize(principal, repo('npm'), 'read', '@team-a/lib');
    for (const [name, where] of [
      ['docker', 'team-b/app'],
      ['npm', '@team-b/lib'],
      ['npm', 'team-a'],
      ['docker-hosted', 'team-a/app'],
    ] as const) {
      assert.throws(
        () => {
          access.authorize(principal, repo(name), 'read', where);
        },
        /limited to docker:team-a\/\*\*, npm:@team-a\/\*/,
        `${name} ${where}`,
      );
    }
  });

  test('last use is written at most once a minute per token', async () => {
    const { secret, info } = await identity.tokens.create('sam');
    const lastUsed = async () =>
      (await identity.tokens.list('sam')).find((t) => t.key === info.key)?.lastUsedAt;
    assert.equal(await lastUsed(), undefined);
    const t0 = Date.now();
    await bearer(secret);
    const first = await lastUsed();
    assert.ok(first !== undefined && first >= t0);
    for (let i = 0; i < 5; i++) await bearer(secret);
    assert.equal(await lastUsed(), first, 'no write per request');
    const token = await identity.tokens.lookup(secret);
    assert.ok(token);
    await identity.tokens.touch(token, first + LAST_USED_RESOLUTION_MS - 1);
    assert.equal(await lastUsed(), first);
    await identity.tokens.touch(token, first + LAST_USED_RESOLUTION_MS);
    assert.equal(await lastUsed(), first + LAST_USED_RESOLUTION_MS);
  });

  test('htpasswd wins over the store for a user in both; leaving the file ends their tokens', async () => {
    assert.equal(await identity.users.create('hanna', 'store-pw', undefined), true);
    assert.equal(await identity.directory.verify('hanna', 'store-pw'), undefined);
    assert.equal((await identity.directory.verify('hanna', 'hanna-pw'))?.source, 'htpasswd');
    await expectUnauthorized(
      access.authenticate({ authorization: basic('hanna', 'store-pw') }),
      /invalid credentials/,
    );

    // A token of an htpasswd-only user, then the user leaves the file.
    const { secret } = await identity.tokens.create('root', { role: 'write' });
    assert.equal((await bearer(secret)).kind, 'user');
    await fs.writeFile(htpasswd, htpasswdOf({ hanna: 'hanna-pw' }));
    await identity.reload({ htpasswd_file: htpasswd, admin_users: ['root'] });
    await expectUnauthorized(bearer(secret), /invalid credentials/);
    await expectUnauthorized(
      access.authenticate({ authorization: basic('root', 'root-pw') }),
      /invalid credentials/,
    );
  });
});

describe('remembered token reads', () => {
  test('a revocation or role change by another connection (the CLI) bites within 100 ms', async () => {
    await using dir = await tempDir('nora-tokens-file-');
    const file = path.join(dir.path, 'nora.db');
    const writes = new WriteGeneration();
    const db = await openDatabase({
      file,
      migrations: authMigrations,
      onWrite: () => {
        writes.bump();
      },
    });
    const access = new AccessControl({ authEnabled: true, anonymousRead: false });
    const identity = await createIdentity(
      db,
      access,
      { htpasswd_file: path.join(dir.path, 'none.htpasswd'), admin_users: [] },
      { log: quietLogger, writes },
    );
    try {
      await identity.users.create('sam', 'sam-pw', undefined);
      const { secret } = await identity.tokens.create('sam', { role: 'write' });
      const bearer = () => access.authenticate({ authorization: `Bearer ${secret}` });
      for (let i = 0; i < 3; i++) assert.deepEqual((await bearer()).kind, 'user');
      // Another process on the same file: this process's write counter does not move.
      const other = new DatabaseSync(file);
      try {
        const before = writes.current;
        other.prepare("UPDATE auth_tokens SET role = 'read'").run();
        assert.equal(writes.current, before);
        // Another process's commits are looked for at most every 100 ms (identity.ts).
        await sleep(120);
        const principal = await bearer();
        assert.equal(principal.kind === 'user' && principal.readOnly, true, 'role change seen');
        other.prepare('DELETE FROM auth_tokens').run();
        await sleep(120);
        await expectUnauthorized(bearer(), /invalid credentials/);
      } finally {
        other.close();
      }
    } finally {
      identity.close();
      await db.destroy();
    }
  });
});

describe('migration 0051: tokens made before roles', () => {
  test('a read-only token becomes role read, any other role write', async () => {
    await using dir = await tempDir('nora-migrate-');
    const file = path.join(dir.path, 'nora.db');
    const first = authMigrations['0050_auth_users_tokens'];
    assert.ok(first);
    const old = await openDatabase({ file, migrations: { '0050_auth_users_tokens': first } });
    const tables = old.$extendTables<{
      auth_users: Record<string, unknown>;
      auth_tokens: Record<string, unknown>;
    }>();
    await tables
      .insertInto('auth_users')
      .values({
        name: 'u',
        password_hash: 'x',
        email: null,
        roles: '["read","write"]',
        created_at: 1,
      })
      .execute();
    for (const [key, readonly] of [
      ['ro', 1],
      ['rw', 0],
    ] as const) {
      await tables
        .insertInto('auth_tokens')
        .values({
          key,
          token_hash: sha256Hex(key),
          token_prefix: 'nora_…',
          user_name: 'u',
          name: null,
          readonly,
          cidr_whitelist: '[]',
          created_at: 1,
        })
        .execute();
    }
    await old.destroy();
    const db = await openDatabase({ file, migrations: authMigrations });
    const access = new AccessControl({ authEnabled: true, anonymousRead: false });
    const identity = await createIdentity(
      db,
      access,
      { htpasswd_file: path.join(dir.path, 'none'), admin_users: [] },
      { log: quietLogger },
    );
    try {
      const tokens = await identity.tokens.list('u');
      assert.deepEqual(
        tokens.map((t) => [t.key, t.role, t.expiresAt, t.scope]),
        [
          ['ro', 'read', undefined, undefined],
          ['rw', 'write', undefined, undefined],
        ],
      );
    } finally {
      identity.close();
      await db.destroy();
    }
  });
});
