/** Counting keys for abuse controls (core/address-key.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressKey } from '../../../src/core/address-key.ts';

test('IPv4 as is, IPv4-mapped as IPv4, IPv6 by its /64', () => {
  const cases: [string, string][] = [
    ['10.1.2.3', '10.1.2.3'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['::FFFF:127.0.0.1', '127.0.0.1'],
    ['::1', '0:0:0:0::/64'],
    ['2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:0000:0000:0000:0009', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['64:ff9b::192.0.2.1', '64:ff9b:0:0::/64'],
    ['not an address', 'not an address'],
  ];
  for (const [input, key] of cases) assert.equal(addressKey(input), key, input);
  // Two addresses of one /64 share a key; neighbouring /64s do not.
  assert.equal(addressKey('2001:db8:1:2::a'), addressKey('2001:db8:1:2:ffff::b'));
  assert.notEqual(addressKey('2001:db8:1:2::a'), addressKey('2001:db8:1:3::a'));
});
