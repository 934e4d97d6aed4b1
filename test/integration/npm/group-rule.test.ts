/**
 * The shared group rule for npm groups (issue 11 §1, §2): `protect_hosted_names` switches the
 * dependency-confusion guard per group, and a read that is a step of a write (`npm-command:
 * publish`) is answered from hosted members only, never asking the upstream.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { NpmHttp } from './client.ts';

describe('npm group: protect_hosted_names and write-step reads', () => {
  let upstream: TestServer;
  let guarded: TestServer;
  let open: TestServer;

  before(async () => {
    upstream = await startTestServer();
    const up = new NpmHttp(`${upstream.url}/npm`);
    for (const version of ['1.0.0', '2.0.0']) await up.publish({ name: 'dual-name', version });
    await up.publish({ name: 'only-upstream', version: '3.0.0' });
    const npm = { proxy: `${upstream.url}/npm/`, metadata_ttl: 0 };
    guarded = await startTestServer({ config: { npm } });
    open = await startTestServer({ config: { npm: { ...npm, protect_hosted_names: false } } });
    for (const server of [guarded, open]) {
      const reply = await new NpmHttp(`${server.url}/npm`).publish({
        name: 'dual-name',
        version: '1.5.0',
      });
      assert.equal(reply.status, 201);
    }
  });
  after(async () => {
    await guarded.close();
    await open.close();
    await upstream.close();
  });

  const versions = async (
    server: TestServer,
    name: string,
    headers: Record<string, string> = {},
  ) => {
    const res = await fetch(`${server.url}/npm/${name}`, { headers });
    const text = await res.text();
    return {
      status: res.status,
      versions:
        res.status === 200 ? Object.keys((JSON.parse(text) as { versions: object }).versions) : [],
    };
  };

  test('default: a hosted name is served from hosted only', async () => {
    assert.deepEqual((await versions(guarded, 'dual-name')).versions, ['1.5.0']);
  });

  test('protect_hosted_names = false: hosted and upstream versions are merged, hosted first', async () => {
    assert.deepEqual((await versions(open, 'dual-name')).versions, ['1.0.0', '1.5.0', '2.0.0']);
    const env = await startTestServer({
      config: { npm: { proxy: `${upstream.url}/npm/` } },
      env: { NORA_NPM_PROTECT_HOSTED_NAMES: 'false' },
    });
    try {
      await new NpmHttp(`${env.url}/npm`).publish({ name: 'dual-name', version: '1.5.0' });
      assert.deepEqual((await versions(env, 'dual-name')).versions, ['1.0.0', '1.5.0', '2.0.0']);
    } finally {
      await env.close();
    }
  });

  test('a read sent by `npm publish` never reaches the upstream; a plain read does', async () => {
    const asPublish = await versions(guarded, 'only-upstream', { 'npm-command': 'publish' });
    assert.equal(asPublish.status, 404);
    const plain = await versions(guarded, 'only-upstream');
    assert.deepEqual(plain.versions, ['3.0.0']);
    // The hosted name still answers a publish-step read (npm compares with the latest version).
    const hosted = await versions(guarded, 'dual-name', { 'npm-command': 'publish' });
    assert.deepEqual(hosted.versions, ['1.5.0']);
  });
});
