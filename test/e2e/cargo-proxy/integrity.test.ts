/**
 * Stored-bytes integrity with cargo (docs/storage.md "Integrity of stored bytes"): two of
 * Debian's real crate sources (librust-*-dev) made into a static sparse registry
 * (bench/cargo/make_tree.py) served by nginx are fetched by `cargo fetch` through NORA's cargo
 * proxy (the `/cargo/` group); then each cached `.crate` blob is damaged on disk (one byte
 * flipped, same size). The next `cargo fetch` (fresh CARGO_HOME) must fail cleanly or retry,
 * never keep a damaged `.crate`; the damaged file is removed; a later `cargo fetch` gets the
 * upstream's bytes again. Both crates (8 KiB and 91 KiB) are hashed before any byte goes out.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { exists, flipBlobByte, sha256File } from '../../helpers/storage.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { findTool, missingTools, output, run } from '../../helpers/tools.ts';
import {
  cargoEnv,
  DEBIAN_CRATES,
  downloadedCrates,
  makeTree,
  startNginx,
  writeConsumer,
} from './real-tree.ts';

const CRATES = ['stable_deref_trait-1.2.0', 'unicode-segmentation-1.9.0'];
const CARGO = findTool('cargo') ?? (findTool('rustup') === undefined ? undefined : 'cargo');
const present = await Promise.all(CRATES.map((c) => exists(path.join(DEBIAN_CRATES, c))));
const skip =
  (CARGO === undefined ? 'client not installed: cargo (install a Rust toolchain)' : false) ||
  missingTools('nginx', 'python3') ||
  (present.every(Boolean)
    ? false
    : `Debian crate sources missing under ${DEBIAN_CRATES}: ${CRATES.join(', ')} (scripts/install-test-clients.sh)`);

describe('cargo fetch through the cargo proxy when a cached .crate is damaged', { skip }, () => {
  test(
    'damaged crates are never kept by cargo, are removed, and are fetched again from the upstream',
    { timeout: 120_000 },
    async () => {
      await using work = await tempDir('nora-e2e-cargo-integrity-');
      // nginx workers drop root's privileges: the tree must be world-readable.
      await fs.chmod(work.path, 0o755);
      const registry = path.join(work.path, 'registry');
      await fs.mkdir(registry);
      for (const c of CRATES) await fs.symlink(path.join(DEBIAN_CRATES, c), path.join(registry, c));
      const root = path.join(work.path, 'www');
      await run('python3', [path.join('bench', 'cargo', 'make_tree.py'), root, registry], {
        timeoutMs: 60_000,
      });
      const manifest = await makeTree(root);
      assert.equal(manifest.crates.length, CRATES.length);
      const nginx = await startNginx(path.join(work.path, 'nginx'), root);
      try {
        await using server = await startTestServer({
          env: { NORA_CARGO_PROXY: nginx.index },
        });
        const storage = path.join(server.dataDir, 'storage');
        const consumer = path.join(work.path, 'consumer');
        await writeConsumer(consumer, manifest, `${server.url}/cargo/index/`);
        const expected = new Map(
          manifest.crates.map((c) => [`${c.name}-${c.vers}.crate`, c.cksum]),
        );
        const fetchAll = async (label: string) => {
          const home = path.join(work.path, `home-${label}`);
          const res = await run(CARGO ?? 'cargo', ['fetch'], {
            cwd: consumer,
            // Cargo's own default (real-tree.ts turns retries off): a 503 or a cut body is retried.
            env: cargoEnv(home, { CARGO_NET_RETRY: '2' }),
            timeoutMs: 45_000,
            check: false,
          });
          const got = new Map<string, string>();
          for (const [file, where] of await downloadedCrates(home))
            got.set(file, await sha256File(where));
          return { res, got };
        };

        const warm = await fetchAll('warm');
        assert.equal(warm.res.code, 0, output(warm.res));
        assert.deepEqual(warm.got, expected);

        const damaged: string[] = [];
        for (const cksum of expected.values()) damaged.push(await flipBlobByte(storage, cksum));
        for (const [i, file] of damaged.entries())
          assert.notEqual(await sha256File(file), [...expected.values()][i], `${file} damaged`);

        // cargo checks each .crate against the index's `cksum`, and retries a 503 or a cut body.
        const hit = await fetchAll('hit');
        for (const [file, sha] of hit.got)
          assert.equal(sha, expected.get(file), `${file}: cargo kept a damaged copy`);
        // Both crates are under 1 MiB: hashed before any byte goes out, answered 503, which
        // Cargo retries (by then refilled from the upstream). Before, the 91 KiB crate's
        // connection was cut with nothing sent ("Empty reply from server", curl exit 52), which
        // Cargo does not retry: the fetch failed.
        assert.equal(hit.res.code, 0, output(hit.res));
        assert.match(output(hit.res), /got 503/, output(hit.res));
        assert.deepEqual(hit.got, expected, output(hit.res));
        assert.doesNotMatch(output(hit.res), /\b500\b|Internal Server Error/, output(hit.res));

        for (const [i, file] of damaged.entries()) {
          if (await exists(file))
            assert.equal(await sha256File(file), [...expected.values()][i], `${file} repaired`);
        }

        const again = await fetchAll('again');
        assert.equal(again.res.code, 0, output(again.res));
        assert.deepEqual(again.got, expected);
        for (const [i, file] of damaged.entries())
          assert.equal(await sha256File(file), [...expected.values()][i], `${file} refilled`);
      } finally {
        await nginx.stop();
      }
    },
  );
});
