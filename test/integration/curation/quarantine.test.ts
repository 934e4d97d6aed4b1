/**
 * Digest quarantine on proxies over HTTP: a proxy with a local upstream fetches an artifact
 * seen for the first time. enforce → 403 in the format's error shape naming the release time,
 * served once the TTL (1 s) has passed; observe → served and counted in
 * nora_quarantine_holds_total. Hosted artifacts are never held. Maven and Go (fixture
 * upstreams), npm, Helm and raw (a second NORA as upstream).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { type FixtureUpstream, startFixtureUpstream } from '../maven/fixture-upstream.ts';
import { NpmHttp } from '../npm/client.ts';
import { type GoUpstream, startGoUpstream } from '../../helpers/go-fixtures.ts';
import { buildChart } from '../../helpers/helm.ts';
import { parse as parseYaml } from 'yaml';

const FILE = 'org/acme/widget/2.0/widget-2.0.jar';

async function holds(server: TestServer, registry: string, mode: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('nora_quarantine_holds_total{') &&
        l.includes(`registry="${registry}"`) &&
        l.includes(`mode="${mode}"`),
    );
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('quarantine: maven proxy', () => {
  let upstream: FixtureUpstream;
  let enforce: TestServer;
  let observe: TestServer;

  before(async () => {
    upstream = await startFixtureUpstream();
    await upstream.put(FILE, 'jar bytes');
    const maven = { proxies: [{ url: upstream.url() }] };
    enforce = await startTestServer({
      config: { maven, curation: { quarantine: 'enforce', quarantine_ttl: '1s' } },
    });
    observe = await startTestServer({
      config: { maven, curation: { quarantine: 'observe', quarantine_ttl: '1h' } },
    });
  });
  after(async () => {
    await enforce.close();
    await observe.close();
    await upstream.close();
  });

  test('enforce: 403 with the release time, served after the TTL', async () => {
    const first = await fetch(`${enforce.url}/maven2/${FILE}`);
    assert.equal(first.status, 403);
    assert.match(first.statusText + (await first.text()), /quarantine.*until \d{4}-\d\d-\d\dT/);
    assert.equal(await holds(enforce, 'maven', 'enforce'), 1);
    await sleep(1100);
    const later = await fetch(`${enforce.url}/maven2/${FILE}`);
    assert.equal(later.status, 200);
    assert.equal(await later.text(), 'jar bytes');
  });

  test('observe: served and counted', async () => {
    const res = await fetch(`${observe.url}/maven2/${FILE}`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'jar bytes');
    assert.equal(await holds(observe, 'maven', 'observe'), 1);
  });
});

describe('quarantine: npm and raw proxies of a second NORA', () => {
  let upstream: TestServer;
  let enforce: TestServer;
  let observe: TestServer;

  before(async () => {
    upstream = await startTestServer({});
    const up = new NpmHttp(`${upstream.url}/npm`);
    assert.equal((await up.publish({ name: 'q-lib', version: '1.0.0' })).status, 201);
    const put = await fetch(`${upstream.url}/raw/tools/q.bin`, {
      method: 'PUT',
      body: 'raw bytes',
    });
    assert.ok(put.status < 300, String(put.status));
    const config = (mode: string, ttl: string) => ({
      npm: { proxy: `${upstream.url}/npm/` },
      repositories: [
        {
          name: 'rawpx',
          format: 'raw',
          kind: 'proxy',
          upstreams: [{ url: `${upstream.url}/raw/` }],
        },
        { name: 'rawhosted', format: 'raw', kind: 'hosted' },
      ],
      curation: { quarantine: mode, quarantine_ttl: ttl },
    });
    enforce = await startTestServer({ config: config('enforce', '1s') });
    observe = await startTestServer({ config: config('observe', '1h') });
  });
  after(async () => {
    await enforce.close();
    await observe.close();
    await upstream.close();
  });

  const TARBALL = '/npm/q-lib/-/q-lib-1.0.0.tgz';

  test('npm enforce: the tarball is 403 {"error": …until…}, served after the TTL', async () => {
    const first = await fetch(`${enforce.url}${TARBALL}`);
    assert.equal(first.status, 403);
    const body = (await first.json()) as { error: string };
    assert.match(body.error, /npm q-lib@1\.0\.0 is in quarantine \(first seen .*\) until \d{4}-/);
    assert.equal(await holds(enforce, 'npm', 'enforce'), 1);
    // Listings keep it (types.ts): the packument still lists 1.0.0.
    const packument = (await (await fetch(`${enforce.url}/npm/q-lib`)).json()) as {
      versions: Record<string, unknown>;
    };
    assert.ok('1.0.0' in packument.versions);
    await sleep(1100);
    const later = await fetch(`${enforce.url}${TARBALL}`);
    assert.equal(later.status, 200);
    await later.arrayBuffer();
  });

  test('raw enforce: 403, served after the TTL; a hosted raw file is never held', async () => {
    const first = await fetch(`${enforce.url}/repository/rawpx/tools/q.bin`);
    assert.equal(first.status, 403);
    assert.match(await first.text(), /raw tools\/q\.bin is in quarantine/);
    const hosted = await fetch(`${enforce.url}/repository/rawhosted/a.txt`, {
      method: 'PUT',
      body: 'mine',
    });
    assert.ok(hosted.status < 300, String(hosted.status));
    assert.equal((await fetch(`${enforce.url}/repository/rawhosted/a.txt`)).status, 200);
    await sleep(1100);
    const later = await fetch(`${enforce.url}/repository/rawpx/tools/q.bin`);
    assert.equal(later.status, 200);
    assert.equal(await later.text(), 'raw bytes');
  });

  test('observe: npm and raw served and counted', async () => {
    const tarball = await fetch(`${observe.url}${TARBALL}`);
    assert.equal(tarball.status, 200);
    await tarball.arrayBuffer();
    const raw = await fetch(`${observe.url}/repository/rawpx/tools/q.bin`);
    assert.equal(await raw.text(), 'raw bytes');
    assert.equal(await holds(observe, 'npm', 'observe'), 1);
    assert.equal(await holds(observe, 'raw', 'observe'), 1);
  });
});

describe('quarantine: go proxy', () => {
  let upstream: GoUpstream;
  let server: TestServer;

  before(async () => {
    upstream = await startGoUpstream({ 'example.org/lib': ['v1.0.0'] });
    server = await startTestServer({
      config: {
        go: { sumdb: [], negative_cache_ttl: 0 },
        curation: { quarantine: 'enforce', quarantine_ttl: '1s' },
      },
      env: { NORA_GO_PROXY: upstream.url },
    });
  });
  after(async () => {
    await server.close();
    await upstream.close();
  });

  test('the .zip is 403 as text with the release time, served after the TTL', async () => {
    const zip = `${server.url}/go/example.org/lib/@v/v1.0.0.zip`;
    const first = await fetch(zip);
    assert.equal(first.status, 403);
    assert.match(await first.text(), /go example\.org\/lib@v1\.0\.0 is in quarantine .* until /);
    // `.info` of the held version is refused too (go asks it first on the next run).
    assert.equal((await fetch(`${server.url}/go/example.org/lib/@v/v1.0.0.info`)).status, 403);
    await sleep(1100);
    const later = await fetch(zip);
    assert.equal(later.status, 200);
    await later.arrayBuffer();
  });
});

describe('quarantine: helm proxy', () => {
  let upstream: TestServer;
  let server: TestServer;

  before(async () => {
    upstream = await startTestServer({});
    const chart = await buildChart({ name: 'qchart', version: '1.0.0' });
    const posted = await fetch(`${upstream.url}/helm/api/charts`, { method: 'POST', body: chart });
    assert.equal(posted.status, 201);
    server = await startTestServer({
      config: {
        repositories: [
          {
            name: 'hp',
            format: 'helm',
            kind: 'proxy',
            upstreams: [{ url: `${upstream.url}/helm` }],
          },
        ],
        curation: { quarantine: 'enforce', quarantine_ttl: '1s' },
      },
    });
  });
  after(async () => {
    await server.close();
    await upstream.close();
  });

  test('the chart is 403 {"error": …until…}, served after the TTL', async () => {
    const index = parseYaml(
      await (await fetch(`${server.url}/repository/hp/index.yaml`)).text(),
    ) as { entries: Record<string, { urls: string[] }[]> };
    const url = index.entries['qchart']?.[0]?.urls[0] ?? '';
    const absolute = new URL(url, `${server.url}/repository/hp/`).href;
    const first = await fetch(absolute);
    assert.equal(first.status, 403);
    assert.match(await first.text(), /helm qchart@1\.0\.0 is in quarantine .* until /);
    await sleep(1100);
    const later = await fetch(absolute);
    assert.equal(later.status, 200);
    await later.arrayBuffer();
  });
});
