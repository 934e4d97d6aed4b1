/**
 * `[cargo] index_timeout` with the real cargo (test/integration/cargo-proxy/index-timeout.test.ts
 * has the HTTP side). NORA's cargo proxy asks a scripted sparse-index upstream on loopback
 * (test/integration/cargo-proxy/fixture.ts) serving two real, buildable crates; `metadata_ttl = 0`
 * so every index read asks the upstream again, `index_timeout = 2`, the circuit breaker off (so
 * every request meets the hung upstream, none is cut short by an open circuit).
 *
 * 1. Upstream answering: `cargo build` of a project depending on `warm-crate` (fills the cache).
 * 2. The upstream hangs (accepts, never answers): `cargo build` of a fresh project with a fresh
 *    CARGO_HOME depending on `warm-crate` still succeeds, in a few seconds (NORA's cached copy),
 *    far below cargo's own 30 s `http.timeout`.
 * 3. A project depending on `cold-crate`, never fetched: cargo fails fast (each index read NORA
 *    cannot answer costs `index_timeout`), never with cargo's "Timeout was reached". What cargo
 *    says is its own "no matching package named `cold-crate` found": through the group NORA
 *    answers 404 naming the timeout, and cargo never shows a 404's body (NORA's WARN line names
 *    the failed upstream). A 5xx would show it, but would also fail `cargo publish` of every new
 *    crate while the upstream hangs (cargo looks the name up first), so the 404 stays.
 *
 * Cargo's own retry count (3) is kept: what a user's cargo would do.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
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
/** Cargo's own http.timeout: an answer later than this is one cargo never sees. */
const CARGO_TIMEOUT_MS = 30_000;
/** Generous for a loaded machine (8 s seen at load 11), still well below cargo's timeout. */
const BOUND_MS = 20_000;

describe('cargo through a NORA cargo proxy whose upstream hangs', { skip: missing }, () => {
  let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
  let upstream: CargoFixtureUpstream;
  let server: TestServer;

  before(async () => {
    work = await tempDir('nora-e2e-cargo-hang-');
    upstream = new CargoFixtureUpstream();
    for (const name of ['warm-crate', 'cold-crate'])
      upstream.add(name, { vers: '0.1.0', body: await makeCrate(name, '0.1.0') });
    await upstream.start();
    server = await startTestServer({
      config: {
        circuit_breaker: { enabled: false },
        cargo: { proxy: upstream.url, metadata_ttl: 0, index_timeout: 2 },
      },
    });
  });
  after(async () => {
    await server.close();
    await upstream.stop();
    await work[Symbol.asyncDispose]();
  });

  /** `cargo build` of a new binary project depending on `dep`, with its own CARGO_HOME. */
  const build = async (label: string, dep: string) => {
    const dir = path.join(work.path, label);
    await writeCrateFiles(dir, {
      'Cargo.toml': consumerManifest(`consumer-${label}`, [`${dep} = "0.1.0"`]),
      'src/main.rs': `fn main() { println!("{}", ${dep.replaceAll('-', '_')}::hello()); }\n`,
    });
    await writeSourceReplacement(dir, `${server.url}/cargo/index/`);
    const started = performance.now();
    const result = await run(CARGO ?? 'cargo', ['build'], {
      cwd: dir,
      env: cargoEnv(path.join(work.path, `home-${label}`), { CARGO_NET_RETRY: '3' }),
      timeoutMs: 180_000,
      check: false,
    });
    return { result, ms: performance.now() - started };
  };

  test('upstream answering: cargo build fills the cache', { timeout: 180_000 }, async () => {
    const { result } = await build('warm', 'warm-crate');
    assert.equal(result.code, 0, output(result));
  });

  test(
    'upstream hung: a cached crate builds quickly; an uncached one fails fast, not by cargo’s timeout',
    { timeout: 180_000 },
    async (t) => {
      upstream.hang = true;
      const cached = await build('cached', 'warm-crate');
      t.diagnostic(`cached crate, upstream hung: cargo build took ${Math.round(cached.ms)} ms`);
      assert.equal(cached.result.code, 0, output(cached.result));
      assert.ok(cached.ms < BOUND_MS, `cargo build took ${Math.round(cached.ms)} ms`);

      const cold = await build('cold', 'cold-crate');
      t.diagnostic(
        `uncached crate, upstream hung: cargo build took ${Math.round(cold.ms)} ms:\n${output(cold.result)}`,
      );
      assert.notEqual(cold.result.code, 0, output(cold.result));
      assert.ok(cold.ms < CARGO_TIMEOUT_MS, `cargo build took ${Math.round(cold.ms)} ms`);
      assert.doesNotMatch(output(cold.result), /Timeout was reached|\[28\]/);
      assert.match(output(cold.result), /no matching package named `cold-crate` found/);
      // NORA's answer, as cargo got it (cargo does not print it).
      const answer = await fetch(`${server.url}/cargo/index/co/ld/cold-crate`);
      assert.equal(answer.status, 404);
      assert.match(
        await answer.text(),
        /cold-crate \(upstream cargo-proxy#0 unreachable: timeout\)/,
      );
    },
  );
});
