/**
 * Curation with the real cargo: NORA's Cargo proxy over a scripted sparse upstream holding
 * `cur-crate` 1.0.0 and 1.1.0 (real .crate archives). With 1.1.0 blocklisted in enforce,
 * `cargo fetch` of `=1.1.0` fails (the index line is gone), `cargo fetch` of `1` locks 1.0.0,
 * the `.crate` download is a 403 naming the rule; an internal crate never reaches the upstream.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import {
  cargoEnv,
  CARGO,
  consumerManifest,
  missingCargo,
  writeCargoHome,
} from '../../helpers/cargo.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { output, run } from '../../helpers/tools.ts';
import { CargoFixtureUpstream } from '../../integration/cargo-proxy/fixture.ts';

async function realCrate(work: string, name: string, version: string): Promise<Buffer> {
  const dir = path.join(work, 'crates', `${name}-${version}`);
  await fs.mkdir(path.join(dir, 'src'), { recursive: true });
  await fs.writeFile(
    path.join(dir, 'Cargo.toml'),
    `[package]\nname = "${name}"\nversion = "${version}"\nedition = "2021"\n`,
  );
  await fs.writeFile(path.join(dir, 'src', 'lib.rs'), '');
  const file = path.join(work, 'crates', `${name}-${version}.crate`);
  await run('tar', ['-czf', file, '-C', path.join(work, 'crates'), `${name}-${version}`]);
  return fs.readFile(file);
}

test(
  'cargo through curation: blocked crate version refused, another locked, internal crate not asked upstream',
  { skip: missingCargo, timeout: 180_000 },
  async () => {
    await using work = await tempDir('nora-cur-cargo-');
    const upstream = new CargoFixtureUpstream();
    for (const version of ['1.0.0', '1.1.0']) {
      upstream.add('cur-crate', {
        vers: version,
        body: await realCrate(work.path, 'cur-crate', version),
      });
    }
    upstream.add('corp-secret', {
      vers: '1.0.0',
      body: await realCrate(work.path, 'corp-secret', '1.0.0'),
    });
    await upstream.start();
    try {
      const blocklist = path.join(work.path, 'blocklist.json');
      await fs.writeFile(
        blocklist,
        JSON.stringify({
          version: 1,
          rules: [
            {
              registry: 'cargo',
              name: 'cur_crate',
              version: '>=1.1.0',
              reason: 'backdoored build.rs',
            },
          ],
        }),
      );
      await using server = await startTestServer({
        config: {
          curation: {
            mode: 'enforce',
            blocklist_path: blocklist,
            internal_namespaces: ['cargo:corp-*'],
          },
        },
        env: { NORA_CARGO_PROXY: upstream.url },
      });
      const fetchWith = async (label: string, dep: string) => {
        const home = path.join(work.path, `home-${label}`);
        await writeCargoHome(home, server.url);
        const project = path.join(work.path, `project-${label}`);
        await fs.mkdir(path.join(project, 'src'), { recursive: true });
        await fs.writeFile(path.join(project, 'src', 'lib.rs'), '');
        await fs.writeFile(path.join(project, 'Cargo.toml'), consumerManifest('consumer', [dep]));
        const res = await run(CARGO ?? 'cargo', ['fetch'], {
          cwd: project,
          env: cargoEnv(home, project),
          check: false,
          timeoutMs: 90_000,
        });
        const lock = await fs.readFile(path.join(project, 'Cargo.lock'), 'utf8').catch(() => '');
        return { res, lock };
      };
      const exact = await fetchWith(
        'exact',
        'cur-crate = { version = "=1.1.0", registry = "nora" }',
      );
      assert.notEqual(exact.res.code, 0, output(exact.res));
      assert.match(output(exact.res), /failed to select a version/);
      const ranged = await fetchWith('ranged', 'cur-crate = { version = "1", registry = "nora" }');
      assert.equal(ranged.res.code, 0, output(ranged.res));
      assert.match(ranged.lock, /name = "cur-crate"\nversion = "1\.0\.0"/);

      const refused = await fetch(`${server.url}/cargo/api/v1/crates/cur-crate/1.1.0/download`);
      assert.equal(refused.status, 403);
      assert.match(
        await refused.text(),
        /cargo cur-crate@1\.1\.0 is blocked by curation .*backdoored build\.rs/,
      );

      const internal = await fetchWith(
        'internal',
        'corp-secret = { version = "1", registry = "nora" }',
      );
      assert.notEqual(internal.res.code, 0, output(internal.res));
      assert.equal(upstream.requests.filter((r) => r.url.includes('corp')).length, 0);
    } finally {
      await upstream.stop();
    }
  },
);
