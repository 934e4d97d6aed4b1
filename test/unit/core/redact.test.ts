/** Credential redaction (core/redact.ts) and the logger that applies it to every line. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import fc from 'fast-check';
import pino from 'pino';
import { REDACTED, redactDeep, redactText } from '../../../src/core/redact.ts';
import { loggerOptions } from '../../../src/http/log-options.ts';

test('each credential shape is redacted, the rest of the text kept', () => {
  const cases: [string, string][] = [
    ['/npm/-/user/token/npm_abcDEF123', `/npm/-/user/token/${REDACTED}`],
    [
      'DELETE /repository/n/-/user/token/t0k?x=1',
      `DELETE /repository/n/-/user/token/${REDACTED}?x=1`,
    ],
    ['/npm/-/npm/v1/tokens/token/abc123', `/npm/-/npm/v1/tokens/token/${REDACTED}`],
    ['/npm%2F-%2Fuser%2Ftoken%2Fabc', `/npm%2F-%2Fuser%2Ftoken%2F${REDACTED}`],
    ['https://user:p%40ss@host.test/v2/', `https://${REDACTED}@host.test/v2/`],
    [
      '/x?token=abc&page=2&access_token=zz&password=pw&client_secret=s',
      `/x?token=${REDACTED}&page=2&access_token=${REDACTED}&password=${REDACTED}&client_secret=${REDACTED}`,
    ],
    ['Authorization: Bearer abc.def-ghi', `Authorization: Bearer ${REDACTED}`],
    ['basic dXNlcjpwYXNz', 'basic dXNlcjpwYXNz'], // lower-case word in prose: not a header
    ['Basic dXNlcjpwYXNz', `Basic ${REDACTED}`],
    ['auth = "user:secret123"', `auth = "${REDACTED}"`],
    ['//reg/npm/:_authToken=npm_XXXX', `//reg/npm/:_authToken=${REDACTED}`],
    ['http://h:9|robot:tok|pfx,http://b', `http://h:9|${REDACTED}|pfx,http://b`],
  ];
  for (const [input, expected] of cases) assert.equal(redactText(input), expected, input);
  for (const harmless of [
    'GET /npm/lodash',
    '/npm/tokenizer/-/tokenizer-1.0.0.tgz',
    'package tokenizer@1.0.0 not found',
    'request body of 28311625 bytes exceeds the limit of 8388608 bytes',
    '/v2/library/alpine/manifests/sha256:abc',
    'http://127.0.0.1:4000/npm/',
  ]) {
    assert.equal(redactText(harmless), harmless);
  }
});

test('a random token never survives any of the shapes it is sent in', () => {
  const token = fc.stringMatching(/^[A-Za-z0-9_.~-]{8,64}$/);
  fc.assert(
    fc.property(token, fc.constantFrom('', '/npm', '/repository/x'), (secret, mount) => {
      for (const text of [
        `${mount}/-/user/token/${secret}`,
        `${mount}/-/npm/v1/tokens/token/${secret}`,
        `${mount}/-/ping?token=${secret}`,
        `${mount}/-/ping?a=1&access_token=${secret}#f`,
        `http://user:${secret}@127.0.0.1:4000${mount}/`,
        `Authorization: Bearer ${secret}`,
        `_authToken=${secret}`,
      ]) {
        assert.ok(!redactText(text).includes(secret), text);
      }
    }),
    { numRuns: 300 },
  );
});

test('redactDeep: strings in plain objects, whole values of credential keys, bounded depth', () => {
  const out = redactDeep({
    url: '/npm/-/user/token/abc',
    headers: { authorization: 'Bearer x', cookie: 'sid=1', accept: 'json' },
    list: ['?password=pw'],
    n: 1,
  });
  assert.deepEqual(out, {
    url: `/npm/-/user/token/${REDACTED}`,
    headers: { authorization: REDACTED, cookie: REDACTED, accept: 'json' },
    list: [`?password=${REDACTED}`],
    n: 1,
  });
  let deep: unknown = '/-/user/token/abc';
  for (let i = 0; i < 50; i++) deep = { deep };
  assert.ok(!JSON.stringify(redactDeep(deep)).includes('abc'));
});

test('the logger redacts every line: messages, objects, errors and their stacks', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const log = pino(loggerOptions('debug'), sink);
  const secret = 'npm_s3cretTokenValue';
  log.info({ method: 'DELETE', url: `/npm/-/user/token/${secret}` }, 'request');
  log.warn(`upstream http://u:${secret}@h.test/ failed`);
  log.error({ err: new Error(`bad request /npm/-/user/token/${secret}`) }, 'failed');
  log.debug({ headers: { authorization: `Bearer ${secret}` } }, 'headers');
  log.child({ reqId: '1' }).info({ error: `token=${secret}` }, 'child');
  assert.equal(lines.length, 5);
  for (const line of lines) assert.ok(!line.includes(secret), line);
  assert.match(lines[0] ?? '', /"url":"\/npm\/-\/user\/token\/\[redacted\]"/);
  assert.match(lines[2] ?? '', /"stack":"Error: bad request \/npm\/-\/user\/token\/\[redacted\]/);
});

test('API token secrets are redacted anywhere in the text; metric names are not tokens', () => {
  const secret = 'nra_Q9x-7pLm2ZbV4kT8sR1wY6cN3hJ0dF5gA2eU9iO7qWs';
  const legacy = 'nora_k3J9-xLq2MzP8vB5nR7tY1wC4hG6dS0fA3eU9iO2pQe';
  for (const text of [
    `revoke failed for ${secret}`,
    `{"token":"${secret}"}`,
    `basic auth as x:${legacy} refused`,
  ]) {
    const out = redactText(text);
    assert.ok(!out.includes(secret.slice(4)) && !out.includes(legacy.slice(5)), out);
  }
  const metrics = 'nora_http_requests_total nora_docker_prefetched_blobs_total';
  assert.equal(redactText(metrics), metrics);
});

test('issue 12 credential shapes: API tokens, JWTs, /v2/token parameters, password fields', () => {
  const token = `nra_${'Ab3-_x'.repeat(7)}`;
  const legacyToken = `nora_${'Zz9_-q'.repeat(7)}`;
  const jwt =
    'eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJyZXBvOm9yZy9hcHAiLCJhdWQiOiJub3JhIn0.c2lnbmF0dXJlLWJ5dGVz';
  const texts = [
    `DELETE /api/tokens/${token}`,
    `GET /npm/lodash?x=${legacyToken}`,
    `token ${token} is expired`,
    `grant_type=password&username=bob&password=hunter2-secret&service=nora`,
    `GET /v2/token?service=nora&scope=repository:a:pull&refresh_token=hunter2-secret&account=bob`,
    `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=${jwt}`,
    `Authorization: Bearer ${jwt}`,
    `OIDC token ${jwt} has expired`,
    `{"name":"bob","password":"hunter2-secret"}`,
    `{"refresh_token": "hunter2-secret"}`,
  ];
  for (const text of texts) {
    const out = redactText(text);
    for (const secret of [token, legacyToken, jwt, 'hunter2-secret']) {
      assert.ok(!out.includes(secret), `${text} → ${out}`);
    }
  }
  // What is not a credential stays readable.
  assert.equal(
    redactText('GET /v2/token?service=nora&scope=repository:team/app:pull,push'),
    'GET /v2/token?service=nora&scope=repository:team/app:pull,push',
  );
  assert.equal(redactText('{"name":"bob"}'), '{"name":"bob"}');
  assert.deepEqual(redactDeep({ refresh_token: 'r', client_secret: 's', user: 'bob' }), {
    refresh_token: REDACTED,
    client_secret: REDACTED,
    user: 'bob',
  });
});

test('API tokens with a percent-encoded prefix or `_` are redacted (the server decodes paths)', () => {
  const body = 'Q9x-7pLm2ZbV4kT8sR1wY6cN3hJ0dF5gA2eU9iO7qWs';
  const texts = [
    `/raw/pub/plan.txt?x=nra%5F${body}`,
    `/raw/pub/nra%5F${body}`,
    `/raw/pub/%6Era_${body}`,
    `/raw/pub/%6e%72%61%5f${body}`,
    `/raw/pub/no%72a_${body}`,
    `/raw/pub/nora%5f${body}`,
    `/raw/pub/x_nra%5F${body}/more`,
    `/raw/pub/%2Fnra%5F${body}`,
    // The body's own characters encoded too.
    `/raw/pub/nra%5F${body.slice(0, 10)}%${body.charCodeAt(10).toString(16)}${body.slice(11)}`,
  ];
  for (const text of texts) {
    const out = redactText(text);
    assert.ok(!out.includes(body.slice(12)), `${text} → ${out}`);
    assert.ok(out.includes(REDACTED), `${text} → ${out}`);
  }
  assert.equal(
    redactText(`/raw/pub/plan.txt?x=nra%5F${body}&y=1`),
    `/raw/pub/plan.txt?x=nra%5F${REDACTED}&y=1`,
  );
  assert.equal(redactText(`/raw/pub/%6Era_${body}/f`), `/raw/pub/%6Era_${REDACTED}/f`);
  // Not tokens: a short body, no capital, an encoded separator inside the prefix.
  for (const harmless of [
    '/raw/pub/nra%5Fshort',
    `/raw/pub/nra%5F${'a'.repeat(40)}`,
    `/raw/pub/nra%20${body}`,
    `/raw/pub/nr%2Fa_${body}`,
    '/raw/a%20b%5Fc/%E2%82%AC.txt',
  ]) {
    assert.equal(redactText(harmless), harmless);
  }
});
