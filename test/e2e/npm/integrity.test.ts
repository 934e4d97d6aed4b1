/**
 * Stored-bytes integrity with npm (docs/storage.md "Integrity of stored bytes"): packages
 * published by `npm publish` to an upstream NORA are installed by `npm install` through a second
 * NORA's npm proxy; then each cached tarball blob is damaged on disk (one byte flipped, same
 * size). The next `npm install` (fresh cache, fresh project) must fail cleanly or retry, never
 * install damaged bytes; the damaged file is removed; a later install succeeds with the
 * upstream's bytes fetched again. Two tarballs: a small one (read whole by the storage driver)
 * and a larger one (~1.5 MB of incompressible bytes, read as a file); both are hashed before
 * any byte goes out (blobs up to 64 MiB: a 503, which npm retries). The cut connection of larger
 * blobs is covered with curl in test/e2e/raw/damaged-storage.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { exists, flipBlobByte } from '../../helpers/storage.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { npmHome } from '../../helpers/npm-ci.ts';
import { missingTools, output, run } from '../../helpers/tools.ts';

const PACKAGES = [
  { name: 'integrity-small', version: '1.0.0', payload: 2_000 },
  { name: 'integrity-large', version: '1.0.0', payload: 1_500_000 },
];

/** A private npm home for `registry` (anonymous token; quick retries so a test stays short). */
const quickNpmHome = (dir: string, registry: string) =>
  npmHome(dir, registry, '_authToken=anonymous', [
    'fetch-retries=2',
    'fetch-retry-mintimeout=200',
    'fetch-retry-maxtimeout=1000',
  ]);

async function hashFile(file: string, algorithm = 'sha256'): Promise<string> {
  return createHash(algorithm)
    .update(await fs.readFile(file))
    .digest('hex');
}

/** The sha512 of each published tarball (its content address), as the upstream serves it. */
async function tarballDigests(upstream: TestServer): Promise<string[]> {
  const out: string[] = [];
  for (const p of PACKAGES) {
    const doc = (await (await fetch(`${upstream.url}/npm/${p.name}`)).json()) as {
      versions: Record<string, { dist: { tarball: string } }>;
    };
    const url = doc.versions[p.version]?.dist.tarball ?? '';
    const res = await fetch(url);
    assert.equal(res.status, 200, url);
    out.push(
      createHash('sha512')
        .update(Buffer.from(await res.arrayBuffer()))
        .digest('hex'),
    );
  }
  return out;
}

describe('npm install through the npm proxy when a cached tarball is damaged', () => {
  test(
    'damaged tarballs are never installed, are removed, and are fetched again from the upstream',
    { skip: missingTools('npm'), timeout: 120_000 },
    async () => {
      await using work = await tempDir('nora-e2e-npm-integrity-');
      await using upstream = await startTestServer();
      const publishEnv = await quickNpmHome(
        path.join(work.path, 'publisher'),
        `${upstream.url}/npm/`,
      );
      for (const p of PACKAGES) {
        const dir = path.join(work.path, 'src', p.name);
        await fs.mkdir(dir, { recursive: true });
        await fs.writeFile(
          path.join(dir, 'package.json'),
          JSON.stringify({ name: p.name, version: p.version, main: 'index.js' }),
        );
        await fs.writeFile(path.join(dir, 'index.js'), 'module.exports = 1;\n');
        await fs.writeFile(path.join(dir, 'payload.bin'), randomBytes(p.payload));
        const res = await run('npm', ['publish', '--access', 'public'], {
          cwd: dir,
          env: publishEnv,
          check: false,
        });
        assert.equal(res.code, 0, output(res));
      }
      const digests = await tarballDigests(upstream);
      await using proxy = await startTestServer({
        config: { npm: { proxy: `${upstream.url}/npm/` } },
      });
      const storage = path.join(proxy.dataDir, 'storage');

      const install = async (label: string) => {
        const env = await quickNpmHome(path.join(work.path, `home-${label}`), `${proxy.url}/npm/`);
        const project = path.join(work.path, `project-${label}`);
        await fs.mkdir(project, { recursive: true });
        await fs.writeFile(
          path.join(project, 'package.json'),
          '{"name":"consumer","version":"1.0.0","private":true}\n',
        );
        const res = await run(
          'npm',
          ['install', '--no-audit', '--no-fund', ...PACKAGES.map((p) => `${p.name}@${p.version}`)],
          { cwd: project, env, check: false, timeoutMs: 45_000 },
        );
        const installed: string[] = [];
        for (const p of PACKAGES) {
          if (await exists(path.join(project, 'node_modules', p.name, 'payload.bin')))
            installed.push(p.name);
        }
        return { res, project, installed };
      };
      const samePayloads = async (project: string, from: string) => {
        for (const p of PACKAGES) {
          const file = (dir: string) => path.join(dir, 'node_modules', p.name, 'payload.bin');
          assert.equal(await hashFile(file(project)), await hashFile(file(from)), p.name);
        }
      };

      const warm = await install('warm');
      assert.equal(warm.res.code, 0, output(warm.res));
      assert.deepEqual(
        warm.installed,
        PACKAGES.map((p) => p.name)
          .sort()
          .reverse(),
      );
      for (const p of PACKAGES) {
        const file = path.join(warm.project, 'node_modules', p.name, 'payload.bin');
        const src = path.join(work.path, 'src', p.name, 'payload.bin');
        assert.equal(await hashFile(file), await hashFile(src), p.name);
      }

      const damaged: string[] = [];
      for (const hex of digests) damaged.push(await flipBlobByte(storage, hex, 'sha512'));
      for (const [i, file] of damaged.entries())
        assert.notEqual(await hashFile(file, 'sha512'), digests[i], `${file} damaged`);

      // npm checks each tarball against the packument's sha512 `integrity`, and retries.
      // Both damaged tarballs are answered 503, which npm retries (refilled from the upstream by
      // then). With blobs checked only as they were sent (over 1 MiB, before the line moved to
      // 64 MiB) the large one's connection was cut, which npm does not retry ("ECONNRESET ...
      // network aborted", exit 1, nothing installed). Either way: no bad bytes.
      const hit = await install('hit');
      assert.doesNotMatch(output(hit.res), /\b500\b|Internal Server Error/, output(hit.res));
      if (hit.res.code === 0) await samePayloads(hit.project, warm.project);

      for (const [i, file] of damaged.entries()) {
        if (await exists(file))
          assert.equal(await hashFile(file, 'sha512'), digests[i], `${file} repaired`);
      }

      const again = await install('again');
      assert.equal(again.res.code, 0, output(again.res));
      await samePayloads(again.project, warm.project);
      for (const [i, file] of damaged.entries())
        assert.equal(await hashFile(file, 'sha512'), digests[i], `${file} refilled`);
    },
  );
});
