/**
 * Issue 15 "Proof (real clients)", proxy and group, with real input: the crate sources of
 * Debian's librust-*-dev packages (≥ 100 crates: clap's and tokio's trees and more) made into a
 * static sparse index + `.crate` files (bench/cargo/make_tree.py), served by nginx as the
 * upstream (NORA_CARGO_PROXY). Through NORA's default `/cargo/` group:
 *
 * 1. `cargo generate-lockfile` + `cargo fetch` of a project depending on every crate of the tree,
 *    empty CARGO_HOME: every `.crate` Cargo stored is byte-identical to the tree's;
 * 2. nginx stopped (by its PID): a fresh CARGO_HOME fetches the whole lockfile again, and
 *    `cargo generate-lockfile` resolves again, from NORA's cache alone (index files stale);
 * 3. hosted and proxied together: a crate published to the group (cargo-hosted) that depends on
 *    `serde` from the upstream; the group serves its line with `registry = crates.io-index`, as
 *    crates.io does. A project using it resolves serde (one copy) both when crates-io is
 *    replaced by the group and when the group is a named registry (`registry = "nora"` in
 *    Cargo.toml) and crates.io crates come from elsewhere: here crates-io is replaced by
 *    cargo-proxy itself, `/repository/cargo-proxy/index/`, standing for a reachable crates.io
 *    (nginx is stopped). With neither, on a host that cannot reach crates.io, Cargo cannot get
 *    serde (docs/cargo.md, Group); test/e2e/cargo-proxy/shared-dependency.test.ts builds a
 *    consumer sharing the dependency's type in both setups.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { consumerManifest } from '../../helpers/cargo.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { sha256File } from '../../helpers/storage.ts';
import { findTool, missingTools, output, run } from '../../helpers/tools.ts';
import {
  cargoEnv,
  downloadedCrates,
  lockedPackages,
  makeTree,
  MIN_CRATES,
  missingDebianCrates,
  startNginx,
  writeConsumer,
  writeSourceReplacement,
} from './real-tree.ts';

const CARGO = findTool('cargo') ?? (findTool('rustup') === undefined ? undefined : 'cargo');
const skip =
  (CARGO === undefined ? 'client not installed: cargo (install a Rust toolchain)' : false) ||
  missingTools('nginx', 'python3') ||
  (await missingDebianCrates());

describe('cargo through the /cargo/ group with a proxy of real crates', { skip }, () => {
  test(
    'fetch ≥ 100 Debian crates through the proxy, stop the upstream, fetch again from cache; hosted + proxied',
    { timeout: 600_000 },
    async () => {
      await using work = await tempDir('nora-e2e-cargo-proxy-');
      await fs.chmod(work.path, 0o755);
      const root = path.join(work.path, 'www');
      const manifest = await makeTree(root);
      assert.ok(manifest.crates.length >= MIN_CRATES, `${manifest.crates.length} crates`);
      const nginx = await startNginx(path.join(work.path, 'nginx'), root);
      try {
        await using server = await startTestServer({
          config: { cargo: { metadata_ttl: 0 } },
          env: { NORA_CARGO_PROXY: nginx.index },
        });
        const groupIndex = `${server.url}/cargo/index/`;
        const cargo = (args: string[], cwd: string, home: string, extra = {}) =>
          run(CARGO ?? 'cargo', args, {
            cwd,
            env: cargoEnv(home, extra),
            timeoutMs: 300_000,
            check: false,
          });

        // 1. Cold: resolve and fetch everything through NORA.
        const consumer = path.join(work.path, 'consumer');
        await writeConsumer(consumer, manifest, groupIndex);
        const home1 = path.join(work.path, 'home-1');
        let res = await cargo(['generate-lockfile'], consumer, home1);
        assert.equal(res.code, 0, output(res));
        const locked = await lockedPackages(consumer);
        assert.ok(locked.length > MIN_CRATES, `${locked.length} packages locked`);
        res = await cargo(['fetch'], consumer, home1);
        assert.equal(res.code, 0, output(res));
        const expected = new Map(manifest.crates.map((c) => [`${c.name}-${c.vers}.crate`, c]));
        const fetched = await downloadedCrates(home1);
        assert.equal(fetched.size, locked.length - 1, 'every locked crate downloaded');
        for (const [file, where] of fetched) {
          const crate = expected.get(file);
          assert.ok(crate, `${file} comes from the tree`);
          assert.equal(await sha256File(where), crate.cksum, file);
        }

        // 2. Upstream gone: everything again from NORA's cache.
        await nginx.stop();
        const down = await fetch(nginx.index).then(
          () => 'answered',
          () => 'down',
        );
        assert.equal(down, 'down', 'nginx is stopped');
        const home2 = path.join(work.path, 'home-2');
        res = await cargo(['fetch'], consumer, home2);
        assert.equal(res.code, 0, output(res));
        assert.equal((await downloadedCrates(home2)).size, fetched.size);
        await fs.rm(path.join(consumer, 'Cargo.lock'));
        res = await cargo(['generate-lockfile'], consumer, path.join(work.path, 'home-3'));
        assert.equal(res.code, 0, output(res));
        assert.equal((await lockedPackages(consumer)).length, locked.length);
        const stale = await fetch(`${server.url}/cargo/index/se/rd/serde`);
        assert.equal(stale.status, 200);
        assert.equal(stale.headers.get('x-nora-stale'), 'true');

        // 3. A hosted crate depending on a proxied one (serde, cached above).
        const lib = path.join(work.path, 'nora-app');
        await fs.mkdir(path.join(lib, 'src'), { recursive: true });
        await fs.writeFile(path.join(lib, 'src', 'lib.rs'), 'pub fn app() {}\n');
        await fs.writeFile(
          path.join(lib, 'Cargo.toml'),
          [
            '[package]',
            'name = "nora-app"',
            'version = "0.1.0"',
            'edition = "2021"',
            'description = "a hosted crate using a proxied one"',
            'license = "MIT"',
            '',
            '[dependencies]',
            'serde = { version = "1", default-features = false }',
            '',
          ].join('\n'),
        );
        await writeSourceReplacement(lib, groupIndex);
        await fs.appendFile(
          path.join(lib, '.cargo', 'config.toml'),
          `\n[registries.nora]\nindex = "sparse+${groupIndex}"\n`,
        );
        const home4 = path.join(work.path, 'home-4');
        res = await cargo(
          ['publish', '--registry', 'nora', '--no-verify', '--allow-dirty'],
          lib,
          home4,
          { CARGO_REGISTRIES_NORA_TOKEN: 'unused-auth-is-off' },
        );
        assert.equal(res.code, 0, output(res));
        const hostedLine = await (
          await fetch(`${server.url}/repository/cargo-hosted/index/no/ra/nora-app`)
        ).text();
        assert.match(hostedLine, /"registry":"https:\/\/github.com\/rust-lang\/crates.io-index"/);
        const groupLine = await (await fetch(`${groupIndex}no/ra/nora-app`)).text();
        assert.match(groupLine, /"registry":"https:\/\/github.com\/rust-lang\/crates.io-index"/);

        for (const named of [false, true]) {
          const app = path.join(work.path, named ? 'use-named' : 'use-replaced');
          await fs.mkdir(path.join(app, 'src'), { recursive: true });
          await fs.writeFile(path.join(app, 'src', 'main.rs'), 'fn main() { nora_app::app(); }\n');
          await fs.writeFile(
            path.join(app, 'Cargo.toml'),
            consumerManifest('use-app', [
              named ? 'nora-app = { version = "0.1", registry = "nora" }' : 'nora-app = "0.1"',
            ]),
          );
          if (named) {
            // crates.io crates from "crates.io" (cargo-proxy itself, not the group).
            await writeSourceReplacement(app, `${server.url}/repository/cargo-proxy/index/`);
            await fs.appendFile(
              path.join(app, '.cargo', 'config.toml'),
              `\n[registries.nora]\nindex = "sparse+${groupIndex}"\n`,
            );
          } else {
            await writeSourceReplacement(app, groupIndex);
          }
          const home = path.join(work.path, named ? 'home-5' : 'home-6');
          res = await cargo(['generate-lockfile'], app, home);
          assert.equal(res.code, 0, output(res));
          const names = (await lockedPackages(app)).map((p) => p.name).sort();
          assert.deepEqual(names, ['nora-app', 'serde', 'use-app']);
          res = await cargo(['fetch'], app, home);
          assert.equal(res.code, 0, output(res));
        }
      } finally {
        await nginx.stop();
      }
    },
  );
});
