/**
 * Cargo proxy prefetch ([cargo] prefetch) with the real `cargo` (skipped, saying so, when it is
 * not installed): crates-io replaced by NORA's `/cargo/` group over a scripted sparse index on
 * loopback (fixture.ts) holding a chain of real `.crate`s, `pf-a` → `pf-b` (normal) → `pf-c`
 * (build dependency) → `pf-d`, which cargo's resolver reads in four waves, one index file each.
 * A cold `cargo fetch` of a consumer depending on `pf-a`:
 *
 * - prefetch on (the default): it succeeds, each index file was asked upstream once (a request
 *   arriving during its prefetch joined it), and the three dependency files were prefetched and
 *   then asked by cargo (counted `started` and `used`);
 * - `prefetch = false`: the same fetch, nothing prefetched.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { indexPath } from '../../../src/formats/cargo/upstream.ts';
import { CARGO, cargoEnv, missingCargo } from '../../helpers/cargo.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { output, run } from '../../helpers/tools.ts';
import { CargoFixtureUpstream } from '../../integration/cargo-proxy/fixture.ts';

/** name → [dependency, kind] of the chain. */
const CHAIN: readonly (readonly [string, string | undefined, 'normal' | 'build'])[] = [
  ['pf-a', 'pf-b', 'normal'],
  ['pf-b', 'pf-c', 'build'],
  ['pf-c', 'pf-d', 'normal'],
  ['pf-d', undefined, 'normal'],
];

/** A real `.crate` (tar.gz of `<name>-1.0.0/` with its Cargo.toml and lib.rs), made by tar. */
async function makeCrate(
  dir: string,
  name: string,
  dependency: string | undefined,
  kind: string,
): Promise<Buffer> {
  const root = path.join(dir, `${name}-1.0.0`);
  await fs.mkdir(path.join(root, 'src'), { recursive: true });
  const section = kind === 'build' ? 'build-dependencies' : 'dependencies';
  await fs.writeFile(
    path.join(root, 'Cargo.toml'),
    [
      '[package]',
      `name = "${name}"`,
      'version = "1.0.0"',
      'edition = "2021"',
      ...(dependency === undefined ? [] : ['', `[${section}]`, `${dependency} = "1"`]),
      '',
    ].join('\n'),
  );
  await fs.writeFile(path.join(root, 'src', 'lib.rs'), '');
  const file = path.join(dir, `${name}-1.0.0.crate`);
  await run('tar', ['-czf', file, '-C', dir, `${name}-1.0.0`]);
  return fs.readFile(file);
}

async function prefetchCount(server: TestServer, outcome: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`nora_proxy_prefetch_total{format="cargo",outcome="${outcome}"}`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('cargo proxy prefetch: cargo fetch through NORA', { skip: missingCargo }, () => {
  for (const prefetch of [true, false]) {
    test(`prefetch = ${String(prefetch)}`, { timeout: 240_000 }, async () => {
      await using work = await tempDir('nora-e2e-cargo-prefetch-');
      const upstream = new CargoFixtureUpstream();
      for (const [name, dependency, kind] of CHAIN) {
        upstream.add(name, {
          vers: '1.0.0',
          body: await makeCrate(work.path, name, dependency, kind),
          deps:
            dependency === undefined
              ? []
              : [
                  {
                    name: dependency,
                    req: '^1',
                    features: [],
                    optional: false,
                    default_features: true,
                    target: null,
                    kind,
                  },
                ],
        });
      }
      await upstream.start();
      try {
        await using server = await startTestServer({
          config: { cargo: { proxy: upstream.url, prefetch } },
        });
        const consumer = path.join(work.path, 'consumer');
        await fs.mkdir(path.join(consumer, 'src'), { recursive: true });
        await fs.writeFile(path.join(consumer, 'src', 'main.rs'), 'fn main() {}\n');
        await fs.writeFile(
          path.join(consumer, 'Cargo.toml'),
          '[package]\nname = "consumer"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\npf-a = "1"\n',
        );
        const home = path.join(work.path, 'home');
        await fs.mkdir(home, { recursive: true });
        await fs.writeFile(
          path.join(home, 'config.toml'),
          `[source.crates-io]\nreplace-with = "nora"\n\n[source.nora]\nregistry = "sparse+${server.url}/cargo/index/"\n\n[net]\nretry = 0\n`,
        );
        const fetched = await run(CARGO ?? 'cargo', ['fetch'], {
          cwd: consumer,
          env: cargoEnv(home, work.path),
          timeoutMs: 180_000,
          check: false,
        });
        assert.equal(fetched.code, 0, output(fetched));
        for (const [name] of CHAIN) {
          const url = `/index/${indexPath(name)}`;
          assert.equal(
            upstream.count((u) => u === url),
            1,
            `${url} asked once:\n${upstream.requests.map((r) => r.url).join('\n')}`,
          );
        }
        if (prefetch) {
          // pf-b, pf-c and pf-d: each prefetched ahead of cargo's wave, then asked by cargo.
          assert.equal(await prefetchCount(server, 'started'), 3);
          assert.equal(await prefetchCount(server, 'used'), 3);
        } else {
          assert.equal(await prefetchCount(server, 'started'), 0);
        }
      } finally {
        await upstream.stop();
      }
    });
  }
});
