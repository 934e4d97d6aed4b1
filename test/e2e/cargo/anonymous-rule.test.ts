/**
 * The real `cargo` (skipped, saying so, when it is not installed) against `[auth] anonymous_read
 * = false` plus docs/cargo.md's rule letting anonymous clients read `corp-*` (trial 21 authx F4):
 * config.json said no auth-required because anonymous could read *some* crate, so cargo sent no
 * token and every token holder's publish and build failed with 401 on every other crate. Now
 * config.json says auth-required: a token holder publishes a library and a crate depending on
 * it, and builds a consumer from a fresh cache; carol publishes her `corp-*` crate.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { run } from '../../helpers/tools.ts';
import {
  CARGO,
  cargoEnv,
  crateManifest,
  missingCargo,
  writeCargoHome,
  writeCrateFiles,
} from '../../helpers/cargo.ts';

/** A crate's Cargo.toml here: no readme, publishable to `nora` only. */
const manifest = (name: string, version: string, deps = ''): string =>
  crateManifest(name, version, deps, 'readme = false');

describe(
  'cargo: anonymous_read = false and an anonymous read rule on corp-*',
  { skip: missingCargo },
  () => {
    let server: TestServer;
    let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
    let home: string;
    const tokens = { bob: '', carol: '' };
    const cargo = (args: string[], cwd: string, token: string, check = true) =>
      run(CARGO ?? 'cargo', args, {
        cwd,
        env: cargoEnv(home, work.path, token),
        timeoutMs: 240_000,
        check,
      });

    before(async () => {
      server = await startTestServer({
        config: {
          cargo: { proxy: '' },
          auth: {
            enabled: true,
            anonymous_read: false,
            rules: [
              {
                repositories: ['cargo'],
                paths: ['corp-*'],
                users: ['carol'],
                actions: ['read', 'write'],
              },
              { repositories: ['cargo'], paths: ['corp-*'], anonymous: true, actions: ['read'] },
            ],
          },
        },
      });
      const { users, tokens: store } = server.app.context.identity;
      for (const name of ['bob', 'carol']) {
        assert.ok(await users.create(name, `${name}-pw-123`, undefined, ['read', 'write']));
      }
      tokens.bob = (await store.create('bob', { role: 'write' })).secret;
      tokens.carol = (await store.create('carol', { role: 'write' })).secret;
      work = await tempDir('nora-cargo-anon-rule-e2e-');
      home = path.join(work.path, 'cargo-home');
      await writeCargoHome(home, server.url);
    });
    after(async () => {
      await server.close();
      await work[Symbol.asyncDispose]();
    });

    test('config.json says auth-required', async () => {
      const config = (await (
        await fetch(`${server.url}/cargo/index/config.json`)
      ).json()) as Record<string, unknown>;
      assert.equal(config['auth-required'], true);
    });

    test('a token holder publishes and builds against crates no rule names; carol publishes corp-*', async () => {
      const lib = path.join(work.path, 'lib');
      await writeCrateFiles(lib, {
        'Cargo.toml': manifest('foo-bob', '0.1.0'),
        'src/lib.rs': 'pub fn greet() -> &\'static str { "hello from bob" }\n',
      });
      const published = await cargo(
        ['publish', '--registry', 'nora', '--allow-dirty'],
        lib,
        tokens.bob,
      );
      assert.match(published.stderr, /Uploaded foo-bob v0\.1\.0/);
      const corp = path.join(work.path, 'corp');
      await writeCrateFiles(corp, {
        'Cargo.toml': manifest('corp-util', '1.0.0'),
        'src/lib.rs': 'pub fn tag() -> &\'static str { "corp" }\n',
      });
      const carols = await cargo(
        ['publish', '--registry', 'nora', '--allow-dirty'],
        corp,
        tokens.carol,
      );
      assert.match(carols.stderr, /Uploaded corp-util v1\.0\.0/);
      // bob may read corp-util (the anonymous rule lets everyone read it) but not publish it.
      await writeCrateFiles(corp, { 'Cargo.toml': manifest('corp-util', '1.0.1') });
      const bobsCorp = await cargo(
        ['publish', '--registry', 'nora', '--allow-dirty', '--no-verify'],
        corp,
        tokens.bob,
        false,
      );
      assert.notEqual(bobsCorp.code, 0);
      assert.match(bobsCorp.stderr, /bob may not write corp-util in cargo/);
      // A crate depending on both, verified (built) from the registry.
      const mid = path.join(work.path, 'mid');
      await writeCrateFiles(mid, {
        'Cargo.toml': manifest(
          'foo-mid',
          '1.0.0',
          [
            'foo-bob = { version = "0.1", registry = "nora" }',
            'corp-util = { version = "1", registry = "nora" }',
          ].join('\n'),
        ),
        'src/lib.rs':
          'pub fn shout() -> String { format!("{} {}", corp_util::tag(), foo_bob::greet()).to_uppercase() }\n',
      });
      const midPublished = await cargo(
        ['publish', '--registry', 'nora', '--allow-dirty'],
        mid,
        tokens.bob,
      );
      assert.match(midPublished.stderr, /Uploaded foo-mid v1\.0\.0/);
      // A consumer built from a fresh cargo cache: every index file and download with the token.
      await fs.rm(path.join(home, 'registry'), { recursive: true, force: true });
      const app = path.join(work.path, 'app');
      await writeCrateFiles(app, {
        'Cargo.toml': [
          '[package]',
          'name = "foo-app"',
          'version = "0.0.1"',
          'edition = "2021"',
          'publish = false',
          '',
          '[dependencies]',
          'foo-mid = { version = "1", registry = "nora" }',
          '',
        ].join('\n'),
        'src/main.rs': 'fn main() { println!("{}", foo_mid::shout()); }\n',
      });
      await cargo(['build'], app, tokens.bob);
      const ran = await run(path.join(work.path, 'target', 'debug', 'foo-app'), [], {});
      assert.equal(ran.stdout.trim(), 'CORP HELLO FROM BOB');
    });

    test('cargo without a token stops at once: auth-required means a token for the whole registry', async () => {
      // The trade-off docs/cargo.md states and `nora config check` warns about: the anonymous
      // rule still opens corp-* to other clients (curl, a build script's download), not to cargo.
      await fs.rm(path.join(home, 'registry'), { recursive: true, force: true });
      const app = path.join(work.path, 'anon');
      await writeCrateFiles(app, {
        'Cargo.toml': [
          '[package]',
          'name = "anon-app"',
          'version = "0.0.1"',
          'edition = "2021"',
          'publish = false',
          '',
          '[dependencies]',
          'corp-util = { version = "1", registry = "nora" }',
          '',
        ].join('\n'),
        'src/main.rs': 'fn main() { println!("{}", corp_util::tag()); }\n',
      });
      const fetched = await run(CARGO ?? 'cargo', ['fetch'], {
        cwd: app,
        env: cargoEnv(home, work.path),
        timeoutMs: 240_000,
        check: false,
      });
      assert.notEqual(fetched.code, 0);
      assert.match(fetched.stderr, /no token found for `nora`/);
      const anonymous = await fetch(`${server.url}/cargo/index/co/rp/corp-util`);
      assert.equal(anonymous.status, 200);
    });
  },
);
