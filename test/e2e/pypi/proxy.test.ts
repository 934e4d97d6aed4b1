/**
 * Issue 13 "Proof (real clients)", proxy: NORA's default `/simple/` group with NORA_PYPI_PROXY
 * pointing at a local upstream. pip installs a dependency tree through the group into a fresh
 * venv with no pip cache; the upstream is stopped (by its PID); pip installs again into another
 * fresh venv with no cache, served from NORA's cache alone (pages stale, files cached forever).
 * Two upstream kinds: (1) a second NORA, as a child process, with the packages uploaded by twine
 * (PEP 691 JSON upstream); (2) nginx serving a static PEP 503 HTML tree (HTML fallback).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { type NginxProcess, runNginx } from '../../helpers/nginx.ts';
import { freePort, startNoraProcess } from '../../helpers/process.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools } from '../../helpers/tools.ts';
import {
  buildProjects,
  createVenv,
  indexUrl,
  missingPython,
  output,
  pythonHome,
  sha256File,
  twineUpload,
  type PythonHome,
} from '../../helpers/python.ts';

const TREE = [
  { name: 'nora-proxy-base', version: '1.0.0' },
  { name: 'nora-proxy-base', version: '1.2.0' },
  { name: 'nora-proxy-lib', version: '2.0.0', dependencies: ['nora-proxy-base>=1.1'] },
];
const EXPECTED = { 'nora-proxy-lib': '2.0.0', 'nora-proxy-base': '1.2.0' };

/** pip install through `index` into a fresh venv; checks the versions; returns pip's output. */
async function pipRound(home: PythonHome, dir: string, index: string): Promise<string> {
  const venv = await createVenv(home, dir);
  const res = await venv.pip(
    ['install', '--no-cache-dir', '--index-url', index, 'nora-proxy-lib'],
    {
      check: false,
    },
  );
  assert.equal(res.code, 0, output(res));
  assert.deepEqual(await venv.versions(...Object.keys(EXPECTED)), EXPECTED, output(res));
  const dest = path.join(dir, 'downloads');
  await venv.pip([
    'download',
    '--no-cache-dir',
    '--no-deps',
    '--index-url',
    index,
    '-d',
    dest,
    'nora-proxy-lib==2.0.0',
  ]);
  return output(res);
}

async function checkSameBytes(dir: string, files: string[]): Promise<void> {
  const dest = path.join(dir, 'downloads');
  for (const name of await fs.readdir(dest)) {
    const original = files.find((f) => path.basename(f) === name);
    assert.ok(original, `${name} was built here`);
    assert.equal(await sha256File(path.join(dest, name)), await sha256File(original), name);
  }
}

