/**
 * `shadow_check_upstream` (npm, over HTTP): the takeover check of a first publish asks a proxy's
 * upstream about a name nobody installed through NORA yet — only where configured (the default
 * stays cache-only: test/integration/npm/group-takeover.test.ts). An upstream that has the name:
 * 409; one that lacks it: published; one unreachable or hung: published, waited for at most
 * `[circuit_breaker] stale_after`, with a `warnings` line in the answer. Per proxy repository:
 * `[[repositories]] shadow_check_upstream` wins over the section's.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { NpmHttp } from './client.ts';

const NOT_ASKED =
  "could not ask npm-proxy whether its upstream has package up-x (unreachable or too slow, nothing cached): if it does, groups guarding hosted names now serve only npm-hosted's versions of it (protect_hosted_names)";

describe('npm: shadow_check_upstream', () => {
  test('a name the upstream has (never read here) is refused; one it lacks publishes', async () => {
    await using upstream = await startTestServer();
    const up = new NpmHttp(`${upstream.url}/npm`);
    assert.equal((await up.publish({ name: 'up-unread', version: '1.0.0' })).status, 201);
    await using server = await startTestServer({
      config: { npm: { proxy: `${upstream.url}/npm/`, shadow_check_upstream: true } },
    });
    const group = new NpmHttp(`${server.url}/npm`);
    const refused = await group.publish({ name: 'up-unread', version: '9.0.0' });
    assert.equal(refused.status, 409, refused.text);
    assert.match(
      refused.json<{ error: string }>().error,
      /^refusing to publish package up-unread: it would hide npm-proxy's versions of it in group npm \(\[npm\] shadow_names allows it\)\./,
    );
    assert.doesNotMatch(refused.text, /127\.0\.0\.1/, 'no upstream host in the answer');
    const still = (await group.request('GET', '/up-unread')).json<{ versions: object }>();
    assert.deepEqual(Object.keys(still.versions), ['1.0.0'], 'the upstream package still served');

    // Directly to the hosted member too (the group would lose the upstream's versions as well).
    const hosted = new NpmHttp(`${server.url}/repository/npm-hosted`);
    await using server2 = await startTestServer({
      config: { npm: { proxy: `${upstream.url}/npm/`, shadow_check_upstream: true } },
    });
    const hosted2 = new NpmHttp(`${server2.url}/repository/npm-hosted`);
    assert.equal((await hosted2.publish({ name: 'up-unread', version: '9.0.0' })).status, 409);

    const fresh = await hosted.publish({ name: 'corp-only', version: '1.0.0' });
    assert.equal(fresh.status, 201, fresh.text);
    assert.equal(fresh.json<{ warnings?: unknown }>().warnings, undefined, 'nothing to warn of');
  });

  test('a takeover shadow_names allows is said in the answer too', async () => {
    await using upstream = await startTestServer();
    const up = new NpmHttp(`${upstream.url}/npm`);
    assert.equal((await up.publish({ name: 'up-mine', version: '1.0.0' })).status, 201);
    await using server = await startTestServer({
      config: {
        npm: { proxy: `${upstream.url}/npm/`, shadow_check_upstream: true, shadow_names: ['up-*'] },
      },
    });
    const res = await new NpmHttp(`${server.url}/npm`).publish({
      name: 'up-mine',
      version: '9.0.0',
    });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(res.json<{ warnings: string[] }>().warnings, [
      "package up-mine is new in npm-hosted and group npm serves it from its proxy member npm-proxy; from now on that group serves only npm-hosted's versions of it (protect_hosted_names; allowed by shadow_names)",
    ]);
  });

  test('an unreachable upstream does not block the publish: the answer warns', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/`;
    await new Promise((resolve) => closed.close(resolve));
    await using server = await startTestServer({
      config: { npm: { proxy: url, shadow_check_upstream: true, proxy_timeout: 3 } },
    });
    const group = new NpmHttp(`${server.url}/npm`);
    const res = await group.publish({ name: 'up-x', version: '1.0.0' });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(res.json<{ warnings: string[] }>().warnings, [NOT_ASKED]);
  });

  test('a hung upstream: the publish waits no longer than [circuit_breaker] stale_after', async () => {
    let open = 0;
    const hung = http.createServer((req) => {
      open++;
      req.socket.once('close', () => open--);
    });
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(hung.address() as AddressInfo).port}/`;
    try {
      await using server = await startTestServer({
        config: {
          npm: { proxy: url, shadow_check_upstream: true, proxy_timeout: 5 },
          circuit_breaker: { stale_after: 1 },
        },
      });
      const group = new NpmHttp(`${server.url}/npm`);
      const started = Date.now();
      const res = await group.publish({ name: 'up-x', version: '1.0.0' });
      assert.equal(res.status, 201, res.text);
      assert.ok(Date.now() - started < 4000, `answered in ${Date.now() - started} ms`);
      assert.deepEqual(res.json<{ warnings: string[] }>().warnings, [NOT_ASKED]);
      assert.equal(open, 1, 'the upstream look-up is still open (it ends in the background)');
    } finally {
      hung.closeAllConnections();
      await new Promise((resolve) => hung.close(resolve));
    }
  });

  test('per proxy repository: [[repositories]] shadow_check_upstream wins over the section', async () => {
    await using upstream = await startTestServer();
    const up = new NpmHttp(`${upstream.url}/npm`);
    for (const name of ['up-a', 'up-b']) {
      assert.equal((await up.publish({ name, version: '1.0.0' })).status, 201);
    }
    const repositories = (ask: boolean) => [
      { name: 'corp-hosted', format: 'npm', kind: 'hosted' },
      {
        name: 'corp-proxy',
        format: 'npm',
        kind: 'proxy',
        upstreams: [`${upstream.url}/npm/`],
        shadow_check_upstream: ask,
      },
      { name: 'corp', format: 'npm', kind: 'group', members: ['corp-hosted', 'corp-proxy'] },
    ];
    await using asks = await startTestServer({
      config: { npm: { shadow_check_upstream: false }, repositories: repositories(true) },
    });
    const refused = await new NpmHttp(`${asks.url}/repository/corp`).publish({
      name: 'up-a',
      version: '9.0.0',
    });
    assert.equal(refused.status, 409, refused.text);
    assert.match(refused.text, /it would hide corp-proxy's versions of it in group corp/);
    await using cacheOnly = await startTestServer({
      config: { npm: { shadow_check_upstream: true }, repositories: repositories(false) },
    });
    const published = await new NpmHttp(`${cacheOnly.url}/repository/corp`).publish({
      name: 'up-b',
      version: '9.0.0',
    });
    assert.equal(published.status, 201, published.text);
  });
});
