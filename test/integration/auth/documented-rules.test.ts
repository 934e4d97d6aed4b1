/**
 * The rules README's Maven section and docs/auth.md give for "immutable releases for real" and
 * "writers cannot shadow a public name" (protect_hosted_names), checked as written: a writer
 * deploys under the granted groupId, cannot DELETE a release there (so cannot redeploy other
 * bytes), cannot deploy a public coordinate, and everyone signed in (and anonymous, with its
 * rule) still reads through /maven2/. An admin still deletes. The rule over all paths is on the
 * group `maven`: on maven-hosted it would reserve every path for maven-hosted, and /maven2/ would
 * serve nothing from the proxy (checked below with a proxy upstream).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { emptyJar } from '../../helpers/zip-fixtures.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('the documented Maven rules: no delete, writes only in your groupIds', () => {
  let server: TestServer;
  const writer = basic('wendy', 'wendy-pw-1');
  const admin = basic('root', 'root-pw-1');

  const pom = '<project><modelVersion>4.0.0</modelVersion></project>\n';
  const upstream = http.createServer((req, res) => {
    const path = req.url ?? '/';
    if (path.startsWith('/org/upstream/lib/1.0/lib-1.0.pom')) {
      const sum = /\.(sha1|md5|sha256|sha512)$/.exec(path)?.[1];
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(sum === undefined ? pom : createHash(sum).update(pom).digest('hex'));
      return;
    }
    res.writeHead(404);
    res.end();
  });

  before(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    server = await startTestServer({
      config: {
        maven: { proxies: [url] },
        auth: {
          enabled: true,
          anonymous_read: true,
          rules: [
            { repositories: ['maven'], users: ['*'], actions: ['read'] },
            { repositories: ['maven'], anonymous: true, actions: ['read'] },
            {
              repositories: ['maven-hosted'],
              paths: ['com/example/**'],
              users: ['*'],
              actions: ['read', 'write'],
            },
            {
              repositories: ['maven-hosted'],
              paths: ['com/example/**'],
              anonymous: true,
              actions: ['read'],
            },
          ],
        },
      },
    });
    const { users } = server.app.context.identity;
    await users.create('wendy', 'wendy-pw-1', undefined, ['read', 'write']);
    await users.create('root', 'root-pw-1', undefined, ['admin']);
  });
  after(async () => {
    await server.close();
    upstream.close();
  });

  const send = async (method: string, path: string, authorization?: string, body?: string) => {
    const res = await fetch(`${server.url}/maven2/${path}`, {
      method,
      headers: authorization === undefined ? {} : { authorization },
      ...(body === undefined ? {} : { body }),
    });
    await res.arrayBuffer();
    return res.status;
  };

  test('deploy in com/example, no delete there, no public coordinate, reads for all', async () => {
    const jar = 'com/example/demo/1.0/demo-1.0.jar';
    assert.equal(await send('PUT', jar, writer, emptyJar('first bytes')), 201);
    assert.equal(await send('PUT', jar, writer, emptyJar('other bytes')), 409);
    assert.equal(await send('DELETE', 'com/example/demo/1.0/', writer), 403);
    assert.equal(await send('DELETE', jar, writer), 403);
    const shadow = 'org/apache/commons/commons-lang3/3.14.0/commons-lang3-3.14.0.jar';
    assert.equal(await send('PUT', shadow, writer, emptyJar('not commons')), 403);
    assert.equal(await send('GET', jar, writer), 200);
    assert.equal(await send('GET', jar), 200);
    assert.equal(await send('DELETE', 'com/example/demo/1.0/', admin), 200);
  });

  test('the proxy still answers through /maven2/; writes to maven-hosted stay in com/example', async () => {
    const proxied = 'org/upstream/lib/1.0/lib-1.0.pom';
    assert.equal(await send('GET', proxied, writer), 200);
    assert.equal(await send('GET', proxied), 200);
    const direct = await fetch(`${server.url}/repository/maven-hosted/org/x/y/1.0/y-1.0.jar`, {
      method: 'PUT',
      headers: { authorization: writer },
      body: 'x',
    });
    assert.equal(direct.status, 403);
  });
});
