/**
 * A DELETE through a Helm group of a chart version its write member does not hold, but another
 * member does (the group's index.yaml lists it): 405 naming the member and what to do, as
 * Maven's group answers (trial 19 fmts F6: it was 404 "chart nginx-1.0.0 not found" while
 * /helm/index.yaml listed the chart). A version no member lists stays a 404.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildChart } from '../../helpers/helm.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

describe('helm group DELETE of a chart another member holds', () => {
  let upstream: TestServer;
  let nora: TestServer;

  before(async () => {
    upstream = await startTestServer({});
    const remote = await buildChart({ name: 'nginx', version: '1.0.0' });
    const r = await fetch(`${upstream.url}/helm/api/charts`, { method: 'POST', body: remote });
    assert.equal(r.status, 201, await r.text());
    nora = await startTestServer({
      config: {
        helm: { proxies: [{ url: `${upstream.url}/helm` }], index_ttl: 0 },
        repositories: [
          { name: 'other-hosted', format: 'helm', kind: 'hosted' },
          {
            name: 'all',
            format: 'helm',
            kind: 'group',
            members: ['helm-hosted', 'other-hosted', 'helm-proxy'],
            write_member: 'helm-hosted',
          },
        ],
      },
    });
    const other = await buildChart({ name: 'inhouse', version: '2.0.0' });
    const put = await fetch(`${nora.url}/repository/other-hosted/api/charts`, {
      method: 'POST',
      body: other,
    });
    assert.equal(put.status, 201, await put.text());
  });
  after(async () => {
    await nora.close();
    await upstream.close();
  });

  test('a proxied chart: 405 naming the proxy member, nothing deleted', async () => {
    for (const group of ['helm', 'repository/all']) {
      const index = await (await fetch(`${nora.url}/${group}/index.yaml`)).text();
      assert.match(index, /nginx-1\.0\.0\.tgz/, 'the group lists it');
      const res = await fetch(`${nora.url}/${group}/api/charts/nginx/1.0.0`, { method: 'DELETE' });
      const text = await res.text();
      assert.equal(res.status, 405, text);
      assert.equal(res.headers.get('allow'), 'GET, HEAD');
      const groupName = group === 'helm' ? 'helm' : 'all';
      assert.ok(
        text.includes(
          `chart nginx-1.0.0 is served from an upstream by proxy member helm-proxy of group ${groupName}, not stored in its write member helm-hosted: upstream charts cannot be deleted through the group`,
        ),
        text,
      );
    }
  });

  test('a chart in another hosted member: 405 saying where to delete it', async () => {
    const res = await fetch(`${nora.url}/repository/all/api/charts/inhouse/2.0.0`, {
      method: 'DELETE',
    });
    const text = await res.text();
    assert.equal(res.status, 405, text);
    assert.ok(
      text.includes(
        'chart inhouse-2.0.0 is stored in member other-hosted of group all, not in its write member helm-hosted: delete it at /repository/other-hosted/api/charts/inhouse/2.0.0',
      ),
      text,
    );
    const still = await fetch(`${nora.url}/repository/all/api/charts/inhouse/2.0.0`);
    assert.equal(still.status, 200);
  });

  test('a version no member lists: still 404; one in the write member: deleted', async () => {
    const missing = await fetch(`${nora.url}/helm/api/charts/nginx/9.9.9`, { method: 'DELETE' });
    assert.equal(missing.status, 404, await missing.text());
    const mine = await buildChart({ name: 'mine', version: '0.1.0' });
    const up = await fetch(`${nora.url}/helm/api/charts`, { method: 'POST', body: mine });
    assert.equal(up.status, 201, await up.text());
    const del = await fetch(`${nora.url}/helm/api/charts/mine/0.1.0`, { method: 'DELETE' });
    assert.equal(del.status, 200, await del.text());
  });
});
