/**
 * The redirect rule (docs/proxy.md, "Redirects"; red-team trial F1): an upstream at a public
 * address may redirect to other public hosts (blob CDNs, release downloads) but not into
 * loopback / private / link-local addresses, in any spelling — NORA answers the format's usual
 * upstream failure, the same whether the internal port is open or closed, and caches nothing.
 * An upstream that is itself internal (a mirror) may redirect internally. Raw and OCI (the
 * shared upstream client) are both held to it.
 *
 * Every fixture is on 127.0.0.1: the server's address policy (publicPorts) counts the "public"
 * upstream's and the "public" CDN's ports as public addresses; everything else is judged as in
 * production (127.0.0.1 on any other port, `localhost`, 2130706433: internal).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { openTestEngine } from '../../helpers/proxy-engine.ts';
import { publicPorts, startTestServer, type TestServer } from '../../helpers/server.ts';
import { type Fixture, fixtureUpstream, sha } from '../oci-proxy/fixture-upstream.ts';

interface Origin {
  readonly port: number;
  readonly hits: string[];
  close(): Promise<void>;
}

/** A fixture origin: `routes(path)` answers [status, headers, body] or undefined (404). */
async function origin(
  routes: (path: string) => [number, Record<string, string>, string] | undefined,
): Promise<Origin> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    const answer = routes(req.url ?? '');
    if (answer === undefined) res.writeHead(404).end('not found');
    else res.writeHead(answer[0], answer[1]).end(answer[2]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    hits,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** A port nothing listens on (a closed internal port). */
async function closedPort(): Promise<number> {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) =>
    probe.close(() => {
      resolve();
    }),
  );
  return port;
}

const redirect = (location: string): [number, Record<string, string>, string] => [
  302,
  { location },
  '',
];

describe('upstream redirects: a public upstream may not redirect inward', () => {
  let internal: Origin;
  let cdn: Origin;
  let publicUp: Origin;
  let mirror: Origin;
  let closed: number;
  let server: TestServer;

  before(async () => {
    internal = await origin((path) =>
      path.startsWith('/internal') ? [200, {}, 'INTERNAL-METADATA-SECRET'] : undefined,
    );
    closed = await closedPort();
    cdn = await origin((path) => {
      if (path === '/cdn/file.bin') return [200, {}, 'public cdn bytes'];
      if (path === '/cdn/inward') return redirect(`http://127.0.0.1:${internal.port}/internal`);
      return undefined;
    });
    const targets: Record<string, string> = {
      '/redir': `http://127.0.0.1:${internal.port}/internal-secret`,
      '/decimal': `http://2130706433:${internal.port}/internal-dec`,
      '/hex': `http://0x7f.1:${internal.port}/internal-hex`,
      '/mapped': `http://[::ffff:127.0.0.1]:${internal.port}/internal-mapped`,
      '/by-name': `http://localhost:${internal.port}/internal-name`,
      '/closed': `http://127.0.0.1:${closed}/internal-closed`,
      '/metadata': 'http://169.254.169.254/latest/meta-data/',
      '/to-cdn': `http://127.0.0.1:${cdn.port}/cdn/file.bin`,
      '/cdn-then-inward': `http://127.0.0.1:${cdn.port}/cdn/inward`,
      '/same-origin': '/same-origin-target',
      '/file': 'file:///etc/passwd',
    };
    publicUp = await origin((path) => {
      if (path === '/same-origin-target') return [200, {}, 'same origin bytes'];
      const target = targets[path];
      return target === undefined ? undefined : redirect(target);
    });
    mirror = await origin((path) =>
      path === '/redir' ? redirect(`http://127.0.0.1:${internal.port}/internal-mirror`) : undefined,
    );
    server = await startTestServer({
      proxyAddressPolicy: publicPorts(publicUp.port, cdn.port),
      config: {
        raw: { proxy_timeout: 3 },
        circuit_breaker: { enabled: false },
        repositories: [
          {
            name: 'raw-evil',
            format: 'raw',
            kind: 'proxy',
            upstreams: [{ url: `http://127.0.0.1:${publicUp.port}` }],
          },
          {
            name: 'raw-mirror',
            format: 'raw',
            kind: 'proxy',
            upstreams: [{ url: `http://127.0.0.1:${mirror.port}` }],
          },
        ],
      },
    });
  });

  after(async () => {
    await server.close();
    await Promise.all([internal.close(), cdn.close(), publicUp.close(), mirror.close()]);
  });

  async function get(repo: string, path: string): Promise<{ status: number; body: string }> {
    const res = await fetch(`${server.url}/repository/${repo}/${path}`);
    return { status: res.status, body: await res.text() };
  }

  const REFUSED = /redirected to an address NORA does not fetch from/;

  for (const path of [
    'redir',
    'decimal',
    'hex',
    'mapped',
    'by-name',
    'closed',
    'metadata',
    'cdn-then-inward',
  ]) {
    test(`${path}: refused with 502, nothing fetched from the internal service, nothing cached`, async () => {
      const before = internal.hits.length;
      const first = await get('raw-evil', path);
      assert.equal(first.status, 502, first.body);
      assert.match(first.body, REFUSED);
      assert.doesNotMatch(first.body, /SECRET|ECONNREFUSED|127\.0\.0\.1|169\.254/);
      const again = await get('raw-evil', path);
      assert.equal(again.status, 502, again.body);
      assert.equal(internal.hits.length, before, internal.hits.join(', '));
    });
  }

  test('an open and a closed internal port get the same answer (no port scanner)', async () => {
    const open = await get('raw-evil', 'redir');
    const shut = await get('raw-evil', 'closed');
    assert.deepEqual(open, shut);
  });

  test('a redirect to another public host is followed, cached and served', async () => {
    const first = await get('raw-evil', 'to-cdn');
    assert.deepEqual(first, { status: 200, body: 'public cdn bytes' });
    const hits = cdn.hits.length;
    const again = await get('raw-evil', 'to-cdn');
    assert.deepEqual(again, { status: 200, body: 'public cdn bytes' });
    assert.equal(cdn.hits.length, hits, 'served from the cache');
  });

  test('a redirect within the upstream itself is followed', async () => {
    assert.deepEqual(await get('raw-evil', 'same-origin'), {
      status: 200,
      body: 'same origin bytes',
    });
  });

  test('a redirect to another scheme is still refused', async () => {
    const answer = await get('raw-evil', 'file');
    assert.equal(answer.status, 502);
    assert.match(answer.body, /unsupported scheme/);
  });

  test('an internal upstream (a mirror) may redirect internally', async () => {
    assert.deepEqual(await get('raw-mirror', 'redir'), {
      status: 200,
      body: 'INTERNAL-METADATA-SECRET',
    });
  });
});

