/**
 * Every route, every method, several body types: never a 5xx for a body a route does not take;
 * and every GET answers HEAD with the same status and headers and no body. The URL table covers
 * each format's catch-all routes (they dispatch on the path themselves); the GET routes Fastify
 * registered are enumerated from the app so a new one cannot be missed.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, test } from 'node:test';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startTestServer } from '../../helpers/server.ts';
import { missingTools, run } from '../../helpers/tools.ts';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const UUID = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';

/** Representative URLs of every mount (default and named repositories) and the system routes. */
const URLS = [
  '/',
  '/nope',
  '/health',
  '/ready',
  '/metrics',
  '/v2',
  '/v2/',
  '/v2/_catalog',
  '/v2/a/b/tags/list',
  '/v2/a/b/manifests/latest',
  `/v2/a/b/manifests/${DIGEST}`,
  `/v2/a/b/blobs/${DIGEST}`,
  '/v2/a/b/blobs/uploads/',
  `/v2/a/b/blobs/uploads/${UUID}`,
  `/v2/a/b/referrers/${DIGEST}`,
  '/repository/dock/v2/',
  '/repository/dock/v2/_catalog',
  '/repository/dock/v2/img/tags/list',
  '/npm',
  '/npm/',
  '/npm/pkg',
  '/npm/@scope%2fpkg',
  '/npm/pkg/1.0.0',
  '/npm/pkg/-/pkg-1.0.0.tgz',
  '/npm/pkg/-rev/1-abc',
  '/npm/-/ping',
  '/npm/-/whoami',
  '/npm/-/v1/search?text=x',
  '/npm/-/user/org.couchdb.user:bob',
  '/npm/-/user/token/abc',
  '/npm/-/npm/v1/tokens',
  '/npm/-/npm/v1/tokens/token/abc',
  '/npm/-/package/pkg/dist-tags',
  '/npm/-/package/pkg/dist-tags/beta',
  '/npm/-/npm/v1/security/audits/quick',
  '/repository/npmh/pkg',
  '/repository/npmh/-/whoami',
  '/simple/',
  '/simple/pkg/',
  '/repository/py/simple/',
  '/maven2/a/b/1.0/b-1.0.jar',
  '/cargo/api/v1/crates/new',
  '/cargo/api/v1/crates/x',
  '/cargo/api/v1/crates/x/1.0.0',
  '/go/example.com/m/@v/list',
  '/raw/x',
  '/raw/dir/file.bin',
];

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** Content types a client may send, with a body none of these routes takes as valid. */
const BODIES: readonly { type: string | undefined; body: string }[] = [
  { type: undefined, body: 'plain bytes\n' },
  { type: 'application/octet-stream', body: '\u0000\u0001binary' },
  { type: 'text/plain', body: 'hello' },
  { type: 'application/json', body: '{not json' },
  { type: 'application/json', body: '' },
  { type: 'multipart/form-data; boundary=XyZ', body: '--XyZ\r\n\r\nx\r\n--XyZ--\r\n' },
  { type: 'application/x-www-form-urlencoded', body: 'a=b&c' },
  { type: 'application/vnd.oci.image.manifest.v1+json', body: '[]' },
  { type: 'bogus', body: 'x' },
];

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function send(
  port: number,
  method: string,
  url: string,
  body?: { type: string | undefined; body: string },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (body?.type !== undefined) headers['content-type'] = body.type;
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body.body));
    const req = http.request(
      { host: '127.0.0.1', port, method, path: url, headers, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body?.body);
  });
}

