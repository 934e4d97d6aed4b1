/**
 * An unpublished npm version keeps its name@version tombstone (never published again) but no
 * longer refers to its tarball (trial 18 authx F6): the tombstone row kept the tarball's digest,
 * so `nora gc` never freed the bytes ("DELETE the artifacts (or unpublish), then nora gc --apply",
 * docs/storage.md) and `nora verify` reported a lost tarball of an unpublished version as missing
 * (exit 1) forever. Real npm publishes and unpublishes; gc and verify run as the operator does.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { nora } from '../../helpers/cli.ts';
import { npmHome } from '../../helpers/npm-ci.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, output, run } from '../../helpers/tools.ts';

test(
  'npm unpublish frees the tarball for nora gc, and nora verify does not miss it',
  { skip: missingTools('npm'), timeout: 180_000 },
  async () => {
    await using work = await tempDir('nora-e2e-npm-unpublish-gc-');
    const dataDir = path.join(work.path, 'data');
    await fs.mkdir(dataDir);
    const storage = path.join(dataDir, 'storage');
    const blobFile = (hex: string) => path.join(storage, 'blobs', 'sha512', hex.slice(0, 2), hex);
    const tarballHex: Record<string, string> = {};
    {
      await using server = await startTestServer({ dataDir });
      const registry = `${server.url}/npm/`;
      const env = await npmHome(path.join(work.path, 'home'), registry);
      const npm = (args: string[], cwd = work.path) =>
        run('npm', args, { cwd, env, check: false, timeoutMs: 60_000 });

      for (const name of ['@corp/gcx', '@corp/conc']) {
        const pkg = path.join(work.path, name.replace(/\W/g, '_'));
        await fs.mkdir(pkg);
        await fs.writeFile(
          path.join(pkg, 'package.json'),
          JSON.stringify({ name, version: '1.0.0', files: ['data.bin'] }),
        );
        await fs.writeFile(path.join(pkg, 'data.bin'), createHash('sha512').update(name).digest());
        const published = await npm(['publish'], pkg);
        assert.equal(published.code, 0, output(published));
        const doc = (await (await fetch(`${registry}${name.replace('/', '%2f')}`)).json()) as {
          versions: Record<string, { dist: { tarball: string } }>;
        };
        const tarball = await fetch(doc.versions['1.0.0']?.dist.tarball ?? '');
        assert.equal(tarball.status, 200);
        tarballHex[name] = createHash('sha512')
          .update(Buffer.from(await tarball.arrayBuffer()))
          .digest('hex');
      }
      // @corp/conc's tarball is lost behind NORA's back before its version is unpublished.
      await fs.rm(blobFile(tarballHex['@corp/conc'] ?? ''));
      for (const spec of ['@corp/gcx', '@corp/conc@1.0.0']) {
        const unpublished = await npm(['unpublish', spec, '--force']);
        assert.equal(unpublished.code, 0, output(unpublished));
      }
      const republish = await npm(['publish'], path.join(work.path, '_corp_gcx'));
      assert.notEqual(republish.code, 0, 'the tombstone still keeps name@version');
    }

    const env = { NORA_STORAGE_PATH: storage };
    const verified = await nora(['verify'], env);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, /no referenced blob missing from storage/);

    const gc = await nora(['gc', '--apply', '--grace', '0'], env);
    assert.equal(gc.code, 0, gc.stdout + gc.stderr);
    await assert.rejects(
      fs.stat(blobFile(tarballHex['@corp/gcx'] ?? '')),
      'the unpublished tarball is freed',
    );
  },
);
