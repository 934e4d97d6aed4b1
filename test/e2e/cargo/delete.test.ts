/**
 * Giving a taken-over name back, with the real `cargo` (skipped, saying so, when it is not
 * installed). The group `cargo` proxies a scripted sparse index on loopback serving a real
 * `up-taken 1.0.0`; a consumer builds it through the group. alice (a writer) then publishes
 * `up-taken` 9.0.0 and 9.1.0 into cargo-hosted (`[cargo] shadow_names` lets the takeover
 * through): the consumer's Cargo.lock pinned to the upstream's 1.0.0 no longer resolves. alice
 * may not delete the crate (403, Cargo's error shape); an admin deletes 9.1.0 (`cargo update`
 * then picks 9.0.0: cargo sees the line gone), then the whole crate: the consumer's Cargo.lock
 * resolves the upstream's crate through the group again and builds.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CARGO,
  cargoEnv,
  consumerManifest,
  crateManifest,
  missingCargo,
  writeCargoHome,
  writeCrateFiles,
} from '../../helpers/cargo.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { output, run } from '../../helpers/tools.ts';
import { CargoFixtureUpstream } from '../../integration/cargo-proxy/fixture.ts';

/** Writes a crate `up-taken` `version` whose `it()` returns `value`, publishable to `nora`. */
async function writeCrate(dir: string, version: string, value: number): Promise<void> {
  await writeCrateFiles(dir, {
    'Cargo.toml': crateManifest('up-taken', version, '', 'readme = false'),
    'src/lib.rs': `pub fn it() -> u32 { ${value} }\n`,
  });
}

/** A consumer of `up-taken` (`requirement`) printing `it=<value>`. */
async function writeConsumer(dir: string, requirement: string): Promise<void> {
  await writeCrateFiles(dir, {
    'Cargo.toml': consumerManifest(path.basename(dir), [
      `up-taken = { version = "${requirement}", registry = "nora" }`,
    ]),
    'src/main.rs': 'fn main() { println!("it={}", up_taken::it()); }\n',
  });
}

