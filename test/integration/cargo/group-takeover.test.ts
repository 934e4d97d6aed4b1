/**
 * A hosted publish of a crate the group's proxy member serves (`protect_hosted_names`; F3 of the
 * new-user trial, rustgo F4): refused by default with a 409 in Cargo's error shape (a takeover
 * hides the upstream's crate from every build through the group until an admin deletes it), whether
 * the proxy has served the crate (cached) or its upstream merely has it; nothing is stored.
 * `[cargo] shadow_names` lets named crates (globs, any spelling) through: the answer's
 * `warnings.other` (which `cargo publish` prints as `warning: …`) says the group serves only the
 * hosted versions from now on; a proxied version's download through the group then 404s saying
 * why. Only the first version of a new crate is checked. An unreachable upstream does not block
 * a publish, which then warns. No host name of the upstream in any answer.
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
    upstream.add('up-refused', { vers: '1.0.0', body: fakeCrate('up-refused', '1.0.0') });
    upstream.add('up-never-asked', { vers: '1.0.0', body: fakeCrate('up-never-asked', '1.0.0') });
    upstream.add('allowed_under', { vers: '2.0.0', body: fakeCrate('allowed_under', '2.0.0') });
    server = await startTestServer({
      config: {
        cargo: {
          proxy: upstream.url,
          metadata_ttl: 0,
          shadow_names: ['up-other', 'ALLOWED-*'],
        },
      },
    });
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
  /** A refused publish: 409 with one Cargo error detail, which is returned. */
  const refusedPublish = async (name: string, vers: string, base = '/cargo') => {
    const answer = await call('PUT', `${base}/api/v1/crates/new`, await crateBody(name, vers));
    assert.equal(answer.status, 409, answer.text);
    const errors = (JSON.parse(answer.text) as { errors: { detail: string }[] }).errors;
    assert.equal(errors.length, 1, answer.text);
    assert.doesNotMatch(answer.text, /127\.0\.0\.1/);
    return errors[0]?.detail ?? '';
  };

  test('the first publish of a crate the proxy has served is refused (409), nothing stored', async () => {
    assert.equal((await call('GET', `/cargo/index/${indexPath('up-refused')}`)).status, 200);
    const detail = await refusedPublish('up-refused', '9.0.0');
    assert.equal(
      detail,
      "refusing to publish crate `up-refused`: it is a new crate in cargo-hosted, and crate `up-refused` is served by cargo-proxy through group cargo; from now on that group serves only cargo-hosted's versions of it and no longer asks cargo-proxy (protect_hosted_names). " +
        'Builds through that group that use the proxied crate would then fail until an admin deletes the hosted crate (a yank keeps the name hosted). ' +
        `To take the name over on purpose, an operator adds it to [cargo] shadow_names in NORA's configuration (NORA_CARGO_SHADOW_NAMES; e.g. shadow_names = ["up-refused"] or a glob such as "corp-*"); to keep the proxied crate, publish under another name (docs/cargo.md, "Group").`,
    );
    const hosted = await call('GET', `/repository/cargo-hosted/index/${indexPath('up-refused')}`);
    assert.equal(hosted.status, 404, 'nothing stored');
    const group = await call('GET', `/cargo/index/${indexPath('up-refused')}`);
    assert.match(group.text, /"vers":"1\.0\.0"/);
    assert.doesNotMatch(group.text, /9\.0\.0/);
  });

  test('a crate the upstream has but nobody fetched yet: refused too (the proxy is asked)', async () => {
    // Straight to cargo-hosted: no group read has cached it.
    const detail = await refusedPublish('up-never-asked', '9.0.0', '/repository/cargo-hosted');
    assert.match(detail, /^refusing to publish crate `up-never-asked`: .* through group cargo;/);
  });

  test('another spelling of a proxied crate (`-` for `_`) is refused', async () => {
    assert.equal((await call('GET', `/cargo/index/${indexPath('up_under')}`)).status, 200);
    // The refusal names the crate the proxy has (`up_under`), not the spelling asked for
    // (trial14 F3).
    assert.match(
      await refusedPublish('up-under', '3.0.0'),
      /^refusing to publish crate `up-under`: .*, and crate `up_under` is served by cargo-proxy/,
    );
  });

  test('in shadow_names: the first publish goes ahead and warns; the proxied version then 404s naming the guard', async () => {
    // Consumers resolved up-other 1.0.0 through the group (cached in cargo-proxy).
    const before = await call('GET', `/cargo/index/${indexPath('up-other')}`);
    assert.equal(before.status, 200, before.text);
    assert.match(before.text, /"vers":"1\.0\.0"/);
    const download = await call('GET', '/cargo/api/v1/crates/up-other/1.0.0/download');
    assert.equal(download.status, 200, download.text);

    assert.deepEqual(await publish('up-other', '9.0.0'), [
      "crate `up-other` is served by cargo-proxy through group cargo; from now on that group serves only cargo-hosted's versions of it and no longer asks cargo-proxy (protect_hosted_names)",
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

  test('shadow_names globs match any spelling (`ALLOWED-*` lets `allowed-under` take `allowed_under`)', async () => {
    assert.equal((await call('GET', `/cargo/index/${indexPath('allowed_under')}`)).status, 200);
    const warnings = await publish('allowed-under', '3.0.0');
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0] ?? '', /is served by cargo-proxy through group cargo/);
  });

  test('a crate no proxy has served: no warning', async () => {
    assert.deepEqual(await publish('brand-new-crate', '0.1.0'), []);
  });
});

describe('cargo group: publishing while the proxy cannot be reached', () => {
  test('a new crate is published (nothing cached to protect), the answer says the proxy was not asked', async () => {
    const down = new CargoFixtureUpstream();
    await down.start();
    const url = down.url;
    await down.stop();
    const server = await startTestServer({ config: { cargo: { proxy: url, metadata_ttl: 0 } } });
    try {
      const res = await fetch(`${server.url}/repository/cargo-hosted/api/v1/crates/new`, {
        method: 'PUT',
        body: await crateBody('offline-new', '0.1.0'),
      });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      assert.deepEqual((JSON.parse(text) as { warnings: { other: string[] } }).warnings.other, [
        "could not ask cargo-proxy whether its upstream has crate `offline-new` (unreachable, nothing cached): if it does, groups guarding hosted names now serve only cargo-hosted's versions of it (protect_hosted_names)",
      ]);
    } finally {
      await server.close();
    }
  });
});
