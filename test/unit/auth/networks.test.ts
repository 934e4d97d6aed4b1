/** CIDR parsing, address matching (IPv4, IPv6, IPv4-mapped) and the AccessControl choke point. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AccessControl,
  type CredentialResolver,
  type Principal,
} from '../../../src/auth/access.ts';
import { invalidCidrs, NetworkList, networkListOf, parseCidr } from '../../../src/auth/networks.ts';
import { RegistryError } from '../../../src/core/errors.ts';

describe('parseCidr', () => {
  test('valid IPv4 and IPv6 ranges, bare addresses as one host', () => {
    assert.deepEqual(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    assert.deepEqual(parseCidr('192.168.1.7'), {
      address: '192.168.1.7',
      prefix: 32,
      family: 'ipv4',
    });
    assert.deepEqual(parseCidr('0.0.0.0/0'), { address: '0.0.0.0', prefix: 0, family: 'ipv4' });
    assert.deepEqual(parseCidr('fd00::/8'), { address: 'fd00::', prefix: 8, family: 'ipv6' });
    assert.deepEqual(parseCidr('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
    assert.deepEqual(parseCidr('::ffff:127.0.0.0/104'), {
      address: '::ffff:127.0.0.0',
      prefix: 104,
      family: 'ipv6',
    });
  });

  test('invalid ranges are refused', () => {
    for (const bad of [
      '',
      '10.0.0.0/33',
      '::/129',
      '10.0.0.0/',
      '10.0.0.0/8/8',
      '10.0.0.0/-1',
      '10.0.0.0/+8',
      '10.0.0.0/ 8',
      '10.0.0.0/0x8',
      '256.0.0.0/8',
      '10.0.0/8',
      '01.2.3.4/32',
      'fe80::1%eth0/64',
      'example.com/24',
      'x'.repeat(100),
    ]) {
      assert.equal(parseCidr(bad), undefined, bad);
    }
    assert.deepEqual(invalidCidrs(['10.0.0.0/8', 'nope', '::1/200']), ['nope', '::1/200']);
  });
});

describe('NetworkList', () => {
  test('IPv4 ranges', () => {
    const list = new NetworkList(['10.0.0.0/8', '192.168.1.7']);
    assert.equal(list.allows('10.255.0.1'), true);
    assert.equal(list.allows('192.168.1.7'), true);
    assert.equal(list.allows('192.168.1.8'), false);
    assert.equal(list.allows('11.0.0.1'), false);
  });

  test('IPv4-mapped IPv6 client addresses match IPv4 ranges, and the reverse', () => {
    const v4 = new NetworkList(['127.0.0.0/8']);
    assert.equal(v4.allows('::ffff:127.0.0.1'), true);
    assert.equal(v4.allows('::ffff:128.0.0.1'), false);
    const mapped = new NetworkList(['::ffff:127.0.0.0/104']);
    assert.equal(mapped.allows('127.0.0.1'), true);
    assert.equal(mapped.allows('10.0.0.1'), false);
  });

  test('IPv6 ranges; zone ids on the client address are ignored', () => {
    const list = new NetworkList(['fd00::/8', '::1/128', 'fe80::/10']);
    assert.equal(list.allows('fd12:3456::9'), true);
    assert.equal(list.allows('::1'), true);
    assert.equal(list.allows('fe80::1%eth0'), true);
    assert.equal(list.allows('2001:db8::1'), false);
    assert.equal(list.allows('127.0.0.1'), false);
  });

  test('unknown or garbage addresses and invalid entries match nothing', () => {
    const list = new NetworkList(['not-a-cidr']);
    assert.equal(list.allows('127.0.0.1'), false);
    assert.equal(new NetworkList(['0.0.0.0/0']).allows(undefined), false);
    assert.equal(new NetworkList(['0.0.0.0/0']).allows('garbage'), false);
  });

  test('networkListOf: no restriction for an empty list; memoised per list', () => {
    assert.equal(networkListOf([]), undefined);
    assert.equal(networkListOf(['10.0.0.0/8']), networkListOf(['10.0.0.0/8']));
  });
});

describe('AccessControl: restricted credentials', () => {
  function accessWith(principal: Principal, authEnabled: boolean): AccessControl {
    const access = new AccessControl({ authEnabled, anonymousRead: true });
    const resolver: CredentialResolver = {
      resolve: (credentials) =>
        Promise.resolve(credentials.authorization === 'Bearer good' ? principal : undefined),
    };
    access.addResolver(resolver);
    return access;
  }
  const restricted: Principal = {
    kind: 'user',
    name: 'alice',
    roles: ['read', 'write'],
    networks: new NetworkList(['10.0.0.0/8', 'fd00::/8']),
  };

  test('inside the ranges → the principal; outside → 401 naming the ranges and the address', async () => {
    for (const authEnabled of [true, false]) {
      const access = accessWith(restricted, authEnabled);
      for (const inside of ['10.1.2.3', '::ffff:10.1.2.3', 'fd00::5']) {
        const principal = await access.authenticate({
          authorization: 'Bearer good',
          remoteAddress: inside,
        });
        assert.equal(principal.kind, 'user', inside);
      }
      for (const outside of ['127.0.0.1', '::ffff:127.0.0.1', '::1']) {
        await assert.rejects(
          access.authenticate({ authorization: 'Bearer good', remoteAddress: outside }),
          (err: unknown) => {
            assert.ok(err instanceof RegistryError);
            assert.equal(err.status, 401);
            assert.match(err.message, /10\.0\.0\.0\/8, fd00::\/8/);
            assert.ok(err.message.includes(outside));
            return true;
          },
        );
      }
    }
  });

  test('admit: unrestricted principals pass; an unknown address fails closed', () => {
    const access = accessWith(restricted, true);
    access.admit({ kind: 'anonymous' }, undefined);
    access.admit({ kind: 'user', name: 'bob', roles: ['read'] }, undefined);
    access.admit(restricted, '10.0.0.1');
    assert.throws(() => {
      access.admit(restricted, undefined);
    }, /unknown address/);
  });
});
