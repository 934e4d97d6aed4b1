/**
 * bench/pypi/make_tree.py (the static PEP 503 tree bench/pypi serves with nginx): a small tree
 * whose every link resolves to a file with the hash the link carries. A smoke test of the
 * generator only; the benchmark itself never runs in the test suite.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { accessSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { run, PROJECT_ROOT } from '../../helpers/tools.ts';
import { tempDir } from '../../helpers/tmp.ts';

const PYTHON = '/usr/bin/python3';

function missingPython(): string | false {
  try {
    accessSync(PYTHON);
  } catch {
    return `${PYTHON} not installed`;
  }
  return false;
}

const sha256 = async (file: string) =>
  createHash('sha256')
    .update(await fs.readFile(file))
    .digest('hex');

test(
  'make_tree.py: project pages link every file with its sha256 and PEP 658 metadata hash',
  { skip: missingPython() },
  async (t) => {
    const probe = await run(PYTHON, ['-c', 'import build, packaging'], { check: false });
    if (probe.code !== 0) {
      t.skip('python3 build/packaging not installed (python3-build, python3-packaging)');
      return;
    }
    await using dir = await tempDir('nora-test-pypi-tree-');
    const root = path.join(dir.path, 'tree');
    await run(PYTHON, [
      path.join(PROJECT_ROOT, 'bench/pypi/make_tree.py'),
      root,
      '--many',
      '3',
      '--big-mb',
      '0.01',
      '--chain',
      '2',
      '--min-projects',
      '2',
      '--max-install',
      '12',
    ]);
    const manifest = JSON.parse(await fs.readFile(path.join(root, 'manifest.json'), 'utf8')) as {
      install: string[];
      sources: { built: string[] };
      many: { project: string; files: number };
      big: { project: string; filename: string; size: number };
      projects: number;
    };
    assert.ok(
      manifest.install.length >= 2 && manifest.install.length <= 12,
      manifest.install.join(),
    );
    assert.deepEqual(manifest.sources.built, ['nora-bench-chain-0', 'nora-bench-chain-1']);
    assert.equal(manifest.many.files, 3);

    const rootPage = await fs.readFile(path.join(root, 'simple', 'index.html'), 'utf8');
    const listed = [...rootPage.matchAll(/<a href="([^"/]+)\/">/g)].map((m) => m[1]!);
    assert.equal(listed.length, manifest.projects);
    const normalise = (n: string) => n.toLowerCase().replace(/[-_.]+/g, '-');
    for (const name of manifest.install) assert.ok(listed.includes(normalise(name)), name);
    assert.ok(listed.includes(manifest.many.project) && listed.includes(manifest.big.project));

    let links = 0;
    for (const project of listed) {
      const page = await fs.readFile(path.join(root, 'simple', project, 'index.html'), 'utf8');
      assert.match(page, /<meta name="pypi:repository-version" content="1\.0">/);
      for (const m of page.matchAll(
        /<a href="\.\.\/\.\.\/packages\/([^"#]+)#sha256=([0-9a-f]{64})"([^>]*)>/g,
      )) {
        const [, filename, hash, attributes] = m;
        const file = path.join(root, 'packages', filename!);
        assert.equal(await sha256(file), hash, filename);
        assert.equal(normalise(filename!.split('-')[0]!), project);
        const meta = /data-core-metadata="sha256=([0-9a-f]{64})"/.exec(attributes!)?.[1];
        assert.equal(await sha256(`${file}.metadata`), meta, `${filename}.metadata`);
        links++;
      }
    }
    const files = (await fs.readdir(path.join(root, 'packages'))).filter((f) => f.endsWith('.whl'));
    assert.equal(links, files.length, 'every wheel is linked from its project page once');
    const big = await fs.stat(path.join(root, 'packages', manifest.big.filename));
    assert.equal(big.size, manifest.big.size);
    const uploads = await fs.readdir(path.join(root, 'upload'));
    assert.equal(uploads.length, manifest.many.files + 1);
  },
);
