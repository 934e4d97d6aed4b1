/**
 * Helm accepts a chart `version: v1.2.3` (its Metadata.Validate parses with Masterminds/semver
 * NewVersion, which takes a leading `v`; trial 32 found NORA answering 400 "not a SemVer 2
 * version"). Uploaded by ChartMuseum POST and plain PUT, listed in index.yaml by SemVer
 * precedence as Helm orders them (the `v` ignored), downloadable by its file name. `1.2` and a
 * leading zero stay refused (a chart file name would then have two readings: chart.ts).
 * `1.2.3` and `v1.2.3` of one chart are the same SemVer version: the second is a 409 in
 * ChartMuseum's shape unless `?force`, which replaces the first (stop 51 stored both, and
 * index.yaml listed the version twice; twenty-eighth session, devL 2).
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

  test('1.2.3 and v1.2.3 are one version: 409 unless ?force, listed once', async () => {
    const upload = (name: string, version: string, how: 'post' | 'put', force = false) =>
      buildChart({ name, version }).then((body) =>
        how === 'post'
          ? fetch(`${server.url}/helm/api/charts${force ? '?force=true' : ''}`, {
              method: 'POST',
              body,
            })
          : fetch(`${server.url}/helm/${name}-${version}.tgz${force ? '?force=true' : ''}`, {
              method: 'PUT',
              body,
            }),
      );
    const versions = async (name: string): Promise<string[] | undefined> =>
      (parse(await (await fetch(`${server.url}/helm/index.yaml`)).text()) as IndexFile).entries[
        name
      ]?.map((e) => e.version);
    for (const [name, first, second] of [
      ['dup-plain', '1.2.3', 'v1.2.3'],
      ['dup-v', 'v2.0.0', '2.0.0'],
    ] as const) {
      const stored = await upload(name, first, 'post');
      assert.equal(stored.status, 201, await stored.text());
      for (const how of ['post', 'put'] as const) {
        const again = await upload(name, second, how);
        assert.equal(again.status, 409, `${name} ${second} by ${how}`);
        const body = (await again.json()) as { error: string };
        assert.equal(
          body.error.startsWith(
            `${name}-${second}.tgz is the same SemVer version as ${name}-${first}.tgz, which already exists`,
          ),
          true,
          body.error,
        );
      }
      assert.deepEqual(await versions(name), [first]);
      assert.equal((await fetch(`${server.url}/helm/${name}-${second}.tgz`)).status, 404);
      // ?force replaces it: the index lists the version once, as uploaded last.
      const forced = await upload(name, second, 'post', true);
      assert.equal(forced.status, 200, await forced.text());
      assert.deepEqual(await versions(name), [second]);
      assert.equal((await fetch(`${server.url}/helm/${name}-${second}.tgz`)).status, 200);
      assert.equal((await fetch(`${server.url}/helm/${name}-${first}.tgz`)).status, 404);
    }
  });
});