describe('every route, method and body type', async () => {
  const server = await startTestServer({
    config: {
      // No default Docker Hub upstream: this host cannot reach it (a separate concern).
      docker: { upstreams: [] },
      maven: { enabled: false },
      repositories: [
        { name: 'dock', format: 'docker', kind: 'hosted' },
        { name: 'npmh', format: 'npm', kind: 'hosted' },
        { name: 'py', format: 'pypi', kind: 'hosted' },
      ],
    },
  });
  test.after(async () => {
    agent.destroy();
    await server.close();
  });

  test('a body a route does not take gets a 4xx, never a 5xx', async () => {
    const failures: string[] = [];
    for (const url of URLS) {
      for (const method of METHODS) {
        for (const body of BODIES) {
          const answer = await send(server.port, method, url, body);
          if (answer.status >= 500 || answer.status < 200) {
            failures.push(`${method} ${url} [${body.type ?? 'no type'}] → ${answer.status}`);
          }
        }
      }
    }
    assert.deepEqual(failures, []);
  });

  test('a disabled format says so for any body', async () => {
    for (const url of ['/maven2/a.jar']) {
      const answer = await send(server.port, 'PUT', url, { type: 'text/plain', body: 'x' });
      assert.equal(answer.status, 404, url);
      assert.match(answer.body.toString(), /not available in this build yet|disabled/, url);
    }
  });

  test(
    'curl -T and curl -F to mounts that do not take them: 4xx',
    { skip: missingTools('curl') },
    async () => {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-curl-'));
      const file = path.join(dir, 'file.txt');
      await fs.writeFile(file, 'some bytes\n');
      const curl = (args: string[]) =>
        run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', ...args]);
      // `curl -T file` to a disabled mount (/raw/x was 500 before raw was built), a twine-like
      // multipart upload to /simple/, a form POST.
      assert.equal((await curl(['-T', file, `${server.url}/maven2/x`])).stdout, '404');
      // PyPI takes uploads at /simple/: a form without the upload fields is a 400.
      assert.equal((await curl(['-F', `content=@${file}`, `${server.url}/simple/`])).stdout, '400');
      assert.equal((await curl(['-F', `content=@${file}`, `${server.url}/health`])).stdout, '405');
      assert.equal((await curl(['-T', file, `${server.url}/v2/_catalog`])).stdout, '405');
      assert.equal((await curl(['-T', file, `${server.url}/npm/-/whoami`])).stdout, '405');
      await fs.rm(dir, { recursive: true, force: true });
    },
  );

  test('every registered GET route also has a HEAD route', () => {
    const byUrl = new Map<string, Set<string>>();
    for (const { method, url } of server.app.routes) {
      const methods = byUrl.get(url) ?? new Set<string>();
      methods.add(method);
      byUrl.set(url, methods);
    }
    const gets = [...byUrl].filter(([, methods]) => methods.has('GET'));
    assert.ok(gets.length > 10, 'routes were enumerated');
    const missing = gets.filter(([, methods]) => !methods.has('HEAD')).map(([url]) => url);
    assert.deepEqual(missing, []);
  });

  test('HEAD answers like GET without a body, on every GET URL', async () => {
    // Put something in so found-paths are covered too, not only misses.
    const digest = await pushBlob(server.port);
    const registered = server.app.routes
      .filter((r) => r.method === 'GET' && !r.url.includes('*') && !r.url.includes(':'))
      .map((r) => r.url);
    const urls = [...new Set([...URLS, ...registered, `/v2/a/b/blobs/${digest}`])];
    const failures: string[] = [];
    for (const url of urls) {
      const get = await send(server.port, 'GET', url);
      const head = await send(server.port, 'HEAD', url);
      const where = `${url}: GET ${get.status}, HEAD ${head.status}`;
      if (head.status !== get.status) failures.push(`${where} (status)`);
      if (head.body.length !== 0) failures.push(`${where} (HEAD has a body)`);
      if (head.headers['content-type'] !== get.headers['content-type']) {
        failures.push(
          `${where} (content-type ${head.headers['content-type']} vs ${get.headers['content-type']})`,
        );
      }
      // /metrics and /health change between two requests (counters, uptime); a 405 names the
      // method it refuses.
      const dynamic = url === '/metrics' || url === '/health' || get.status === 405;
      const length = (a: Answer) => a.headers['content-length'];
      if (!dynamic && length(head) !== length(get)) {
        failures.push(`${where} (content-length ${length(head)} vs ${length(get)})`);
      }
    }
    assert.deepEqual(failures, []);
  });
});

async function pushBlob(port: number): Promise<string> {
  const content = 'layer bytes';
  const { createHash } = await import('node:crypto');
  const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
  const res = await send(port, 'POST', `/v2/a/b/blobs/uploads/?digest=${digest}`, {
    type: 'application/octet-stream',
    body: content,
  });
  assert.equal(res.status, 201, res.body.toString());
  return digest;
}
