/**
 * The once-per-peer warning for forwarded headers from a peer not in `[auth] trusted_proxies`
 * (src/http/untrusted-forward.ts; trial 35 newB F1): said once per address, never for a trusted
 * peer or a request without the headers, at most MAX_PEERS addresses, again after a reset.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_PEERS, UntrustedForwardNotice } from '../../../src/http/untrusted-forward.ts';

test('once per untrusted peer, naming the headers and the setting; bounded; reset on reload', () => {
  const lines: string[] = [];
  const notice = new UntrustedForwardNotice(
    (address) => address === '10.0.0.1',
    (line) => lines.push(line),
  );
  notice.check('127.0.0.1', {});
  notice.check('10.0.0.1', { 'x-forwarded-for': '192.0.2.1' });
  assert.deepEqual(lines, []);
  notice.check('127.0.0.1', { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'a.example' });
  notice.check('127.0.0.1', { 'x-forwarded-for': '192.0.2.1' });
  assert.equal(lines.length, 1);
  assert.match(
    lines[0]!,
    /^a request from 127\.0\.0\.1 carries X-Forwarded-Proto, X-Forwarded-Host, ignored/,
  );
  assert.match(lines[0]!, /NORA_AUTH_TRUSTED_PROXIES/);
  for (let i = 0; i < MAX_PEERS + 5; i++) notice.check(`192.0.2.${i}`, { 'x-forwarded-for': 'x' });
  assert.equal(lines.length, MAX_PEERS);
  notice.reset();
  notice.check('127.0.0.1', { 'x-forwarded-for': '192.0.2.1' });
  assert.equal(lines.length, MAX_PEERS + 1);
});
