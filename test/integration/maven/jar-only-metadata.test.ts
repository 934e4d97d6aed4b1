/**
 * A version deployed with its jar and no POM (`mvn deploy:deploy-file -DgeneratePom=false`, or a
 * `curl -T`) is a legitimate version: the artifact-level maven-metadata.xml lists it, and its
 * `latest`, `release` and `lastUpdated` are computed from the same versions it lists (trial 34).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { zipLike } from '../../helpers/zip-fixtures.ts';

describe('maven metadata of a jar-only version', () => {
  let server: TestServer;
  let upstream: http.Server;
  const put = (path: string, body: Buffer | string) =>
    fetch(`${server.url}/maven2/${path}`, { method: 'PUT', body });
  const get = (path: string) => fetch(`${server.url}/maven2/${path}`);

  before(async () => {
    // The trial's set-up: the default group, its proxy member's upstream answering 404.
    upstream = http.createServer((_req, res) => res.writeHead(404).end());
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const port = (upstream.address() as AddressInfo).port;
    server = await startTestServer({
      config: { maven: { proxies: [`http://127.0.0.1:${port}/`] } },
    });
  });
  after(async () => {
    await server.close();
    await new Promise((resolve) => upstream.close(resolve));
  });

  test('versions, latest, release and lastUpdated come from the same set', async () => {
    const versioning = async () => {
      const md = await get('com/half/x/maven-metadata.xml');
      assert.equal(md.status, 200);
      const text = await md.text();
      const listed = [...text.matchAll(/<version>([^<]+)<\/version>/g)].map((m) => m[1]);
      return {
        listed,
        latest: /<latest>([^<]+)<\/latest>/.exec(text)?.[1],
        release: /<release>([^<]+)<\/release>/.exec(text)?.[1],
        lastUpdated: /<lastUpdated>(\d{14})<\/lastUpdated>/.exec(text)?.[1],
      };
    };
    let r = await put('com/half/x/1.0/x-1.0.jar', zipLike(2000));
    assert.equal(r.status, 201, await r.text());
    let v = await versioning();
    assert.deepEqual(v.listed, ['1.0']);
    assert.equal(v.latest, '1.0');
    assert.equal(v.release, '1.0');
    assert.ok(v.lastUpdated);
    // A classifier file of the same version changes nothing listed.
    r = await put('com/half/x/1.0/x-1.0-sources.jar', zipLike(2000));
    assert.equal(r.status, 201, await r.text());
    assert.deepEqual((await versioning()).listed, ['1.0']);
    // A second jar-only version: listed, and it is the newest.
    r = await put('com/half/x/1.1/x-1.1.jar', zipLike(2100));
    assert.equal(r.status, 201, await r.text());
    v = await versioning();
    assert.deepEqual(v.listed, ['1.0', '1.1']);
    assert.equal(v.latest, '1.1');
    assert.equal(v.release, '1.1');
  });
});
