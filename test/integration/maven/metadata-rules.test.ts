/**
 * `maven-metadata.xml` is a listing, and listings are filtered by the read rules (docs/auth.md
 * "Listings are filtered, not refused"). Found by a new-user trial (F5): with a rule reserving
 * `com/acme/ck2/lib/2.0/**` for alice, anonymous clients and bob got artifact metadata listing
 * 2.0 as `latest`/`release` (a `[1.0,)` build then picked 2.0 and failed with 401), and the
 * group-level plugin metadata listed a reserved plugin and its prefix.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { TestServer } from '../../helpers/server.ts';
import { startTestServer } from '../../helpers/server.ts';
import { type FixtureUpstream, startFixtureUpstream } from './fixture-upstream.ts';
import { emptyJar } from '../../helpers/zip-fixtures.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

const pom = (g: string, a: string, v: string, packaging = 'jar') =>
  `<project><modelVersion>4.0.0</modelVersion><groupId>${g}</groupId><artifactId>${a}</artifactId>` +
  `<version>${v}</version><packaging>${packaging}</packaging></project>`;

const versionsOf = (xml: string) =>
  [...xml.matchAll(/<version>([^<]+)<\/version>/g)].map((m) => m[1]);
const element = (xml: string, name: string) =>
  new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];

describe('maven-metadata.xml lists only what the caller may read', () => {
  let server: TestServer;
  let upstream: FixtureUpstream;
  const alice = basic('alice', 'alice-pw-1');
  const bob = basic('bob', 'bob-pw-1');

  before(async () => {
    upstream = await startFixtureUpstream();
    await upstream.put(
      'org/up/lib/maven-metadata.xml',
      '<metadata><groupId>org.up</groupId><artifactId>lib</artifactId><versioning>' +
        '<latest>3.0</latest><release>3.0</release><versions><version>1.0</version>' +
        '<version>3.0</version></versions><lastUpdated>20261201000000</lastUpdated>' +
        '</versioning></metadata>',
    );
    server = await startTestServer({
      config: {
        maven: { proxies: [upstream.url()] },
        auth: {
          enabled: true,
          anonymous_read: true,
          rules: [
            {
              repositories: ['maven-hosted'],
              paths: ['com/acme/ck2/lib/2.0/**'],
              users: ['alice'],
              groups: [],
              tokens: [],
              anonymous: false,
              actions: ['read', 'write', 'delete'],
            },
            {
              repositories: ['maven-hosted'],
              paths: ['com/acme/only/secret/1.0/**', 'com/acme/tools/secret-maven-plugin/**'],
              users: ['alice'],
              groups: [],
              tokens: [],
              anonymous: false,
              actions: ['read', 'write', 'delete'],
            },
            {
              repositories: ['maven-proxy'],
              paths: ['org/up/lib/3.0/**'],
              users: ['alice'],
              groups: [],
              tokens: [],
              anonymous: false,
              actions: ['read'],
            },
          ],
        },
      },
    });
    const { users } = server.app.context.identity;
    await users.create('alice', 'alice-pw-1', undefined, ['read', 'write']);
    await users.create('bob', 'bob-pw-1', undefined, ['read', 'write']);
    const deploy = async (g: string, a: string, v: string, packaging = 'jar') => {
      const dir = `${g.replaceAll('.', '/')}/${a}/${v}`;
      for (const [name, body] of [
        [`${a}-${v}.pom`, pom(g, a, v, packaging)],
        [`${a}-${v}.jar`, emptyJar(`jar ${g}:${a}:${v}`)],
      ] as const) {
        const put = await fetch(`${server.url}/repository/maven-hosted/${dir}/${name}`, {
          method: 'PUT',
          headers: { authorization: alice },
          body,
        });
        assert.ok(put.status === 201, `${dir}/${name}: ${put.status} ${await put.text()}`);
      }
    };
    await deploy('com.acme.ck2', 'lib', '1.0');
    await deploy('com.acme.ck2', 'lib', '2.0');
    await deploy('com.acme.ck2', 'lib', '1.5');
    await deploy('com.acme.only', 'secret', '1.0');
    await deploy('com.acme.tools', 'public-maven-plugin', '1.0', 'maven-plugin');
    await deploy('com.acme.tools', 'secret-maven-plugin', '1.0', 'maven-plugin');
  });
  after(async () => {
    await server.close();
    await upstream.close();
  });

  const get = async (url: string, authorization?: string) => {
    const res = await fetch(`${server.url}${url}`, {
      headers: authorization === undefined ? {} : { authorization },
    });
    return { status: res.status, body: await res.text() };
  };

  for (const base of ['/maven2', '/repository/maven-hosted']) {
    test(`artifact metadata at ${base}: hidden versions are left out, latest/release recomputed`, async () => {
      const url = `${base}/com/acme/ck2/lib/maven-metadata.xml`;
      const full = await get(url, alice);
      assert.equal(full.status, 200);
      assert.deepEqual(versionsOf(full.body), ['1.0', '1.5', '2.0']);
      assert.equal(element(full.body, 'latest'), '2.0');
      for (const who of [undefined, bob]) {
        const seen = await get(url, who);
        assert.equal(seen.status, 200, seen.body);
        assert.deepEqual(versionsOf(seen.body), ['1.0', '1.5'], seen.body);
        assert.equal(element(seen.body, 'latest'), '1.5');
        assert.equal(element(seen.body, 'release'), '1.5');
        assert.equal(element(seen.body, 'lastUpdated'), element(full.body, 'lastUpdated'));
        // The checksums are those of the bytes this caller got.
        for (const alg of ['sha1', 'md5', 'sha256', 'sha512'] as const) {
          const sum = await get(`${url}.${alg}`, who);
          assert.equal(sum.status, 200);
          assert.equal(sum.body, createHash(alg).update(seen.body).digest('hex'), alg);
        }
      }
      // alice's checksum is that of the whole document (and twice: the kept answer too).
      for (let i = 0; i < 2; i++) {
        const sum = await get(`${url}.sha1`, alice);
        assert.equal(sum.body, createHash('sha1').update(full.body).digest('hex'));
        assert.deepEqual(versionsOf((await get(url, alice)).body), ['1.0', '1.5', '2.0']);
      }
    });
  }

  test('an artifact with no readable version: refused as its files are', async () => {
    const url = '/maven2/com/acme/only/secret/maven-metadata.xml';
    const anonymous = await get(url);
    assert.equal(anonymous.status, 401, anonymous.body);
    assert.doesNotMatch(anonymous.body, /1\.0/);
    assert.equal((await get(url, bob)).status, 403);
    assert.equal((await get(`${url}.sha1`, bob)).status, 403);
    assert.deepEqual(versionsOf((await get(url, alice)).body), ['1.0']);
  });

  test('group-level plugin metadata lists only the plugins the caller may read', async () => {
    const url = '/maven2/com/acme/tools/maven-metadata.xml';
    const full = await get(url, alice);
    assert.match(full.body, /secret-maven-plugin/);
    assert.match(full.body, /public-maven-plugin/);
    for (const who of [undefined, bob]) {
      const seen = await get(url, who);
      assert.equal(seen.status, 200);
      assert.doesNotMatch(seen.body, /secret/);
      assert.match(seen.body, /<prefix>public<\/prefix>/);
      const sum = await get(`${url}.sha256`, who);
      assert.equal(sum.body, createHash('sha256').update(seen.body).digest('hex'));
    }
  });

  test('proxied metadata is filtered by the rules on the proxy', async () => {
    for (const base of ['/maven2', '/repository/maven-proxy']) {
      const url = `${base}/org/up/lib/maven-metadata.xml`;
      const full = await get(url, alice);
      assert.deepEqual(versionsOf(full.body), ['1.0', '3.0'], full.body);
      const seen = await get(url);
      assert.equal(seen.status, 200);
      assert.deepEqual(versionsOf(seen.body), ['1.0'], seen.body);
      assert.equal(element(seen.body, 'latest'), '1.0');
      assert.equal(element(seen.body, 'release'), '1.0');
    }
  });

  test('with no rule under an artifact, every caller gets the same document', async () => {
    await fetch(`${server.url}/repository/maven-hosted/org/open/x/1.0/x-1.0.jar`, {
      method: 'PUT',
      headers: { authorization: alice },
      body: emptyJar('x'),
    });
    const url = '/maven2/org/open/x/maven-metadata.xml';
    const bodies = await Promise.all([undefined, bob, alice].map((who) => get(url, who)));
    for (const b of bodies) assert.equal(b.body, bodies[2]?.body);
  });
});