describe(
  'an admin deletes a taken-over crate; cargo resolves the upstream one again',
  {
    skip: missingCargo,
  },
  () => {
    const upstream = new CargoFixtureUpstream();
    let server: TestServer;
    let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
    let alice: string;
    let admin: string;
    let homes = 0;

    /** A fresh CARGO_HOME naming this server (nothing cached). */
    const freshHome = async (): Promise<string> => {
      homes += 1;
      const home = path.join(work.path, `home-${homes}`);
      await writeCargoHome(home, server.url);
      return home;
    };
    const cargo = (args: readonly string[], cwd: string, home: string, token?: string) =>
      run(CARGO ?? 'cargo', [...args], {
        cwd,
        env: cargoEnv(home, cwd, token),
        timeoutMs: 240_000,
        check: false,
      });
    const del = (url: string, token: string) =>
      fetch(`${server.url}${url}`, { method: 'DELETE', headers: { authorization: token } });

    before(async () => {
      work = await tempDir('nora-e2e-cargo-delete-');
      // The upstream's up-taken 1.0.0: a real .crate (`cargo package`, offline), it() = 1.
      const packaged = path.join(work.path, 'upstream-crate');
      await writeCrate(packaged, '1.0.0', 1);
      await run(CARGO ?? 'cargo', ['package', '--no-verify', '--allow-dirty', '--offline'], {
        cwd: packaged,
        env: cargoEnv(path.join(packaged, 'home'), packaged),
        timeoutMs: 120_000,
      });
      const body = await fs.readFile(
        path.join(packaged, 'target', 'package', 'up-taken-1.0.0.crate'),
      );
      upstream.add('up-taken', { vers: '1.0.0', body });
      await upstream.start();
      server = await startTestServer({
        config: {
          cargo: { proxy: upstream.url, metadata_ttl: 0, shadow_names: ['up-taken'] },
          auth: { enabled: true, anonymous_read: true, admin_users: ['root'] },
        },
      });
      const { users, tokens } = server.app.context.identity;
      assert.ok(await users.create('alice', 'alice-pw-1', undefined, ['read', 'write']));
      assert.ok(await users.create('root', 'root-pw-12', undefined, ['read', 'write']));
      alice = (await tokens.create('alice', { role: 'write' })).secret;
      admin = (await tokens.create('root', { role: 'admin' })).secret;
    });
    after(async () => {
      await server.close();
      await upstream.stop();
      await work[Symbol.asyncDispose]();
    });

    test(
      'takeover, then delete: a locked build of the upstream crate builds again',
      {
        timeout: 900_000,
      },
      async () => {
        // A consumer resolves and builds the upstream's crate through the group; Cargo.lock pins it.
        const locked = path.join(work.path, 'locked-consumer');
        await writeConsumer(locked, '1');
        const first = await cargo(['run', '--quiet'], locked, await freshHome());
        assert.equal(first.code, 0, output(first));
        assert.match(first.stdout, /it=1/);
        assert.match(await fs.readFile(path.join(locked, 'Cargo.lock'), 'utf8'), /"1\.0\.0"/);

        // alice takes the name over (shadow_names allows it), two versions.
        const publisherHome = await freshHome();
        for (const [version, value] of [
          ['9.0.0', 90],
          ['9.1.0', 91],
        ] as const) {
          const dir = path.join(work.path, `up-taken-${version}`);
          await writeCrate(dir, version, value);
          const published = await cargo(
            ['publish', '--registry', 'nora', '--allow-dirty', '--no-verify'],
            dir,
            publisherHome,
            alice,
          );
          assert.equal(published.code, 0, output(published));
          assert.match(
            published.stderr,
            new RegExp(`Uploaded up-taken v${version.replaceAll('.', '\\.')}`),
          );
        }
        // The locked build no longer resolves: the group serves only the hosted versions.
        const hidden = await cargo(['fetch', '--locked'], locked, await freshHome());
        assert.notEqual(hidden.code, 0, output(hidden));

        // A consumer of the hosted crate gets 9.1.0.
        const hostedUser = path.join(work.path, 'hosted-consumer');
        await writeConsumer(hostedUser, '9');
        const hostedHome = await freshHome();
        const nine = await cargo(['run', '--quiet'], hostedUser, hostedHome);
        assert.equal(nine.code, 0, output(nine));
        assert.match(nine.stdout, /it=91/);

        // alice (owner, writer) may not delete; Cargo's error shape says who may.
        for (const url of [
          '/cargo/api/v1/crates/up-taken',
          '/cargo/api/v1/crates/up-taken/9.1.0',
        ]) {
          const refused = await del(url, alice);
          assert.equal(refused.status, 403);
          const body = (await refused.json()) as { errors: { detail: string }[] };
          assert.match(body.errors[0]?.detail ?? '', /^only an admin may delete/);
        }

        // An admin deletes 9.1.0: cargo revalidates the index file and picks 9.0.0.
        assert.equal((await del('/cargo/api/v1/crates/up-taken/9.1.0', admin)).status, 200);
        const updated = await cargo(['update'], hostedUser, hostedHome);
        assert.equal(updated.code, 0, output(updated));
        const ninety = await cargo(['run', '--quiet'], hostedUser, hostedHome);
        assert.equal(ninety.code, 0, output(ninety));
        assert.match(ninety.stdout, /it=90/);

        // An admin deletes the crate: the name is the upstream's again, the locked build builds.
        assert.equal((await del('/cargo/api/v1/crates/up-taken', admin)).status, 200);
        const back = await cargo(['run', '--quiet', '--locked'], locked, await freshHome());
        assert.equal(back.code, 0, output(back));
        assert.match(back.stdout, /it=1/);
        // The hosted versions are gone for their consumer too (cargo: no matching version).
        const gone = await cargo(['update'], hostedUser, hostedHome);
        assert.notEqual(gone.code, 0, output(gone));
        assert.match(gone.stderr, /up-taken/);
      },
    );
  },
);
