/**
 * The `nora import` npm writer against a listening NORA, with tarballs `npm pack` made of a
 * small scoped package: each version is published from its tarball alone (package.json read
 * from it), `latest` ends on the newest release whatever the import order, a second run skips
 * what NORA has (and fails another tarball of the same version: other bytes), a file that is no tarball fails with a reason, and the real `npm install`
 * then installs the package from NORA.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { npmWriter } from '../../../src/import/npm.ts';
import { defaultTarget, failureReason, writeFile } from '../../helpers/import-writer.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { npmHome } from '../../helpers/npm-ci.ts';
import { missingTools, run } from '../../helpers/tools.ts';

const skip = missingTools('npm');

/** `npm pack` of @acme/greet at `version` into `out`; the tarball's path. */
async function pack(work: string, version: string, text = version): Promise<string> {
  const dir = path.join(work, `src-${version}`);
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: '@acme/greet', version, main: 'index.js', license: 'MIT' }),
  );
  await fs.writeFile(path.join(dir, 'index.js'), `module.exports = '${text}';\n`);
  const out = path.join(work, 'packed');
  await fs.mkdir(out, { recursive: true });
  const env = await npmHome(path.join(work, 'home'), 'http://127.0.0.1:9/');
  await run('npm', ['pack', '--pack-destination', out], { cwd: dir, env });
  return path.join(out, `acme-greet-${version}.tgz`);
}

describe('nora import: npm writer', { skip }, () => {
  test('publishes packed tarballs, keeps latest on the newest, skips on re-run', async () => {
    await using work = await tempDir('nora-import-npm-');
    await using server = await startTestServer();
    const target = defaultTarget('npm', '/npm');
    const [older, newer] = [await pack(work.path, '1.0.0'), await pack(work.path, '1.2.0')];
    const at = (v: string) => `@acme/greet/-/greet-${v}.tgz`;

    // The newer one first: importing the older one afterwards must not move `latest` back.
    assert.deepEqual(await writeFile(npmWriter, server.url, target, newer, at('1.2.0')), {
      status: 'imported',
      bytes: (await fs.stat(newer)).size,
    });
    assert.equal(
      (await writeFile(npmWriter, server.url, target, older, at('1.0.0'))).status,
      'imported',
    );
    const packument = (await (await fetch(`${server.url}/npm/@acme%2fgreet`)).json()) as {
      'dist-tags': Record<string, string>;
      versions: Record<string, { dist: { integrity: string }; main: string }>;
    };
    assert.deepEqual(packument['dist-tags'], { latest: '1.2.0' });
    assert.deepEqual(Object.keys(packument.versions).sort(), ['1.0.0', '1.2.0']);
    assert.match(packument.versions['1.0.0']?.dist.integrity ?? '', /^sha512-/);
    assert.equal(packument.versions['1.0.0']?.main, 'index.js');

    const again = await writeFile(npmWriter, server.url, target, older, at('1.0.0'));
    assert.equal(again.status, 'skipped');

    // Another tarball of the same name and version (other bytes): a failure, never a skip.
    const other = await pack(path.join(work.path, 'other'), '1.0.0', 'changed');
    const differs = await writeFile(npmWriter, server.url, target, other, at('1.0.0'));
    assert.match(failureReason(differs), /@acme\/greet@1\.0\.0 in NORA with different bytes/);

    // A file that is no tarball: failed, with the reason, and nothing published.
    const junk = path.join(work.path, 'junk.tgz');
    await fs.writeFile(junk, 'not gzip at all');
    const bad = await writeFile(npmWriter, server.url, target, junk, '@acme/junk/-/junk-1.0.0.tgz');
    assert.equal(bad.status, 'failed');
    assert.match(failureReason(bad), /gzip/);

    // The real client installs what was imported.
    const app = path.join(work.path, 'app');
    await fs.mkdir(app);
    await fs.writeFile(path.join(app, 'package.json'), '{"name":"app","version":"1.0.0"}');
    const env = await npmHome(path.join(work.path, 'home-install'), `${server.url}/npm/`);
    await run('npm', ['install', '@acme/greet'], { cwd: app, env });
    const installed = JSON.parse(
      await fs.readFile(path.join(app, 'node_modules/@acme/greet/package.json'), 'utf8'),
    ) as { version: string };
    assert.equal(installed.version, '1.2.0');
  });
});
