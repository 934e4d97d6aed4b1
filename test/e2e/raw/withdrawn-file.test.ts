/**
 * curl of a raw proxy file the origin withdrew (trial 32): with `metadata_ttl = 0` a cached file
 * is revalidated on every read; once the origin answers 404 (or 410) for it, the cached copy is
 * forgotten and the 404 remembered for `[raw] negative_cache_ttl`. So the file does not come back
 * with `x-nora-stale: true` when the origin later goes down, and while the 404 is remembered the
 * origin is not asked again (the answer says it is remembered). Through the group too. The
 * fixture origin listens on 127.0.0.1 and is closed during the test. A missing client skips and
 * says so.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { curl } from '../../helpers/curl.ts';
import { type RawOriginRig, startRawOriginRig } from '../../helpers/raw-origin.ts';
import type { TestServer } from '../../helpers/server.ts';
import { missingTools } from '../../helpers/tools.ts';

const BODY = 'release notes 1.0\n';

describe('raw proxy: a file the origin withdrew', () => {
  const files = new Map<string, string>();
  let asked = 0;
  let origin: http.Server;
  let server: TestServer;
  let rig: RawOriginRig;

  before(async () => {
    rig = await startRawOriginRig((req, res) => {
      asked++;
      const body = files.get(req.url ?? '');
      if (body === undefined) res.writeHead(req.url?.includes('gone') === true ? 410 : 404).end();
      else res.writeHead(200, { 'content-type': 'text/plain', etag: '"v1"' }).end(body);
    });
    origin = rig.origin;
    server = rig.server;
  });
  after(async () => {
    await rig.close();
  });

  const get = (path: string) => curl(['-m', '15', '-D', '-', `${server.url}${path}`]);

  test(
    'a 404 or 410 after a 200 is remembered and the cached copy is not served stale',
    { skip: missingTools('curl') },
    async () => {
      const names = ['a.txt', 'gone.txt', 'via-group.txt'];
      const url = (name: string) =>
        name === 'via-group.txt' ? `/repository/dl-all/${name}` : `/repository/dl/${name}`;
      for (const name of names) {
        files.set(`/dist/${name}`, BODY);
        const cached = await get(url(name));
        assert.equal(cached.status, 200, `${name}: ${cached.stderr}`);
        assert.ok(cached.body.endsWith(BODY), name);
      }
      for (const name of names) files.delete(`/dist/${name}`);
      for (const name of names) {
        const withdrawn = await get(url(name));
        assert.equal(withdrawn.status, 404, `${name}: ${withdrawn.body}`);
      }
      // Remembered: the origin is not asked again while negative_cache_ttl (60 s) runs.
      const before = asked;
      for (const name of names) {
        const remembered = await get(url(name));
        assert.equal(remembered.status, 404, `${name}: ${remembered.body}`);
        assert.match(remembered.body, /remembered for 60 s, \[raw\] negative_cache_ttl/, name);
      }
      assert.equal(asked, before, 'the origin was asked again within negative_cache_ttl');
      // The origin goes down: still a 404, never the withdrawn bytes marked stale.
      origin.closeAllConnections();
      await new Promise((resolve) => origin.close(resolve));
      for (const name of names) {
        const down = await get(url(name));
        assert.equal(down.status, 404, `${name}: ${down.body}`);
        assert.doesNotMatch(down.body, /x-nora-stale/i, name);
        assert.ok(!down.body.includes(BODY), `${name}: the withdrawn bytes came back`);
      }
    },
  );
});
