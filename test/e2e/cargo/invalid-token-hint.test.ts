/**
 * The real `cargo` (skipped, saying so, when it is not installed) publishing with a token NORA
 * does not know, as `cargo login anything` saves while auth is off (trial 34): cargo printed only
 * `invalid credentials`; now it prints how to make a NORA token and `cargo login --registry`.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { run } from '../../helpers/tools.ts';
import {
  CARGO,
  cargoEnv,
  crateManifest,
  missingCargo,
  writeCargoHome,
  writeCrateFiles,
} from '../../helpers/cargo.ts';

describe('cargo: publish with an unknown token', { skip: missingCargo }, () => {
  test('cargo prints the hint: make a token, cargo login --registry', async () => {
    await using server = await startTestServer({
      config: { cargo: { proxy: '' }, auth: { enabled: true } },
    });
    await using work = await tempDir('nora-cargo-bad-token-e2e-');
    const home = path.join(work.path, 'cargo-home');
    await writeCargoHome(home, server.url);
    const crate = path.join(work.path, 'crate');
    await writeCrateFiles(crate, {
      'Cargo.toml': crateManifest('hinted-crate', '0.1.0', '', 'readme = false'),
      'src/lib.rs': 'pub fn x() {}\n',
    });
    const published = await run(
      CARGO ?? 'cargo',
      ['publish', '--registry', 'nora', '--allow-dirty', '--no-verify'],
      {
        cwd: crate,
        env: cargoEnv(home, work.path, 'anything'),
        timeoutMs: 240_000,
        check: false,
      },
    );
    assert.notEqual(published.code, 0, published.stderr);
    assert.match(published.stderr, /NORA knows no such token/, published.stderr);
    assert.match(published.stderr, /cargo login --registry <name>/, published.stderr);
  });
});
