/**
 * A failed login costs the same scrypt work whether the name exists or not (UserStore.verify), so
 * the time of an answer does not tell an attacker which names are accounts (the ninth trial's
 * leftover: an unknown name answered in well under a millisecond, a wrong password in tens).
 * The bound is loose on purpose (a third of the wrong-password time): without the decoy hash the
 * unknown name is hundreds of times faster, so the test fails by a wide margin, not by noise.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { authMigrations, type AuthTables } from '../../../src/auth/migrations.ts';
import { UserStore } from '../../../src/auth/users.ts';
import { type Db, openDatabase } from '../../../src/db/database.ts';

let db: Db;
let users: UserStore;

before(async () => {
  db = await openDatabase({ file: ':memory:', migrations: authMigrations });
  users = new UserStore(db.$extendTables<AuthTables>());
  assert.equal(await users.create('alice', 'alice-pw', undefined), true);
});
after(async () => {
  await db.destroy();
});

/** The median time of `runs` calls, in ms. */
async function median(runs: number, call: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await call();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(runs / 2)] ?? 0;
}

test('an unknown name takes as long to refuse as a wrong password', async () => {
  assert.equal(await users.verify('nobody', 'x'), undefined); // makes the decoy hash once
  assert.ok(await users.verify('alice', 'alice-pw'));
  const wrongPassword = await median(5, () => users.verify('alice', 'wrong'));
  const unknownName = await median(5, () => users.verify('nobody', 'wrong'));
  assert.ok(
    unknownName > wrongPassword / 3,
    `unknown name refused in ${unknownName.toFixed(2)} ms, a wrong password in ${wrongPassword.toFixed(2)} ms`,
  );
});
