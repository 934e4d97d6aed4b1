/**
 * Retention of a hosted Cargo registry with the real `cargo` (skipped, saying so, when it is not
 * installed): `cargo publish` of rt-keep 0.1.0, 0.2.0, 0.3.0 and 0.4.0, one after the other; a
 * rule `keep_last = 2` applied through the Cargo retention adapter deletes 0.1.0 and 0.2.0 (a
 * delete, not a yank: their lines leave the sparse index file). Then the index file has only
 * 0.3.0 and 0.4.0, and `cargo fetch` of a consumer requiring `=0.1.0` fails while one requiring
 * `=0.3.0` downloads it.
 */
import assert from 'node:assert/strict';
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
import { keepLast } from '../../helpers/retention.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { output, run } from '../../helpers/tools.ts';

const VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.4.0'];

describe(
  'retention keep_last 2 on cargo-hosted: cargo publish, cargo sees the kept versions',
  { skip: missingCargo },
  () => {
    let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
    let server: TestServer;
    let homes = 0;
    /** A fresh CARGO_HOME naming this server (no index cached). */
    const freshHome = async (): Promise<string> => {
      homes += 1;
      const home = path.join(work.path, `home-${homes}`);
      await writeCargoHome(home, server.url);
      return home;
    };
    const cargo = async (args: readonly string[], cwd: string) =>
      run(CARGO ?? 'cargo', [...args], {
        cwd,
        // Auth is off: any token string, which NORA ignores (README).
        env: cargoEnv(await freshHome(), cwd, 'anything'),
        timeoutMs: 240_000,
        check: false,
      });

    before(async () => {
      work = await tempDir('nora-e2e-cargo-retention-');
      server = await startTestServer({ config: { cargo: { proxy: '' } } });
    });
    after(async () => {
      await (server as TestServer | undefined)?.close();
      await (work as typeof work | undefined)?.[Symbol.asyncDispose]();
    });

    test(
      'four versions published, two deleted; the index and cargo fetch show the kept ones',
      { timeout: 900_000 },
      async () => {
        const crate = path.join(work.path, 'rt-keep');
        for (const version of VERSIONS) {
          await writeCrateFiles(crate, {
            'Cargo.toml': crateManifest('rt-keep', version, '', 'readme = false'),
            'src/lib.rs': `pub fn version() -> &'static str { "${version}" }\n`,
          });
          const published = await cargo(
            ['publish', '--registry', 'nora', '--allow-dirty', '--no-verify'],
            crate,
          );
          assert.equal(published.code, 0, output(published));
        }

        const result = await keepLast(server, 'cargo', 'cargo-hosted', 2);
        assert.deepEqual(result.deleted, ['rt-keep@0.1.0', 'rt-keep@0.2.0']);
        assert.deepEqual(result.kept, ['rt-keep@0.3.0', 'rt-keep@0.4.0']);
        assert.ok(result.bytes > 0);

        // The sparse index file is derived from the versions left: two lines.
        const index = await fetch(`${server.url}/cargo/index/rt/-k/rt-keep`);
        const lines = (await index.text()).trim().split('\n');
        assert.equal(index.status, 200);
        assert.deepEqual(
          lines.map((line) => (JSON.parse(line) as { vers: string }).vers),
          ['0.3.0', '0.4.0'],
        );

        const consumer = async (requirement: string) => {
          const dir = path.join(work.path, `consumer-${requirement.replace(/\W/g, '')}`);
          await writeCrateFiles(dir, {
            'Cargo.toml': consumerManifest('use-keep', [
              `rt-keep = { version = "${requirement}", registry = "nora" }`,
            ]),
            'src/main.rs': 'fn main() { println!("{}", rt_keep::version()); }\n',
          });
          return cargo(['fetch'], dir);
        };
        const gone = await consumer('=0.1.0');
        assert.notEqual(gone.code, 0, output(gone));
        assert.match(output(gone), /rt-keep = "=0\.1\.0"|rt-keep.*=0\.1\.0/, output(gone));
        const kept = await consumer('=0.3.0');
        assert.equal(kept.code, 0, output(kept));
        assert.match(output(kept), /Downloaded rt-keep v0\.3\.0/, output(kept));

        // A second pass finds nothing more to delete.
        const second = await keepLast(server, 'cargo', 'cargo-hosted', 2);
        assert.deepEqual(second.deleted, []);
      },
    );
  },
);