describe('pip through the /simple/ group with a proxy member', { concurrency: false }, () => {
  test(
    'upstream = a second NORA (process): install, stop it by PID, install again from cache',
    { skip: missingPython('build', 'venv', 'twine'), timeout: 240_000 },
    async () => {
      await using work = await tempDir('nora-e2e-pypi-proxy-');
      const home = await pythonHome(path.join(work.path, 'home'));
      const configFile = path.join(work.path, 'upstream.toml');
      await fs.writeFile(configFile, '');
      const port = await freePort();
      const [files, upstream] = await Promise.all([
        buildProjects(home, path.join(work.path, 'src'), TREE),
        startNoraProcess({
          port,
          env: {
            NORA_CONFIG_PATH: configFile,
            NORA_STORAGE_PATH: path.join(work.path, 'upstream-storage'),
            NORA_PYPI_PROXY: 'none',
            NORA_LOG_LEVEL: 'warn',
          },
        }),
      ]);
      let upstreamStopped = false;
      try {
        const up = await twineUpload(
          home,
          indexUrl(upstream.url),
          { username: 'u', password: 'p' },
          files,
        );
        assert.equal(up.code, 0, output(up));

        await using server = await startTestServer({
          config: { pypi: { metadata_ttl: 0 } },
          env: { NORA_PYPI_PROXY: indexUrl(upstream.url) },
        });
        const index = indexUrl(server.url);
        await pipRound(home, path.join(work.path, 'round-1'), index);
        await checkSameBytes(path.join(work.path, 'round-1'), files);

        upstream.child.kill('SIGTERM');
        await upstream.exited;
        upstreamStopped = true;
        const health = await fetch(`${upstream.url}/health`).then(
          () => 'answered',
          () => 'down',
        );
        assert.equal(health, 'down', 'the upstream is gone');

        await pipRound(home, path.join(work.path, 'round-2'), index);
        await checkSameBytes(path.join(work.path, 'round-2'), files);
      } finally {
        if (!upstreamStopped) {
          upstream.child.kill('SIGTERM');
          await upstream.exited;
        }
      }
    },
  );

  test(
    'upstream = nginx serving a static PEP 503 tree: install, stop nginx by PID, install again',
    { skip: missingPython('build', 'venv') || missingTools('nginx'), timeout: 240_000 },
    async () => {
      await using work = await tempDir('nora-e2e-pypi-nginx-');
      // nginx workers drop root's privileges: the tree must be world-readable.
      await fs.chmod(work.path, 0o755);
      const home = await pythonHome(path.join(work.path, 'home'));
      const files = await buildProjects(home, path.join(work.path, 'src'), TREE);
      const root = path.join(work.path, 'www');
      await writeStaticTree(path.join(root, 'simple'), files);
      const nginx = await startNginx(path.join(work.path, 'nginx'), root);
      let stopped = false;
      try {
        await using server = await startTestServer({
          config: { pypi: { metadata_ttl: 0 } },
          env: { NORA_PYPI_PROXY: `${nginx.url}/simple/` },
        });
        const index = indexUrl(server.url);
        await pipRound(home, path.join(work.path, 'round-1'), index);
        await checkSameBytes(path.join(work.path, 'round-1'), files);

        nginx.child.kill('SIGTERM');
        await nginx.exited;
        stopped = true;

        await pipRound(home, path.join(work.path, 'round-2'), index);
        await checkSameBytes(path.join(work.path, 'round-2'), files);
      } finally {
        if (!stopped) {
          nginx.child.kill('SIGTERM');
          await nginx.exited;
        }
      }
    },
  );
});

/** A PEP 503 tree of plain files: `simple/index.html`, `simple/<project>/index.html` + files. */
async function writeStaticTree(simple: string, files: string[]): Promise<void> {
  const byProject = new Map<string, string[]>();
  for (const f of files) {
    const dist = path.basename(f).split('-')[0] ?? '';
    const project = dist.toLowerCase().replace(/[-_.]+/g, '-');
    byProject.set(project, [...(byProject.get(project) ?? []), f]);
  }
  const page = (body: string) =>
    `<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0"></head><body>\n${body}</body></html>\n`;
  await fs.mkdir(simple, { recursive: true, mode: 0o755 });
  for (const [project, list] of byProject) {
    const dir = path.join(simple, project);
    await fs.mkdir(dir, { recursive: true, mode: 0o755 });
    let links = '';
    for (const f of list) {
      const name = path.basename(f);
      await fs.copyFile(f, path.join(dir, name));
      await fs.chmod(path.join(dir, name), 0o644);
      links += `<a href="${name}#sha256=${await sha256File(f)}" data-requires-python="&gt;=3.8">${name}</a><br>\n`;
    }
    await fs.writeFile(path.join(dir, 'index.html'), page(links), { mode: 0o644 });
  }
  await fs.writeFile(
    path.join(simple, 'index.html'),
    page([...byProject.keys()].map((p) => `<a href="${p}/">${p}</a><br>\n`).join('')),
    { mode: 0o644 },
  );
}

function startNginx(dir: string, root: string): Promise<NginxProcess> {
  return runNginx(dir, {
    http: (listen) => [
      'types { text/html html; application/octet-stream whl gz; }',
      'access_log off;',
      `server { listen ${listen}; root ${root}; index index.html; }`,
    ],
    readyPath: '/simple/',
    readyStatus: (status) => status === 200,
  });
}
