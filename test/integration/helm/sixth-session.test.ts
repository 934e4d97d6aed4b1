/**
 * Fixes from the new-user trial (2026-12-02, sixth session), over HTTP:
 * 3. chart archives and provenance files carry Cache-Control: `public, no-cache` while `?force`
 *    may replace a version (`[helm] allow_overwrite`, the default), immutable when it may not;
 *    `private` for a request with credentials.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildChart, provenance } from '../../helpers/helm.ts';
import { startTestServer } from '../../helpers/server.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('helm: fixes from the new-user trial (sixth session)', () => {
  test('3: Cache-Control of chart archives follows allow_overwrite; private with credentials', async () => {
    for (const allowOverwrite of [true, false]) {
      await using server = await startTestServer({
        config: { helm: { allow_overwrite: allowOverwrite } },
      });
      const chart = await buildChart({ name: 'cc', version: '1.0.0' });
      const form = new FormData();
      form.append('chart', new Blob([chart]), 'cc-1.0.0.tgz');
      form.append('prov', new Blob([provenance('cc', '1.0.0', chart)]), 'cc-1.0.0.tgz.prov');
      const up = await fetch(`${server.url}/helm/api/charts`, { method: 'POST', body: form });
      assert.equal(up.status, 201);
      const expected = allowOverwrite ? 'public, no-cache' : 'public, max-age=31536000, immutable';
      for (const path of ['charts/cc-1.0.0.tgz', 'cc-1.0.0.tgz', 'charts/cc-1.0.0.tgz.prov']) {
        const got = await fetch(`${server.url}/helm/${path}`);
        assert.equal(got.status, 200, path);
        assert.equal(got.headers.get('cache-control'), expected, path);
        await got.arrayBuffer();
        const head = await fetch(`${server.url}/helm/${path}`, { method: 'HEAD' });
        assert.equal(head.headers.get('cache-control'), expected, path);
      }
      const etag = (
        await fetch(`${server.url}/helm/charts/cc-1.0.0.tgz`, { method: 'HEAD' })
      ).headers.get('etag');
      const revalidated = await fetch(`${server.url}/helm/charts/cc-1.0.0.tgz`, {
        headers: { 'if-none-match': etag ?? '' },
      });
      assert.equal(revalidated.status, 304);
      assert.equal(revalidated.headers.get('cache-control'), expected);
      // An error answer carries no chart caching.
      const missing = await fetch(`${server.url}/helm/charts/cc-9.9.9.tgz`);
      assert.equal(missing.status, 404);
      assert.equal(missing.headers.get('cache-control'), null);
    }
  });

  test('3: a chart read with credentials is private, also through a proxy', async () => {
    await using upstream = await startTestServer({});
    const chart = await buildChart({ name: 'pc', version: '1.0.0' });
    assert.equal(
      (await fetch(`${upstream.url}/helm/api/charts`, { method: 'POST', body: chart })).status,
      201,
    );
    await using server = await startTestServer({
      config: {
        auth: { enabled: true, anonymous_read: true },
        helm: { proxies: [{ url: `${upstream.url}/helm` }] },
      },
    });
    assert.ok(
      await server.app.context.identity.users.create('ann', 'ann-pw-12', undefined, ['read']),
    );
    const anonymous = await fetch(`${server.url}/helm/charts/pc-1.0.0.tgz`);
    assert.equal(anonymous.status, 200);
    assert.equal(anonymous.headers.get('cache-control'), 'public, no-cache');
    await anonymous.arrayBuffer();
    const withCredentials = await fetch(`${server.url}/helm/charts/pc-1.0.0.tgz`, {
      headers: { authorization: basic('ann', 'ann-pw-12') },
    });
    assert.equal(withCredentials.status, 200);
    assert.equal(withCredentials.headers.get('cache-control'), 'private, no-cache');
  });
});
