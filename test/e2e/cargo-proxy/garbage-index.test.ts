/**
 * Trial 14 F10 with the real cargo (test/integration/cargo-proxy/proxy.test.ts "a 200 that is not
 * an index file" has the HTTP side): an upstream sparse index that answers an index file with 200
 * and an HTML page (a captive portal, an error page) or an empty body must not replace NORA's
 * good cached copy; the last copy is served stale (`x-nora-stale: true`).
 *
 * NORA's cargo proxy asks a scripted sparse-index upstream on loopback
 * (test/integration/cargo-proxy/fixture.ts) serving one real, buildable crate; `metadata_ttl = 0`
 * so every index read asks the upstream again, the circuit breaker off (so every read meets the
 * garbage, none is cut short by an open circuit). `cargo generate-lockfile` + `cargo fetch` of a
 * project depending on it fills the cache; then, for each garbage answer, a fresh project with a
 * fresh CARGO_HOME resolves and fetches the crate through NORA all the same.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { indexPath } from '../../../src/formats/cargo/upstream.ts';
import { consumerManifest, writeCrateFiles } from '../../helpers/cargo.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { findTool, output, run } from '../../helpers/tools.ts';
import { CargoFixtureUpstream } from '../../integration/cargo-proxy/fixture.ts';
import { makeCrate } from '../../integration/cargo/fixtures.ts';
import { cargoEnv, writeSourceReplacement } from './real-tree.ts';

const CARGO = findTool('cargo') ?? (findTool('rustup') === undefined ? undefined : 'cargo');
const missing =
  CARGO === undefined || findTool('rustc') === undefined
    ? 'client not installed: cargo/rustc (install a Rust toolchain, e.g. rustup)'
    : false;
const CRATE = 'portal-crate';

describe(
  'cargo through a NORA cargo proxy whose upstream index answers garbage with 200',
  { skip: missing },
  () => {
    let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
    let upstream: CargoFixtureUpstream;
    let server: TestServer;

    before(async () => {
      work = await tempDir('nora-e2e-cargo-garbage-');
      upstream = new CargoFixtureUpstream();
      upstream.add(CRATE, { vers: '0.1.0', body: await makeCrate(CRATE, '0.1.0') });
      await upstream.start();
      server = await startTestServer({
        config: {
          circuit_breaker: { enabled: false },
          cargo: { proxy: upstream.url, metadata_ttl: 0 },
        },
      });
    });
    after(async () => {
      await server.close();
      await upstream.stop();
      await work[Symbol.asyncDispose]();
    });

    /** `cargo generate-lockfile` then `cargo fetch --locked` of a new project, own CARGO_HOME. */
    const fetchProject = async (label: string) => {
      const dir = path.join(work.path, label);
      await writeCrateFiles(dir, {
        'Cargo.toml': consumerManifest(`consumer-${label}`, [`${CRATE} = "0.1.0"`]),
        'src/main.rs': 'fn main() {}\n',
      });
      await writeSourceReplacement(dir, `${server.url}/cargo/index/`);
      const env = cargoEnv(path.join(work.path, `home-${label}`), { CARGO_NET_RETRY: '0' });
      const options = { cwd: dir, env, timeoutMs: 180_000, check: false } as const;
      const lock = await run(CARGO ?? 'cargo', ['generate-lockfile'], options);
      if (lock.code !== 0) return { result: lock, lockfile: '' };
      const result = await run(CARGO ?? 'cargo', ['fetch', '--locked'], options);
      const lockfile = await fs.readFile(path.join(dir, 'Cargo.lock'), 'utf8');
      return { result, lockfile };
    };

    test('upstream answering: cargo fills the cache', { timeout: 180_000 }, async () => {
      const { result, lockfile } = await fetchProject('warm');
      assert.equal(result.code, 0, output(result));
      assert.match(lockfile, new RegExp(`name = "${CRATE}"\\nversion = "0\\.1\\.0"`));
    });

    for (const [label, body] of [
      ['html', '<!DOCTYPE html><html><body>Please sign in to the network</body></html>\n'],
      ['empty', ''],
    ] as const) {
      test(
        `the upstream index answers 200 with ${label === 'html' ? 'an HTML page' : 'an empty body'}: cargo resolves and fetches from NORA's copy`,
        { timeout: 180_000 },
        async () => {
          upstream.rawIndex.set(CRATE, body);
          const asked = upstream.count((url) => url.endsWith(`/${CRATE}`));
          const { result, lockfile } = await fetchProject(label);
          assert.equal(result.code, 0, output(result));
          assert.match(lockfile, new RegExp(`name = "${CRATE}"\\nversion = "0\\.1\\.0"`));
          assert.ok(
            upstream.count((url) => url.endsWith(`/${CRATE}`)) > asked,
            'the upstream was asked, and answered garbage',
          );
          // NORA's answer, as cargo got it: the last good copy, said to be stale.
          const res = await fetch(`${server.url}/cargo/index/${indexPath(CRATE)}`);
          assert.equal(res.status, 200);
          assert.equal(res.headers.get('x-nora-stale'), 'true');
          const lines = (await res.text()).trim().split('\n');
          assert.deepEqual(
            lines.map((line) => (JSON.parse(line) as { vers: string }).vers),
            ['0.1.0'],
          );
        },
      );
    }
  },
);
