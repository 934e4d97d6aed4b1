import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';

describe('HTTP edge', async () => {
  const server = await startTestServer({ config: { server: { body_limit_mb: 1 } } });
  const inject = server.app.fastify.inject.bind(server.app.fastify);
  test.after(() => server.close());

  test('/health reports status, version, uptime, storage and registries', async () => {
    const res = await fetch(`${server.url}/health`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body['status'], 'healthy');
    assert.match(String(body['version']), /^\d+\.\d+\.\d+/);
    assert.equal(typeof body['uptime_seconds'], 'number');
    // free_bytes is the disk's (trial 25 ops F10): a number, whatever this machine has.
    const storage = body['storage'] as Record<string, unknown>;
    assert.equal(typeof storage['free_bytes'], 'number');
    assert.deepEqual(
      { ...storage, free_bytes: 0 },
      {
        backend: 'local',
        reachable: true,
        writable: true,
        total_size_bytes: 0,
        full: false,
        free_bytes: 0,
      },
    );
    const registries = body['registries'] as Record<string, string>;
    for (const name of ['docker', 'npm', 'pypi', 'maven', 'cargo', 'go', 'raw', 'helm'])
      assert.ok(name in registries, name);
  });

  test('/ready answers 200 when storage and database are reachable', async () => {
    const res = await inject({ url: '/ready' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { status: 'ready' });
  });

  test('/metrics exposes NORA names with bounded labels', async () => {
    await inject({ url: '/health' });
    await inject({ url: '/v2/some/random/name/that/must/not/become/a/label' });
    const res = await inject({ url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(
      res.body,
      /nora_http_requests_total\{registry="system",method="GET",status="200"\}/,
    );
    assert.match(res.body, /nora_http_request_duration_seconds_bucket/);
    assert.match(res.body, /nora_uptime_seconds \d/);
    assert.match(res.body, /process_resident_memory_bytes/);
    assert.doesNotMatch(res.body, /must\/not\/become/);
  });

  test('security headers and request ids on every response', async () => {
    const res = await inject({ url: '/health', headers: { 'x-request-id': 'trace-123' } });
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.headers['referrer-policy'], 'strict-origin-when-cross-origin');
    assert.match(String(res.headers['content-security-policy']), /default-src 'self'/);
    assert.equal(res.headers['x-request-id'], 'trace-123');
    const generated = await inject({
      url: '/health',
      headers: { 'x-request-id': 'bad id with spaces' },
    });
    assert.match(String(generated.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });

  test('path tricks are rejected with 400 before any format sees them', async () => {
    for (const url of [
      '/raw/a/../b',
      '/raw/a/%2e%2e/b',
      '/raw/%2E%2E/etc/passwd',
      '/npm/a%00b',
      '/v2/x/%2e/y',
      '/raw/a/%zz',
      `/raw/${'a'.repeat(9000)}`,
    ]) {
      assert.equal(await rawGetStatus(server.port, url), 400, url);
    }
  });

  test('a declared body over NORA_BODY_LIMIT_MB gets 413', async () => {
    const res = await inject({
      method: 'PUT',
      url: '/raw/big.bin',
      headers: {
        'content-length': String(2 * 1024 * 1024),
        'content-type': 'application/octet-stream',
      },
      payload: Buffer.alloc(2 * 1024 * 1024),
    });
    assert.equal(res.statusCode, 413);
  });

  test('every NORA mount exists and answers (never a generic 404)', async () => {
    for (const mount of ['/simple/', '/maven2/', '/cargo/', '/go/']) {
      const res = await inject({ url: `${mount}x` });
      assert.notEqual(res.body, '{"error":"not found"}', mount);
    }
  });

  test('an unknown /repository/<name>/ says no such repository; a known one keeps its own 404', async () => {
    const unknown = await inject({ url: '/repository/npm-hostd/left-pad' });
    assert.equal(unknown.statusCode, 404);
    assert.match(
      unknown.json<{ error: string }>().error,
      /no repository named "npm-hostd" on this server/,
    );
    const encoded = await inject({ url: '/repository/a%20b/x?y=1' });
    assert.match(encoded.json<{ error: string }>().error, /no repository named "a b"/);
    const elsewhere = await inject({ url: '/nothing/here' });
    assert.deepEqual(elsewhere.json(), { error: 'not found' });
    // In the error format of the protocol the path speaks: Maven's plain text (trial 13 F10).
    const mounted = await inject({ url: '/repository/maven/junit/junit/maven-metadata.xml' });
    assert.equal(mounted.statusCode, 404);
    assert.match(mounted.headers['content-type'] ?? '', /^text\/plain/);
    assert.match(mounted.body, /"maven" is served at \/maven2\/, not under \/repository\//);
    const known = await inject({ url: '/repository/npm-hosted/left-pad' });
    assert.equal(known.statusCode, 404);
    assert.doesNotMatch(known.body, /no repository named/);
  });

  test('/health is 503 "unhealthy" when storage is unreachable', async () => {
    const broken = await startTestServer();
    try {
      await fs.rm(path.join(broken.dataDir, 'storage'), { recursive: true, force: true });
      const res = await fetch(`${broken.url}/health`);
      assert.equal(res.status, 503);
      const body = (await res.json()) as { status: string; storage: { reachable: boolean } };
      assert.equal(body.status, 'unhealthy');
      assert.equal(body.storage.reachable, false);
      const ready = await fetch(`${broken.url}/ready`);
      assert.equal(ready.status, 503);
      await ready.arrayBuffer();
    } finally {
      await broken.close();
    }
  });
});

describe('disabled formats', async () => {
  const server = await startTestServer({ env: { NORA_PYPI_ENABLED: 'false' } });
  test.after(() => server.close());

  test('a disabled mount says so, and /health marks it disabled', async () => {
    const res = await server.app.fastify.inject({ url: '/simple/requests/' });
    assert.equal(res.statusCode, 404);
    assert.match(res.body, /pypi registry is disabled \(NORA_PYPI_ENABLED=false\)/);
    const health = (await server.app.fastify.inject({ url: '/health' })).json<{
      registries: Record<string, string>;
    }>();
    assert.equal(health.registries['pypi'], 'disabled');
  });
});

/** GET with the path sent byte-for-byte (fetch would normalise `..` away client-side). */
function rawGetStatus(port: number, rawPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: rawPath, method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('requests the HTTP parser gives up on', async () => {
  const server = await startTestServer();
  test.after(() => server.close());
  const port = Number(new URL(server.url).port);

  test('a body cut short by the client gets a 400 that says so, and nothing is stored', async () => {
    const answer = await rawExchange(
      port,
      `PUT /raw/cut/a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n${'x'.repeat(500)}`,
    );
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /ended before the request was complete/);
    assert.equal((await fetch(`${server.url}/raw/cut/a.txt`)).status, 404);
  });

  test('malformed chunking gets a 400 naming it', async () => {
    const answer = await rawExchange(
      port,
      'PUT /raw/cut/b.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
    );
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /malformed chunked request body/);
    assert.equal((await fetch(`${server.url}/raw/cut/b.txt`)).status, 404);
  });

  test('an over-long URL gets 414 (RFC 9110 §15.5.15); an over-long header stays 431', async () => {
    const longUrl = await rawExchange(
      port,
      `GET /raw/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    assert.match(longUrl, /^HTTP\/1\.1 414 /);
    assert.match(longUrl, /the request URL is too long/);
    const bigHeader = await rawExchange(
      port,
      `GET /raw/a HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`,
    );
    assert.match(bigHeader, /^HTTP\/1\.1 431 /);
    assert.match(bigHeader, /request headers are too large/);
  });
});

describe('Expect: 100-continue', async () => {
  const server = await startTestServer({ config: { server: { body_limit_mb: 1 } } });
  test.after(() => server.close());
  const port = Number(new URL(server.url).port);

  test('the 100 comes when the body is wanted; a refusal on the headers comes without it', async () => {
    // Accepted: 100 Continue first, then (after the body) the final answer.
    const accepted = await continueExchange(port, '/raw/expect/a.txt', 'hello');
    assert.match(accepted.interim, /^HTTP\/1\.1 100 Continue\r\n/);
    assert.match(accepted.final, /^HTTP\/1\.1 201 /);
    assert.equal(await (await fetch(`${server.url}/raw/expect/a.txt`)).text(), 'hello');
    // Refused on its declared size: the final answer with no 100 before it, no body sent.
    const tooBig = await continueExchange(port, '/raw/expect/b.txt', 'x', 5 * 1024 * 1024);
    assert.equal(tooBig.interim, '');
    assert.match(tooBig.final, /^HTTP\/1\.1 413 /);
  });
});

/**
 * A PUT with `Expect: 100-continue`: sends the headers, then the body only once a 100 arrives.
 * Returns the interim answer ('' when the first thing back was final) and the final one.
 */
function continueExchange(
  port: number,
  rawPath: string,
  body: string,
  declared = Buffer.byteLength(body),
): Promise<{ interim: string; final: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(
        `PUT ${rawPath} HTTP/1.1\r\nHost: x\r\nContent-Length: ${declared}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
      );
    });
    let received = '';
    let interim = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (interim === '' && /^HTTP\/1\.1 100 [^\r]*\r\n\r\n/.test(received)) {
        const end = received.indexOf('\r\n\r\n') + 4;
        interim = received.slice(0, end);
        received = received.slice(end);
        socket.write(body);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => {
      resolve({ interim, final: received });
    });
  });
}

/** Writes `request` byte for byte, half-closes, and returns everything the server sent back. */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.end(request);
    });
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      resolve(answer);
    });
  });
}
