/**
 * The answer memo (src/http/answer-memo.ts) on a listening server: kept answers are sent again
 * without Fastify, yet every answer stays exact — after writes, config reloads, with credentials,
 * conditional requests, HEAD, rate limits, metrics — and each keeps its own request id.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { WriteGeneration } from '../../../src/core/write-generation.ts';
import { mayWrite } from '../../../src/db/node-sqlite-dialect.ts';
import { AnswerMemo, memoizeAnswer } from '../../../src/http/answer-memo.ts';
import { parseConfigObject } from '../../../src/config/load.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { removeDir } from '../../helpers/tmp.ts';

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function send(
  port: number,
  method: string,
  urlPath: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path: urlPath, headers, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function memoHits(server: TestServer): Promise<number> {
  const text = (await send(server.port, 'GET', '/metrics')).body;
  const line = text.split('\n').find((l) => l.startsWith('nora_answer_memo_hits_total'));
  return Number(line?.split(' ')[1] ?? 0);
}

after(() => {
  agent.destroy();
});

describe('answer memo, auth off', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  test('a warm GET is answered from the memo with the same bytes and headers, its own id', async () => {
    const { port } = server;
    assert.equal((await send(port, 'PUT', '/raw/m/a.txt', {}, 'first')).status, 201);
    const first = await send(port, 'GET', '/raw/m/a.txt');
    const hitsBefore = await memoHits(server);
    const second = await send(port, 'GET', '/raw/m/a.txt', { 'x-request-id': 'memo-id-1' });
    assert.equal(await memoHits(server), hitsBefore + 1);
    assert.equal(second.status, 200);
    assert.equal(second.body, 'first');
    for (const name of [
      'content-type',
      'etag',
      'last-modified',
      'cache-control',
      'x-frame-options',
      'content-length',
    ]) {
      assert.equal(second.headers[name], first.headers[name], name);
    }
    assert.equal(second.headers['x-request-id'], 'memo-id-1');
    const third = await send(port, 'GET', '/raw/m/a.txt');
    assert.notEqual(third.headers['x-request-id'], first.headers['x-request-id']);
  });

  test('a large stored file asked for again is read whole and kept; a larger one never is', async () => {
    const { port } = server;
    // Over the stores' 64 KiB small read (streamed from reused buffers), at most 1 MiB.
    const body = 'large kept answer\n'.repeat(58_255).slice(0, 1024 * 1024);
    assert.equal((await send(port, 'PUT', '/raw/m/large.bin', {}, body)).status, 201);
    const first = await send(port, 'GET', '/raw/m/large.bin');
    const hits = await memoHits(server);
    // The second ask within 2 s reads it whole through Fastify (not yet a hit), and keeps it.
    const second = await send(port, 'GET', '/raw/m/large.bin');
    assert.equal(await memoHits(server), hits);
    const third = await send(port, 'GET', '/raw/m/large.bin');
    assert.equal(await memoHits(server), hits + 1);
    for (const answer of [first, second, third]) {
      assert.equal(answer.status, 200);
      assert.equal(answer.body, body);
      assert.equal(answer.headers['content-length'], String(body.length));
      assert.equal(answer.headers.etag, first.headers.etag);
    }
    const ranged = await send(port, 'GET', '/raw/m/large.bin', { range: 'bytes=0-4' });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.body, 'large');
    assert.equal(body.length, 1024 * 1024);
    const larger = `${body}x`;
    assert.equal((await send(port, 'PUT', '/raw/m/larger.bin', {}, larger)).status, 201);
    const before = await memoHits(server);
    for (let i = 0; i < 3; i++) {
      assert.equal((await send(port, 'GET', '/raw/m/larger.bin')).body, larger);
    }
    assert.equal(await memoHits(server), before);
    // The whole read of `second` was released when its answer was sent: after a write (the kept
    // answer stale), asking twice again reads it whole and keeps it.
    assert.equal((await send(port, 'PUT', '/raw/m/other.txt', {}, 'x')).status, 201);
    assert.equal((await send(port, 'GET', '/raw/m/large.bin')).body, body);
    assert.equal((await send(port, 'GET', '/raw/m/large.bin')).body, body);
    const kept = await memoHits(server);
    assert.equal((await send(port, 'GET', '/raw/m/large.bin')).body, body);
    assert.equal(await memoHits(server), kept + 1);
  });

  test('a write makes kept answers stale at once (read after write)', async () => {
    const { port } = server;
    assert.equal((await send(port, 'PUT', '/raw/m/b.txt', {}, 'one')).status, 201);
    assert.equal((await send(port, 'GET', '/raw/m/b.txt')).body, 'one');
    assert.equal((await send(port, 'GET', '/raw/m/b.txt')).body, 'one');
    assert.equal((await send(port, 'DELETE', '/raw/m/b.txt')).status, 204);
    assert.equal((await send(port, 'GET', '/raw/m/b.txt')).status, 404);
    assert.equal((await send(port, 'PUT', '/raw/m/b.txt', {}, 'two')).status, 201);
    assert.equal((await send(port, 'GET', '/raw/m/b.txt')).body, 'two');
  });

  test('conditional GET and HEAD from a kept answer', async () => {
    const { port } = server;
    await send(port, 'PUT', '/raw/m/c.txt', {}, 'cond');
    const full = await send(port, 'GET', '/raw/m/c.txt');
    const etag = full.headers.etag ?? '';
    const hitsBefore = await memoHits(server);
    const same = await send(port, 'GET', '/raw/m/c.txt', { 'if-none-match': etag });
    assert.equal(same.status, 304);
    assert.equal(same.body, '');
    assert.equal(same.headers.etag, etag);
    const other = await send(port, 'GET', '/raw/m/c.txt', { 'if-none-match': '"other"' });
    assert.equal(other.status, 200);
    assert.equal(other.body, 'cond');
    const since = await send(port, 'GET', '/raw/m/c.txt', {
      'if-modified-since': full.headers['last-modified'] ?? '',
    });
    assert.equal(since.status, 304);
    const head = await send(port, 'HEAD', '/raw/m/c.txt');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['content-length'], '4');
    // The 304s and the HEAD; a validator that does not match is the handler's to answer.
    assert.equal(await memoHits(server), hitsBefore + 3);
    // Range is Fastify's to answer.
    const config = await send(port, 'GET', '/cargo/index/config.json');
    assert.match(config.headers['cache-control'] ?? '', /public/, 'anonymous answers stay public');
    const ranged = await send(port, 'GET', '/raw/m/c.txt', { range: 'bytes=1-2' });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.body, 'on');
  });

  test('requests with credentials and other methods never use the memo', async () => {
    const { port } = server;
    await send(port, 'PUT', '/raw/m/d.txt', {}, 'dd');
    await send(port, 'GET', '/raw/m/d.txt');
    const hitsBefore = await memoHits(server);
    const withAuth = await send(port, 'GET', '/raw/m/d.txt', { authorization: 'Bearer x' });
    assert.equal(withAuth.status, 200);
    assert.equal((await send(port, 'PUT', '/raw/m/d.txt', {}, 'dd')).status, 409);
    assert.equal(await memoHits(server), hitsBefore);
  });

  test('a URL the router cannot decode: a plain-text 400', async () => {
    const bad = await send(server.port, 'PUT', '/raw/a/%ZZ.txt', {}, 'x');
    assert.equal(bad.status, 400);
    assert.match(bad.headers['content-type'] ?? '', /^text\/plain/);
    assert.match(bad.body, /malformed percent-encoding/);
    assert.equal((await send(server.port, 'GET', '/raw/a/%ZZ.txt')).status, 400);
  });

  test('an answer that depends on Host is kept per Host', async () => {
    const { port } = server;
    const a = await send(port, 'GET', '/cargo/index/config.json', { host: 'a.example:1' });
    const b = await send(port, 'GET', '/cargo/index/config.json', { host: 'b.example:2' });
    assert.match(a.body, /a\.example:1/);
    assert.match(b.body, /b\.example:2/);
    const a2 = await send(port, 'GET', '/cargo/index/config.json', { host: 'a.example:1' });
    assert.equal(a2.body, a.body);
  });
});

describe('answer memo, proxied metadata', () => {
  let upstream: TestServer;
  let server: TestServer;
  before(async () => {
    upstream = await startTestServer();
    server = await startTestServer({
      config: {
        repositories: [
          {
            name: 'raw-always',
            format: 'raw',
            kind: 'proxy',
            upstreams: [{ url: `${upstream.url}/raw` }],
            metadata_ttl: 0,
          },
          {
            name: 'raw-cached',
            format: 'raw',
            kind: 'proxy',
            upstreams: [{ url: `${upstream.url}/raw` }],
          },
          { name: 'raw-both', format: 'raw', kind: 'group', members: ['raw-cached', 'raw-always'] },
        ],
      },
    });
  });
  after(async () => {
    await server.close();
    await upstream.close();
  });

  test('metadata_ttl = 0 (revalidate every read): nothing is kept, a change shows at once', async () => {
    await send(upstream.port, 'PUT', '/raw/t/f.txt', {}, 'one');
    for (const repo of ['raw-always', 'raw-both']) {
      assert.equal((await send(server.port, 'GET', `/repository/${repo}/t/f.txt`)).body, 'one');
    }
    const hitsBefore = await memoHits(server);
    for (const repo of ['raw-always', 'raw-both']) {
      assert.equal((await send(server.port, 'GET', `/repository/${repo}/t/f.txt`)).body, 'one');
    }
    assert.equal(await memoHits(server), hitsBefore);
    assert.equal((await send(upstream.port, 'DELETE', '/raw/t/f.txt')).status, 204);
    assert.equal((await send(upstream.port, 'PUT', '/raw/t/f.txt', {}, 'two')).status, 201);
    assert.equal((await send(server.port, 'GET', '/repository/raw-always/t/f.txt')).body, 'two');
  });
});

describe('answer memo, auth on', () => {
  let server: TestServer;
  let dir: string;
  const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-memo-auth-'));
    const htpasswd = path.join(dir, 'users.htpasswd');
    await fs.writeFile(htpasswd, `writer:${bcrypt.hashSync('writer-pw', 4)}\n`);
    server = await startTestServer({
      config: {
        auth: { enabled: true, anonymous_read: true, htpasswd_file: htpasswd },
        rate_limit: { enabled: true, general_rps: 0.01, general_burst: 3 },
      },
    });
  });
  after(async () => {
    await server.close();
    await removeDir(dir);
  });

  test('a reload that takes anonymous read away applies to kept answers', async () => {
    const { port } = server;
    const writer = { authorization: basic('writer', 'writer-pw') };
    assert.equal((await send(port, 'PUT', '/raw/p/a.txt', writer, 'pub')).status, 201);
    assert.equal((await send(port, 'GET', '/raw/p/a.txt')).status, 200);
    assert.equal((await send(port, 'GET', '/raw/p/a.txt')).status, 200);
    const { config } = parseConfigObject(
      {
        server: { host: '127.0.0.1', port: 0, log_level: 'silent' },
        storage: server.config.storage,
        auth: { ...server.config.auth, anonymous_read: false },
        rate_limit: { enabled: false },
      },
      {},
    );
    server.app.reload(config);
    const anon = await send(port, 'GET', '/raw/p/a.txt');
    assert.equal(anon.status, 401);
  });

  test('an answer given to credentials is never marked public for shared caches', async () => {
    const { port } = server;
    const writer = { authorization: basic('writer', 'writer-pw') };
    const config = await send(port, 'GET', '/cargo/index/config.json', writer);
    assert.equal(config.status, 200);
    assert.match(config.headers['cache-control'] ?? '', /private/);
    assert.doesNotMatch(config.headers['cache-control'] ?? '', /public/);
    // Anonymous read is off since the reload above: what a shared cache would have handed out.
    assert.equal((await send(port, 'GET', '/cargo/index/config.json')).status, 401);
  });

  test('the rate limit counts kept answers', async () => {
    const { port } = server;
    const { config } = parseConfigObject(
      {
        server: { host: '127.0.0.1', port: 0, log_level: 'silent' },
        storage: server.config.storage,
        auth: { ...server.config.auth, anonymous_read: true },
        rate_limit: { enabled: true, general_rps: 0.01, general_burst: 3 },
      },
      {},
    );
    server.app.reload(config);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) statuses.push((await send(port, 'GET', '/raw/p/a.txt')).status);
    assert.ok(statuses.includes(429), `statuses: ${statuses.join(',')}`);
    assert.equal(statuses[0], 200);
  });
});

test('expired entries are dropped, and the sweep stops once none is held', () => {
  let now = 1_000_000;
  const generation = new WriteGeneration();
  const memo = new AnswerMemo({ generation, now: () => now });
  const request = {
    method: 'GET',
    headers: {},
    raw: { url: '/raw/x', headers: {} },
  } as unknown as FastifyRequest;
  const reply = {
    statusCode: 200,
    hasHeader: () => false,
    getHeaders: () => ({ 'content-type': 'text/plain' }),
  } as unknown as FastifyReply;
  memo.markRequest(request);
  memoizeAnswer(request);
  memo.record(request, reply, 'body');
  assert.equal(memo.size, 1);
  memo.sweep();
  assert.equal(memo.size, 1);
  now += 1001;
  memo.sweep();
  assert.equal(memo.size, 0);
  memo.markRequest(request);
  memoizeAnswer(request);
  memo.record(request, reply, 'body');
  generation.bump();
  memo.sweep();
  assert.equal(memo.size, 0);
  memo.stop();
});

test('a large body is read whole only when asked for again within 2 × the entry life', () => {
  let now = 1_000_000;
  const memo = new AnswerMemo({ generation: new WriteGeneration(), now: () => now });
  const req = { url: '/raw/big', headers: {} } as unknown as http.IncomingMessage;
  const other = { url: '/raw/other', headers: {} } as unknown as http.IncomingMessage;
  assert.equal(memo.admitsWhole(req, 1024 * 1024), false);
  assert.equal(memo.admitsWhole(other, 1024 * 1024), false);
  now += 2000;
  assert.equal(memo.admitsWhole(req, 1024 * 1024), true);
  // Admitted once: the next ask starts a new window.
  assert.equal(memo.admitsWhole(req, 1024 * 1024), false);
  now += 2001;
  assert.equal(memo.admitsWhole(req, 1024 * 1024), false);
  // Larger than an entry may be: never.
  assert.equal(memo.admitsWhole(req, 1024 * 1024 + 1), false);
  assert.equal(memo.admitsWhole(req, 1024 * 1024 + 1), false);
  memo.stop();
  assert.equal(memo.admitsWhole(other, 1), false);
});

test('whole reads in flight are bounded: one per key, at most 4 largest entries, released when sent', () => {
  let now = 1_000_000;
  const generation = new WriteGeneration();
  const memo = new AnswerMemo({ generation, now: () => now });
  const MiB = 1024 * 1024;
  const reqOf = (url: string): http.IncomingMessage =>
    ({ url, headers: {} }) as unknown as http.IncomingMessage;
  // A burst on one key (writes keep bumping the generation, so nothing is kept and every
  // request reaches the handler): one whole read, the others stream, until it is sent.
  const hot = reqOf('/raw/hot');
  const admitted = Array.from({ length: 100 }, () => memo.admitsWhole(hot, MiB)).filter(Boolean);
  assert.equal(admitted.length, 1);
  generation.bump();
  memo.wholeSent(hot);
  assert.equal(memo.admitsWhole(hot, MiB), true, 'sent: the next ask may read whole again');
  memo.wholeSent(hot);
  // Many keys asked for twice at once: at most 4 MiB of whole reads in flight.
  const keys = Array.from({ length: 50 }, (_, i) => reqOf(`/raw/f${i}`));
  for (const req of keys) memo.admitsWhole(req, MiB);
  now += 10;
  const inFlight = keys.filter((req) => memo.admitsWhole(req, MiB));
  assert.equal(inFlight.length, 4);
  const waiting = keys.find((req) => !inFlight.includes(req)) as http.IncomingMessage;
  assert.equal(memo.admitsWhole(waiting, MiB), false);
  memo.wholeSent(inFlight[0] as http.IncomingMessage);
  assert.equal(memo.admitsWhole(waiting, MiB), true, 'room again once one is sent');
  memo.stop();
});

test('mayWrite tells the statements that change rows', () => {
  assert.equal(mayWrite('select * from blobs'), false);
  assert.equal(mayWrite('  SELECT 1'), false);
  assert.equal(mayWrite('pragma foreign_keys'), false);
  assert.equal(mayWrite('with x as (select 1) select * from x'), false);
  assert.equal(mayWrite('with x as (select 1) insert into t select * from x'), true);
  assert.equal(mayWrite('insert into blobs values (?)'), true);
  assert.equal(mayWrite('update t set a = 1'), true);
  assert.equal(mayWrite('delete from t'), true);
  assert.equal(mayWrite('commit'), true);
  assert.equal(mayWrite('begin'), true);
});
