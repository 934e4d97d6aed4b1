/**
 * Every link of a browse page keeps the repository it was opened on (trial 30: the rows of
 * `/ui/npm?repo=npm-proxy` linked to `/ui/npm/<name>` without `?repo=`, which is npm-hosted's
 * page, a 404). npm has three default repositories (npm-hosted, npm-proxy, npm): only the one
 * `/ui/npm` shows bare (npm-hosted) goes without `?repo=`. A second NORA is the upstream.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { NpmHttp } from '../npm/client.ts';

describe('web UI: links keep the repository', () => {
  let upstream: TestServer;
  let server: TestServer;

  before(async () => {
    upstream = await startTestServer({});
    const up = new NpmHttp(`${upstream.url}/npm`);
    assert.equal((await up.publish({ name: 'linked-lib', version: '1.0.0' })).status, 201);
    server = await startTestServer({ config: { npm: { proxy: `${upstream.url}/npm/` } } });
    // Cache it in npm-proxy.
    const fill = await fetch(`${server.url}/repository/npm-proxy/linked-lib`);
    assert.equal(fill.status, 200, await fill.text());
  });
  after(async () => {
    await server.close();
    await upstream.close();
  });

  const hrefs = (page: string): string[] =>
    [...page.matchAll(/href="([^"]+)"/g)].map((m) => (m[1] ?? '').replaceAll('&amp;', '&'));

  for (const repo of ['npm-proxy', 'npm']) {
    test(`${repo}: rows, picker and back links carry ?repo=${repo}, and the row opens`, async () => {
      const list = await (await fetch(`${server.url}/ui/npm?repo=${repo}`)).text();
      const links = hrefs(list);
      assert.ok(links.includes(`/ui/npm/linked-lib?repo=${repo}`), links.join('\n'));
      assert.ok(links.includes(`/ui/npm?repo=${repo}`), 'the picker names it with ?repo=');
      assert.ok(links.includes('/ui/npm'), 'the bare list (npm-hosted) stays bare');
      const detail = await fetch(`${server.url}/ui/npm/linked-lib?repo=${repo}`);
      const body = await detail.text();
      assert.equal(detail.status, 200, body);
      assert.ok(hrefs(body).includes(`/ui/npm?repo=${repo}`), 'back to its list');
    });
  }
});
