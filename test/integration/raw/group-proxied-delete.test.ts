/**
 * Trial 23 fmts F3 for raw: a DELETE through a group of a file the group serves from its proxy
 * member (cached there) answers 405 naming the proxy member, with `Allow: GET, HEAD, PUT`, not
 * 404 "… not found in <write member>" while a GET through the group serves the file. A hosted
 * file's DELETE through the group works as before; a file in no member, or one the proxy has
 * not cached (a DELETE never asks the upstream), keeps the 404. Upstream: a second NORA.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

describe('raw group: DELETE of a file its proxy member serves', () => {
  let upstream: TestServer;
  let server: TestServer;
  let group: string;

  before(async () => {
    upstream = await startTestServer();
    for (const path of ['a/b/one.txt', 'a/b/uncached.txt']) {
      const put = await fetch(`${upstream.url}/raw/${path}`, { method: 'PUT', body: path });
      assert.equal(put.status, 201, await put.text());
    }
    server = await startTestServer({
      config: {
        repositories: [
          { name: 'files', format: 'raw', kind: 'hosted' },
          {
            name: 'raw-up',
            format: 'raw',
            kind: 'proxy',
            upstreams: [{ url: `${upstream.url}/raw` }],
          },
          { name: 'raw-all', format: 'raw', kind: 'group', members: ['files', 'raw-up'] },
        ],
      },
    });
    group = `${server.url}/repository/raw-all`;
    const put = await fetch(`${group}/own/two.txt`, { method: 'PUT', body: 'two' });
    assert.equal(put.status, 201, await put.text());
    // A GET through the group serves (and caches) the upstream's file.
    const get = await fetch(`${group}/a/b/one.txt`);
    assert.equal(get.status, 200);
    assert.equal(await get.text(), 'a/b/one.txt');
  });
  after(async () => {
    await server.close();
    await upstream.close();
  });

  test('a cached upstream file: 405 naming the proxy member, the file still served', async () => {
    const res = await fetch(`${group}/a/b/one.txt`, { method: 'DELETE' });
    const text = await res.text();
    assert.equal(res.status, 405, text);
    assert.equal(res.headers.get('allow'), 'GET, HEAD, PUT');
    assert.match(
      text,
      /a\/b\/one\.txt is not stored in files, the write member of group raw-all: the group serves it from its proxy member raw-up/,
    );
    const get = await fetch(`${group}/a/b/one.txt`);
    assert.equal(get.status, 200);
    assert.equal(await get.text(), 'a/b/one.txt');
  });

  test('a hosted file through the group: DELETE works', async () => {
    assert.equal((await fetch(`${group}/own/two.txt`, { method: 'DELETE' })).status, 204);
    assert.equal((await fetch(`${group}/own/two.txt`)).status, 404);
  });

  test('a file in no member, or not cached by the proxy: 404 as before', async () => {
    for (const path of ['a/b/nobody.txt', 'a/b/uncached.txt']) {
      const res = await fetch(`${group}/${path}`, { method: 'DELETE' });
      const text = await res.text();
      assert.equal(res.status, 404, `${path}: ${text}`);
      assert.match(text, /not found in files/, path);
    }
  });
});
