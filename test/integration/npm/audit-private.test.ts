/**
 * npm audit forwarding never sends a private name upstream (F8 of the ninth session's review):
 * names hosted in ANY npm hosted repository of the server (a `@corp:registry=…/repository/
 * private-npm/` setup still posts the whole lockfile to the default registry's audit endpoint),
 * and names inside a scope or namespace an `[[auth.rules]]` rule on an npm repository owns, even
 * before anything is published there, are stripped; public names are still forwarded.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { NpmHttp } from './client.ts';

interface Seen {
  readonly path: string;
  readonly body: string;
}

describe('npm audit: private names of every npm repository stay here', () => {
  let fake: http.Server;
  let server: TestServer;
  const seen: Seen[] = [];

  before(async () => {
    fake = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const body =
          req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString() : raw.toString();
        seen.push({ path: req.url ?? '/', body });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    server = await startTestServer({
      config: {
        npm: { proxy: fakeUrl },
        auth: {
          rules: [
            // a namespace owned in the default group: names in it are private, published or not
            {
              repositories: ['npm'],
              paths: ['@corp/*', 'corp-*'],
              users: ['alice'],
              actions: ['read'],
            },
            // rules over every name are no namespace: they must not strip the whole lockfile
            { repositories: ['npm'], users: ['*'], actions: ['read'] },
            { repositories: ['npm'], paths: ['@*/*', '*'], groups: ['devs'], actions: ['read'] },
            // an anonymous rule owns nothing
            { repositories: ['npm'], paths: ['open-*'], anonymous: true, actions: ['read'] },
          ],
        },
        repositories: [{ name: 'private-npm', format: 'npm', kind: 'hosted' }],
      },
    });
    const privateRepo = new NpmHttp(`${server.url}/repository/private-npm`);
    await privateRepo.publish({ name: 'privthing', version: '1.0.0' });
    await privateRepo.publish({ name: '@inner/lib', version: '1.0.0' });
    await new NpmHttp(`${server.url}/npm`).publish({ name: 'hosted-here', version: '1.0.0' });
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

  const public_ = ['lodash', 'publicpkg', '@types/node', 'open-thing', 'corpus'];
  const private_ = [
    'privthing',
    '@inner/lib',
    'hosted-here',
    '@corp/inner',
    '@corp/notyet',
    'corp-lib',
  ];

  test('advisories/bulk: only public names are forwarded', async () => {
    const body = Object.fromEntries([...public_, ...private_].map((n) => [n, ['1.0.0']]));
    const client = new NpmHttp(`${server.url}/npm`);
    const reply = await client.request('POST', '/-/npm/v1/security/advisories/bulk', body);
    assert.equal(reply.status, 200, reply.text);
    const sent = seen.filter((s) => s.path.endsWith('/advisories/bulk')).at(-1);
    assert.ok(sent);
    assert.deepEqual(Object.keys(JSON.parse(sent.body) as object).sort(), [...public_].sort());
  });

  test('audits/quick: private names leave the tree, nested ones too', async () => {
    const deps = Object.fromEntries(
      [...public_, ...private_].map((n) => [
        n,
        {
          version: '1.0.0',
          dependencies: { '@corp/deep': { version: '1.0.0' }, lodash: { version: '4.0.0' } },
        },
      ]),
    );
    const requires = Object.fromEntries([...public_, ...private_].map((n) => [n, '^1.0.0']));
    const client = new NpmHttp(`${server.url}/npm`);
    const reply = await client.request('POST', '/-/npm/v1/security/audits/quick', {
      name: 'app',
      version: '1.0.0',
      requires,
      dependencies: deps,
    });
    assert.equal(reply.status, 200, reply.text);
    const sent = seen.filter((s) => s.path.endsWith('/audits/quick')).at(-1);
    assert.ok(sent);
    const json = JSON.parse(sent.body) as {
      requires: object;
      dependencies: Record<string, { dependencies: object }>;
    };
    assert.deepEqual(Object.keys(json.requires).sort(), [...public_].sort());
    assert.deepEqual(Object.keys(json.dependencies).sort(), [...public_].sort());
    assert.deepEqual(Object.keys(json.dependencies['lodash']?.dependencies ?? {}), ['lodash']);
    for (const name of private_) assert.doesNotMatch(sent.body, new RegExp(`"${name}"`));
    assert.doesNotMatch(sent.body, /@corp\//);
  });

  test("audits/quick: a private root name (npm 6's body) is not forwarded", async () => {
    const client = new NpmHttp(`${server.url}/npm`);
    for (const root of ['@corp/app', 'privthing', 'hosted-here']) {
      const reply = await client.request('POST', '/-/npm/v1/security/audits/quick', {
        name: root,
        version: '3.1.4',
        install: [],
        remove: [`${root}@3.1.4`, 'lodash@4.0.0'],
        metadata: { node_version: 'v24.0.0' },
        requires: { lodash: '^4.0.0', 'corp-lib': '^1.0.0' },
        dependencies: {
          lodash: { version: '4.0.0', requires: { '@corp/deep': '^1.0.0', publicpkg: '^1.0.0' } },
        },
      });
      assert.equal(reply.status, 200, reply.text);
      const sent = seen.filter((s) => s.path.endsWith('/audits/quick')).at(-1);
      assert.ok(sent);
      const json = JSON.parse(sent.body) as Record<string, unknown>;
      assert.equal(json['name'], undefined, sent.body);
      assert.equal(json['version'], undefined, sent.body);
      assert.doesNotMatch(sent.body, new RegExp(root.replace('/', '\\/')));
      assert.doesNotMatch(sent.body, /corp/);
      assert.deepEqual(json['requires'], { lodash: '^4.0.0' });
      assert.deepEqual(json['dependencies'], {
        lodash: { version: '4.0.0', requires: { publicpkg: '^1.0.0' } },
      });
      assert.deepEqual(json['remove'], ['lodash@4.0.0']);
      assert.deepEqual(json['metadata'], { node_version: 'v24.0.0' });
    }
    // a public root name is kept (it is the client's own, not private here)
    const reply = await client.request('POST', '/-/npm/v1/security/audits/quick', {
      name: 'my-public-app',
      version: '1.0.0',
      requires: { lodash: '^4.0.0' },
      dependencies: { lodash: { version: '4.0.0' } },
    });
    assert.equal(reply.status, 200, reply.text);
    const sent = seen.filter((s) => s.path.endsWith('/audits/quick')).at(-1);
    const json = JSON.parse(sent?.body ?? '{}') as Record<string, unknown>;
    assert.equal(json['name'], 'my-public-app');
    assert.equal(json['version'], '1.0.0');
  });

  test('through a named repository too', async () => {
    const client = new NpmHttp(`${server.url}/repository/npm-proxy`);
    const reply = await client.request('POST', '/-/npm/v1/security/advisories/bulk', {
      privthing: ['1.0.0'],
      '@corp/x': ['1.0.0'],
      lodash: ['4.0.0'],
    });
    assert.equal(reply.status, 200, reply.text);
    const sent = seen.filter((s) => s.path.endsWith('/advisories/bulk')).at(-1);
    assert.deepEqual(JSON.parse(sent?.body ?? '{}'), { lodash: ['4.0.0'] });
  });
});
