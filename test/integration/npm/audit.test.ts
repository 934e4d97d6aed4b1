/**
 * npm audit forwarding through the shared proxy engine: a scripted upstream on 127.0.0.1 answers
 * audit POSTs (ok, 4xx, redirect, 500, too slow); the forward uses the engine's upstream client
 * (the repository's credentials, timeout and circuit breaker, shared with packument fetches) and
 * failures come back as npm-style 502/504 errors that name the upstream by label only.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { NpmHttp } from './client.ts';

type Mode = 'ok' | 'bad-request' | 'redirect' | 'fail' | 'slow';

interface Seen {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
  readonly body: string;
}

describe('npm audit through the proxy engine', () => {
  let fake: http.Server;
  let fakeUrl: string;
  let server: TestServer;
  let client: NpmHttp;
  let mode: Mode = 'ok';
  const seen: Seen[] = [];

  before(async () => {
    fake = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const path = req.url ?? '/';
        seen.push({
          method: req.method ?? '',
          path,
          authorization: req.headers.authorization,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        const json = (status: number, value: unknown, headers: http.OutgoingHttpHeaders = {}) => {
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end(JSON.stringify(value));
        };
        if (path === '/moved/-/npm/v1/security/advisories/bulk') {
          json(200, { redirected: true });
          return;
        }
        if (!path.startsWith('/-/npm/v1/security/')) {
          json(404, { error: 'not found' });
          return;
        }
        switch (mode) {
          case 'ok':
            json(200, { forwarded: true });
            return;
          case 'bad-request':
            json(400, { error: 'upstream says the audit body is invalid' });
            return;
          case 'redirect':
            res.writeHead(307, { location: `/moved${path}` });
            res.end();
            return;
          case 'fail':
            json(500, { error: 'internal upstream details that stay upstream' });
            return;
          case 'slow':
            // Never answers within the proxy timeout; closed at the end of the suite.
            return;
        }
      });
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    server = await startTestServer({
      config: {
        // 2 s: every answer of the in-process fake must come within it (0.5 s was little on a
        // loaded machine); only the 'slow' case waits for it.
        npm: { proxy: fakeUrl, proxy_auth: 'auditor:s3cret', proxy_timeout: 2 },
        circuit_breaker: { enabled: true, threshold: 2, reset_timeout: 600 },
      },
    });
    client = new NpmHttp(`${server.url}/npm`);
    await client.publish({ name: 'audit-internal', version: '1.0.0' });
  });
  after(async () => {
    await server.close();
    fake.closeAllConnections();
    await new Promise<void>((resolve) =>
      fake.close(() => {
        resolve();
      }),
    );
  });

  const bulk = { 'audit-internal': ['1.0.0'], 'left-pad': ['1.3.0'] };
  const audits = () => seen.filter((s) => s.path.includes('/-/npm/v1/security/'));

  test('forwarded as a POST with the upstream credentials; hosted names stripped; gzip bodies', async () => {
    const reply = await client.request('POST', '/-/npm/v1/security/advisories/bulk', bulk);
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(reply.json(), { forwarded: true });
    const sent = audits().at(-1)!;
    assert.equal(sent.method, 'POST');
    assert.equal(sent.authorization, `Basic ${Buffer.from('auditor:s3cret').toString('base64')}`);
    assert.deepEqual(JSON.parse(sent.body), { 'left-pad': ['1.3.0'] });

    const gz = await fetch(`${server.url}/npm/-/npm/v1/security/audits/quick`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify({ name: 'app', version: '1.0.0', requires: {} })),
    });
    assert.equal(gz.status, 200);
    assert.equal(audits().at(-1)!.path, '/-/npm/v1/security/audits/quick');
  });

  test('an upstream 4xx is passed through as it is', async () => {
    mode = 'bad-request';
    const reply = await client.request('POST', '/-/npm/v1/security/advisories/bulk', bulk);
    assert.equal(reply.status, 400);
    assert.deepEqual(reply.json(), { error: 'upstream says the audit body is invalid' });
  });

  test('a 307 redirect is followed with the body resent', async () => {
    mode = 'redirect';
    const reply = await client.request('POST', '/-/npm/v1/security/advisories/bulk', bulk);
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(reply.json(), { redirected: true });
    const moved = seen.at(-1)!;
    assert.equal(moved.method, 'POST');
    assert.deepEqual(JSON.parse(moved.body), { 'left-pad': ['1.3.0'] });
  });

  test('upstream 500 → 502 with an npm-style error naming the upstream by label', async () => {
    mode = 'fail';
    const reply = await client.request('POST', '/-/npm/v1/security/advisories/bulk', bulk);
    assert.equal(reply.status, 502);
    const { error } = reply.json<{ error: string }>();
    assert.equal(error, 'npm audit could not be forwarded: upstream npm-proxy#0 answered 500');
    assert.ok(!reply.text.includes('127.0.0.1') && !reply.text.includes('internal upstream'));
  });

  test('an upstream slower than proxy_timeout → 504', async () => {
    mode = 'slow';
    const reply = await client.request('POST', '/-/npm/v1/security/audits/quick', {
      name: 'app',
      version: '1.0.0',
      requires: {},
    });
    assert.equal(reply.status, 504, reply.text);
    assert.match(
      reply.json<{ error: string }>().error,
      /^npm audit could not be forwarded: upstream npm-proxy#0 timed out$/,
    );
  });

  test('two failures opened the shared circuit: audit → 502 without asking; packuments too', async () => {
    mode = 'ok';
    const before = audits().length;
    const reply = await client.request('POST', '/-/npm/v1/security/advisories/bulk', bulk);
    assert.equal(reply.status, 502);
    assert.match(
      reply.json<{ error: string }>().error,
      /^npm audit could not be forwarded: upstream npm-proxy#0 is unavailable \(circuit open\)$/,
    );
    assert.equal(audits().length, before, 'the upstream was not asked');
    const health = (await (await fetch(`${server.url}/health`)).json()) as {
      upstreams: Record<string, { state: string }>;
    };
    assert.equal(health.upstreams['npm-proxy#0']?.state, 'open');
    // The same breaker guards packument fetches of that upstream: the proxy alone says 502, the
    // group (whose member is "not here") a 404 naming the open circuit.
    const direct = new NpmHttp(`${server.url}/repository/npm-proxy`);
    const alone = await direct.packument('never-cached');
    assert.equal(alone.status, 502);
    assert.match(alone.json<{ error: string }>().error, /circuit open/);
    const packument = await client.packument('never-cached');
    assert.equal(packument.status, 404);
    assert.match(
      packument.json<{ error: string }>().error,
      /upstream npm-proxy#0 unreachable: circuit open/,
    );
  });
});
