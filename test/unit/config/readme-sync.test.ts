import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { configReference, readmeBlock } from '../../../scripts/config-reference.ts';
import { PROJECT_ROOT } from '../../helpers/tools.ts';

test('the README configuration table matches the schema (run `npm run docs:config`)', async () => {
  const readme = await fs.readFile(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
  assert.equal(readmeBlock(readme), configReference());
});

test('the README quick start is the three documented commands', async () => {
  const readme = await fs.readFile(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
  for (const command of ['npm ci', 'npm start', 'npm test'])
    assert.ok(readme.includes(`${command} `), command);
  const pkg = JSON.parse(await fs.readFile(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
    engines: { node: string };
  };
  assert.match(pkg.scripts['start'] ?? '', /bin\/nora\.js serve/);
  assert.match(pkg.scripts['test'] ?? '', /run-tests\.ts/);
  assert.match(pkg.engines.node, />=24/);
});
