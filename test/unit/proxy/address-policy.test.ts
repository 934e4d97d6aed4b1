/**
 * The redirect rule's address classification (docs/proxy.md, "Redirects"): every spelling of an
 * internal address is internal — numeric IPv4 forms as the URL parser reads them, IPv6, IPv4
 * carried in IPv6 (mapped, compatible, NAT64, 6to4) — and public addresses are not; the guarded
 * connector refuses internal literals and names before connecting.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { Agent } from 'undici';
import {
  DEFAULT_ADDRESS_POLICY,
  guardedConnector,
  internalRange,
  literalAddress,
  REDIRECT_REFUSED,
} from '../../../src/proxy/address-policy.ts';

/** Internal as a URL host: the literal it stands for is in a non-global range. */
function hostIsInternal(host: string): boolean {
  const literal = literalAddress(host);
  assert.ok(literal !== undefined, `${host} is an IP literal`);
  return internalRange(literal) !== undefined;
}

describe('address classification', () => {
  for (const [host, range] of [
    ['127.0.0.1', 'loopback'],
    ['127.1.2.3', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['100.64.0.1', 'shared (CGNAT)'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fd00:ec2::254', 'unique-local'],
    ['fc00::1', 'unique-local'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['::127.0.0.1', 'loopback'],
    ['64:ff9b::a00:1', 'private'],
    ['2002:7f00:1::', 'loopback'],
    ['2001:db8::1', 'documentation'],
  ] as const) {
    test(`${host}: ${range}`, () => {
      assert.equal(internalRange(host), range);
    });
  }

  for (const host of [
    '8.8.8.8',
    '1.1.1.1',
    '172.32.0.1',
    '169.255.0.1',
    '2606:4700::1111',
    '::ffff:8.8.8.8',
    '2a00:1450:4001::1',
  ]) {
    test(`${host}: public`, () => {
      assert.equal(internalRange(host), undefined);
    });
  }

  test('numeric forms of an IPv4 address are read as the URL parser reads them', () => {
    for (const host of [
      '2130706433',
      '0x7f.1',
      '0x7f000001',
      '017700000001',
      '127.1',
      '0177.0.0.1',
      '[::ffff:127.0.0.1]',
      '[::ffff:7f00:1]',
      '[0:0:0:0:0:ffff:7f00:1]',
      '[::1]',
      '::1',
      '2852039166', // 169.254.169.254
      '[fe80::1]',
    ]) {
      assert.equal(hostIsInternal(host), true, host);
    }
    assert.equal(literalAddress('2130706433'), '127.0.0.1');
    assert.equal(literalAddress('0x7f.1'), '127.0.0.1');
    assert.equal(hostIsInternal('134744072'), false); // 8.8.8.8
    assert.equal(literalAddress('example.com'), undefined);
    assert.equal(literalAddress('localhost'), undefined);
  });

  test('what is not an IP address is never public', () => {
    assert.equal(internalRange('localhost'), 'invalid');
    assert.equal(DEFAULT_ADDRESS_POLICY.isInternal('not-an-address', 80), true);
  });
});

describe('guarded connector', () => {
  test('refuses loopback by literal and by name without connecting; connects when allowed', async () => {
    let connections = 0;
    const server = http.createServer((_req, res) => res.end('secret'));
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const guarded = new Agent({ connect: guardedConnector(DEFAULT_ADDRESS_POLICY) });
    const open = new Agent({
      connect: guardedConnector({
        isInternal: (address, p) =>
          !(address === '127.0.0.1' && p === port) && DEFAULT_ADDRESS_POLICY.isInternal(address, p),
      }),
    });
    try {
      for (const origin of [
        `http://127.0.0.1:${port}`,
        `http://localhost:${port}`,
        `http://2130706433:${port}`,
        `http://[::ffff:127.0.0.1]:${port}`,
      ]) {
        await assert.rejects(
          guarded.request({ origin, path: '/', method: 'GET' }),
          (err: unknown) => (err as { code?: string }).code === REDIRECT_REFUSED,
          origin,
        );
      }
      assert.equal(connections, 0);
      const answer = await open.request({
        origin: `http://localhost:${port}`,
        path: '/',
        method: 'GET',
      });
      assert.equal(await answer.body.text(), 'secret');
    } finally {
      await guarded.close();
      await open.close();
      server.close();
    }
  });
});
