/** Failed-login lockout (auth/lockout.ts) on a fake clock. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  LOCKOUT_MAX_MS,
  lockDuration,
  LoginLockout,
  loginAttempt,
} from '../../../src/auth/lockout.ts';

function clock() {
  let now = 5_000_000;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

test('lock lengths: 1 s at the 5th failure, doubling, capped at 15 minutes', () => {
  assert.equal(lockDuration(5), 1000);
  assert.equal(lockDuration(6), 2000);
  assert.equal(lockDuration(7), 4000);
  assert.equal(lockDuration(14), 512_000);
  assert.equal(lockDuration(15), LOCKOUT_MAX_MS);
  assert.equal(lockDuration(1000), LOCKOUT_MAX_MS);
});

test('an address is locked after 5 failures, exponentially, and a success resets it', () => {
  const c = clock();
  const lockout = new LoginLockout({ now: c.now });
  const from = { address: '10.0.0.1' };
  for (let i = 0; i < 4; i++) {
    lockout.failed(from);
    assert.equal(lockout.state(from).locked, false, `after ${i + 1} failures`);
  }
  lockout.failed(from);
  assert.deepEqual(lockout.state(from), { locked: true, by: 'address', retryAfterMs: 1000 });
  assert.equal(lockout.state({ address: '10.0.0.2' }).locked, false, 'other addresses are free');
  c.advance(1000);
  assert.equal(lockout.state(from).locked, false);
  lockout.failed(from);
  assert.deepEqual(lockout.state(from), { locked: true, by: 'address', retryAfterMs: 2000 });
  c.advance(2000);
  lockout.failed(from);
  assert.deepEqual(lockout.state(from), { locked: true, by: 'address', retryAfterMs: 4000 });
  // Many more failures: never more than 15 minutes.
  for (let i = 0; i < 40; i++) lockout.failed(from);
  const state = lockout.state(from);
  assert.ok(state.locked && state.retryAfterMs === LOCKOUT_MAX_MS);
  c.advance(LOCKOUT_MAX_MS);
  lockout.succeeded(from);
  assert.equal(lockout.state(from).locked, false);
  lockout.failed(from);
  assert.equal(lockout.state(from).locked, false, 'counting starts again after a success');
});

test('failures are forgotten 15 minutes after the last one', () => {
  const c = clock();
  const lockout = new LoginLockout({ now: c.now });
  const from = { address: '10.0.0.1' };
  for (let i = 0; i < 4; i++) lockout.failed(from);
  c.advance(LOCKOUT_MAX_MS + 1);
  lockout.failed(from);
  assert.equal(lockout.state(from).locked, false);
});

test('a locked user is refused from elsewhere but not from an address it logged in from', () => {
  const c = clock();
  const lockout = new LoginLockout({ now: c.now });
  lockout.succeeded({ address: '192.168.1.10', user: 'alice' }); // alice's workstation
  // An attacker spreads guesses for alice over five addresses: no address reaches 5 failures…
  for (let i = 0; i < 5; i++) lockout.failed({ address: `203.0.113.${i}`, user: 'alice' });
  // …but alice is locked, from any address that never authenticated as alice…
  const elsewhere = lockout.state({ address: '203.0.113.99', user: 'alice' });
  assert.ok(elsewhere.locked && elsewhere.by === 'user');
  // …except her workstation.
  assert.equal(lockout.state({ address: '192.168.1.10', user: 'alice' }).locked, false);
  // Other users are not affected.
  assert.equal(lockout.state({ address: '203.0.113.99', user: 'bob' }).locked, false);
});

test('memory is bounded: failure tables and the known-good pairs evict the oldest', () => {
  const c = clock();
  const lockout = new LoginLockout({ now: c.now, maxEntries: 50, maxKnownGood: 20 });
  for (let i = 0; i < 2000; i++) {
    lockout.failed({ address: `a${i}`, user: `u${i}` });
    lockout.succeeded({ address: `g${i}`, user: 'alice' });
  }
  const sizes = lockout.sizes;
  assert.ok(sizes.addresses <= 50 && sizes.users <= 50, JSON.stringify(sizes));
  assert.equal(sizes.knownGood, 20);
  assert.equal(lockout.isKnownGood('alice', 'g1999'), true, 'the newest pair is kept');
  assert.equal(lockout.isKnownGood('alice', 'g0'), false, 'the oldest pair was evicted');
});

test('loginAttempt: Basic passwords name the user, tokens and Bearer count per address only', () => {
  assert.deepEqual(loginAttempt(basic('alice', 'pw'), '1.2.3.4'), {
    address: '1.2.3.4',
    user: 'alice',
  });
  assert.deepEqual(loginAttempt(basic('token', 'nra_abc'), '1.2.3.4'), { address: '1.2.3.4' });
  assert.deepEqual(loginAttempt(basic('x', 'nora_abc'), '1.2.3.4'), { address: '1.2.3.4' });
  assert.deepEqual(loginAttempt('Bearer abc', '1.2.3.4'), { address: '1.2.3.4' });
  assert.deepEqual(loginAttempt('Basic !!!', '1.2.3.4'), { address: '1.2.3.4' });
});
