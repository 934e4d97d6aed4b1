/**
 * Rules that say only who may read never choose which group member answers (tenth trial F4).
 * A read rule over every path of the proxy member — the natural way to say "signed-in users may
 * use the upstream cache" — made the group answer every name from the proxy alone: hosted names
 * came from the upstream (npm installed an attacker's 9.9.9 of a private package), and a hosted
 * name the upstream lacked was a 404 asked upstream. A catch-all read rule beside the
 * "immutable releases" recipe let the upstream answer for a not-yet-published name of the scope
 * the recipe gives the hosted member. Now only a rule giving writers a path of some members makes
 * those members hold it, and a proxy never does: the dependency-confusion guard holds.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { basic, rule } from '../../helpers/auth.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { NpmHttp } from '../npm/client.ts';
import { escapedName, publishBody } from '../npm/fixtures.ts';

const recipe = rule({
  repositories: ['npm-hosted'],
  paths: ['@corp/*'],
  users: ['alice'],
  actions: ['read', 'write'],
});
/** Signed-in users may use the upstream cache: a read rule over every path of the proxy member. */
const proxyReaders = rule({ repositories: ['npm-proxy'], users: ['*'], actions: ['read'] });
const catchAllRead = rule({ users: ['*'], actions: ['read'] });

for (const [label, rules] of [
  ['a read rule on the proxy member', [proxyReaders]],
  [
    'the recipe, a read rule on the proxy and a catch-all read rule',
    [recipe, proxyReaders, catchAllRead],
  ],
] as const) {
  describe(`read-only rules and the dependency-confusion guard: ${label}`, () => {
    let upstream: TestServer;
    let server: TestServer;
    const alice = basic('alice', 'alice-pw-1');
    const root = basic('root', 'root-pw-1');

    before(async () => {
      upstream = await startTestServer();
      const up = new NpmHttp(`${upstream.url}/npm`);
      // An attacker's versions of the private names, and an ordinary public package.
      await up.publish({ name: 'internal-only', version: '9.9.9' });
      await up.publish({ name: '@corp/evil', version: '9.9.9' });
      await up.publish({ name: 'public-dep', version: '1.0.0' });
      server = await startTestServer({
        config: {
          npm: { proxy: `${upstream.url}/npm/`, metadata_ttl: 0 },
          auth: { enabled: true, anonymous_read: false, rules: [...rules] },
        },
      });
      const { users } = server.app.context.identity;
      await users.create('alice', 'alice-pw-1', undefined, ['read', 'write']);
      // A rule on a member owns the paths of its groups too (docs/auth.md): an admin publishes.
      await users.create('root', 'root-pw-1', undefined, ['read', 'write', 'admin']);
      const hosted = new NpmHttp(`${server.url}/npm`);
      for (const [name, who] of [
        ['internal-only', root],
        ['brand-new-secret', root],
        ['@corp/lib', root],
      ] as const) {
        const body = publishBody({ name, version: '1.0.0' }, hosted.base);
        const reply = await hosted.request('PUT', `/${escapedName(name)}`, body, {
          authorization: who,
        });
        assert.equal(reply.status, 201, `${name}: ${reply.status}`);
      }
    });
    after(async () => {
      await server.close();
      await upstream.close();
    });

    const versions = async (name: string) => {
      const res = await fetch(`${server.url}/npm/${escapedName(name)}`, {
        headers: { authorization: alice },
      });
      const text = await res.text();
      return {
        status: res.status,
        versions:
          res.status === 200
            ? Object.keys((JSON.parse(text) as { versions: object }).versions)
            : [],
      };
    };

    test('a hosted name is served from the hosted member only', async () => {
      assert.deepEqual(await versions('internal-only'), { status: 200, versions: ['1.0.0'] });
      assert.deepEqual(await versions('brand-new-secret'), { status: 200, versions: ['1.0.0'] });
      assert.deepEqual(await versions('@corp/lib'), { status: 200, versions: ['1.0.0'] });
    });

    if (rules.includes(recipe)) {
      test('a name of the scope the recipe gives npm-hosted never comes from the upstream', async () => {
        assert.equal((await versions('@corp/evil')).status, 404);
      });
    }

    test('the proxy still answers for public names', async () => {
      assert.deepEqual(await versions('public-dep'), { status: 200, versions: ['1.0.0'] });
    });
  });
}
