/**
 * The minimum release age and the digest quarantine over HTTP, with a second NORA as upstream:
 * a raw proxy ages its files from first seen (NORA_CURATION_RAW_MIN_RELEASE_AGE), and an npm
 * version old enough for the min age is still held by quarantine on its first fill, whatever
 * `mode` says (docs/curation.md "Minimum release age", "Digest quarantine").
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { NpmHttp } from '../npm/client.ts';
import { type FixtureUpstream, startFixtureUpstream } from '../maven/fixture-upstream.ts';

async function decisions(server: TestServer, labels: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`nora_curation_decisions_total{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('min release age and quarantine on proxies of a second NORA', () => {
  let upstream: TestServer;
  let raw: TestServer;
  let both: TestServer;
  let audit: TestServer;

  before(async () => {
    upstream = await startTestServer({});
    const up = new NpmHttp(`${upstream.url}/npm`);
    assert.equal((await up.publish({ name: 'aged-lib', version: '1.0.0' })).status, 201);
    const put = await fetch(`${upstream.url}/raw/tools/fresh.bin`, {
      method: 'PUT',
      body: 'raw bytes',
    });
    assert.ok(put.status < 300, String(put.status));
    const rawpx = {
      name: 'rawpx',
      format: 'raw',
      kind: 'proxy',
      upstreams: [{ url: `${upstream.url}/raw/` }],
    };
    raw = await startTestServer({
      config: { repositories: [rawpx], curation: { mode: 'enforce' } },
      env: { NORA_CURATION_RAW_MIN_RELEASE_AGE: '1h' },
    });
    const npm = { proxy: `${upstream.url}/npm/` };
    both = await startTestServer({
      config: {
        npm,
        curation: {
          mode: 'enforce',
          min_release_age: '1s',
          quarantine: 'enforce',
          quarantine_ttl: '1h',
        },
      },
    });
    audit = await startTestServer({
      config: {
        npm,
        curation: {
          mode: 'audit',
          min_release_age: '1h',
          quarantine: 'enforce',
          quarantine_ttl: '1h',
        },
      },
    });
    // Old enough for `both`'s 1 s age.
    await sleep(1100);
  });
  after(async () => {
    await raw.close();
    await both.close();
    await audit.close();
    await upstream.close();
  });

  const TARBALL = '/npm/aged-lib/-/aged-lib-1.0.0.tgz';

  test('raw: a file first seen now is refused by the min release age (403 naming it)', async () => {
    const res = await fetch(`${raw.url}/repository/rawpx/tools/fresh.bin`);
    assert.equal(res.status, 403);
    assert.match(
      await res.text(),
      /raw tools\/fresh\.bin is blocked by curation \(min_release_age 1h\): first seen .*available from/,
    );
    assert.equal(
      await decisions(raw, 'registry="raw",decision="blocked",reason="min_release_age"'),
      1,
    );
  });

  test('npm: old enough for the min age, still held by quarantine on its first fill', async () => {
    const first = await fetch(`${both.url}${TARBALL}`);
    assert.equal(first.status, 403);
    const body = (await first.json()) as { error: string };
    assert.match(body.error, /npm aged-lib@1\.0\.0 is in quarantine \(first seen .*\) until /);
    assert.doesNotMatch(body.error, /min_release_age/);
  });

  test('npm: audit mode with an audited min age does not let a quarantine hold through', async () => {
    const first = await fetch(`${audit.url}${TARBALL}`);
    assert.equal(first.status, 403);
    assert.match(((await first.json()) as { error: string }).error, /is in quarantine/);
    const again = await fetch(`${audit.url}${TARBALL}`);
    assert.equal(again.status, 403);
    assert.ok(
      (await decisions(audit, 'registry="npm",decision="audited",reason="min_release_age"')) >= 1,
    );
    assert.ok(
      (await decisions(audit, 'registry="npm",decision="blocked",reason="quarantine"')) >= 1,
    );
  });
});

describe('min release age on a maven proxy', () => {
  let upstream: FixtureUpstream;
  let server: TestServer;
  before(async () => {
    upstream = await startFixtureUpstream();
    await upstream.put('com/newc/lib/1.0/lib-1.0.jar', 'jar bytes');
    server = await startTestServer({
      config: {
        maven: { proxies: [{ url: upstream.url() }] },
        curation: { mode: 'enforce', min_release_age: '1h' },
      },
    });
  });
  after(async () => {
    await server.close();
    await upstream.close();
  });

  test('the refusal reads as every format\'s: "is blocked by curation (min_release_age 1h)"', async () => {
    const res = await fetch(`${server.url}/maven2/com/newc/lib/1.0/lib-1.0.jar`);
    assert.equal(res.status, 403);
    const said = `${res.statusText}\n${await res.text()}`;
    assert.match(
      said,
      /curation: maven com\.newc:lib@1\.0 is blocked by curation \(min_release_age 1h\): first seen /,
    );
  });
});
