/**
 * clientAddress (src/http/client-address.ts): the answer memo's client address, which must be
 * what Fastify's request.ip gives with the same trusted proxies (@fastify/proxy-addr's walk).
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { NetworkList } from '../../../src/auth/networks.ts';
import { clientAddress } from '../../../src/http/client-address.ts';

const request = (peer: string, xff?: string): IncomingMessage =>
  ({
    socket: { remoteAddress: peer },
    headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
  }) as unknown as IncomingMessage;

test('the socket peer unless it (and each proxy before it) is trusted', () => {
  const proxies = new NetworkList(['127.0.0.1', '10.0.0.0/8']);
  const trusted = (a: string | undefined) => proxies.allows(a);
  const cases: [string, string | undefined, string][] = [
    ['127.0.0.1', undefined, '127.0.0.1'],
    ['127.0.0.1', '', '127.0.0.1'],
    ['192.0.2.1', '203.0.113.7', '192.0.2.1'],
    ['127.0.0.1', '203.0.113.7', '203.0.113.7'],
    ['127.0.0.1', ' 203.0.113.7 ', '203.0.113.7'],
    // Read from the right: the first untrusted address.
    ['127.0.0.1', '198.51.100.1, 203.0.113.7, 10.1.2.3', '203.0.113.7'],
    // Every hop trusted: the leftmost.
    ['127.0.0.1', '10.9.9.9, 10.1.2.3', '10.9.9.9'],
    // Empty entries are skipped.
    ['127.0.0.1', '203.0.113.7, ,\t', '203.0.113.7'],
    ['127.0.0.1', 'garbage', 'garbage'],
  ];
  for (const [peer, xff, expected] of cases) {
    assert.equal(clientAddress(request(peer, xff), trusted), expected, `${peer} / ${xff}`);
  }
});
