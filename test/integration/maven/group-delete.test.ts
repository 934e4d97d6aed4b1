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
        assert.equal(answer.allow, 'GET, HEAD', path);
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
      const put = await send(`${server.url}/maven2/org/acme/own/1.0/own-1.0.jar`, 'PUT', 'own');
      assert.equal(put.status, 201, put.body);
      const deleted = await send(`${server.url}/maven2/org/acme/own/1.0/`, 'DELETE');
      assert.equal(deleted.status, 200, deleted.body);
    } finally {
      await upstream.close();
    }
  });
});
