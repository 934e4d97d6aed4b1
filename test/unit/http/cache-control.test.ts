/**
 * http/cache-control.ts `cacheHeaders`, the one place that adjusts Cache-Control and Vary for
 * shared caches: `private` for credentials, Vary + no-cache for answers built from the host.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { cacheHeaders, markHostDependent } from '../../../src/http/cache-control.ts';

function exchange(
  method: string,
  headers: Record<string, string>,
  replyHeaders: Record<string, string>,
  hostDependent = false,
) {
  const request = { method, headers, raw: {} } as unknown as FastifyRequest;
  const set = new Map(Object.entries(replyHeaders));
  const reply = {
    getHeader: (name: string) => set.get(name),
    header(name: string, value: string) {
      set.set(name, value);
      return reply;
    },
  } as unknown as FastifyReply;
  if (hostDependent) markHostDependent(request);
  cacheHeaders(request, reply);
  return Object.fromEntries(set);
}

const AUTH = { authorization: 'Basic YTpi' };

describe('cacheHeaders', () => {
  test('anonymous answers are left as the format said', () => {
    assert.deepEqual(exchange('GET', {}, { 'cache-control': 'public, max-age=300' }), {
      'cache-control': 'public, max-age=300',
    });
    assert.deepEqual(exchange('GET', {}, {}), {});
  });

  test('credentials: public → private; no-cache or nothing gets private; no-store/private kept', () => {
    const cc = (method: string, value?: string) =>
      exchange(method, AUTH, value === undefined ? {} : { 'cache-control': value })[
        'cache-control'
      ];
    assert.equal(
      cc('GET', 'public, max-age=31536000, immutable'),
      'private, max-age=31536000, immutable',
    );
    assert.equal(cc('GET', 'no-cache'), 'private, no-cache');
    assert.equal(cc('HEAD', 'max-age=0, must-revalidate'), 'private, max-age=0, must-revalidate');
    assert.equal(cc('GET'), 'private');
    assert.equal(cc('GET', 'no-store'), 'no-store');
    assert.equal(cc('GET', 'private, max-age=60'), 'private, max-age=60');
    // Writes: only an explicit public is rewritten.
    assert.equal(cc('PUT', 'public'), 'private');
    assert.equal(cc('PUT'), undefined);
  });

  test('host-dependent: Vary gets the host headers once, a cacheable answer becomes no-cache', () => {
    const anonymous = exchange(
      'GET',
      {},
      { 'cache-control': 'public, max-age=300', vary: 'accept, Host' },
      true,
    );
    assert.deepEqual(anonymous, {
      'cache-control': 'public, no-cache',
      vary: 'accept, Host, X-Forwarded-Host, X-Forwarded-Proto',
    });
    assert.deepEqual(exchange('GET', {}, {}, true), {
      'cache-control': 'no-cache',
      vary: 'Host, X-Forwarded-Host, X-Forwarded-Proto',
    });
    assert.equal(
      exchange('GET', {}, { 'cache-control': 'no-store' }, true)['cache-control'],
      'no-store',
    );
    assert.equal(exchange('GET', {}, { vary: '*' }, true)['vary'], '*');
    assert.equal(
      exchange('GET', AUTH, { 'cache-control': 'public, max-age=300' }, true)['cache-control'],
      'private, no-cache',
    );
  });
});
