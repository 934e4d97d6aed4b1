/**
 * A ChartMuseum multipart upload with two `chart` file fields (trial 18 fmts F4: `curl -F
 * chart=@two-1.0.0.tgz -F chart=@three-1.0.0.tgz`) answered `{"saved":true}` and stored only
 * the first. It is now a 400 saying one chart per upload, and neither chart is stored.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { buildChart } from '../../helpers/helm.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

describe('Helm: a multipart upload with two chart fields', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({});
  });
  after(() => server.close());

  test('400 "one chart per upload", nothing stored', async () => {
    const form = new FormData();
    for (const name of ['two', 'three']) {
      const chart = await buildChart({ name, version: '1.0.0' });
      form.append('chart', new Blob([chart]), `${name}-1.0.0.tgz`);
    }
    const r = await fetch(`${server.url}/helm/api/charts`, { method: 'POST', body: form });
    assert.equal(r.status, 400);
    assert.deepEqual(await r.json(), {
      error:
        'one chart per upload: the form has a second "chart" file field; upload each chart in its own request (nothing was stored)',
    });
    const index = parseYaml(await (await fetch(`${server.url}/helm/index.yaml`)).text()) as {
      entries?: Record<string, unknown>;
    };
    assert.deepEqual(Object.keys(index.entries ?? {}), []);
  });
});
