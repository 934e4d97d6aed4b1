/**
 * Trial 25 fmts F2/F4 over HTTP: the takeover check of a first npm publish (group-write.ts
 * proxyTakeovers) also covers a publish addressed to the hosted member directly (the group loses
 * the upstream's versions all the same) and probes the proxy's cache only; the 404 of a version
 * the guard keeps from the proxy says so, as the tarball's did (F4); unpublishing every version
 * gives the name back to the proxy (it stayed a 404 for good).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { NpmHttp } from './client.ts';

test('npm: first publish of a proxied name to the hosted member directly is 409 too', async () => {
  await using upstream = await startTestServer();
  const up = new NpmHttp(`${upstream.url}/npm`);
  for (const name of ['up-a', 'up-b']) {
    assert.equal((await up.publish({ name, version: '1.0.0' })).status, 201);
  }
  await using server = await startTestServer({
    config: { npm: { proxy: `${upstream.url}/npm/` } },
  });
  const group = new NpmHttp(`${server.url}/npm`);
  const hosted = new NpmHttp(`${server.url}/repository/npm-hosted`);
  assert.equal((await group.request('GET', '/up-a')).status, 200, 'cached through the group');

  const direct = await hosted.publish({ name: 'up-a', version: '2.0.0' });
  assert.equal(direct.status, 409);
  const { error } = direct.json<{ error: string }>();
  assert.match(
    error,
    /^refusing to publish package up-a: it would hide npm-proxy's versions of it in group npm \(\[npm\] shadow_names allows it\)\. It is new in npm-hosted: /,
  );
  assert.match(error, /NORA_NPM_SHADOW_NAMES/);
  assert.doesNotMatch(error, /127\.0\.0\.1/, 'no upstream host in the answer');
  const still = (await group.request('GET', '/up-a')).json<{ versions: object }>();
  assert.deepEqual(Object.keys(still.versions), ['1.0.0']);
});

test('npm: a version the guard keeps from the proxy is a 404 naming the guard; unpublishing every version gives the name back', async () => {
  await using upstream = await startTestServer();
  const up = new NpmHttp(`${upstream.url}/npm`);
  assert.equal((await up.publish({ name: 'up-b', version: '1.0.0' })).status, 201);
  await using server = await startTestServer({
    config: { npm: { proxy: `${upstream.url}/npm/` } },
  });
  const group = new NpmHttp(`${server.url}/npm`);
  // up-b was never read through this NORA: the write does not ask the upstream (cache only).
  assert.equal((await group.publish({ name: 'up-b', version: '2.0.0' })).status, 201);
  const taken = (await group.request('GET', '/up-b')).json<{ versions: object }>();
  assert.deepEqual(Object.keys(taken.versions), ['2.0.0'], 'hosted only: protect_hosted_names');
  const missing = await group.request('GET', '/up-b/1.0.0');
  assert.equal(missing.status, 404);
  assert.equal(
    missing.json<{ error: string }>().error,
    'version or tag "1.0.0" of up-b not found (up-b is hosted in npm-hosted, so group npm does not ask its proxy for it: protect_hosted_names)',
  );
  // A new version of a name the write member holds is not a takeover.
  assert.equal((await group.publish({ name: 'up-b', version: '2.1.0' })).status, 201);

  const packument = (await group.request('GET', '/up-b')).json<{ _rev: string }>();
  const unpublished = await group.request('DELETE', `/up-b/-rev/${packument._rev}`);
  assert.equal(unpublished.status, 200, unpublished.text);
  const back = await group.request('GET', '/up-b');
  assert.equal(back.status, 200, 'the upstream package again, not a 404');
  assert.deepEqual(Object.keys(back.json<{ versions: object }>().versions), ['1.0.0']);
  const tarball = await group.request('GET', '/up-b/-/up-b-1.0.0.tgz');
  assert.equal(tarball.status, 200);
});
