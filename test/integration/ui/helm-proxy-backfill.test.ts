/**
 * Helm charts a proxy cached before migration 0926 (which added `helm_proxy_charts`, what the
 * web UI lists a proxy's charts by) were not listed until fetched again (twenty-seventh session,
 * devU 3). Now a start records the chart of each cached file without a row, from the proxy's
 * cached index copies (never the upstream). A database holding pre-0926 rows is made by
 * filling a proxy, then deleting its `helm_proxy_charts` rows (what a cache of an earlier release
 * has: the cache rows alone), with the upstream stopped before the restart.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { buildChart } from '../../helpers/helm.ts';

interface ListJson {
  entries: { name: string; latest?: string; cached?: boolean }[];
}

describe('web UI: Helm charts cached before migration 0926', () => {
  test('are listed after a restart, read from the cached index', async () => {
    await using dir = await tempDir('nora-ui-helm-backfill-');
    const upstream = await startTestServer({ dataDir: path.join(dir.path, 'up') });
    for (const [name, version] of [
      ['nginx-1-ingress', '1.2.3-rc.1'],
      ['other-chart', '0.1.0'],
    ] as const) {
      const pushed = await fetch(`${upstream.url}/repository/helm-hosted/api/charts`, {
        method: 'POST',
        body: await buildChart({ name, version }),
      });
      assert.ok(pushed.ok, await pushed.text());
    }
    const config = {
      repositories: [
        {
          name: 'helm-px',
          format: 'helm',
          kind: 'proxy',
          upstreams: [{ url: `${upstream.url}/repository/helm-hosted` }],
        },
      ],
    };
    const data = path.join(dir.path, 'front');
    const listed = async (url: string): Promise<ListJson['entries']> =>
      ((await (await fetch(`${url}/api/ui/helm/list?repo=helm-px`)).json()) as ListJson).entries;
    {
      await using front = await startTestServer({ dataDir: data, config });
      const base = `${front.url}/repository/helm-px/`;
      const index = await (await fetch(`${base}index.yaml`)).text();
      const chartUrl = /"([^"\s]*nginx-1-ingress-1\.2\.3-rc\.1\.tgz)"/.exec(index)?.[1];
      assert.ok(chartUrl !== undefined, index);
      assert.equal((await fetch(new URL(chartUrl, base))).status, 200);
      for (let i = 0; i < 50 && (await listed(front.url)).length === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.deepEqual(
        (await listed(front.url)).map((e) => e.name),
        ['nginx-1-ingress'],
      );
      // What a release before 0926 left: the cache rows, no chart rows.
      await sql`DELETE FROM helm_proxy_charts`.execute(front.app.context.db);
      assert.deepEqual(await listed(front.url), []);
    }
    await upstream.close();
    await using front = await startTestServer({ dataDir: data, config });
    let entries = await listed(front.url);
    for (let i = 0; i < 50 && entries.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      entries = await listed(front.url);
    }
    assert.deepEqual(
      entries.map((e) => [e.name, e.latest, e.cached]),
      [['nginx-1-ingress', '1.2.3-rc.1', true]],
    );
    const detail = await fetch(`${front.url}/api/ui/helm/nginx-1-ingress?repo=helm-px`);
    assert.equal(detail.status, 200, await detail.text());
  });
});