describe('upstream redirects: OCI blob downloads through the same client', () => {
  let hub: Fixture;
  let cdn: Fixture;
  let internal: Fixture;
  let server: TestServer;
  const layer = 'layer bytes served by a blob CDN';
  const inward = 'layer bytes of an internal service';

  before(async () => {
    hub = await fixtureUpstream();
    cdn = await fixtureUpstream();
    internal = await fixtureUpstream();
    cdn.routes.set('/blob', { status: 200, body: layer });
    internal.routes.set('/blob', { status: 200, body: inward });
    hub.routes.set(`/v2/library/x/blobs/${sha(layer)}`, {
      status: 307,
      headers: { location: `${cdn.url}/blob` },
    });
    hub.routes.set(`/v2/library/x/blobs/${sha(inward)}`, {
      status: 307,
      headers: { location: `${internal.url}/blob` },
    });
    internal.routes.set('/token?scope=repository%3Alibrary%2Fy%3Apull', {
      status: 200,
      body: '{"token":"t"}',
    });
    hub.routes.set('/v2/library/y/manifests/latest', {
      status: 401,
      headers: { 'www-authenticate': `Bearer realm="${internal.url}/token"` },
    });
    const port = (url: string): number => Number(new URL(url).port);
    server = await startTestServer({
      proxyAddressPolicy: publicPorts(port(hub.url), port(cdn.url)),
      config: { docker: { upstreams: [{ url: hub.url }] } },
    });
  });

  after(async () => {
    await server.close();
    await Promise.all([hub.close(), cdn.close(), internal.close()]);
  });

  test('a blob redirected to a public CDN is fetched', async () => {
    const res = await fetch(`${server.url}/v2/library/x/blobs/${sha(layer)}`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), layer);
  });

  test('a blob redirected to an internal address is refused, the internal service not asked', async () => {
    const res = await fetch(`${server.url}/v2/library/x/blobs/${sha(inward)}`);
    const body = await res.text();
    // The docker proxy's usual answer to a blob its upstream failed on: 404 BLOB_UNKNOWN naming
    // the upstream's failure.
    assert.equal(res.status, 404, body);
    assert.match(body, /upstream docker-proxy\/0 failed: redirect refused/);
    assert.doesNotMatch(body, /internal service/);
    assert.deepEqual(internal.hits, []);
  });

  test('a token endpoint (realm) at an internal address is not asked', async () => {
    const res = await fetch(`${server.url}/v2/library/y/manifests/latest`);
    const body = await res.text();
    assert.notEqual(res.status, 200, body);
    assert.deepEqual(
      internal.hits.filter((hit) => hit.includes('/token')),
      [],
    );
  });
});

describe('URLs an upstream document names (PyPI files, Cargo dl, Helm charts): the same rule', () => {
  test('a file host named by a public upstream may not be internal; by an internal one it may', async () => {
    const internal = await origin(() => [200, {}, 'INTERNAL']);
    const cdn = await origin(() => [200, {}, 'CDN']);
    const publicIndex = 'http://127.0.0.1:1/simple/';
    const test = await openTestEngine('nora-named-', {
      addressPolicy: publicPorts(1, cdn.port),
    });
    try {
      const fetchVia = async (url: string, namedBy: string): Promise<string> => {
        const target = test.engine.upstream({
          label: 'pypi-proxy#0-files',
          registry: 'pypi-proxy',
          url,
          namedBy,
          auth: 'basic',
          timeoutSeconds: 3,
          readTimeoutSeconds: 3,
        });
        const res = await test.engine.client.request(target, { method: 'GET', path: '/f.whl' });
        return `${res.status} ${await new Response(res.body).text()}`;
      };
      await assert.rejects(fetchVia(`http://127.0.0.1:${internal.port}`, publicIndex), {
        message: 'upstream pypi-proxy#0-files named a file at an address NORA does not fetch from',
      });
      await assert.rejects(fetchVia(`http://localhost:${internal.port}`, publicIndex), {
        message: /named a file at an address NORA does not fetch from/,
      });
      assert.deepEqual(internal.hits, []);
      assert.equal(await fetchVia(`http://127.0.0.1:${cdn.port}`, publicIndex), '200 CDN');
      assert.equal(
        await fetchVia(`http://127.0.0.1:${internal.port}`, `http://127.0.0.1:${cdn.port + 1}/`),
        '200 INTERNAL',
      );
    } finally {
      await test.close();
      await Promise.all([internal.close(), cdn.close()]);
    }
  });
});
