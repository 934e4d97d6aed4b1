/**
 * Digest quarantine with the real cargo: NORA's Cargo proxy over a scripted sparse upstream
 * holding `q-crate` 1.0.0 (a real .crate). With `quarantine = "enforce"` and a 3 s TTL, the
 * first `cargo fetch` fails with the 403 naming the release time (Cargo's JSON error); after
 * the TTL it succeeds. Keyed by the crate's `cksum`; every WARN line of the hold names that
 * digest, the fill's and the cached crate's alike (trial 31 fixY).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
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

test(
  'cargo through quarantine (enforce, 3 s): refused with the release time, fetched after it',
  { skip: missingCargo, timeout: 180_000 },
  async () => {
    await using work = await tempDir('nora-quar-cargo-');
    const dir = path.join(work.path, 'crates', 'q-crate-1.0.0');
    await fs.mkdir(path.join(dir, 'src'), { recursive: true });
    await fs.writeFile(
      path.join(dir, 'Cargo.toml'),
      '[package]\nname = "q-crate"\nversion = "1.0.0"\nedition = "2021"\n',
    );
    await fs.writeFile(path.join(dir, 'src', 'lib.rs'), '');
    const file = path.join(work.path, 'crates', 'q-crate-1.0.0.crate');
    await run('tar', ['-czf', file, '-C', path.join(work.path, 'crates'), 'q-crate-1.0.0']);
    const upstream = new CargoFixtureUpstream();
    upstream.add('q-crate', { vers: '1.0.0', body: await fs.readFile(file) });
    await upstream.start();
    const log: string[] = [];
    try {
      await using server = await startTestServer({
        config: { curation: { quarantine: 'enforce', quarantine_ttl: '3s' } },
        env: { NORA_CARGO_PROXY: upstream.url },
        logLevel: 'info',
        logStream: { write: (line) => log.push(line) },
      });
      const fetchWith = async (label: string) => {
        const home = path.join(work.path, `home-${label}`);
        await writeCargoHome(home, server.url);
        const project = path.join(work.path, `project-${label}`);
        await fs.mkdir(path.join(project, 'src'), { recursive: true });
        await fs.writeFile(path.join(project, 'src', 'lib.rs'), '');
        await fs.writeFile(
          path.join(project, 'Cargo.toml'),
          consumerManifest('consumer', ['q-crate = { version = "1", registry = "nora" }']),
        );
        return run(CARGO ?? 'cargo', ['fetch'], {
          cwd: project,
          env: cargoEnv(home, project),
          check: false,
          timeoutMs: 90_000,
        });
      };
      const held = await fetchWith('held');
      assert.notEqual(held.code, 0, output(held));
      assert.match(output(held), /403/);
      assert.match(output(held), /cargo q-crate@1\.0\.0 is in quarantine .* until \d{4}-/);
      // The cached crate again: refused, and logged with the digest as the fill was.
      const cached = await fetch(`${server.url}/cargo/api/v1/crates/q-crate/1.0.0/download`);
      assert.equal(cached.status, 403);
      await cached.arrayBuffer();
      const holds = log
        .filter((line) => line.includes('"reason":"quarantine"'))
        .map((line) => JSON.parse(line) as { curation: { digest?: string } });
      assert.ok(holds.length >= 2, log.join(''));
      for (const hold of holds) assert.match(hold.curation.digest ?? '', /^sha256:[0-9a-f]{64}$/);
      await sleep(3100);
      const released = await fetchWith('released');
      assert.equal(released.code, 0, output(released));
    } finally {
      await upstream.stop();
    }
  },
);
