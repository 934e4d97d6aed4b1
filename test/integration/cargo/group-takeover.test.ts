/**
 * A hosted publish of a crate the group's proxy member has served (`protect_hosted_names`, F3 of
 * the new-user trial): the publish goes ahead, but its answer's `warnings.other` (which `cargo
 * publish` prints as `warning: …`) says the group serves only the hosted versions from now on;
 * a proxied version's download through the group then 404s saying why. Only the first version
 * of a new crate warns. No host name of the upstream in any answer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { indexPath } from '../../../src/formats/cargo/upstream.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { CargoFixtureUpstream, fakeCrate } from '../cargo-proxy/fixture.ts';
import { crateBody } from './fixtures.ts';

describe('cargo group: publishing a crate its proxy has served', () => {
  const upstream = new CargoFixtureUpstream();
  let server: TestServer;

  before(async () => {
    await upstream.start();
    upstream.add('up-other', { vers: '1.0.0', body: fakeCrate('up-other', '1.0.0') });
    upstream.add('up_under', { vers: '2.0.0', body: fakeCrate('up_under', '2.0.0') });
    server = await startTestServer({ config: { cargo: { proxy: upstream.url, metadata_ttl: 0 } } });
  });
  after(async () => {
    await server.close();
    await upstream.stop();
  });

  const call = async (method: string, url: string, body?: Buffer) => {
    const res = await fetch(`${server.url}${url}`, {
      method,
      ...(body === undefined ? {} : { body }),
    });
    const text = await res.text();
    return { status: res.status, text };
  };
  const publish = async (name: string, vers: string) => {
    const answer = await call('PUT', '/cargo/api/v1/crates/new', await crateBody(name, vers));
    assert.equal(answer.status, 200, answer.text);
    return (JSON.parse(answer.text) as { warnings: { other: string[] } }).warnings.other;
  };

  test('the first publish warns; the proxied version then 404s naming the guard', async () => {
    // Consumers resolved up-other 1.0.0 through the group (cached in cargo-proxy).
    const before = await call('GET', `/cargo/index/${indexPath('up-other')}`);
    assert.equal(before.status, 200, before.text);
    assert.match(before.text, /"vers":"1\.0\.0"/);
    const download = await call('GET', '/cargo/api/v1/crates/up-other/1.0.0/download');
    assert.equal(download.status, 200, download.text);

    assert.deepEqual(await publish('up-other', '9.0.0'), [
      "crate `up-other` was served from cargo-proxy through group cargo; from now on that group serves only cargo-hosted's versions of it and no longer asks cargo-proxy (protect_hosted_names)",
    ]);

    // The takeover (intended): the group's index lists the hosted version only.
    const after = await call('GET', `/cargo/index/${indexPath('up-other')}`);
    assert.doesNotMatch(after.text, /"vers":"1\.0\.0"/);
    assert.match(after.text, /"vers":"9\.0\.0"/);
    // A lockfile's download of the proxied version: the 404 says why.
    const gone = await call('GET', '/cargo/api/v1/crates/up-other/1.0.0/download');
    assert.equal(gone.status, 404, gone.text);
    assert.deepEqual(JSON.parse(gone.text), {
      errors: [
        {
          detail:
            'not found: up-other 1.0.0 (up-other is hosted in cargo-hosted, so group cargo does not ask its proxy for it: protect_hosted_names)',
        },
      ],
    });
    assert.doesNotMatch(gone.text, /127\.0\.0\.1/);

    // The next version is no new name: no warning.
    assert.deepEqual(await publish('up-other', '9.0.1'), []);
  });

  test('another spelling of a proxied crate (`-` for `_`) warns too', async () => {
    assert.equal((await call('GET', `/cargo/index/${indexPath('up_under')}`)).status, 200);
    const warnings = await publish('up-under', '3.0.0');
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0] ?? '', /was served from cargo-proxy through group cargo/);
  });

  test('a crate no proxy has served: no warning', async () => {
    assert.deepEqual(await publish('brand-new-crate', '0.1.0'), []);
  });
});
