/**
 * npm's rules for new names refuse a leading "_" of the whole name only (validate-npm-package-
 * name): `@corp/_under` is valid and the CLI sends it, but NORA's route check answered 400
 * `invalid package name … it cannot start with "." or "_"` (trial 18 authx F4). Real npm
 * publishes and installs it; `@corp/a~b` stays refused, naming npm's rule.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { npmHome } from '../../helpers/npm-ci.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, output, run } from '../../helpers/tools.ts';

test(
  'npm publish and install of @corp/_under; @corp/a~b refused with npm rule',
  { skip: missingTools('npm'), timeout: 120_000 },
  async () => {
    await using work = await tempDir('nora-e2e-npm-under-');
    await using server = await startTestServer();
    const env = await npmHome(path.join(work.path, 'home'), `${server.url}/npm/`);
    const npm = (args: string[], cwd: string) =>
      run('npm', args, { cwd, env, check: false, timeoutMs: 60_000 });
    const pkgDir = async (name: string) => {
      const dir = path.join(work.path, name.replace(/\W/g, '_'));
      await fs.mkdir(dir);
      await fs.writeFile(
        path.join(dir, 'package.json'),
        JSON.stringify({ name, version: '1.0.0' }),
      );
      await fs.writeFile(path.join(dir, 'index.js'), `module.exports = ${JSON.stringify(name)};\n`);
      return dir;
    };

    const published = await npm(['publish'], await pkgDir('@corp/_under'));
    assert.equal(published.code, 0, output(published));

    const project = path.join(work.path, 'project');
    await fs.mkdir(project);
    await fs.writeFile(path.join(project, 'package.json'), '{"name":"p","version":"1.0.0"}\n');
    const installed = await npm(['install', '@corp/_under@1.0.0'], project);
    assert.equal(installed.code, 0, output(installed));
    const index = path.join(project, 'node_modules', '@corp', '_under', 'index.js');
    assert.match(await fs.readFile(index, 'utf8'), /@corp\/_under/);

    const tilde = await npm(['publish'], await pkgDir('@corp/a~b'));
    assert.notEqual(tilde.code, 0, output(tilde));
    assert.match(output(tilde), /name can no longer contain special characters/);
  },
);
