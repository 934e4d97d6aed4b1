/**
 * Trial hostile F2 with the real `cargo` (skipped, saying so, when it is not installed): the
 * upstream of NORA's cargo proxy (a scripted sparse index on loopback) serves `evilcrate 0.1.0`,
 * a consumer builds through `/cargo/` (NORA caches the `.crate`); then the upstream states
 * another `cksum` for 0.1.0 and serves other bytes. A fresh `cargo build` (new CARGO_HOME, no
 * Cargo.lock) must still build, from the cached bytes: NORA's index keeps the line of the
 * cached `.crate`, and says so in a warning naming the crate, the version and both checksums.
 * Before the fix NORA served the upstream's new line with the cached bytes: "failed to verify
 * the checksum of `evilcrate v0.1.0`".
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  CARGO,
  cargoEnv,
  consumerManifest,
  missingCargo,
  writeCargoHome,
  writeCrateFiles,
} from '../../helpers/cargo.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { output, run } from '../../helpers/tools.ts';
import { CargoFixtureUpstream, sha256 } from '../../integration/cargo-proxy/fixture.ts';

/** A real `.crate` of `evilcrate 0.1.0` whose `it()` returns `value` (`cargo package`, offline). */
async function packageCrate(dir: string, value: number): Promise<Buffer> {
  await fs.mkdir(path.join(dir, 'src'), { recursive: true });
  await fs.writeFile(
    path.join(dir, 'Cargo.toml'),
    [
      '[package]',
      'name = "evilcrate"',
      'version = "0.1.0"',
      'edition = "2021"',
      'description = "NORA e2e crate"',
      'license = "MIT"',
      '',
    ].join('\n'),
  );
  await fs.writeFile(path.join(dir, 'src', 'lib.rs'), `pub fn it() -> u32 { ${value} }\n`);
  await run(CARGO ?? 'cargo', ['package', '--no-verify', '--allow-dirty', '--offline'], {
    cwd: dir,
    env: cargoEnv(path.join(dir, 'home'), dir),
    timeoutMs: 120_000,
  });
  return fs.readFile(path.join(dir, 'target', 'package', 'evilcrate-0.1.0.crate'));
}

describe(
  'cargo build when the upstream changes the cksum of a cached crate version',
  {
    skip: missingCargo,
  },
  () => {
    test(
      'a fresh build still builds, from the cached bytes; NORA warns once',
      {
        timeout: 300_000,
      },
      async () => {
        await using work = await tempDir('nora-e2e-cargo-cksum-');
        const good = await packageCrate(path.join(work.path, 'good'), 9);
        const evil = await packageCrate(path.join(work.path, 'evil'), 666);
        assert.notEqual(sha256(good), sha256(evil));

        const upstream = new CargoFixtureUpstream();
        upstream.add('evilcrate', { vers: '0.1.0', body: good });
        await upstream.start();
        const logs: string[] = [];
        try {
          await using server = await startTestServer({
            config: { cargo: { proxy: upstream.url, metadata_ttl: 0 } },
            logLevel: 'warn',
            logStream: { write: (line: string) => logs.push(line) },
          });
          const consumer = path.join(work.path, 'consumer');
          await writeCrateFiles(consumer, {
            'Cargo.toml': consumerManifest('consumer', [
              'evilcrate = { version = "0.1", registry = "nora" }',
            ]),
            'src/main.rs': 'fn main() { println!("it={}", evilcrate::it()); }\n',
          });
          const build = async (label: string) => {
            const home = path.join(work.path, `home-${label}`);
            await writeCargoHome(home, server.url);
            await fs.rm(path.join(consumer, 'Cargo.lock'), { force: true });
            return run(CARGO ?? 'cargo', ['run', '--quiet'], {
              cwd: consumer,
              env: cargoEnv(home, path.join(work.path, label)),
              timeoutMs: 240_000,
              check: false,
            });
          };

          const first = await build('first');
          assert.equal(first.code, 0, output(first));
          assert.match(first.stdout, /it=9/);

          // The upstream rewrites 0.1.0: another cksum, other bytes at dl.
          upstream.crates.delete('evilcrate');
          upstream.add('evilcrate', { vers: '0.1.0', body: evil });
          const second = await build('second');
          assert.equal(second.code, 0, output(second));
          assert.doesNotMatch(output(second), /failed to verify the checksum/);
          assert.match(second.stdout, /it=9/);

          const index = await (await fetch(`${server.url}/cargo/index/ev/il/evilcrate`)).text();
          assert.match(index, new RegExp(`"cksum":"${sha256(good)}"`), index);

          const warnings = logs.filter((l) => /changed the cksum/.test(l));
          assert.equal(warnings.length, 1, logs.join(''));
          const warning = JSON.parse(warnings[0] ?? '{}') as Record<string, unknown>;
          assert.equal(warning['crate'], 'evilcrate');
          assert.equal(warning['version'], '0.1.0');
          assert.equal(warning['cachedCksum'], sha256(good));
          assert.equal(warning['upstreamCksum'], sha256(evil));
        } finally {
          await upstream.stop();
        }
      },
    );
  },
);
