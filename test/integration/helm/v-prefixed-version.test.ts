/**
 * Helm accepts a chart `version: v1.2.3` (its Metadata.Validate parses with Masterminds/semver
 * NewVersion, which takes a leading `v`; trial 32 found NORA answering 400 "not a SemVer 2
 * version"). Uploaded by ChartMuseum POST and plain PUT, listed in index.yaml by SemVer
 * precedence as Helm orders them (the `v` ignored), downloadable by its file name. `1.2` and a
 * leading zero stay refused (a chart file name would then have two readings: chart.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { buildChart, type IndexFile } from '../../helpers/helm.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

describe('Helm: a chart version with a leading v', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({});
  });
  after(() => server.close());

  test('upload, index.yaml order, download', async () => {
    const posted = await fetch(`${server.url}/helm/api/charts`, {
      method: 'POST',
      body: await buildChart({ name: 'vapp', version: 'v1.2.3' }),
    });
    assert.equal(posted.status, 201, await posted.text());
    const put = await fetch(`${server.url}/helm/vapp-v1.10.0-rc.1.tgz`, {
      method: 'PUT',
      body: await buildChart({ name: 'vapp', version: 'v1.10.0-rc.1' }),
    });
    assert.equal(put.status, 201, await put.text());
    const plain = await fetch(`${server.url}/helm/api/charts`, {
      method: 'POST',
      body: await buildChart({ name: 'vapp', version: '1.9.0' }),
    });
    assert.equal(plain.status, 201, await plain.text());

    const index = parse(await (await fetch(`${server.url}/helm/index.yaml`)).text()) as IndexFile;
    assert.deepEqual(
      index.entries['vapp']?.map((e) => e.version),
      ['v1.10.0-rc.1', '1.9.0', 'v1.2.3'],
    );
    const entry = index.entries['vapp'].find((e) => e.version === 'v1.2.3');
    const url = entry === undefined ? '' : String(entry.urls[0]);
    assert.match(url, /vapp-v1\.2\.3\.tgz$/);
    const file = await fetch(new URL(url, `${server.url}/helm/`));
    assert.equal(file.status, 200);
    assert.equal(file.headers.get('content-type'), 'application/gzip');
  });

  test('1.2 and a leading zero are still refused, saying what a version is', async () => {
    for (const version of ['v1.2', '01.2.3']) {
      const r = await fetch(`${server.url}/helm/api/charts`, {
        method: 'POST',
        body: await buildChart({ name: 'bad', version }),
      });
      assert.equal(r.status, 400, version);
      assert.match(await r.text(), /optionally with a leading v/, version);
    }
  });
});
