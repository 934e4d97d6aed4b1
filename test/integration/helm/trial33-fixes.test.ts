/**
 * Helm findings of trial 33 (newA), twenty-eighth session fixH:
 * 1. `[helm] allow_overwrite = false` promised immutable versions, yet DELETE then an upload of
 *    other bytes under the same version answered 201 (the archive served `immutable`, index.yaml
 *    with the new digest). A deleted version's digest is now remembered (`helm_deleted_versions`,
 *    migration 0946): other bytes under that version, in either spelling, are a 409 in
 *    ChartMuseum's shape; identical bytes may come back. With allow_overwrite on, unchanged.
 * 2. `1.2.3` and `v1.2.3` were one version on upload but two on lookup: GET and DELETE
 *    `/api/charts/<name>/<version>` now find a stored version by either spelling (archive file
 *    names stay exact).
 * 3. `DELETE /api/charts/<name>` (no version) answered 405 "DELETE is not supported here": it
 *    now names `DELETE <base>/api/charts/<name>/<version>`.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { buildChart, sha256, type IndexFile } from '../../helpers/helm.ts';
import { startTestServer } from '../../helpers/server.ts';

const post = (base: string, body: Buffer) =>
  fetch(`${base}/api/charts`, { method: 'POST', body: new Uint8Array(body) });

async function versions(base: string, name: string): Promise<string[] | undefined> {
  const index = parse(await (await fetch(`${base}/index.yaml`)).text()) as IndexFile;
  return index.entries[name]?.map((e) => e.version);
}

describe('helm: trial 33 fixes (fixH)', () => {
  test('1: allow_overwrite = false: a deleted version comes back only with its bytes', async () => {
    await using server = await startTestServer({ config: { helm: { allow_overwrite: false } } });
    for (const base of [`${server.url}/helm`, `${server.url}/repository/helm-hosted`]) {
      const name = base.endsWith('/helm') ? 'web' : 'web2';
      const first = await buildChart({ name, version: '9.0.0', description: 'first' });
      const other = await buildChart({ name, version: '9.0.0', description: 'other bytes' });
      assert.equal((await post(base, first)).status, 201);
      const deleted = await fetch(`${base}/api/charts/${name}/9.0.0`, { method: 'DELETE' });
      assert.equal(deleted.status, 200, await deleted.text());
      assert.deepEqual(await versions(base, name), undefined);

      // Other bytes: 409 in ChartMuseum's shape, by POST and by PUT, saying why and what to do.
      for (const upload of [
        () => post(base, other),
        () => fetch(`${base}/${name}-9.0.0.tgz`, { method: 'PUT', body: new Uint8Array(other) }),
      ]) {
        const refused = await upload();
        assert.equal(refused.status, 409);
        assert.match(refused.headers.get('content-type') ?? '', /application\/json/);
        const { error } = (await refused.json()) as { error: string };
        assert.match(error, deletedRefusal(name, '9.0.0', sha256(first)), `${base}: ${error}`);
      }
      // The other spelling is the same SemVer version: refused too.
      const twin = await buildChart({ name, version: 'v9.0.0' });
      const refusedTwin = await post(base, twin);
      assert.equal(refusedTwin.status, 409);
      assert.match(
        ((await refusedTwin.json()) as { error: string }).error,
        new RegExp(
          `^${name}-v9\\.0\\.0\\.tgz is the same SemVer version as ${name}-9\\.0\\.0\\.tgz, which was deleted on `,
        ),
      );
      assert.deepEqual(await versions(base, name), undefined);
      assert.equal((await fetch(`${base}/${name}-9.0.0.tgz`)).status, 404);

      // The very bytes it had may come back.
      const back = await post(base, first);
      assert.equal(back.status, 201, await back.text());
      const archive = await fetch(`${base}/charts/${name}-9.0.0.tgz`);
      assert.equal(archive.status, 200);
      assert.equal(archive.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.equal(sha256(Buffer.from(await archive.arrayBuffer())), sha256(first));
      // A new version is fine.
      const next = await buildChart({ name, version: '9.0.1', description: 'other bytes' });
      assert.equal((await post(base, next)).status, 201);
    }
  });

  test('1: a v-spelled version deleted by the other spelling stays bound to its bytes', async () => {
    await using server = await startTestServer({ config: { helm: { allow_overwrite: false } } });
    const base = `${server.url}/helm`;
    const first = await buildChart({ name: 'vweb', version: 'v2.0.0' });
    assert.equal((await post(base, first)).status, 201);
    const deleted = await fetch(`${base}/api/charts/vweb/2.0.0`, { method: 'DELETE' });
    assert.equal(deleted.status, 200, await deleted.text());
    const other = await buildChart({ name: 'vweb', version: '2.0.0' });
    const refused = await post(base, other);
    assert.equal(refused.status, 409);
    assert.match(
      ((await refused.json()) as { error: string }).error,
      /^vweb-2\.0\.0\.tgz is the same SemVer version as vweb-v2\.0\.0\.tgz, which was deleted on .*Publish the changed chart as a new version/,
    );
  });

  test('1: with allow_overwrite on (the default) a deleted version may take other bytes', async () => {
    await using server = await startTestServer({});
    const base = `${server.url}/helm`;
    assert.equal(
      (await post(base, await buildChart({ name: 'ow', version: '1.0.0' }))).status,
      201,
    );
    assert.equal((await fetch(`${base}/api/charts/ow/1.0.0`, { method: 'DELETE' })).status, 200);
    const other = await buildChart({ name: 'ow', version: '1.0.0', description: 'new' });
    assert.equal((await post(base, other)).status, 201);
  });

  test('2: GET and DELETE /api/charts/<name>/<version> take either spelling', async () => {
    await using server = await startTestServer({});
    for (const base of [`${server.url}/helm`, `${server.url}/repository/helm-hosted`]) {
      const name = base.endsWith('/helm') ? 'spell' : 'spell2';
      assert.equal((await post(base, await buildChart({ name, version: 'v1.2.3' }))).status, 201);
      for (const asked of ['1.2.3', 'v1.2.3']) {
        const got = await fetch(`${base}/api/charts/${name}/${asked}`);
        assert.equal(got.status, 200, asked);
        assert.equal(((await got.json()) as { version: string }).version, 'v1.2.3');
      }
      // Archive file names stay exact.
      assert.equal((await fetch(`${base}/${name}-1.2.3.tgz`)).status, 404);
      assert.equal((await fetch(`${base}/${name}-v1.2.3.tgz`)).status, 200);

      // Replaced by the other spelling with ?force, then deleted by the first spelling.
      const forced = await fetch(`${base}/api/charts?force=true`, {
        method: 'POST',
        body: new Uint8Array(await buildChart({ name, version: '1.2.3' })),
      });
      assert.equal(forced.status, 200, await forced.text());
      const gone = await fetch(`${base}/api/charts/${name}/v1.2.3`, { method: 'DELETE' });
      assert.equal(gone.status, 200, await gone.text());
      assert.deepEqual(await versions(base, name), undefined);
      const missing = await fetch(`${base}/api/charts/${name}/v1.2.3`, { method: 'DELETE' });
      assert.equal(missing.status, 404);
    }
  });

  test('3: DELETE /api/charts/<name> names the URL that deletes a version', async () => {
    // Nothing listens at the proxy's upstream: no request below needs it.
    await using server = await startTestServer({
      config: {
        circuit_breaker: { enabled: false },
        repositories: [
          {
            name: 'helm-px',
            format: 'helm',
            kind: 'proxy',
            upstreams: [{ url: 'http://127.0.0.1:9/' }],
          },
        ],
      },
    });
    const base = `${server.url}/helm`;
    assert.equal(
      (await post(base, await buildChart({ name: 'app', version: '1.0.0' }))).status,
      201,
    );
    const noVersion = await fetch(`${base}/api/charts/app`, { method: 'DELETE' });
    assert.equal(noVersion.status, 405);
    assert.equal(noVersion.headers.get('allow'), 'GET, HEAD');
    assert.match(
      ((await noVersion.json()) as { error: string }).error,
      /DELETE \/helm\/api\/charts\/app\/<version>/,
    );
    const named = await fetch(`${server.url}/repository/helm-hosted/api/charts`, {
      method: 'DELETE',
    });
    assert.equal(named.status, 405);
    assert.equal(named.headers.get('allow'), 'GET, HEAD, POST');
    assert.match(
      ((await named.json()) as { error: string }).error,
      /DELETE \/repository\/helm-hosted\/api\/charts\/<name>\/<version>/,
    );
    assert.deepEqual(await versions(base, 'app'), ['1.0.0']);
    // A proxy deletes nothing: the plain 405, naming no DELETE URL.
    const proxied = await fetch(`${server.url}/repository/helm-px/api/charts/app`, {
      method: 'DELETE',
    });
    assert.equal(proxied.status, 405);
    assert.equal(proxied.headers.get('allow'), 'GET, HEAD');
    assert.equal(
      ((await proxied.json()) as { error: string }).error,
      'DELETE is not supported here',
    );
  });
});

/** What the 409 for other bytes under a deleted version says (trial 33 newA). */
function deletedRefusal(name: string, version: string, digest: string): RegExp {
  const file = `${name}-${version}.tgz`.replaceAll('.', '\\.');
  return new RegExp(
    `^${file} was deleted on \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z, and versions are immutable on this server \\(\\[helm\\] allow_overwrite = false\\): a deleted version may come back only with the archive it had \\(sha256:${digest}\\), not other bytes\\. Publish the changed chart as a new version`,
  );
}
