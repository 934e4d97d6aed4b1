/**
 * Trial rustgo F1 with the real `cargo` (skipped, saying so, when it is not installed): a crate
 * hosted in NORA (`beta_lib`) depends on a crates.io crate (`shared_err`, served by a scripted
 * sparse index on loopback that stands for crates.io, behind NORA's cargo-proxy) and returns
 * its type; a consumer depends on both and uses that type. It must build, with ONE
 * `shared_err` in its Cargo.lock, in both setups README documents:
 *
 * - A (README's recommended): `[registries.nora]` plus `[source.crates-io] replace-with =
 *   "nora"`: crates.io crates come through NORA's group;
 * - B: `[registries.nora]` only: crates.io crates come from crates.io itself (here crates-io is
 *   replaced by the scripted index directly, i.e. reachable without NORA).
 *
 * The group serves the hosted crate's dependency with its `registry` (crates.io's index), as
 * crates.io's own index does, so Cargo puts it in the consumer's crates-io source in both. Before
 * the fix the group removed that field: the dependency became a package of the `nora` source,
 * next to the consumer's crates-io one — two `shared_err` and "expected `shared_err::Error`,
 * found a different `shared_err::Error`" in both setups.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { CARGO, cargoEnv, missingCargo, writeCargoHome } from '../../helpers/cargo.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { output, run } from '../../helpers/tools.ts';
import { CargoFixtureUpstream } from '../../integration/cargo-proxy/fixture.ts';

async function writeCrate(
  dir: string,
  manifest: readonly string[],
  file: string,
  code: string,
): Promise<void> {
  await fs.mkdir(path.join(dir, 'src'), { recursive: true });
  await fs.writeFile(path.join(dir, 'Cargo.toml'), [...manifest, ''].join('\n'));
  await fs.writeFile(path.join(dir, 'src', file), code);
}

/** Packages named `name` in `dir`'s Cargo.lock, with their sources. */
async function locked(dir: string, name: string): Promise<string[]> {
  const lock = await fs.readFile(path.join(dir, 'Cargo.lock'), 'utf8');
  return lock
    .split('[[package]]')
    .filter((block) => new RegExp(`^name = "${name}"$`, 'm').test(block))
    .map((block) => /^source = "(.*)"$/m.exec(block)?.[1] ?? '(path)');
}

describe(
  'a hosted crate exposing a type of a proxied crate, used with that crate',
  {
    skip: missingCargo,
  },
  () => {
    test(
      'one copy of the shared crate, in both setups of README',
      { timeout: 480_000 },
      async () => {
        await using work = await tempDir('nora-e2e-cargo-shared-');
        const cargo = (args: string[], cwd: string, home: string) =>
          run(CARGO ?? 'cargo', args, {
            cwd,
            env: cargoEnv(home, work.path, 'unused-auth-is-off'),
            timeoutMs: 240_000,
            check: false,
          });

        // "crates.io": shared_err 1.0.0, a real .crate (cargo package, offline).
        const shared = path.join(work.path, 'shared_err');
        await writeCrate(
          shared,
          [
            '[package]',
            'name = "shared_err"',
            'version = "1.0.0"',
            'edition = "2021"',
            'description = "an anyhow-like error"',
            'license = "MIT"',
          ],
          'lib.rs',
          'pub struct Error(pub String);\n',
        );
        const packaged = await cargo(
          ['package', '--no-verify', '--allow-dirty', '--offline'],
          shared,
          path.join(work.path, 'home-package'),
        );
        assert.equal(packaged.code, 0, output(packaged));
        const upstream = new CargoFixtureUpstream();
        upstream.add('shared_err', {
          vers: '1.0.0',
          body: await fs.readFile(
            path.join(work.path, 'target', 'package', 'shared_err-1.0.0.crate'),
          ),
        });
        await upstream.start();
        try {
          await using server = await startTestServer({
            config: { cargo: { proxy: upstream.url, metadata_ttl: 0 } },
          });
          const setupA = path.join(work.path, 'home-a');
          await writeCargoHome(setupA, server.url);
          await fs.appendFile(
            path.join(setupA, 'config.toml'),
            '[source.crates-io]\nreplace-with = "nora"\n',
          );
          const setupB = path.join(work.path, 'home-b');
          await writeCargoHome(setupB, server.url);
          await fs.appendFile(
            path.join(setupB, 'config.toml'),
            `[source.crates-io]\nreplace-with = "reachable-crates-io"\n\n[source.reachable-crates-io]\nregistry = "sparse+${upstream.url}"\n`,
          );

          // beta_lib: hosted, depends on shared_err from crates.io, returns its type.
          const beta = path.join(work.path, 'beta_lib');
          await writeCrate(
            beta,
            [
              '[package]',
              'name = "beta_lib"',
              'version = "0.1.0"',
              'edition = "2021"',
              'description = "a hosted crate"',
              'license = "MIT"',
              '',
              '[dependencies]',
              'shared_err = "1"',
            ],
            'lib.rs',
            'pub fn fail() -> shared_err::Error { shared_err::Error("boom".into()) }\n',
          );
          const published = await cargo(
            ['publish', '--registry', 'nora', '--no-verify', '--allow-dirty'],
            beta,
            setupA,
          );
          assert.equal(published.code, 0, output(published));
          const line = await (await fetch(`${server.url}/cargo/index/be/ta/beta_lib`)).text();
          assert.match(
            line,
            /"name":"shared_err".*"registry":"https:\/\/github.com\/rust-lang\/crates.io-index"/,
            'the group keeps the crates.io registry of the dependency',
          );

          for (const [label, home] of [
            ['A: replace-with nora', setupA],
            ['B: nora as a named registry only', setupB],
          ] as const) {
            const consumer = path.join(work.path, `consumer-${label[0]}`);
            await writeCrate(
              consumer,
              [
                '[package]',
                'name = "consumer"',
                'version = "0.1.0"',
                'edition = "2021"',
                '',
                '[dependencies]',
                'shared_err = "1"',
                'beta_lib = { version = "0.1", registry = "nora" }',
              ],
              'main.rs',
              'fn main() {\n    let e: shared_err::Error = beta_lib::fail();\n    println!("error={}", e.0);\n}\n',
            );
            const built = await cargo(['run', '--quiet'], consumer, home);
            assert.equal(built.code, 0, `${label}: ${output(built)}`);
            assert.match(built.stdout, /error=boom/, label);
            assert.equal((await locked(consumer, 'shared_err')).length, 1, label);
          }
        } finally {
          await upstream.stop();
        }
      },
    );
  },
);
