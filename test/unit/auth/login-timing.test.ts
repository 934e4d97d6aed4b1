/**
 * A failed login costs the same work whether the name exists or not, so the time of an answer
 * does not tell an attacker which names are accounts. The ninth trial's leftover: an unknown
 * name answered in well under a millisecond, a wrong password in tens (UserStore.verify now
 * checks a decoy scrypt hash). The tenth trial's: then an htpasswd user's wrong password (one
 * bcrypt at cost 5, ~3 ms) answered far faster than an unknown name (scrypt); every failure in
 * UserDirectory.verify now costs one bcrypt at the file's cost plus one scrypt.
 * The bounds are loose on purpose (a third): without the decoys the two times differ tens to
 * hundreds of times, so the tests fail by a wide margin, not by noise.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { UserDirectory } from '../../../src/auth/directory.ts';
import { HtpasswdUsers } from '../../../src/auth/htpasswd.ts';
import { authMigrations, type AuthTables } from '../../../src/auth/migrations.ts';
import { UserStore } from '../../../src/auth/users.ts';
import { type Db, openDatabase } from '../../../src/db/database.ts';
import { htpasswdOf, quietLogger } from '../../helpers/auth.ts';
import { tempDir } from '../../helpers/tmp.ts';

let db: Db;
let users: UserStore;
let dir: Awaited<ReturnType<typeof tempDir>>;
let htpasswd: HtpasswdUsers;
let directory: UserDirectory;

before(async () => {
  db = await openDatabase({ file: ':memory:', migrations: authMigrations });
  users = new UserStore(db.$extendTables<AuthTables>());
  assert.equal(await users.create('alice', 'alice-pw', undefined), true);
  dir = await tempDir('nora-login-timing-');
  const file = path.join(dir.path, 'users.htpasswd');
  // A cheap cost, so the bcrypt check is far faster than scrypt: the gap the decoys must close.
  await fs.writeFile(file, htpasswdOf({ bob: 'bob-pw', carol: 'c' }));
  htpasswd = new HtpasswdUsers({ log: quietLogger });
  await htpasswd.use(file);
  directory = new UserDirectory(users, htpasswd);
});
after(async () => {
  htpasswd.close();
  await db.destroy();
  await dir[Symbol.asyncDispose]();
});

/**
 * The median time of `runs` calls of each of `calls`, in ms. The calls take turns (a, b, c, a,
 * b, c, …), so a burst of load on a shared CI machine slows them alike: measured one after the
 * other, in blocks of five, a burst over one block alone could set the two a third apart.
 */
async function medians(
  runs: number,
  calls: readonly (() => Promise<unknown>)[],
): Promise<number[]> {
  const times: number[][] = calls.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (const [j, call] of calls.entries()) {
      const start = performance.now();
      await call();
      times[j]?.push(performance.now() - start);
    }
  }
  return times.map((list) => list.sort((a, b) => a - b)[Math.floor(runs / 2)] ?? 0);
}

test('an unknown name takes as long to refuse as a wrong password', async () => {
  assert.equal(await users.verify('nobody', 'x'), undefined); // makes the decoy hash once
  assert.ok(await users.verify('alice', 'alice-pw'));
  const [wrongPassword = 0, unknownName = 0] = await medians(7, [
    () => users.verify('alice', 'wrong'),
    () => users.verify('nobody', 'wrong'),
  ]);
  assert.ok(
    unknownName > wrongPassword / 3,
    `unknown name refused in ${unknownName.toFixed(2)} ms, a wrong password in ${wrongPassword.toFixed(2)} ms`,
  );
});

test('an htpasswd user, a store user and an unknown name take alike to refuse', async () => {
  assert.ok(await directory.verify('bob', 'bob-pw'));
  assert.ok(await directory.verify('alice', 'alice-pw'));
  assert.equal(await directory.verify('nobody', 'x'), undefined); // makes the decoys once
  const [htpasswdUser = 0, storeUser = 0, unknownName = 0] = await medians(7, [
    () => directory.verify('bob', 'wrong'),
    () => directory.verify('alice', 'wrong'),
    () => directory.verify('nobody', 'wrong'),
  ]);
  const times = `htpasswd user ${htpasswdUser.toFixed(2)} ms, store user ${storeUser.toFixed(2)} ms, unknown ${unknownName.toFixed(2)} ms`;
  for (const [a, b] of [
    [htpasswdUser, unknownName],
    [unknownName, htpasswdUser],
    [storeUser, unknownName],
    [unknownName, storeUser],
  ] as const) {
    assert.ok(a > b / 3, times);
  }
});
