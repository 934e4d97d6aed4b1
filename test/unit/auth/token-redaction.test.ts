/**
 * API tokens are redacted from log lines by shape wherever they appear (docs/auth.md,
 * "Credentials in logs"), whatever character comes before the `nra_`/`nora_` prefix: a letter,
 * digit or `_` before it (`x_nra_…`, `TOKENnra_…`, `1nra_…`) once let the whole token through.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { TOKEN_PREFIX } from '../../../src/auth/users.ts';
import { redactText } from '../../../src/core/redact.ts';
import { loggerOptions } from '../../../src/http/log-options.ts';

/** A token as TokenStore.create makes it, with a capital for certain (base64url of 32 bytes). */
function tokenBody(): string {
  return `A${randomBytes(32).toString('base64url')}`;
}

const CASES = [
  (body: string) => `/raw/L1/${TOKEN_PREFIX}${body}`,
  (body: string) => `/raw/L2/x_${TOKEN_PREFIX}${body}`,
  (body: string) => `/raw/L3/x-${TOKEN_PREFIX}${body}`,
  (body: string) => `/raw/L4/TOKEN${TOKEN_PREFIX}${body}`,
  (body: string) => `/raw/L5/1${TOKEN_PREFIX}${body}`,
  (body: string) => `/raw/L6/1nora_${body}`,
];

test('a token in a URL is redacted whatever precedes its nra_ prefix', () => {
  for (const url of CASES) {
    const body = tokenBody();
    const out = redactText(url(body));
    assert.ok(!out.includes(body), out);
    assert.match(out, /^\/raw\/L\d\/.*_\[redacted\]$/, out);
  }
});

test('the access log line of such a URL carries no token', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const log = pino(loggerOptions('info'), sink);
  const bodies = CASES.map(() => tokenBody());
  CASES.forEach((url, i) => {
    log.info({ method: 'GET', url: url(bodies[i] ?? ''), statusCode: 404 }, 'request completed');
  });
  assert.equal(lines.length, CASES.length);
  lines.forEach((line, i) => {
    assert.ok(!line.includes(bodies[i] ?? '-'), line);
    assert.match(line, /"url":"\/raw\/L\d\/[^"]*_\[redacted\]"/);
  });
});

test('names that merely contain nra_ or nora_ without a token body stay as they are', () => {
  for (const text of [
    'nora_http_requests_total',
    'x_nora_docker_prefetched_blobs_total',
    '/raw/L7/genera_notes.txt',
    `/raw/L8/x_nra_${'a'.repeat(40)}`,
  ]) {
    assert.equal(redactText(text), text);
  }
});
