/**
 * DELETE of a snapshot file's non-unique name (trial 25 fmts F5): `…/2.0-SNAPSHOT/demo-2.0-SNAPSHOT.jar`
 * is stored by no deploy of timestamped builds, yet a GET answers it with the newest build. The
 * DELETE said 404 "no such file", which the next GET contradicts; it is now 409 naming the newest
 * build, how to delete it or the whole version, and the builds stored. Nothing is deleted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { emptyJar } from '../../helpers/zip-fixtures.ts';

const DIR = 'org/fm/demo/2.0-SNAPSHOT';
const ALIAS = `${DIR}/demo-2.0-SNAPSHOT.jar`;
const BUILDS = ['demo-2.0-20261205.054000-1.jar', 'demo-2.0-20261205.054430-2.jar'];

describe('maven: DELETE of a snapshot name that resolves to a build', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    for (const [i, name] of BUILDS.entries()) {
      const res = await fetch(`${server.url}/maven2/${DIR}/${name}`, {
        method: 'PUT',
        body: emptyJar(`build ${i + 1}`),
      });
      assert.equal(res.status, 201, await res.text());
    }
  });
  after(() => server.close());

  for (const prefix of ['/maven2', '/repository/maven-hosted']) {
    test(`through ${prefix}: 409 naming the newest build and how to delete, nothing deleted`, async () => {
      const get = await fetch(`${server.url}${prefix}/${ALIAS}`);
      assert.equal(get.status, 200);
      assert.equal(await get.text(), emptyJar('build 2'));
      const res = await fetch(`${server.url}${prefix}/${ALIAS}`, { method: 'DELETE' });
      const text = await res.text();
      assert.equal(res.status, 409, text);
      assert.match(
        text,
        new RegExp(
          `${ALIAS} names no stored file: it is the snapshot name a GET answers with the newest build, demo-2\\.0-20261205\\.054430-2\\.jar; ` +
            `DELETE ${DIR}/demo-2\\.0-20261205\\.054430-2\\.jar deletes that build \\(the name then answers the one before it\\), DELETE ${DIR}/ every build of 2\\.0-SNAPSHOT\\. ` +
            `Builds stored \\(newest first\\): demo-2\\.0-20261205\\.054430-2\\.jar, demo-2\\.0-20261205\\.054000-1\\.jar`,
        ),
      );
      // mvn and Gradle print only the status line: the reason phrase says it too.
      assert.match(res.statusText, /names no stored file/);
      assert.equal((await fetch(`${server.url}${prefix}/${ALIAS}`)).status, 200);
    });
  }

  test('a snapshot name with no build stored is still 404 no such file', async () => {
    const res = await fetch(`${server.url}/maven2/${DIR}/demo-2.0-SNAPSHOT-sources.jar`, {
      method: 'DELETE',
    });
    assert.equal(res.status, 404);
    assert.match(await res.text(), /no such file to delete/);
  });

  test('deleting the named build works; the name then answers the build before it', async () => {
    const del = await fetch(`${server.url}/maven2/${DIR}/${BUILDS[1]}`, { method: 'DELETE' });
    assert.equal(del.status, 200, await del.text());
    assert.equal(await (await fetch(`${server.url}/maven2/${ALIAS}`)).text(), emptyJar('build 1'));
  });
});
