/**
 * Helm charts a proxy cached before migration 0926 (which added `helm_proxy_charts`, what the
 * web UI lists a proxy's charts by) were not listed until fetched again (twenty-seventh session,
 * devU 3). Now a start records the chart of each cached file without a row, from the proxy's
 * cached index copies (never the upstream). A database holding pre-0926 rows is made by
 * filling a proxy, then deleting its `helm_proxy_charts` rows (what a cache of an earlier release
 * has: the cache rows alone) and running migration 0945 again on it (what the upgrade does: it
 * marks that proxy pending), with the upstream stopped before the restart. The backfill runs
 * once (twenty-eighth session, devL 1): a later start reads the empty marks and nothing else, so
 * rows deleted after it stay unrecorded.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import { sql } from 'kysely';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { buildChart } from '../../helpers/helm.ts';
import { helmProxyBackfillMigration } from '../../../src/formats/helm/migrations.ts';

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
      // What a release before 0926 left: the cache rows, no chart rows; and what the upgrade
      // to 0945 makes of it: this proxy marked pending.
      const db = front.app.context.db;
      await sql`DELETE FROM helm_proxy_charts`.execute(db);
      assert.deepEqual(await listed(front.url), []);
      await sql`DROP TABLE helm_proxy_backfill`.execute(db);
      await helmProxyBackfillMigration.up(db);
    }
    const dbFile = path.join(data, 'storage', 'nora.db');
    const rows = (query: string): unknown[] => {
      const sqlite = new DatabaseSync(dbFile, { readOnly: true });
      try {
        return sqlite
          .prepare(query)
          .all()
          .map((r) => ({ ...r }));
      } finally {
        sqlite.close();
      }
    };
    assert.deepEqual(rows('SELECT repository, after_key FROM helm_proxy_backfill'), [
      { repository: 'helm-px', after_key: '' },
    ]);
    await upstream.close();
    {
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
    }
    // Done: the mark is gone. Rows deleted now are not recorded by a later start (it does no
    // backfill work; closing the server waits for a backfill it started).
    assert.deepEqual(rows('SELECT repository FROM helm_proxy_backfill'), []);
    {
      const sqlite = new DatabaseSync(dbFile);
      sqlite.exec('DELETE FROM helm_proxy_charts');
      sqlite.close();
    }
    {
      await using front = await startTestServer({ dataDir: data, config });
      assert.deepEqual(await listed(front.url), []);
    }
    assert.deepEqual(rows('SELECT key FROM helm_proxy_charts'), []);
  });

  test('a new database marks no proxy pending', async () => {
    await using dir = await tempDir('nora-ui-helm-backfill-new-');
    const config = {
      repositories: [
        {
          name: 'helm-px',
          format: 'helm',
          kind: 'proxy',
          upstreams: [{ url: 'http://127.0.0.1:9/' }],
        },
      ],
    };
    const front = await startTestServer({ dataDir: dir.path, config });
    await front.close();
    const sqlite = new DatabaseSync(path.join(dir.path, 'storage', 'nora.db'), { readOnly: true });
    try {
      assert.deepEqual(sqlite.prepare('SELECT * FROM helm_proxy_backfill').all(), []);
    } finally {
      sqlite.close();
    }
  });
});
