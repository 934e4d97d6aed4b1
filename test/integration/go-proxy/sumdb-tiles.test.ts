/**
 * The checksum-database proxy when the database is down: a partial hash tile nobody fetched is
 * cut from a cached wider copy of the same tile (issue 16, "Checksum database proxy"; tlog tiles
 * only grow, so the first W hashes of a wider tile are the W-wide tile).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

describe('go sumdb proxy: partial tiles from wider cached ones', () => {
  const tile = randomBytes(5 * 32);
  const requests: string[] = [];
  const database = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === '/tile/8/0/000.p/5') res.writeHead(200).end(tile);
    else res.writeHead(404).end('not found');
  });
  let server: TestServer;
  let base: string;

  before(async () => {
    await new Promise<void>((resolve) => database.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(database.address() as AddressInfo).port}`;
    server = await startTestServer({
      // The group forwards a checksum database when it has a proxy member (any upstream will do).
      config: { go: { proxy: url, sumdb: [`sum.test.example=${url}`] } },
    });
    base = `${server.url}/go/sumdb/sum.test.example`;
  });

  after(async () => {
    await server.close();
    database.closeAllConnections();
    await new Promise((resolve) => database.close(resolve));
  });

  test('cached while up; narrower widths cut from it once the database is down', async () => {
    const wide = await fetch(`${base}/tile/8/0/000.p/5`);
    assert.equal(wide.status, 200, `${await wide.clone().text()} ${requests.join(',')}`);
    assert.deepEqual(Buffer.from(await wide.arrayBuffer()), tile);
    database.closeAllConnections();
    await new Promise((resolve) => database.close(resolve));
    const narrow = await fetch(`${base}/tile/8/0/000.p/3`);
    assert.equal(narrow.status, 200, await narrow.clone().text());
    assert.deepEqual(Buffer.from(await narrow.arrayBuffer()), tile.subarray(0, 3 * 32));
    // Nothing wider is cached for another tile, and data tiles are never cut: the failure shows.
    assert.equal((await fetch(`${base}/tile/8/0/001.p/3`)).status >= 500, true);
    assert.equal((await fetch(`${base}/tile/8/data/000.p/3`)).status >= 500, true);
    assert.deepEqual(requests, ['/tile/8/0/000.p/5']);
    // A lookup with the database down: the failure says what to do (trial 17 F7: an air-gapped
    // host's first go get of every module fails here, and go prints this text).
    const lookup = await fetch(`${base}/lookup/example.org/pub@v1.0.0`);
    assert.equal(lookup.status, 502);
    assert.match(
      await lookup.text(),
      /: NORA cannot reach the checksum database sum\.test\.example; on the client set GONOSUMDB=example\.org\/pub \(or GOSUMDB=off\): that is needed in any case, as NORA_GO_SUMDB=none on the server alone only makes go ask sum\.test\.example itself$/m,
    );
  });
});
