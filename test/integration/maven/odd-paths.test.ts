/**
 * A read of a path that cannot name a stored file is "not found" (404), as Central answers: a
 * new-user trial (F8) got `400 invalid characters in path segment "${revision}"` for the POM a
 * consumer asked after a parent POM with an unresolved `${revision}` had been deployed, and mvn
 * reported a transfer failure instead of "could not find artifact". Deploys keep their 400, and
 * a POM whose own or parent version is still an unresolved property is refused at deploy time,
 * as is one whose version (own, else inherited) is not the directory it is deployed in.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestServer } from '../../helpers/server.ts';
import { startTestServer } from '../../helpers/server.ts';

const ODD = [
  'com/acme/platform/platform-parent/$%7Brevision%7D/platform-parent-$%7Brevision%7D.pom',
  'com/acme/lib/1.0/lib-1.0.jar;x',
  'com/acme/lib/1.0%20beta/lib-1.0%20beta.jar',
  'com/acme/lib/1.0/lib-1.0.jar.sha1.md5',
  'com/acme/lib/%E2%82%AC/maven-metadata.xml',
];

describe('odd Maven paths: 404 for reads, 400 for deploys', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ config: { maven: { proxies: [] } } });
  });
  after(() => server.close());

  for (const base of ['/maven2', '/repository/maven-hosted']) {
    test(`GET/HEAD at ${base} answer 404, PUT 400`, async () => {
      for (const path of ODD) {
        for (const method of ['GET', 'HEAD']) {
          const res = await fetch(`${server.url}${base}/${path}`, { method });
          const body = await res.text();
          assert.equal(res.status, 404, `${method} ${path}: ${res.status} ${body}`);
        }
        const put = await fetch(`${server.url}${base}/${path}`, { method: 'PUT', body: 'x' });
        assert.equal(put.status, 400, `PUT ${path}: ${put.status}`);
      }
    });
  }

  test('a POM whose version or parent version is an unresolved property is refused', async () => {
    const pom = (version: string, parent = '') =>
      `<project><modelVersion>4.0.0</modelVersion>${parent}<groupId>com.acme.p</groupId>` +
      `<artifactId>app</artifactId><version>${version}</version></project>`;
    const own = await fetch(`${server.url}/maven2/com/acme/p/app/1.0/app-1.0.pom`, {
      method: 'PUT',
      body: pom('${revision}'),
    });
    assert.equal(own.status, 400);
    assert.match(await own.text(), /version.*\$\{revision\}.*unresolved/);
    const parent = await fetch(`${server.url}/maven2/com/acme/p/app/1.0/app-1.0.pom`, {
      method: 'PUT',
      body: pom(
        '1.0',
        '<parent><groupId>com.acme.p</groupId><artifactId>parent</artifactId><version>${revision}${changelist}</version></parent>',
      ),
    });
    assert.equal(parent.status, 400);
    assert.match(await parent.text(), /parent version.*unresolved/);
    assert.equal((await fetch(`${server.url}/maven2/com/acme/p/app/1.0/app-1.0.pom`)).status, 404);
    // Properties elsewhere (dependency versions) are Maven's to resolve: accepted.
    const fine = await fetch(`${server.url}/maven2/com/acme/p/app/1.0/app-1.0.pom`, {
      method: 'PUT',
      body: pom(
        '1.0',
        '<properties><x.version>2.0</x.version></properties><dependencies><dependency><groupId>x</groupId><artifactId>x</artifactId><version>${x.version}</version></dependency></dependencies>',
      ),
    });
    assert.equal(fine.status, 201, await fine.text());
  });

  test('a POM whose version is not its version directory is refused, nothing stored (trial13 F1)', async () => {
    const pom = (artifactId: string, version: string, parent = '') =>
      `<project><modelVersion>4.0.0</modelVersion>${parent}<groupId>org.x</groupId>` +
      `<artifactId>${artifactId}</artifactId>${version === '' ? '' : `<version>${version}</version>`}</project>`;
    const parent = (version: string) =>
      `<parent><groupId>org.x</groupId><artifactId>parent</artifactId><version>${version}</version></parent>`;
    const cases: [string, string, RegExp][] = [
      [
        'org/x/g2/1.0/g2-1.0.pom',
        pom('g2', '2.0'),
        /declares version "2\.0" but is deployed at version "1\.0"/,
      ],
      ['org/x/g8/1.0/g8-1.0.pom', pom('g8', '1.0-SNAPSHOT'), /declares version "1\.0-SNAPSHOT"/],
      [
        'org/x/g9/1.0-SNAPSHOT/g9-1.0-20261203.101010-1.pom',
        pom('g9', '7.0'),
        /declares version "7\.0" but is deployed at version "1\.0-SNAPSHOT"/,
      ],
      [
        'org/x/g7/1.0/g7-1.0.pom',
        pom('g7', '', parent('2.0')),
        /inherits version "2\.0" from its <parent> but is deployed at version "1\.0"/,
      ],
    ];
    for (const base of ['/maven2', '/repository/maven-hosted']) {
      for (const [path, body, message] of cases) {
        const res = await fetch(`${server.url}${base}/${path}`, { method: 'PUT', body });
        const text = await res.text();
        assert.equal(res.status, 400, `${base}/${path}: ${res.status} ${text}`);
        assert.match(text, message);
        // Maven's error style: plain text, the reason in the status line (mvn prints only that).
        assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
        assert.match(res.statusText, message);
        assert.equal((await fetch(`${server.url}${base}/${path}`)).status, 404, path);
        const dir = path.split('/').slice(0, 3).join('/');
        const metadata = await fetch(`${server.url}${base}/${dir}/maven-metadata.xml`);
        assert.equal(metadata.status, 404, `${dir} metadata lists nothing`);
      }
    }
    // The same POMs at their own versions land: a snapshot build's POM says the snapshot version.
    for (const [path, body] of [
      ['org/x/g2/2.0/g2-2.0.pom', pom('g2', '2.0')],
      ['org/x/g9/1.0-SNAPSHOT/g9-1.0-20261203.101010-1.pom', pom('g9', '1.0-SNAPSHOT')],
      ['org/x/g7/2.0/g7-2.0.pom', pom('g7', '', parent('2.0'))],
    ] as const) {
      const res = await fetch(`${server.url}/maven2/${path}`, { method: 'PUT', body });
      assert.equal(res.status, 201, `${path}: ${await res.text()}`);
    }
  });
});
