/**
 * Trial 17 gomh F8: a hosted module without go.mod published as v2.0.0+incompatible and v1.0.0
 * answered `@latest` v1.0.0, while `go get …@latest` picks v2.0.0+incompatible. The `go`
 * command's rule (cmd/go/internal/modload query.go): `+incompatible` versions are left out of
 * `latest` only when the newest compatible tagged version has a go.mod of its own (the module
 * opted into modules); the `.mod` synthesized for a version without go.mod does not count.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { makeZip } from '../pypi/fixtures.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

describe('go hosted @latest and +incompatible versions (go’s rule)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { NORA_GO_PROXY: 'none' } });
  });
  after(() => server.close());

  const publish = async (module: string, version: string, goMod: boolean) => {
    const root = `${module}@${version}`;
    const zip = makeZip([
      ...(goMod
        ? [{ name: `${root}/go.mod`, data: Buffer.from(`module ${module}\n\ngo 1.21\n`) }]
        : []),
      { name: `${root}/lib.go`, data: Buffer.from('package lib\n') },
    ]);
    const res = await fetch(`${server.url}/go/${module}/@v/${version}.zip`, {
      method: 'PUT',
      headers: { 'content-type': 'application/zip' },
      body: zip,
    });
    assert.equal(res.status, 201, await res.text());
  };
  const latestAt = async (path: string) => {
    const res = await fetch(`${server.url}${path}`);
    assert.equal(res.status, 200, path);
    return ((await res.json()) as { Version: string }).Version;
  };
  /** `@latest` through the group `go`, checked equal to go-hosted's own answer. */
  const latest = async (module: string) => {
    const version = await latestAt(`/go/${module}/@latest`);
    assert.equal(await latestAt(`/repository/go-hosted/${module}/@latest`), version);
    return version;
  };

  test('no go.mod in the newest compatible version: the +incompatible release is latest', async () => {
    await publish('example.com/legacy', 'v2.0.0+incompatible', false);
    await publish('example.com/legacy', 'v1.0.0', false);
    assert.equal(await latest('example.com/legacy'), 'v2.0.0+incompatible');
  });

  test('the newest compatible version has its own go.mod: +incompatible left out', async () => {
    await publish('example.com/opted', 'v2.0.0+incompatible', false);
    await publish('example.com/opted', 'v1.0.0', false);
    await publish('example.com/opted', 'v1.1.0', true);
    assert.equal(await latest('example.com/opted'), 'v1.1.0');
    // Go's rule looks at the newest compatible tagged version, prereleases included.
    await publish('example.com/pre', 'v3.0.0+incompatible', false);
    await publish('example.com/pre', 'v1.0.0', false);
    await publish('example.com/pre', 'v1.1.0-rc.1', true);
    assert.equal(await latest('example.com/pre'), 'v1.0.0');
  });

  test('only +incompatible versions: the newest', async () => {
    await publish('example.com/only', 'v2.0.0+incompatible', false);
    await publish('example.com/only', 'v3.1.0+incompatible', false);
    assert.equal(await latest('example.com/only'), 'v3.1.0+incompatible');
  });
});
