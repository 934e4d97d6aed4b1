/**
 * Takeovers with the real `cargo` (skipped, saying so, when it is not installed): the default
 * group `cargo` has cargo-hosted and cargo-proxy (a scripted sparse index on loopback serving
 * `up-other 1.0.0` and `up-allowed 1.0.0`). Once the group has served up-other, `cargo publish`
 * of a crate named up-other into cargo-hosted is refused (rustgo F4): cargo prints the server's
 * 409 detail, which says how to take the name over on purpose (`[cargo] shadow_names`). A name
 * listed there (`up-allowed`) publishes and cargo prints the server's warning that the group
 * serves only the hosted versions from then on (`warnings.other`; new-user trial F3). A crate
 * nobody proxies publishes without either. `cargo yank` of a crate the group serves from
 * cargo-proxy prints the server's 405 saying it cannot be yanked there.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { indexPath } from '../../../src/formats/cargo/upstream.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { output, run } from '../../helpers/tools.ts';
import {
  CARGO,
  cargoEnv,
  crateManifest,
  missingCargo,
  writeCargoHome,
  writeCrateFiles,
} from '../../helpers/cargo.ts';
import { CargoFixtureUpstream, fakeCrate } from '../../integration/cargo-proxy/fixture.ts';

const missing = missingCargo;

async function writeCrate(dir: string, name: string, version: string): Promise<void> {
  await writeCrateFiles(dir, {
    'Cargo.toml': crateManifest(name, version, '', 'readme = false'),
    'src/lib.rs': 'pub fn it() -> u32 { 9 }\n',
  });
}

describe('cargo publish of a crate the group proxy has served', { skip: missing }, () => {
  const upstream = new CargoFixtureUpstream();
  let server: TestServer;
  let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
  let env: NodeJS.ProcessEnv;

  before(async () => {
    await upstream.start();
    upstream.add('up-other', { vers: '1.0.0', body: fakeCrate('up-other', '1.0.0') });
    upstream.add('up-allowed', { vers: '1.0.0', body: fakeCrate('up-allowed', '1.0.0') });
    server = await startTestServer({
      config: {
        cargo: { proxy: upstream.url, metadata_ttl: 0, shadow_names: ['up-allowed'] },
        auth: { enabled: true, anonymous_read: true },
      },
    });
    const { users, tokens } = server.app.context.identity;
    assert.ok(await users.create('alice', 'alice-pw-1', undefined, ['read', 'write']));
    const token = (await tokens.create('alice', { role: 'write' })).secret;
    work = await tempDir('nora-cargo-takeover-');
    const home = path.join(work.path, 'cargo-home');
    await writeCargoHome(home, server.url);
    env = cargoEnv(home, work.path, token);
  });
  after(async () => {
    await server.close();
    await upstream.stop();
    await work[Symbol.asyncDispose]();
  });

  const cargoPublish = (dir: string) =>
    run(CARGO ?? 'cargo', ['publish', '--registry', 'nora', '--allow-dirty', '--no-verify'], {
      cwd: dir,
      env,
      timeoutMs: 240_000,
      check: false,
    });

  test('the first publish of up-other is refused, saying how to take it over on purpose', async () => {
    // The group has served up-other (a consumer resolved it): cached in cargo-proxy.
    const index = await fetch(`${server.url}/cargo/index/${indexPath('up-other')}`);
    assert.equal(index.status, 200);
    assert.match(await index.text(), /"vers":"1\.0\.0"/);

    const taken = path.join(work.path, 'up-other');
    await writeCrate(taken, 'up-other', '9.0.0');
    const published = await cargoPublish(taken);
    assert.notEqual(published.code, 0, output(published));
    assert.match(
      published.stderr,
      /status 409 Conflict\): refusing to publish crate `up-other`: it is a new crate in cargo-hosted, and crate `up-other` is served by cargo-proxy through group cargo;[\s\S]*\[cargo\] shadow_names[\s\S]*NORA_CARGO_SHADOW_NAMES/,
    );
    // Still the upstream's crate through the group.
    const after = await (await fetch(`${server.url}/cargo/index/${indexPath('up-other')}`)).text();
    assert.match(after, /"vers":"1\.0\.0"/);
    assert.doesNotMatch(after, /9\.0\.0/);
  });

  test('cargo yank of a crate the group serves from its proxy prints the 405 saying so (trial 20 fmts F4)', async () => {
    assert.equal((await fetch(`${server.url}/cargo/index/${indexPath('up-other')}`)).status, 200);
    for (const undo of [[], ['--undo']]) {
      const yanked = await run(
        CARGO ?? 'cargo',
        ['yank', '--registry', 'nora', '--version', '1.0.0', ...undo, 'up-other'],
        { cwd: work.path, env, timeoutMs: 120_000, check: false },
      );
      assert.notEqual(yanked.code, 0, output(yanked));
      assert.match(
        yanked.stderr,
        /status 405 Method Not Allowed\): crate `up-other` is not hosted in cargo-hosted: the group cargo serves it from its proxy member cargo-proxy \(read-only\), so it cannot be yanked or deleted here/,
      );
    }
  });

  test('cargo owner --list/--add/--remove of a crate the group serves from its proxy prints the 405 saying so (trial 21 fmts F4)', async () => {
    assert.equal((await fetch(`${server.url}/cargo/index/${indexPath('up-other')}`)).status, 200);
    for (const args of [['--list'], ['--add', 'bob'], ['--remove', 'bob']]) {
      const owner = await run(
        CARGO ?? 'cargo',
        ['owner', '--registry', 'nora', ...args, 'up-other'],
        { cwd: work.path, env, timeoutMs: 120_000, check: false },
      );
      assert.notEqual(owner.code, 0, output(owner));
      assert.match(
        owner.stderr,
        /status 405 Method Not Allowed\): crate `up-other` is not hosted in cargo-hosted: the group cargo serves it from its proxy member cargo-proxy \(read-only\), so its owners are the upstream registry's, which NORA does not mirror: they cannot be listed or changed here/,
        args.join(' '),
      );
    }
  });

  test('a name in shadow_names publishes with the takeover warning; a new crate without', async () => {
    assert.equal((await fetch(`${server.url}/cargo/index/${indexPath('up-allowed')}`)).status, 200);
    const allowed = path.join(work.path, 'up-allowed');
    await writeCrate(allowed, 'up-allowed', '9.0.0');
    const published = await cargoPublish(allowed);
    assert.equal(published.code, 0, output(published));
    assert.match(published.stderr, /Uploaded up-allowed v9\.0\.0/);
    assert.match(
      published.stderr,
      /warning: crate `up-allowed` is served by cargo-proxy through group cargo; from now on that group serves only cargo-hosted's versions of it and no longer asks cargo-proxy \(protect_hosted_names\)/,
    );

    const fresh = path.join(work.path, 'fresh');
    await writeCrate(fresh, 'nora-takeover-fresh', '0.1.0');
    const plain = await cargoPublish(fresh);
    assert.equal(plain.code, 0, output(plain));
    assert.match(plain.stderr, /Uploaded nora-takeover-fresh v0\.1\.0/);
    assert.doesNotMatch(plain.stderr, /protect_hosted_names/);
  });
});
