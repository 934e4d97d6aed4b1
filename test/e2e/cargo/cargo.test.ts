/**
 * Issue 15 with the real `cargo` (skipped, saying so, when it is not installed): against the
 * default `/cargo/` group (write member cargo-hosted) as the sparse registry `nora`,
 * `cargo login`, `cargo publish` of a library and of a crate depending on it, a duplicate publish
 * refused with our message, `cargo yank` / `--undo`, `cargo owner --add/--list/--remove`,
 * `cargo search`, and `cargo fetch` + `cargo build` of a consumer depending on the published
 * crates — with `auth-required` off (anonymous read on) and on (anonymous read off: Cargo sends
 * the token for every index and download request). Everything else is offline: no public
 * registry is reachable, and none is needed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { run, type RunResult } from '../../helpers/tools.ts';
import {
  CARGO,
  cargoEnv,
  crateManifest,
  missingCargo,
  writeCargoHome,
  writeCrateFiles,
} from '../../helpers/cargo.ts';

const missing = missingCargo;

const LIB = 'nora-e2e-lib';
const MID = 'nora_e2e_mid';

for (const authRequired of [false, true]) {
  describe(
    `cargo against /cargo/ (auth-required ${authRequired ? 'on' : 'off'})`,
    { skip: missing },
    () => {
      let server: TestServer;
      let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
      let env: NodeJS.ProcessEnv;
      let aliceToken: string;
      const cargo = (
        args: string[],
        cwd: string,
        options: { check?: boolean; input?: string } = {},
      ) =>
        run(CARGO ?? 'cargo', args, {
          cwd,
          env,
          timeoutMs: 240_000,
          ...options,
        });
      const indexLines = async (name: string) => {
        const res = await fetch(`${server.url}/cargo/index/${indexPathOf(name)}`, {
          headers: { authorization: aliceToken },
        });
        assert.equal(res.status, 200);
        return (await res.text())
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as { vers: string; yanked: boolean; deps: { name: string }[] });
      };

      before(async () => {
        server = await startTestServer({
          config: {
            cargo: { proxy: '' },
            auth: { enabled: true, anonymous_read: !authRequired },
          },
        });
        const { users, tokens } = server.app.context.identity;
        assert.ok(await users.create('alice', 'alice-pw-1', undefined, ['read', 'write']));
        assert.ok(await users.create('bob', 'bob-pw-123', undefined, ['read', 'write']));
        aliceToken = (await tokens.create('alice', { role: 'write' })).secret;
        work = await tempDir('nora-cargo-e2e-');
        const home = path.join(work.path, 'cargo-home');
        await writeCargoHome(home, server.url);
        env = cargoEnv(home, work.path);
      });
      after(async () => {
        await server.close();
        await work[Symbol.asyncDispose]();
      });

      test('cargo login stores the nra_ token; publish of a library and of a dependent crate', async () => {
        await cargo(['login', '--registry', 'nora'], work.path, { input: `${aliceToken}\n` });
        const credentials = await fs.readFile(
          path.join(work.path, 'cargo-home', 'credentials.toml'),
          'utf8',
        );
        assert.match(credentials, /\[registries\.nora\]/);
        const lib = path.join(work.path, 'lib');
        await writeCrateFiles(lib, {
          'Cargo.toml': crateManifest(LIB, '0.1.0', '', 'readme = false'),
          'src/lib.rs': 'pub fn greet() -> &\'static str { "hello from nora" }\n',
        });
        const published = await cargo(['publish', '--registry', 'nora', '--allow-dirty'], lib);
        assert.match(published.stderr, /Uploaded nora-e2e-lib v0\.1\.0/);
        await writeCrateFiles(lib, {
          'Cargo.toml': crateManifest(LIB, '0.2.0', '', 'readme = false'),
          'src/lib.rs': 'pub fn greet() -> &\'static str { "hello again from nora" }\n',
        });
        await cargo(['publish', '--registry', 'nora', '--allow-dirty', '--no-verify'], lib);
        // The same version again: refused with our message.
        const again = await cargo(
          ['publish', '--registry', 'nora', '--allow-dirty', '--no-verify'],
          lib,
          { check: false },
        );
        assert.notEqual(again.code, 0);
        assert.match(again.stderr, /already exists/);
        // A crate depending on the library from the same registry (verify builds it from there).
        const mid = path.join(work.path, 'mid');
        await writeCrateFiles(mid, {
          'Cargo.toml': crateManifest(
            MID,
            '1.0.0',
            `${LIB} = { version = "0.1", registry = "nora" }`,
          ),
          'src/lib.rs': `pub fn shout() -> String { nora_e2e_lib::greet().to_uppercase() }\n`,
        });
        const midPublished = await cargo(['publish', '--registry', 'nora', '--allow-dirty'], mid);
        assert.match(midPublished.stderr, /Uploaded nora_e2e_mid v1\.0\.0/);
        const entries = await indexLines(MID);
        assert.deepEqual(
          entries.map((e) => [e.vers, e.deps.map((d) => d.name)]),
          [['1.0.0', [LIB]]],
        );
        assert.deepEqual(
          (await indexLines(LIB)).map((e) => e.vers),
          ['0.1.0', '0.2.0'],
        );
      });

      test('cargo yank and yank --undo flip the index entry', async () => {
        await cargo(['yank', '--registry', 'nora', '--version', '0.2.0', LIB], work.path);
        assert.deepEqual(
          (await indexLines(LIB)).map((e) => [e.vers, e.yanked]),
          [
            ['0.1.0', false],
            ['0.2.0', true],
          ],
        );
        await cargo(['yank', '--registry', 'nora', '--version', '0.2.0', '--undo', LIB], work.path);
        assert.equal((await indexLines(LIB))[1]?.yanked, false);
        const unknown = await cargo(
          ['yank', '--registry', 'nora', '--version', '9.9.9', LIB],
          work.path,
          { check: false },
        );
        assert.notEqual(unknown.code, 0);
        assert.match(unknown.stderr, /does not have a version `9\.9\.9`/);
      });

      test('cargo owner --add / --list / --remove', async () => {
        const add = await cargo(['owner', '--registry', 'nora', '--add', 'bob', LIB], work.path);
        assert.match(add.stderr + add.stdout, /bob/);
        const list = await cargo(['owner', '--registry', 'nora', '--list', LIB], work.path);
        // Cargo prints `login (name)` per owner: unchanged by the stable ids of the owners API.
        assert.deepEqual(list.stdout.trim().split('\n'), ['alice (alice)', 'bob (bob)']);
        await cargo(['owner', '--registry', 'nora', '--remove', 'bob', LIB], work.path);
        const after = await cargo(['owner', '--registry', 'nora', '--list', LIB], work.path);
        assert.doesNotMatch(after.stdout, /bob/);
        const nobody: RunResult = await cargo(
          ['owner', '--registry', 'nora', '--add', 'no-such-user', LIB],
          work.path,
          { check: false },
        );
        assert.notEqual(nobody.code, 0);
        assert.match(nobody.stderr, /could not find user with login `no-such-user`/);
        // crates.io answers 400 for a login that is not an owner; nothing is removed.
        const notOwner: RunResult = await cargo(
          ['owner', '--registry', 'nora', '--remove', 'bob', LIB],
          work.path,
          { check: false },
        );
        assert.notEqual(notOwner.code, 0);
        assert.match(notOwner.stderr, /could not find owner with login `bob`/);
        const still = await cargo(['owner', '--registry', 'nora', '--list', LIB], work.path);
        assert.deepEqual(still.stdout.trim().split('\n'), ['alice (alice)']);
      });

      test('cargo search finds the published crates', async () => {
        const found = await cargo(['search', '--registry', 'nora', 'nora-e2e'], work.path);
        assert.match(found.stdout, /nora-e2e-lib = "0\.2\.0"/);
        const byKeyword = await cargo(['search', '--registry', 'nora', 'noratest'], work.path);
        assert.match(byKeyword.stdout, /nora_e2e_mid = "1\.0\.0"/);
      });

      test('cargo fetch and cargo build of a consumer depending on the published crates', async () => {
        // A fresh cargo cache: everything comes from the registry.
        await fs.rm(path.join(work.path, 'cargo-home', 'registry'), {
          recursive: true,
          force: true,
        });
        const app = path.join(work.path, 'app');
        await writeCrateFiles(app, {
          'Cargo.toml': [
            '[package]',
            'name = "nora-e2e-app"',
            'version = "0.0.1"',
            'edition = "2021"',
            'publish = false',
            '',
            '[dependencies]',
            `${MID} = { version = "1", registry = "nora" }`,
            `${LIB} = { version = "0.2", registry = "nora" }`,
            '',
          ].join('\n'),
          'src/main.rs': [
            'fn main() {',
            '    println!("{} / {}", nora_e2e_mid::shout(), nora_e2e_lib::greet());',
            '}',
            '',
          ].join('\n'),
        });
        await cargo(['fetch'], app);
        const lock = await fs.readFile(path.join(app, 'Cargo.lock'), 'utf8');
        assert.match(lock, /name = "nora-e2e-lib"\nversion = "0\.1\.0"/);
        assert.match(lock, /name = "nora-e2e-lib"\nversion = "0\.2\.0"/);
        assert.match(lock, /name = "nora_e2e_mid"\nversion = "1\.0\.0"/);
        await cargo(['build', '--offline'], app);
        const ran = await run(path.join(work.path, 'target', 'debug', 'nora-e2e-app'), [], {});
        assert.equal(ran.stdout.trim(), 'HELLO FROM NORA / hello again from nora');
      });
    },
  );
}

describe('cargo: a crate published while auth was off, then auth on', { skip: missing }, () => {
  // Found by new users: `cargo owner --add bob rg-alpha` by bob took an owner-less crate (one
  // published with auth off, the README's default) from the team that published it.
  let dir: { path: string; [Symbol.asyncDispose](): Promise<void> };
  let server: TestServer;
  let env: NodeJS.ProcessEnv;
  let tokens: { alice: string; bob: string; root: string };
  const cargo = (args: string[], cwd: string, token: string, check = true) =>
    run(CARGO ?? 'cargo', [...args, '--registry', 'nora', '--token', token], {
      cwd,
      env,
      timeoutMs: 240_000,
      check,
    });
  const crate = (version: string) =>
    writeCrateFiles(path.join(dir.path, 'alpha'), {
      'Cargo.toml': crateManifest('rg-alpha', version, '', 'readme = false'),
      'src/lib.rs': `pub fn version() -> &'static str { "${version}" }\n`,
    });
  const publish = (token: string, check = true) =>
    cargo(['publish', '--allow-dirty', '--no-verify'], path.join(dir.path, 'alpha'), token, check);
  const NO_OWNER =
    /crate `rg-alpha` has no owner \(it was published while authentication was off\)[^\n]*an admin must add its owners first \(`cargo owner --add <user> rg-alpha` with an admin token\)/;

  before(async () => {
    dir = await tempDir('nora-cargo-ownerless-e2e-');
    const home = path.join(dir.path, 'cargo-home');
    env = cargoEnv(home, dir.path);
    const configure = (url: string) => writeCargoHome(home, url);
    const data = path.join(dir.path, 'data');
    await fs.mkdir(data);
    // Auth off (the default): any token string, which NORA ignores (README).
    const off = await startTestServer({ dataDir: data, config: { cargo: { proxy: '' } } });
    await configure(off.url);
    await crate('0.1.0');
    await publish('anything');
    await off.close();
    server = await startTestServer({
      dataDir: data,
      config: { cargo: { proxy: '' }, auth: { enabled: true, admin_users: ['root'] } },
    });
    await configure(server.url);
    const { users, tokens: store } = server.app.context.identity;
    for (const name of ['alice', 'bob', 'root']) {
      assert.ok(await users.create(name, `${name}-pw-123`, undefined, ['read', 'write']));
    }
    tokens = {
      alice: (await store.create('alice', { role: 'write' })).secret,
      bob: (await store.create('bob', { role: 'write' })).secret,
      root: (await store.create('root', { role: 'admin' })).secret,
    };
  });
  after(async () => {
    await server.close();
    await dir[Symbol.asyncDispose]();
  });

  test('a writer cannot take it, yank it or publish it; an admin adds the owner, who then publishes', async () => {
    const take = await cargo(['owner', '--add', 'bob', 'rg-alpha'], dir.path, tokens.bob, false);
    assert.notEqual(take.code, 0);
    assert.match(take.stderr, NO_OWNER);
    const yank = await cargo(
      ['yank', '--version', '0.1.0', 'rg-alpha'],
      dir.path,
      tokens.bob,
      false,
    );
    assert.notEqual(yank.code, 0);
    assert.match(yank.stderr, NO_OWNER);
    await crate('0.2.0');
    const early = await publish(tokens.alice, false);
    assert.notEqual(early.code, 0);
    assert.match(early.stderr, NO_OWNER);
    const listed = await cargo(['owner', '--list', 'rg-alpha'], dir.path, tokens.alice);
    assert.equal(listed.stdout.trim(), '', 'nobody owns it yet');
    await cargo(['owner', '--add', 'alice', 'rg-alpha'], dir.path, tokens.root);
    const published = await publish(tokens.alice);
    assert.match(published.stderr, /Uploaded rg-alpha v0\.2\.0/);
    const bobs = await cargo(['owner', '--add', 'bob', 'rg-alpha'], dir.path, tokens.bob, false);
    assert.notEqual(bobs.code, 0);
    assert.match(bobs.stderr, /bob is not an owner of crate `rg-alpha` \(owners: alice\)/);
    const owners = await cargo(['owner', '--list', 'rg-alpha'], dir.path, tokens.alice);
    assert.deepEqual(owners.stdout.trim().split('\n'), ['alice (alice)']);
  });
});

function indexPathOf(name: string): string {
  const lower = name.toLowerCase();
  if (lower.length <= 2) return `${lower.length}/${lower}`;
  if (lower.length === 3) return `3/${lower[0]}/${lower}`;
  return `${lower.slice(0, 2)}/${lower.slice(2, 4)}/${lower}`;
}
