/**
 * Helm takeover guard (new-user trial): a chart name the group's proxy member serves (`nginx`
 * from the public repository) could be uploaded to the hosted member and silently hid the public
 * chart from every user of the group (protect_hosted_names then serves the hosted name only).
 * The first upload of such a name is now refused with a 409 naming `[helm] shadow_names`, and
 * nothing is recorded, unless `[helm] shadow_names` (here from NORA_HELM_SHADOW_NAMES, globs)
 * lists it: then it goes ahead and the answer's `warnings` say what it took over. A new name the
 * proxy does not serve, and a second version of a hosted name, upload as before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { buildChart } from '../../helpers/helm.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

describe('Helm: uploading a chart name a group proxy serves is a takeover (409 unless shadow_names)', () => {
  let upstream: TestServer;
  let nora: TestServer;

  before(async () => {
    upstream = await startTestServer({});
    for (const [name, version] of [
      ['nginx', '15.0.0'],
      ['allowed-web', '1.0.0'],
    ] as const) {
      const r = await fetch(`${upstream.url}/helm/api/charts`, {
        method: 'POST',
        body: await buildChart({ name, version }),
      });
      assert.equal(r.status, 201);
    }
    nora = await startTestServer({
      config: { helm: { proxies: [{ url: `${upstream.url}/helm` }] } },
      env: { NORA_HELM_SHADOW_NAMES: 'allowed-*, other' },
    });
    // A user of the group has seen the public charts (helm repo add / update).
    const index = await fetch(`${nora.url}/helm/index.yaml`);
    assert.equal(index.status, 200);
  });
  after(async () => {
    await nora.close();
    await upstream.close();
  });

  const entries = async (path: string) =>
    (
      parseYaml(await (await fetch(`${nora.url}${path}/index.yaml`)).text()) as {
        entries: Record<string, { version: string }[] | undefined>;
      }
    ).entries;

  test('env list parsed as maven’s is', () => {
    assert.deepEqual(nora.app.context.config().helm.shadow_names, ['allowed-*', 'other']);
  });

  test('nginx pushed through the group or to helm-hosted: 409 naming [helm] shadow_names, nothing stored', async () => {
    const chart = await buildChart({ name: 'nginx', version: '99.0.0' });
    for (const base of ['/helm', '/repository/helm-hosted']) {
      const r = await fetch(`${nora.url}${base}/api/charts`, { method: 'POST', body: chart });
      assert.equal(r.status, 409, base);
      const body = (await r.json()) as { error: string };
      assert.equal(
        body.error,
        'refusing to upload chart nginx, new in helm-hosted: group helm would stop serving its upstream versions ([helm] shadow_names allows it). ' +
          "chart nginx is served by helm-proxy through group helm; from now on that group serves only helm-hosted's versions of it and no longer asks helm-proxy (protect_hosted_names). " +
          'Installs through that group that use a proxied version would then fail, and for good: the name stays reserved to helm-hosted even after its hosted versions are deleted (a name once published never goes back to an upstream, so deleting an internal chart cannot hand it out). ' +
          `To take the name over on purpose, an operator adds it to [helm] shadow_names in NORA's configuration (NORA_HELM_SHADOW_NAMES; e.g. shadow_names = ["nginx"] or a glob such as "corp-*"); to keep the proxied chart, upload under another name (docs/helm.md, "Group").`,
      );
    }
    const put = await fetch(`${nora.url}/helm/charts/nginx-99.0.0.tgz`, {
      method: 'PUT',
      body: chart,
    });
    assert.equal(put.status, 409);
    assert.equal((await entries('/repository/helm-hosted'))['nginx'], undefined);
    assert.deepEqual(
      (await entries('/helm'))['nginx']?.map((e) => e.version),
      ['15.0.0'],
      'the group still serves the public nginx',
    );
  });

  test('a name in shadow_names (glob) uploads with a warning; the group then serves the hosted one', async () => {
    const r = await fetch(`${nora.url}/helm/api/charts`, {
      method: 'POST',
      body: await buildChart({ name: 'allowed-web', version: '2.0.0' }),
    });
    assert.equal(r.status, 201);
    const body = (await r.json()) as { saved: boolean; warnings?: string[] };
    assert.equal(body.saved, true);
    assert.deepEqual(body.warnings, [
      "chart allowed-web is served by helm-proxy through group helm; from now on that group serves only helm-hosted's versions of it and no longer asks helm-proxy (protect_hosted_names)",
    ]);
    assert.deepEqual(
      (await entries('/helm'))['allowed-web']?.map((e) => e.version),
      ['2.0.0'],
    );
    // Its next version is not a new name: no check, no warning.
    const next = await fetch(`${nora.url}/helm/api/charts`, {
      method: 'POST',
      body: await buildChart({ name: 'allowed-web', version: '2.1.0' }),
    });
    assert.equal(next.status, 201);
    assert.deepEqual(await next.json(), { saved: true });
  });

  test('a name new upstream since the cached index (within index_ttl): revalidated, 409 (trial 18 fmts F3)', async () => {
    // The cached index (fetched in before(), fresh for index_ttl = 300 s) has no redis.
    assert.equal((await entries('/helm'))['redis'], undefined);
    const r = await fetch(`${upstream.url}/helm/api/charts`, {
      method: 'POST',
      body: await buildChart({ name: 'redis', version: '18.0.0' }),
    });
    assert.equal(r.status, 201);
    const up = await fetch(`${nora.url}/helm/api/charts`, {
      method: 'POST',
      body: await buildChart({ name: 'redis', version: '0.1.0' }),
    });
    const body = (await up.json()) as { error?: string };
    assert.equal(up.status, 409, JSON.stringify(body));
    assert.match(body.error ?? '', /^refusing to upload chart redis, new in helm-hosted: /);
    assert.equal((await entries('/repository/helm-hosted'))['redis'], undefined);
    // The revalidated index is the group's from now on: the public redis is listed.
    assert.deepEqual(
      (await entries('/helm'))['redis']?.map((e) => e.version),
      ['18.0.0'],
    );
  });

  test('a new name no proxy serves uploads as before', async () => {
    const r = await fetch(`${nora.url}/helm/api/charts`, {
      method: 'POST',
      body: await buildChart({ name: 'corp-app', version: '0.1.0' }),
    });
    assert.equal(r.status, 201);
    assert.deepEqual(await r.json(), { saved: true });
  });
});

describe('Helm takeover check with an unreachable proxy and nothing cached', () => {
  let nora: TestServer;
  before(async () => {
    nora = await startTestServer({
      config: { helm: { proxies: [{ url: 'http://127.0.0.1:9/helm' }], index_timeout: 1 } },
    });
  });
  after(() => nora.close());

  test('the upload goes ahead and warns that the proxy could not be asked', async () => {
    const r = await fetch(`${nora.url}/helm/api/charts`, {
      method: 'POST',
      body: await buildChart({ name: 'lonely', version: '1.0.0' }),
    });
    assert.equal(r.status, 201);
    const body = (await r.json()) as { warnings?: string[] };
    assert.deepEqual(body.warnings, [
      "could not ask helm-proxy whether its upstream has chart lonely (unreachable, nothing cached): if it does, groups guarding hosted names now serve only helm-hosted's versions of it (protect_hosted_names)",
    ]);
  });
});
