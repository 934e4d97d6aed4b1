/**
 * A hosted tarball whose stored bytes are gone, published again byte for byte with `npm publish
 * --force` (npm's own "cannot publish over" check skipped, so the PUT reaches NORA): the version
 * exists, so the answer is 409, but the upload's identical tarball has been stored again. The
 * 409 said only "versions are immutable", and the operator could not tell the file was back
 * (trial 18 authx F13); it now says the missing tarball was stored again, and it installs.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, output, run } from '../../helpers/tools.ts';
import { homeEnv, writePublisher } from './clients.ts';

test(
  'npm publish --force of the identical version whose tarball blob is gone: 409 that says it was stored again',
  { skip: missingTools('npm'), timeout: 120_000 },
  async () => {
    await using work = await tempDir('nora-e2e-npm-restore-');
    await using server = await startTestServer();
    const registry = `${server.url}/npm/`;
    const { home: publisher, pkg } = await writePublisher(work.path, registry, 'restored-tarball');
    // The same tarball both times: npm pack's output is reproducible for the same tree.
    const tgz = path.join(work.path, 'restored-tarball-1.0.0.tgz');
    await run('npm', ['pack', '--pack-destination', work.path], {
      cwd: pkg,
      env: homeEnv(publisher),
    });
    const first = await run('npm', ['publish', tgz], {
      cwd: work.path,
      env: homeEnv(publisher),
      check: false,
    });
    assert.equal(first.code, 0, output(first));

    const hex = createHash('sha512')
      .update(await fs.readFile(tgz))
      .digest('hex');
    const blob = path.join(server.dataDir, 'storage', 'blobs', 'sha512', hex.slice(0, 2), hex);
    await fs.rm(blob);
    const url = `${registry}restored-tarball/-/restored-tarball-1.0.0.tgz`;
    assert.equal((await fetch(url)).status, 410);

    // Without --force npm refuses on its own (nothing reaches NORA); --force sends the PUT.
    const again = await run('npm', ['publish', tgz, '--force'], {
      cwd: work.path,
      env: homeEnv(publisher),
      check: false,
    });
    const text = output(again);
    assert.notEqual(again.code, 0, text);
    assert.match(text, /\b409\b/, text);
    assert.match(text, /versions are immutable/, text);
    assert.match(
      text,
      /its tarball missing from storage was stored again from this identical upload/,
      text,
    );
    const restored = await fetch(url);
    assert.equal(restored.status, 200);
    assert.equal(
      createHash('sha512')
        .update(Buffer.from(await restored.arrayBuffer()))
        .digest('hex'),
      hex,
    );
    await fs.stat(blob);

    // A second identical --force publish finds the bytes in place: a plain 409.
    const third = await run('npm', ['publish', tgz, '--force'], {
      cwd: work.path,
      env: homeEnv(publisher),
      check: false,
    });
    assert.match(output(third), /versions are immutable/, output(third));
    assert.doesNotMatch(output(third), /stored again/, output(third));
  },
);
