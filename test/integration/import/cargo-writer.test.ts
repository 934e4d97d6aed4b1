/**
 * The `nora import` Cargo writer against a listening NORA, with `.crate` archives as `cargo
 * package` writes them (a normalised Cargo.toml under `<name>-<vers>/`): the metadata is read
 * from the crate (a renamed dependency, features, package texts), a crate written before its
 * dependency is deferred (not sent) and goes in once the dependency is there, a second run skips (another
 * crate of the same version fails: other bytes), and the
 * real `cargo fetch` then resolves both crates from NORA's index.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { cargoWriter } from '../../../src/import/cargo.ts';
import {
  CARGO,
  cargoEnv,
  consumerManifest,
  missingCargo,
  writeCargoHome,
  writeCrateFiles,
} from '../../helpers/cargo.ts';
import { crateArchive } from '../../helpers/crate-archive.ts';
import { defaultTarget, failureReason, writeFile } from '../../helpers/import-writer.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { run } from '../../helpers/tools.ts';

const crate = crateArchive;

const BASE_TOML = `[package]
edition = "2021"
name = "imp-base"
version = "0.1.0"
authors = ["Nora Tester <tester@example.com>"]
description = "imported base"
license = "MIT"
`;

const APP_TOML = `[package]
edition = "2021"
name = "imp-app"
version = "0.2.0"
description = "imported app"
license = "MIT OR Apache-2.0"
keywords = ["noratest"]

[dependencies.base]
version = "^0.1"
package = "imp-base"
registry-index = "sparse+http://source.invalid/api/cargo/crates-local/index/"

[features]
default = []
extra = []
`;

/** Both crates, written to `dir`: [base, app]. */
async function crates(dir: string): Promise<[string, string]> {
  const specs = [
    ['imp-base', '0.1.0', BASE_TOML, 'pub fn base() {}\n'],
    ['imp-app', '0.2.0', APP_TOML, 'pub use base::base;\n'],
  ] as const;
  const files = specs.map(([name, vers]) => path.join(dir, `${name}-${vers}.crate`));
  for (const [i, [name, vers, toml, lib]] of specs.entries()) {
    await fs.writeFile(
      files[i] ?? '',
      await crate(name, vers, { 'Cargo.toml': toml, 'src/lib.rs': lib }),
    );
  }
  return [files[0] ?? '', files[1] ?? ''];
}

const target = defaultTarget('cargo', '/cargo');
const BASE_AT = 'crates/imp-base/imp-base-0.1.0.crate';
const APP_AT = 'crates/imp-app/imp-app-0.2.0.crate';

describe('nora import: Cargo writer', () => {
  test('publishes crates with the metadata of their Cargo.toml, skips on re-run', async () => {
    await using work = await tempDir('nora-import-cargo-');
    await using server = await startTestServer();
    const [base, app] = await crates(work.path);
    const source = { name: 'c', packageType: 'cargo', kind: 'local' } as const;
    assert.equal(
      cargoWriter.accepts({ path: 'index/im/p-/imp-app', size: 1 }, source).action,
      'ignore',
    );

    // Before its dependency: deferred (nothing sent to NORA), the reason names it; the run
    // writes it again once its dependency is in.
    const early = await writeFile(cargoWriter, server.url, target, app, APP_AT);
    assert.deepEqual(early, {
      status: 'deferred',
      reason:
        'imp-app@0.2.0 depends on imp-base, not in NORA (imported neither before nor in this run): not imported',
    });
    assert.equal(
      (await writeFile(cargoWriter, server.url, target, base, BASE_AT)).status,
      'imported',
    );
    assert.deepEqual(await writeFile(cargoWriter, server.url, target, app, APP_AT), {
      status: 'imported',
      bytes: (await fs.stat(app)).size,
    });
    assert.equal((await writeFile(cargoWriter, server.url, target, app, APP_AT)).status, 'skipped');
    // imp-base 0.1.0 again with another lib.rs: the index's cksum differs, a failure.
    const other = path.join(work.path, 'other.crate');
    await fs.writeFile(
      other,
      await crate('imp-base', '0.1.0', { 'Cargo.toml': BASE_TOML, 'src/lib.rs': '// changed\n' }),
    );
    const differs = await writeFile(cargoWriter, server.url, target, other, BASE_AT);
    assert.match(failureReason(differs), /^imp-base@0\.1\.0 in NORA with different bytes/);
    // A crate stored under another crate's file name is refused, whether NORA has it or not
    // (it was "skipped: already in NORA", or would have been published as the crate inside).
    for (const at of ['crates/imp-x/imp-x-1.0.0.crate', 'crates/imp-app/imp-app-0.3.0.crate']) {
      assert.match(
        failureReason(await writeFile(cargoWriter, server.url, target, app, at)),
        /^cannot import: its Cargo\.toml says imp-app@0\.2\.0, but the crate is stored as imp-(x-1\.0\.0|app-0\.3\.0)\.crate/,
      );
    }

    const index = await (await fetch(`${server.url}/cargo/index/im/p-/imp-app`)).text();
    const line = JSON.parse(index.trim()) as {
      deps: { name: string; package?: string; req: string; registry?: string }[];
      features: Record<string, string[]>;
      yanked: boolean;
    };
    assert.deepEqual(
      line.deps.map((d) => [d.name, d.package, d.req, d.registry]),
      [['base', 'imp-base', '^0.1', undefined]],
    );
    assert.deepEqual(line.features, { default: [], extra: [] });
    assert.equal(line.yanked, false);
    const downloaded = await fetch(`${server.url}/cargo/api/v1/crates/imp-app/0.2.0/download`);
    assert.deepEqual(Buffer.from(await downloaded.arrayBuffer()), await fs.readFile(app));
  });

  test('cargo fetch resolves imported crates from NORA', { skip: missingCargo }, async () => {
    await using work = await tempDir('nora-import-cargo-fetch-');
    await using server = await startTestServer();
    for (const [file, at] of (await crates(work.path)).map((f, i) => [
      f,
      i === 0 ? BASE_AT : APP_AT,
    ])) {
      assert.equal(
        (await writeFile(cargoWriter, server.url, target, file ?? '', at ?? '')).status,
        'imported',
      );
    }
    const home = path.join(work.path, 'cargo-home');
    await writeCargoHome(home, server.url);
    const consumer = path.join(work.path, 'consumer');
    await writeCrateFiles(consumer, {
      'Cargo.toml': consumerManifest('consumer', [
        'imp-app = { version = "0.2", registry = "nora" }',
      ]),
      'src/lib.rs': '',
    });
    await run(CARGO ?? 'cargo', ['fetch'], { cwd: consumer, env: cargoEnv(home, consumer) });
    const lock = await fs.readFile(path.join(consumer, 'Cargo.lock'), 'utf8');
    assert.match(lock, /name = "imp-base"\nversion = "0.1.0"/);
    assert.match(lock, /name = "imp-app"\nversion = "0.2.0"/);
  });
});
