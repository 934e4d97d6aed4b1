/**
 * The first-seen clock is recorded on every proxy fill, whatever the curation settings (trial 30
 * F2): artifacts filled while curation is off, then a reload that turns quarantine on, are held
 * from their fill's time, not from the first request after the reload. Maven (a fixture
 * upstream: the engine's record) and raw (a second NORA: quarantineCheck's record).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseConfigObject } from '../../../src/config/load.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { type FixtureUpstream, startFixtureUpstream } from '../maven/fixture-upstream.ts';

const FILE = 'org/acme/widget/2.0/widget-2.0.jar';

let maven: FixtureUpstream;
let upstream: TestServer;
let server: TestServer;

before(async () => {
  maven = await startFixtureUpstream();
  await maven.put(FILE, 'jar bytes');
  upstream = await startTestServer({});
  const put = await fetch(`${upstream.url}/raw/tools/q.bin`, { method: 'PUT', body: 'raw bytes' });
  assert.ok(put.status < 300, String(put.status));
  server = await startTestServer({
    config: {
      maven: { proxies: [{ url: maven.url() }] },
      repositories: [
        {
          name: 'rawpx',
          format: 'raw',
          kind: 'proxy',
          upstreams: [{ url: `${upstream.url}/raw/` }],
        },
      ],
    },
  });
});
after(async () => {
  await server.close();
  await upstream.close();
  await maven.close();
});

/** The `first seen <ISO>` time a 403's text names, in ms. */
function firstSeenOf(text: string): number {
  const match = /first seen (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)/.exec(text);
  assert.ok(match?.[1] !== undefined, text);
  return Date.parse(match[1]);
}

test('fills while curation is off start the clock a quarantine turned on later uses', async () => {
  const filledFrom = Date.now();
  assert.equal(await (await fetch(`${server.url}/maven2/${FILE}`)).text(), 'jar bytes');
  assert.equal(
    await (await fetch(`${server.url}/repository/rawpx/tools/q.bin`)).text(),
    'raw bytes',
  );
  const filledBy = Date.now();
  await sleep(2100);
  const { config: next } = parseConfigObject(
    {
      server: { host: '127.0.0.1', port: 0, log_level: 'silent' },
      storage: { path: server.dataDir },
      curation: { quarantine: 'enforce', quarantine_ttl: '1h' },
    },
    {},
  );
  server.app.reload({ ...server.config, curation: next.curation });
  const jar = await fetch(`${server.url}/maven2/${FILE}`);
  const jarText = jar.statusText + (await jar.text());
  assert.equal(jar.status, 403, jarText);
  const raw = await fetch(`${server.url}/repository/rawpx/tools/q.bin`);
  const rawText = await raw.text();
  assert.equal(raw.status, 403, rawText);
  for (const text of [jarText, rawText]) {
    const seen = firstSeenOf(text);
    // ISO to the second: the fill's second, never the request after the reload (2 s later).
    assert.ok(
      seen >= filledFrom - 1000 && seen <= filledBy,
      `${text} (fill ${filledFrom}..${filledBy})`,
    );
  }
});
