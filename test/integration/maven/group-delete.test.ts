/**
 * A DELETE through a Maven group of what only its proxy member holds (tenth session, trial
 * ocijvm F3): a version cached by the proxy member, served by a GET of the same group, got
 * `404 … is neither a stored artifact … nor a stored version`. Now 405 saying it is cached from
 * an upstream by the proxy member and cannot be deleted through the group, in the reason phrase
 * (mvn prints only the status line) and the body; what nobody holds keeps its 404, and what the
 * write member holds is deleted as before.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { startFixtureUpstream } from './fixture-upstream.ts';
import { emptyJar } from '../../helpers/zip-fixtures.ts';

/** Status, reason phrase and body, as a Java client reads them. */
function send(
  url: string,
  method: string,
  body?: string,
): Promise<{ status: number; reason: string; body: string; allow: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const allow = res.headers.allow;
        resolve({
          status: res.statusCode ?? 0,
          reason: res.statusMessage ?? '',
          body: Buffer.concat(chunks).toString('utf8'),
          allow,
        });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('Maven group: DELETE of proxied content', () => {
  test('405 naming the proxy member for a cached version, artifact and file; 404 and hosted deletes unchanged', async () => {
    const upstream = await startFixtureUpstream();
    try {
      await upstream.put('org/acme/cached/1.0/cached-1.0.jar', 'jar bytes');
      await upstream.put('org/acme/cached/1.0/cached-1.0.pom', '<project/>');
      await using server = await startTestServer({
        config: { maven: { proxies: [{ url: upstream.url() }] } },
      });
      const jar = await send(`${server.url}/maven2/org/acme/cached/1.0/cached-1.0.jar`, 'GET');
      assert.equal(jar.status, 200, jar.body);
      // The cached file's row is written in the background after the answer (20 s bounds a
      // failure only).
      const deadline = Date.now() + 20_000;
      let refused = await send(`${server.url}/maven2/org/acme/cached/1.0/`, 'DELETE');
      while (refused.status === 404 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        refused = await send(`${server.url}/maven2/org/acme/cached/1.0/`, 'DELETE');
      }
      for (const [path, shown] of [
        ['org/acme/cached/1.0/', 'org/acme/cached/1.0/'],
        ['org/acme/cached/', 'org/acme/cached/'],
        ['org/acme/cached/1.0/cached-1.0.jar', 'org/acme/cached/1.0/cached-1.0.jar'],
      ] as const) {
        const answer = await send(`${server.url}/maven2/${path}`, 'DELETE');
        assert.equal(answer.status, 405, `${path}: ${answer.body}`);
        // A file still takes a deploy (PUT); a directory takes none (trial 27 devA).
        assert.equal(answer.allow, path.endsWith('/') ? 'GET, HEAD' : 'GET, HEAD, PUT', path);
        const expected = new RegExp(
          `^${shown.replace(/[.]/g, '\\.')} is cached from an upstream by proxy member maven-proxy of group maven, not stored in its write member maven-hosted: cached upstream files cannot be deleted through the group`,
        );
        assert.match(answer.body, expected, path);
        assert.match(
          answer.reason,
          /^Method Not Allowed - org\/acme\/cached\/.* is cached from an upstream/,
          path,
        );
      }
      // Still served.
      assert.equal(
        (await send(`${server.url}/maven2/org/acme/cached/1.0/cached-1.0.jar`, 'GET')).status,
        200,
      );
      // Nobody holds it: 404 as before.
      const unknown = await send(`${server.url}/maven2/org/acme/nothing/1.0/`, 'DELETE');
      assert.equal(unknown.status, 404);
      assert.match(unknown.body, /is neither a stored artifact/);
      // The write member's own version is deleted through the group.
      const put = await send(
        `${server.url}/maven2/org/acme/own/1.0/own-1.0.jar`,
        'PUT',
        emptyJar('own'),
      );
      assert.equal(put.status, 201, put.body);
      const deleted = await send(`${server.url}/maven2/org/acme/own/1.0/`, 'DELETE');
      assert.equal(deleted.status, 200, deleted.body);
    } finally {
      await upstream.close();
    }
  });

  test('a groupId DELETE gets one 400 whoever holds what is under it; a file DELETE says the file is not stored (trial13 F2)', async () => {
    const upstream = await startFixtureUpstream();
    try {
      await upstream.put('com/cached/lib/1.0/lib-1.0.jar', 'jar bytes');
      await upstream.put('org/apache/up/1.0/up-1.0.jar', 'jar bytes');
      await using server = await startTestServer({
        config: { maven: { proxies: [{ url: upstream.url() }] } },
      });
      for (const path of ['com/cached/lib/1.0/lib-1.0.jar', 'org/apache/up/1.0/up-1.0.jar']) {
        assert.equal((await send(`${server.url}/maven2/${path}`, 'GET')).status, 200, path);
      }
      for (const path of ['org/x/lay/1.0/lay-1.0.tar.gz', 'org/x/lay/1.0/lay-1.0.jar']) {
        const put = await send(`${server.url}/maven2/${path}`, 'PUT', emptyJar('hosted'));
        assert.equal(put.status, 201, put.body);
      }
      // The proxy's rows are written behind its answers (20 s bounds a failure only).
      const deadline = Date.now() + 20_000;
      while (
        (await send(`${server.url}/maven2/com/cached/lib/1.0/`, 'DELETE')).status === 404 &&
        Date.now() < deadline
      ) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const groupId = (shown: string) =>
        new RegExp(
          `^${shown.replace(/[.]/g, '\\.')} is a groupId, or the start of one: a DELETE removes one artifact \\(<groupId dirs>/<artifactId>/\\), one version \\(…/<artifactId>/<version>/\\) or one file, never a whole groupId at once`,
        );
      // org/: hosted (org/x) and cached (org/apache) content below; com/ and com/cached/: only
      // the proxy's; org/x/: only maven-hosted's. One answer for all: it used to be a 405
      // "cached from an upstream" or a 404 "neither an artifact nor a version".
      for (const [base, dir] of [
        ['/maven2', 'org/'],
        ['/maven2', 'org/x/'],
        ['/maven2', 'com/'],
        ['/maven2', 'com/cached/'],
        ['/maven2', 'org/apache'],
        ['/repository/maven-hosted', 'org/'],
        ['/repository/maven-hosted', 'org/x/'],
      ] as const) {
        const answer = await send(`${server.url}${base}/${dir}`, 'DELETE');
        assert.equal(answer.status, 400, `${base}/${dir}: ${answer.body}`);
        const shown = dir.endsWith('/') ? dir : `${dir}/`;
        assert.match(answer.body, groupId(shown), `${base}/${dir}`);
        assert.match(answer.reason, /^Bad Request - .* is a groupId, or the start of one/);
      }
      // Nothing was deleted by those.
      for (const path of ['org/x/lay/1.0/lay-1.0.jar', 'com/cached/lib/1.0/lib-1.0.jar']) {
        assert.equal((await send(`${server.url}/maven2/${path}`, 'GET')).status, 200, path);
      }
      // A file: deleted once, then "not stored", named as the file it is (no `/` appended).
      const file = 'org/x/lay/1.0/lay-1.0.tar.gz';
      const first = await send(`${server.url}/maven2/${file}`, 'DELETE');
      assert.equal(first.status, 200, first.body);
      for (const base of ['/maven2', '/repository/maven-hosted']) {
        const again = await send(`${server.url}${base}/${file}`, 'DELETE');
        assert.equal(again.status, 404, again.body);
        assert.equal(
          again.body,
          'org/x/lay/1.0/lay-1.0.tar.gz is not stored in maven-hosted: no such file to delete\n',
        );
      }
      // Nobody holds anything under it: the 404 of before.
      const none = await send(`${server.url}/maven2/net/nothing/`, 'DELETE');
      assert.equal(none.status, 404);
      assert.match(none.body, /^net\/nothing\/ is neither a stored artifact .* in maven-hosted/);
    } finally {
      await upstream.close();
    }
  });

  test('a DELETE through a group that leaves files in other members says so (trial13 F9)', async () => {
    await using server = await startTestServer({
      config: {
        maven: { proxies: [] },
        repositories: [
          { name: 'releases', format: 'maven', kind: 'hosted', version_policy: 'release' },
          { name: 'snapshots', format: 'maven', kind: 'hosted', version_policy: 'snapshot' },
          { name: 'jvm-all', format: 'maven', kind: 'group', members: ['releases', 'snapshots'] },
        ],
      },
    });
    const R = `${server.url}/repository`;
    const pom = (v: string) =>
      `<project><modelVersion>4.0.0</modelVersion><groupId>org.layout</groupId><artifactId>dd</artifactId><version>${v}</version></project>`;
    assert.equal(
      (await send(`${R}/releases/org/layout/dd/5.0/dd-5.0.pom`, 'PUT', pom('5.0'))).status,
      201,
    );
    assert.equal(
      (
        await send(
          `${R}/snapshots/org/layout/dd/5.1-SNAPSHOT/dd-5.1-20261203.100000-1.pom`,
          'PUT',
          pom('5.1-SNAPSHOT'),
        )
      ).status,
      201,
    );
    const deleted = await send(`${R}/jvm-all/org/layout/dd/`, 'DELETE');
    assert.equal(deleted.status, 200, deleted.body);
    assert.equal(
      deleted.body,
      'deleted org.layout:dd (1 file) from releases, the write member of group jvm-all; the group still serves what other members hold under org/layout/dd/: member snapshots holds files (delete them at /repository/snapshots/org/layout/dd/)\n',
    );
    // What it names is what the group still serves.
    const metadata = await send(`${R}/jvm-all/org/layout/dd/maven-metadata.xml`, 'GET');
    assert.match(metadata.body, /<version>5\.1-SNAPSHOT<\/version>/);
    assert.doesNotMatch(metadata.body, /<version>5\.0<\/version>/);
    // Deleted where it names, nothing is left: a plain answer.
    const there = await send(`${R}/snapshots/org/layout/dd/`, 'DELETE');
    assert.equal(there.body, 'deleted org.layout:dd (1 file)\n');
    const none = await send(`${R}/jvm-all/org/layout/dd/`, 'DELETE');
    assert.equal(none.status, 404, none.body);
  });
});
