/**
 * The PyPI proxy through a listening NORA: the default `/simple/` group (pypi-hosted +
 * pypi-proxy, NORA_PYPI_PROXY-style `[pypi] proxy`) over a PEP 691 JSON fixture upstream, and a
 * named proxy repository over a PEP 503 HTML one. pip (when installed) downloads and installs
 * through both, then again after the upstream is stopped (pages served stale, files from the
 * cache). HTTP checks: relative links only, no upstream host in any answer, PEP 658 metadata.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { removeDir } from '../../helpers/tmp.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { findTool, run } from '../../helpers/tools.ts';
import { FixtureUpstream, makeWheel, sha256 } from './fixture.ts';

const PIP_ENV = {
  ...process.env,
  PIP_CONFIG_FILE: '/dev/null',
  PIP_NO_INPUT: '1',
  PIP_DISABLE_PIP_VERSION_CHECK: '1',
  PIP_NO_CACHE_DIR: '1',
};

async function pipMissing(): Promise<string | false> {
  if (findTool('python3') === undefined) return 'python3 not installed';
  const probe = await run('python3', ['-m', 'pip', '--version'], { check: false, env: PIP_ENV });
  return probe.code === 0 ? false : 'pip not installed for python3 (python3-pip)';
}

describe('pypi proxy routes (and pip through them)', () => {
  const upstream = new FixtureUpstream();
  let server: TestServer;
  let work: string;
  const demo = makeWheel('demo-pkg', '1.0');
  const demo2 = makeWheel('demo-pkg', '2.0');

  before(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-pypi-pip-'));
    await upstream.start();
    upstream.index('json', 'json').projects.set('demo-pkg', [demo, demo2]);
    upstream.index('html', 'html').projects.set('demo-pkg', [{ ...demo, requiresPython: '>=3' }]);
    server = await startTestServer({
      config: {
        pypi: { proxy: upstream.url('json'), metadata_ttl: 0 },
        repositories: [
          {
            name: 'py-html',
            format: 'pypi',
            kind: 'proxy',
            metadata_ttl: 0,
            upstreams: [{ url: upstream.url('html') }],
          },
        ],
      },
    });
  });
  after(async () => {
    await server.close();
    await upstream.stop();
    await removeDir(work);
  });

  test('pages, files and PEP 658 metadata through the default group and a named proxy', async () => {
    for (const prefix of ['/simple', '/repository/py-html/simple']) {
      const page = await fetch(`${server.url}${prefix}/demo-pkg/`);
      assert.equal(page.status, 200, prefix);
      const html = await page.text();
      assert.ok(html.includes(`href="${demo.filename}#sha256=${sha256(demo.body)}"`), html);
      assert.ok(!html.includes(upstream.base), 'no upstream URL');
      const file = await fetch(`${server.url}${prefix}/demo-pkg/${demo.filename}`);
      assert.equal(file.status, 200);
      assert.equal(sha256(Buffer.from(await file.arrayBuffer())), sha256(demo.body));
      // Warm reads (a small file is then kept in memory, in the background): whole and ranged.
      for (let i = 0; i < 3; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        const whole = await fetch(`${server.url}${prefix}/demo-pkg/${demo.filename}`);
        assert.ok(Buffer.from(await whole.arrayBuffer()).equals(demo.body));
        const part = await fetch(`${server.url}${prefix}/demo-pkg/${demo.filename}`, {
          headers: { range: 'bytes=2-9' },
        });
        assert.equal(part.status, 206);
        assert.equal(part.headers.get('content-range'), `bytes 2-9/${demo.body.length}`);
        assert.ok(Buffer.from(await part.arrayBuffer()).equals(demo.body.subarray(2, 10)));
      }
      const meta = await fetch(`${server.url}${prefix}/demo-pkg/${demo.filename}.metadata`);
      assert.equal(meta.status, 200);
      assert.equal(await meta.text(), demo.metadataText);
    }
    const json = await fetch(`${server.url}/simple/demo-pkg/`, {
      headers: { accept: 'application/vnd.pypi.simple.v1+json' },
    });
    const doc = (await json.json()) as { files: { filename: string; url: string }[] };
    assert.deepEqual(doc.files.map((f) => f.url).sort(), [demo.filename, demo2.filename].sort());
    const missing = await fetch(`${server.url}/repository/py-html/simple/no-such-project/`);
    assert.equal(missing.status, 404);
  });

  test('Warehouse JSON API for proxied projects: group and named proxy, project and version', async () => {
    interface Doc {
      info: Record<string, unknown>;
      releases?: Record<string, { filename: string }[]>;
      urls: {
        filename: string;
        url: string;
        digests: Record<string, unknown>;
        packagetype: string;
        python_version: string;
        yanked: boolean;
      }[];
    }
    const project = await fetch(`${server.url}/pypi/demo-pkg/json`);
    assert.equal(project.status, 200);
    const doc = (await project.json()) as Doc;
    assert.equal(doc.info['name'], 'demo-pkg');
    assert.equal(doc.info['version'], '2.0');
    assert.equal(doc.info['summary'], 'a test wheel', 'from the PEP 658 metadata');
    assert.equal(doc.info['requires_python'], '>=3.7');
    assert.deepEqual(Object.keys(doc.releases ?? {}), ['1.0', '2.0']);
    const file = doc.urls[0];
    assert.ok(file);
    assert.equal(file.filename, demo2.filename);
    assert.equal(file.url, `${server.url}/simple/demo-pkg/${demo2.filename}`);
    assert.equal(file.digests['sha256'], sha256(demo2.body));
    assert.equal(file.packagetype, 'bdist_wheel');
    assert.equal(file.python_version, 'py3');
    assert.ok(!JSON.stringify(doc).includes(upstream.base), 'no upstream URL');

    const version = await fetch(`${server.url}/repository/py-html/pypi/demo-pkg/1.0.0/json`);
    assert.equal(version.status, 200);
    const one = (await version.json()) as Doc;
    assert.equal(one.info['version'], '1.0');
    assert.equal(one.releases, undefined);
    assert.deepEqual(
      one.urls.map((u) => u.url),
      [`${server.url}/repository/py-html/simple/demo-pkg/${demo.filename}`],
    );
    const absent = await fetch(`${server.url}/pypi/demo-pkg/9.9/json`);
    assert.equal(absent.status, 404);
    await absent.arrayBuffer();
    const unknown = await fetch(`${server.url}/repository/py-html/pypi/no-such-project/json`);
    assert.equal(unknown.status, 404);
    await unknown.arrayBuffer();
  });

  test('pip download and install through the proxy, then again with the upstream stopped', async (t) => {
    const why = await pipMissing();
    if (why !== false) {
      t.skip(why);
      return;
    }
    const pip = (args: string[]) =>
      run('python3', ['-m', 'pip', ...args], { env: PIP_ENV, timeoutMs: 120_000 });
    const download = async (index: string, spec: string, into: string) => {
      await pip(['download', '--no-deps', '--index-url', index, '-d', into, spec]);
      return fs.readdir(into);
    };
    const group = `${server.url}/simple/`;
    const named = `${server.url}/repository/py-html/simple/`;
    assert.deepEqual(await download(group, 'demo-pkg', path.join(work, 'a')), [demo2.filename]);
    assert.deepEqual(await download(named, 'demo-pkg', path.join(work, 'b')), [demo.filename]);
    await pip([
      'install',
      '--no-deps',
      '--index-url',
      group,
      '--target',
      path.join(work, 'site'),
      'demo-pkg==1.0',
    ]);
    const installed = await fs.readFile(path.join(work, 'site', 'demo_pkg', '__init__.py'), 'utf8');
    assert.match(installed, /VERSION = "1.0"/);

    const fileGets = upstream.count((u) => u.includes('/files/'));
    await upstream.stop();
    assert.deepEqual(await download(group, 'demo-pkg==1.0', path.join(work, 'c')), [demo.filename]);
    assert.deepEqual(await download(named, 'demo-pkg', path.join(work, 'd')), [demo.filename]);
    assert.equal(
      upstream.count((u) => u.includes('/files/')),
      fileGets,
      'files from the cache',
    );
    const stale = await fetch(`${server.url}/simple/demo-pkg/`);
    assert.equal(stale.status, 200);
  });
});
