/**
 * The verb's own parts (src/mirror/run.ts, client.ts): credentials from the environment only,
 * `--registry` checks, the pool's bound and report, and the client's Docker token dance (a 401
 * Bearer challenge → a token from the realm with the credentials as Basic → the request again),
 * against a small local server.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createMirrorClient, parseBearerChallenge } from '../../../src/mirror/client.ts';
import { drainVerified, getOk } from '../../../src/mirror/pull.ts';
import { credentialsFromEnv, registryBase, reportLine, runPool } from '../../../src/mirror/run.ts';
import { MirrorInputError, type MirrorItem } from '../../../src/mirror/types.ts';

test('credentials come from the environment: a token, a user and password, or none', () => {
  assert.deepEqual(credentialsFromEnv({}), { kind: 'none' });
  assert.deepEqual(credentialsFromEnv({ NORA_MIRROR_TOKEN: 'nra_x' }), {
    kind: 'token',
    token: 'nra_x',
  });
  assert.deepEqual(credentialsFromEnv({ NORA_MIRROR_USER: 'a', NORA_MIRROR_PASSWORD: 'p' }), {
    kind: 'basic',
    user: 'a',
    password: 'p',
  });
  assert.throws(
    () => credentialsFromEnv({ NORA_MIRROR_USER: 'a' }),
    /without NORA_MIRROR_PASSWORD/,
  );
  assert.throws(
    () => credentialsFromEnv({ NORA_MIRROR_TOKEN: 't', NORA_MIRROR_PASSWORD: 'p' }),
    MirrorInputError,
  );
});

test('--registry: a root URL without credentials; a prefix kept, the trailing / dropped', () => {
  assert.equal(registryBase('http://127.0.0.1:4000/'), 'http://127.0.0.1:4000');
  assert.equal(registryBase('https://h.example/nora/'), 'https://h.example/nora');
  assert.throws(() => registryBase('http://u:p@h:1'), /must not hold credentials/);
  assert.throws(() => registryBase('ftp://h'), /only http/);
  assert.throws(() => registryBase('localhost:4000x'), MirrorInputError);
});

test('the pool runs at most N at once, reports each, keeps the order, never rejects', async () => {
  let running = 0;
  let peak = 0;
  const items: MirrorItem[] = Array.from({ length: 10 }, (_, i) => ({
    label: `x ${i}`,
    async fetch() {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running -= 1;
      if (i === 3) throw new Error('404 from /x/3\nsecond line');
      return i;
    },
  }));
  const reported: string[] = [];
  const client = { base: 'http://h', get: () => Promise.reject(new Error('unused')) };
  const outcomes = await runPool(items, client, 3, (o) => reported.push(o.label));
  assert.equal(peak, 3);
  assert.equal(reported.length, 10);
  assert.deepEqual(
    outcomes.map((o) => o.ok),
    items.map((_, i) => i !== 3),
  );
  assert.equal(reportLine(outcomes[3]!), 'fail x 3: 404 from /x/3 second line');
  assert.equal(reportLine(outcomes[9]!), 'ok   x 9  (9 B)');
});

test('the client does the token dance with the credentials, and verifies what it drains', async () => {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.url} ${req.headers.authorization ?? '-'}`);
    const { port } = server.address() as AddressInfo;
    if (req.url?.startsWith('/v2/token')) {
      const ok =
        req.headers.authorization === `Basic ${Buffer.from('token:nra_t').toString('base64')}`;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(ok ? '{"token":"jwt-1"}' : '{"errors":[{"message":"bad credentials"}]}');
      return;
    }
    if (req.headers.authorization !== 'Bearer jwt-1') {
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/v2/token",service="nora",scope="repository:a:pull"`,
      });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    res.writeHead(200);
    res.end('blob bytes');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const client = createMirrorClient(`http://127.0.0.1:${port}/`, {
      credentials: { kind: 'token', token: 'nra_t' },
      idleTimeoutMs: 5000,
    });
    const sha = 'e0b1a2b3'; // wrong on purpose
    const right = createHash('sha256').update('blob bytes').digest('hex');
    for (const blob of ['/v2/a/blobs/1', '/v2/a/blobs/2']) {
      const res = await getOk(client, blob);
      assert.equal(await drainVerified(res, blob, [{ algorithm: 'sha256', hex: right }]), 10);
    }
    // One dance for both blobs of the scope.
    assert.equal(seen.filter((line) => line.startsWith('/v2/token')).length, 1);
    assert.match(seen[0] ?? '', /^\/v2\/a\/blobs\/1 Bearer nra_t$/);
    const res = await getOk(client, '/v2/a/blobs/3');
    await assert.rejects(
      drainVerified(res, '/v2/a/blobs/3', [{ algorithm: 'sha256', hex: sha }]),
      /sha256 mismatch for \/v2\/a\/blobs\/3: the lock file pins e0b1a2b3, the server sent [0-9a-f]{64} \(10 bytes\)/,
    );
    const anonymous = createMirrorClient(`http://127.0.0.1:${port}`, {
      credentials: { kind: 'none' },
      idleTimeoutMs: 5000,
    });
    await assert.rejects(
      anonymous.get('/v2/a/blobs/1'),
      /token for \/v2\/a\/blobs\/1: 401 from .*\/v2\/token: bad credentials/,
    );
  } finally {
    server.close();
  }
  assert.equal(parseBearerChallenge('Basic realm="nora"'), undefined);
});

test('no request climbs out of the server: `..` segments, plain or encoded, are refused before sending (trial 26 mirrorR F9)', async () => {
  const seen: string[] = [];
  const server = http.createServer((request, response) => {
    seen.push(request.url ?? '');
    response.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const client = createMirrorClient(`http://127.0.0.1:${port}/nora`, {
      credentials: { kind: 'token', token: 'nra_secret' },
      idleTimeoutMs: 5000,
    });
    for (const path of [
      '/npm/a/../../other-app/admin',
      '/npm/%2e%2e/x',
      '/npm/..%2fadmin',
      '/npm/a/..\\admin',
      'npm/relative',
    ]) {
      await assert.rejects(client.get(path), /not a path below the server/, path);
    }
    const ok = await client.get('/npm/@scope%2fname');
    await ok.drain();
    assert.deepEqual(seen, ['/nora/npm/@scope%2fname']);
  } finally {
    server.close();
  }
});

test('a metadata body that stalls is cut after the idle timeout, as an artifact body is (trial 26 mirrorR F4)', async () => {
  const server = http.createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.write('{"name":'); // and then nothing
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const client = createMirrorClient(`http://127.0.0.1:${port}`, {
      credentials: { kind: 'none' },
      idleTimeoutMs: 300,
    });
    const answer = await client.get('/npm/stalls');
    await assert.rejects(answer.text(1024 * 1024), /stalled for 0\.3 s/);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
