/**
 * A user gone from the htpasswd file (docs/auth.md, "Users"): its API tokens are refused at once
 * but suspended, not deleted, for the grace period — restoring the file brings them back (the
 * trial's `htpasswd -B -b -c users.htpasswd frank frankpw` slip deleted every other user's
 * tokens for good) — and deleted once the grace period is over, at the next read of the file.
 * At startup, owners missing from the file are suspended the same way, so an old user's tokens
 * never come back silently with a new user of that name.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { AccessControl, type Principal } from '../../../src/auth/access.ts';
import {
  createIdentity,
  type Identity,
  REMOVED_USER_GRACE_MS,
} from '../../../src/auth/identity.ts';
import { authMigrations } from '../../../src/auth/migrations.ts';
import type { Logger } from '../../../src/core/logger.ts';
import { isRegistryError } from '../../../src/core/errors.ts';
import { WriteGeneration } from '../../../src/core/write-generation.ts';
import { type Db, openDatabase } from '../../../src/db/database.ts';
import { tempDir } from '../../helpers/tmp.ts';

const GRACE = REMOVED_USER_GRACE_MS;
const HASH: Record<string, string> = {};
const line = (user: string) => {
  HASH[user] ??= bcrypt.hashSync(`${user}-pw`, 4);
  return `${user}:${HASH[user]}\n`;
};

interface Logged {
  readonly level: string;
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

describe('tokens of users gone from the htpasswd file', () => {
  let db: Db;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let file: string;
  let clock: number;
  let logged: Logged[];
  let log: Logger;
  const identities: Identity[] = [];

  beforeEach(async () => {
    dir = await tempDir('nora-removed-users-');
    file = path.join(dir.path, 'users.htpasswd');
    clock = Date.parse('2026-12-03T10:00:00Z');
    logged = [];
    const at =
      (level: string) =>
      (fields: object | string, message?: string): void => {
        if (typeof fields === 'string') logged.push({ level, fields: {}, message: fields });
        else
          logged.push({ level, fields: fields as Record<string, unknown>, message: message ?? '' });
      };
    log = {
      error: at('error'),
      warn: at('warn'),
      info: at('info'),
      debug: at('debug'),
      child: () => log,
    };
    const writes = new WriteGeneration();
    db = await openDatabase({
      file: ':memory:',
      migrations: authMigrations,
      onWrite: () => {
        writes.bump();
      },
    });
  });
  afterEach(async () => {
    for (const identity of identities.splice(0)) identity.close();
    await db.destroy();
    await dir[Symbol.asyncDispose]();
  });

  /** An identity over the shared database (a server start), with the test's clock. */
  async function start(): Promise<{ identity: Identity; access: AccessControl }> {
    const access = new AccessControl({ authEnabled: true, anonymousRead: false });
    const identity = await createIdentity(
      db,
      access,
      { htpasswd_file: file, admin_users: [] },
      { log, htpasswdPollMs: 60_000, now: () => clock },
    );
    identities.push(identity);
    return { identity, access };
  }

  async function writeFile(...users: string[]): Promise<void> {
    await fs.writeFile(file, users.map(line).join(''));
  }

  /** The principal a bearer token gets, or the refusal's message. */
  async function use(access: AccessControl, secret: string): Promise<Principal | string> {
    try {
      return await access.authenticate({ authorization: `Bearer ${secret}` });
    } catch (err) {
      assert.ok(isRegistryError(err), String(err));
      return err.message;
    }
  }

  const warnings = (pattern: RegExp) =>
    logged.filter((l) => l.level === 'warn' && pattern.test(l.message));

  test('the htpasswd -c slip: tokens refused, kept, and working again once the file is restored', async () => {
    await writeFile('alice', 'bob', 'frank');
    const { identity, access } = await start();
    const alice = await identity.tokens.create('alice', { role: 'write' });
    const bob1 = await identity.tokens.create('bob', { role: 'write' });
    const bob2 = await identity.tokens.create('bob', { role: 'read' });
    await identity.users.create('sam', 'sam-pw', undefined);
    const sam = await identity.tokens.create('sam', { role: 'write' });

    await writeFile('frank'); // htpasswd -B -b -c users.htpasswd frank frankpw
    await identity.reload({ htpasswd_file: file, admin_users: [] });
    for (const { secret } of [alice, bob1, bob2]) {
      assert.equal(await use(access, secret), 'invalid credentials');
    }
    assert.equal((await use(access, sam.secret)) instanceof Object, true, 'a store user keeps its');
    assert.equal((await identity.tokens.list()).length, 4, 'nothing is deleted');
    const [suspended, ...more] = warnings(/no longer in the htpasswd file/);
    assert.ok(suspended);
    assert.equal(more.length, 0);
    assert.deepEqual(suspended.fields['users'], ['alice', 'bob']);
    assert.equal(suspended.fields['tokens'], 3);
    assert.match(suspended.message, /deleted after 24 h.*restore it/);

    clock += GRACE - 60_000;
    await writeFile('alice', 'bob', 'frank');
    await identity.reload({ htpasswd_file: file, admin_users: [] });
    for (const { secret } of [alice, bob1, bob2]) {
      const principal = await use(access, secret);
      assert.equal(typeof principal === 'object' && principal.kind, 'user');
    }
    const [restored] = warnings(/back in the htpasswd file/);
    assert.ok(restored);
    assert.deepEqual(restored.fields['users'], ['alice', 'bob']);
    assert.equal(restored.fields['tokens'], 3);
  });

  test('back within the grace period with another password: the tokens are deleted, not restored', async () => {
    await writeFile('alice', 'bob');
    const { identity, access } = await start();
    const bob = await identity.tokens.create('bob', { role: 'write' });
    const alice = await identity.tokens.create('alice', { role: 'write' });
    await writeFile('alice');
    await identity.reload({ htpasswd_file: file, admin_users: [] });
    assert.equal(await use(access, bob.secret), 'invalid credentials');
    // `htpasswd -B users.htpasswd bob` for someone new: another hash line.
    clock += 60_000;
    await fs.writeFile(file, `${line('alice')}bob:${bcrypt.hashSync('new-bob', 4)}\n`);
    await identity.reload({ htpasswd_file: file, admin_users: [] });
    assert.equal(await use(access, bob.secret), 'invalid credentials');
    assert.deepEqual(await identity.tokens.list('bob'), []);
    const [replaced] = warnings(/with another password than before/);
    assert.ok(replaced);
    assert.deepEqual(replaced.fields['users'], ['bob']);
    const principal = await use(access, alice.secret);
    assert.equal(typeof principal === 'object' && principal.kind, 'user');
  });

  test('suspended across a restart: the same line restores, another line deletes', async () => {
    await writeFile('alice', 'bob');
    const first = await start();
    const bob = await first.identity.tokens.create('bob', { role: 'write' });
    const alice = await first.identity.tokens.create('alice', { role: 'write' });
    // Recorded while they are in the file (any change of the file reconciles).
    await writeFile('alice', 'bob', 'carol');
    await first.identity.reload({ htpasswd_file: file, admin_users: [] });
    first.identity.close();
    await writeFile('carol'); // the slip, while the server is down
    const second = await start();
    assert.equal(await use(second.access, bob.secret), 'invalid credentials');
    assert.equal(await use(second.access, alice.secret), 'invalid credentials');
    clock += 60_000;
    await fs.writeFile(file, `${line('alice')}${line('carol')}bob:${bcrypt.hashSync('x', 4)}\n`);
    await second.identity.reload({ htpasswd_file: file, admin_users: [] });
    const restored = await use(second.access, alice.secret);
    assert.equal(typeof restored === 'object' && restored.kind, 'user');
    assert.equal(await use(second.access, bob.secret), 'invalid credentials');
    assert.deepEqual(await second.identity.tokens.list('bob'), []);
  });

  test('after the grace period the tokens are deleted, and a user of that name added later gets none', async () => {
    await writeFile('alice', 'bob');
    const { identity, access } = await start();
    const bob = await identity.tokens.create('bob', { role: 'write' });
    await writeFile('alice');
    await identity.reload({ htpasswd_file: file, admin_users: [] });
    clock += GRACE;
    // A reload of the unchanged file is a pass too.
    await identity.reload({ htpasswd_file: file, admin_users: [] });
    assert.deepEqual(await identity.tokens.list('bob'), []);
    const [deleted] = warnings(/API token\(s\) are deleted/);
    assert.ok(deleted);
    assert.deepEqual(deleted.fields['users'], ['bob']);
    assert.equal(deleted.fields['tokens'], 1);
    await writeFile('alice', 'bob');
    await identity.reload({ htpasswd_file: file, admin_users: [] });
    assert.equal(await use(access, bob.secret), 'invalid credentials');
  });

  test('a user back only after the grace period (no pass in between) gets none back', async () => {
    await writeFile('alice', 'bob');
    const { identity, access } = await start();
    const bob = await identity.tokens.create('bob', { role: 'write' });
    await writeFile('alice');
    await identity.reload({ htpasswd_file: file, admin_users: [] });
    clock += GRACE + 1;
    await writeFile('alice', 'bob');
    await identity.reload({ htpasswd_file: file, admin_users: [] });
    assert.equal(await use(access, bob.secret), 'invalid credentials');
    assert.deepEqual(await identity.tokens.list('bob'), []);
  });

  test('at startup, owners missing from the file are suspended; the grace period starts then', async () => {
    await writeFile('alice', 'carol');
    const first = await start();
    const carol = await first.identity.tokens.create('carol', { role: 'write' });
    first.identity.close();
    // carol is removed while the server is stopped.
    await writeFile('alice');
    clock += 3_600_000;
    const second = await start();
    assert.equal(await use(second.access, carol.secret), 'invalid credentials');
    const [suspended] = warnings(/no longer in the htpasswd file/);
    assert.ok(suspended);
    assert.deepEqual(suspended.fields['users'], ['carol']);
    // Back within the grace period (counted from this start): the token works again.
    clock += GRACE - 1;
    await writeFile('alice', 'carol');
    await second.identity.reload({ htpasswd_file: file, admin_users: [] });
    const principal = await use(second.access, carol.secret);
    assert.equal(typeof principal === 'object' && principal.kind, 'user');

    // Removed again, then a start after the grace period: deleted, not revived by the name.
    await writeFile('alice');
    await second.identity.reload({ htpasswd_file: file, admin_users: [] });
    second.identity.close();
    clock += GRACE;
    await writeFile('alice', 'carol');
    const third = await start();
    assert.equal(await use(third.access, carol.secret), 'invalid credentials');
    assert.deepEqual(await third.identity.tokens.list('carol'), []);
  });

  test('a self-registered name the htpasswd file gains: the squatter loses its tokens and password', async () => {
    await writeFile('alice');
    const { identity, access } = await start();
    // `npm adduser` of hank while allow_registration = true: a store user with a password
    assert.equal(await identity.users.create('hank', 'attacker-pw', 'a@x.y'), true);
    const squat1 = await identity.tokens.create('hank', { role: 'write' });
    const squat2 = await identity.tokens.create('hank', { role: 'read' });
    const sam = await identity.tokens.create('alice', { role: 'write' });
    const before = await use(access, squat1.secret);
    assert.equal(typeof before === 'object' && before.kind, 'user');

    // The operator onboards the real hank: htpasswd -B users.htpasswd hank
    await writeFile('alice', 'hank');
    await identity.reload({ htpasswd_file: file, admin_users: [] });
    assert.equal(await use(access, squat1.secret), 'invalid credentials');
    assert.equal(await use(access, squat2.secret), 'invalid credentials');
    assert.deepEqual(await identity.tokens.list('hank'), []);
    const [warned, ...more] = warnings(/self-registered/);
    assert.ok(warned, JSON.stringify(logged));
    assert.equal(more.length, 0);
    assert.deepEqual(warned.fields['users'], ['hank']);
    assert.equal(warned.fields['tokens'], 2);
    assert.match(warned.message, /hank/);
    assert.match(warned.message, /2 API token\(s\)/);
    // the store's password and e-mail went with them: the htpasswd line is the account now
    const stored = await identity.users.get('hank');
    assert.equal(stored?.hasPassword ?? false, false);
    assert.equal(stored?.email, undefined);
    assert.equal(await identity.directory.verify('hank', 'attacker-pw'), undefined);
    assert.equal((await identity.directory.verify('hank', 'hank-pw'))?.name, 'hank');
    const other = await use(access, sam.secret);
    assert.equal(typeof other === 'object' && other.kind, 'user');

    // the real hank's own tokens are his: later reads of the file leave them alone
    const real = await identity.tokens.create('hank', { role: 'write' });
    await writeFile('alice', 'hank', 'ivy');
    await identity.reload({ htpasswd_file: file, admin_users: [] });
    const principal = await use(access, real.secret);
    assert.equal(typeof principal === 'object' && principal.kind, 'user');
    assert.equal(warnings(/self-registered/).length, 1);
    // and hank removed again: suspended as any htpasswd user; the squatter's password is gone
    await writeFile('alice', 'ivy');
    await identity.reload({ htpasswd_file: file, admin_users: [] });
    assert.equal(await use(access, real.secret), 'invalid credentials');
    assert.equal(await identity.directory.verify('hank', 'attacker-pw'), undefined);
  });

  test('a self-registered name already in the file at startup is merged the same way', async () => {
    await writeFile('alice');
    const first = await start();
    await first.identity.users.create('hank', 'attacker-pw', undefined);
    const squat = await first.identity.tokens.create('hank', { role: 'write' });
    first.identity.close();
    await writeFile('alice', 'hank'); // added while the server was down
    const second = await start();
    assert.equal(await use(second.access, squat.secret), 'invalid credentials');
    assert.deepEqual(await second.identity.tokens.list('hank'), []);
    assert.equal(warnings(/self-registered/).length, 1);
  });

  test('an empty or missing file suspends nothing', async () => {
    await writeFile('alice');
    const { identity, access } = await start();
    const alice = await identity.tokens.create('alice', { role: 'write' });
    await fs.writeFile(file, '');
    await identity.reload({ htpasswd_file: file, admin_users: [] });
    await fs.rm(file);
    await identity.reload({ htpasswd_file: file, admin_users: [] });
    assert.deepEqual(warnings(/no longer in the htpasswd file/), []);
    await writeFile('alice');
    await identity.reload({ htpasswd_file: file, admin_users: [] });
    const principal = await use(access, alice.secret);
    assert.equal(typeof principal === 'object' && principal.kind, 'user');
  });
});
