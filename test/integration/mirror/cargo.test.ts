/**
 * `nora mirror cargo` end to end with real crates: the crate sources of Debian's librust-*-dev
 * packages (≥ 100 crates) as a static sparse registry (bench/cargo/make_tree.py) served by nginx,
 * standing for crates.io; a NORA whose Cargo proxy points at it. The real `cargo
 * generate-lockfile` writes the Cargo.lock (against nginx, so NORA has seen nothing), the mirror
 * pulls every locked crate through NORA's `/cargo/` group, nginx is stopped, and `cargo fetch
 * --locked` with an empty CARGO_HOME gets every crate from NORA alone. A pinned checksum that is
 * not the registry's, a crate nobody has, and a git dependency are reported.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { indexPath } from '../../../src/formats/cargo/index-file.ts';
import { parseCargoLock } from '../../../src/mirror/cargo.ts';
import { nora } from '../../helpers/cli.ts';
import { serveNora } from '../../helpers/process.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { findTool, missingTools, output, run } from '../../helpers/tools.ts';
import {
  cargoEnv,
  downloadedCrates,
  lockedPackages,
  makeTree,
  missingDebianCrates,
  startNginx,
  writeConsumer,
  writeSourceReplacement,
} from '../../e2e/cargo-proxy/real-tree.ts';

const CARGO = findTool('cargo');
const skip =
  (CARGO === undefined ? 'client not installed: cargo (install a Rust toolchain)' : false) ||
  missingTools('nginx', 'python3') ||
  (await missingDebianCrates());

describe('nora mirror cargo', { skip }, () => {
  test(
    'pre-fetches a Cargo.lock through NORA, which then serves cargo fetch alone',
    { timeout: 600_000 },
    async () => {
      await using work = await tempDir('nora-mirror-cargo-');
      await fs.chmod(work.path, 0o755);
      const root = path.join(work.path, 'www');
      const manifest = await makeTree(root);
      const nginx = await startNginx(path.join(work.path, 'nginx'), root);
      try {
        const noraDir = path.join(work.path, 'nora');
        await fs.mkdir(noraDir);
        await using server = await serveNora({ dir: noraDir }, { NORA_CARGO_PROXY: nginx.index });
        const cargo = (args: string[], cwd: string, home: string) =>
          run(CARGO ?? 'cargo', args, {
            cwd,
            env: cargoEnv(home),
            timeoutMs: 300_000,
            check: false,
          });

        // The lock file, written by cargo against the upstream itself.
        const consumer = path.join(work.path, 'consumer');
        await writeConsumer(consumer, manifest, nginx.index);
        let res = await cargo(['generate-lockfile'], consumer, path.join(work.path, 'home-0'));
        assert.equal(res.code, 0, output(res));
        const lockText = await fs.readFile(path.join(consumer, 'Cargo.lock'), 'utf8');
        const locked = await lockedPackages(consumer);
        const plan = parseCargoLock(lockText);
        assert.equal(plan.crates.length, locked.length - 1, 'every package but the consumer');
        assert.ok(plan.crates.every((c) => c.checksum !== undefined));

        const lockfile = path.join(consumer, 'Cargo.lock');
        const mirrored = await nora([
          'mirror',
          'cargo',
          '--lockfile',
          lockfile,
          '--registry',
          server.url,
        ]);
        assert.equal(mirrored.code, 0, output(mirrored));
        assert.equal(
          mirrored.stdout.split('\n').filter((l) => l.startsWith('ok   cargo ')).length,
          plan.crates.length,
        );

        // A wrong pin, a crate nobody has, a git dependency.
        const first = plan.crates[0];
        assert.ok(first?.checksum);
        const tampered = `${lockText.replace(first.checksum, 'f'.repeat(64))}
[[package]]
name = "no-such-crate"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "${'0'.repeat(64)}"

[[package]]
name = "from-git"
version = "0.3.0"
source = "git+https://example.invalid/from-git?rev=abc#abcdef0123"
`;
        const tamperedFile = path.join(work.path, 'tampered.lock');
        await fs.writeFile(tamperedFile, tampered);
        const bad = await nora([
          'mirror',
          'cargo',
          '--lockfile',
          tamperedFile,
          '--registry',
          server.url,
        ]);
        assert.equal(bad.code, 1, output(bad));
        const lines = bad.stdout.split('\n');
        assert.ok(
          lines.includes(
            'skip cargo from-git 0.3.0: git source git+https://example.invalid/from-git?rev=abc is not a registry; cargo fetches it itself',
          ),
          bad.stdout,
        );
        assert.ok(
          lines.includes(
            `fail cargo ${first.name} ${first.version}: checksum mismatch: Cargo.lock pins ${'f'.repeat(64)}, /cargo/index/${indexPath(first.name)} says ${first.checksum}`,
          ),
          bad.stdout,
        );
        assert.match(
          bad.stdout,
          /^fail cargo no-such-crate 1\.0\.0: 404 from \/cargo\/index\/no\/-s\/no-such-crate/m,
        );
        assert.match(bad.stdout, / 2 failed, 1 skipped /);

        const garbage = path.join(work.path, 'garbage.lock');
        await fs.writeFile(garbage, '{"lockfileVersion": 3}\n');
        const input = await nora([
          'mirror',
          'cargo',
          '--lockfile',
          garbage,
          '--registry',
          server.url,
        ]);
        assert.equal(input.code, 2, output(input));
        assert.match(
          input.stderr,
          /^nora mirror cargo: not a Cargo\.lock \(TOML does not parse\): /m,
        );

        // The upstream gone: cargo gets everything from NORA.
        await nginx.stop();
        await writeSourceReplacement(consumer, `${server.url}/cargo/index/`);
        const home = path.join(work.path, 'home-1');
        res = await cargo(['fetch', '--locked'], consumer, home);
        assert.equal(res.code, 0, `${output(res)}\n${server.output().slice(-3000)}`);
        assert.equal((await downloadedCrates(home)).size, plan.crates.length);
      } finally {
        await nginx.stop();
      }
    },
  );
});
