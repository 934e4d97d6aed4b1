/**
 * Digest quarantine on proxies over HTTP: a proxy with a local upstream fetches an artifact
 * seen for the first time. enforce → 403 in the format's error shape naming the release time,
 * served once the TTL (1 s) has passed; observe → served and counted in
 * nora_quarantine_holds_total. Hosted artifacts are never held. Maven (fixture upstream), npm
 * and raw (a second NORA as upstream).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { type FixtureUpstream, startFixtureUpstream } from '../maven/fixture-upstream.ts';

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
