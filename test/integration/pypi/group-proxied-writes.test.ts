/**
 * Trial 23 fmts F3 for PyPI: through a group, a yank, unyank or delete of a release the group
 * serves from its proxy member answers 405 naming the proxy member (PyPI's plain text, empty
 * `Allow`), not 404 "no release 1.0.0 of project …", the text of a release nobody has. A hosted
 * project's yank through the group works as before; a release in no member, or of a project the
 * proxy has not cached (a write never asks the upstream), keeps the 404. Upstream: a second NORA.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { makeWheel, multipartBody, MULTIPART, twineFields } from './fixtures.ts';

async function upload(base: string, name: string, version: string): Promise<string> {
  const wheel = makeWheel(name, version);
  const res = await fetch(`${base}/simple/`, {
    method: 'POST',
    headers: { 'content-type': MULTIPART },
    body: multipartBody(twineFields(name, version, wheel), wheel),
  });
  assert.equal(res.status, 200, await res.text());
  return wheel.filename;
}

describe('pypi group: writes to a release its proxy member serves', () => {
  let upstream: TestServer;
  let server: TestServer;
  let upFile: string;

  before(async () => {
    upstream = await startTestServer({ env: { NORA_PYPI_PROXY: 'none' } });
    upFile = await upload(upstream.url, 'up-pkg', '1.0.0');
    await upload(upstream.url, 'uncached-pkg', '1.0.0');
    server = await startTestServer({ config: { pypi: { proxy: `${upstream.url}/simple/` } } });
    await upload(server.url, 'own-pkg', '1.0.0');
    // What pip does first: the group serves the page from its proxy member.
    const page = await fetch(`${server.url}/simple/up-pkg/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), new RegExp(upFile.replace(/\./g, '\\.')));
  });
  after(async () => {
    await server.close();
    await upstream.close();
  });

  test('yank, unyank, release and file DELETE: 405 naming the proxy member, empty Allow', async () => {
    for (const [method, path] of [
      ['POST', '/pypi/up-pkg/1.0.0/yank'],
      ['POST', '/pypi/up-pkg/1.0/unyank'],
      ['DELETE', '/pypi/up-pkg/1.0.0'],
      ['DELETE', `/pypi/up-pkg/1.0.0/${upFile}`],
    ] as const) {
      const res = await fetch(`${server.url}${path}`, { method });
      const text = await res.text();
      assert.equal(res.status, 405, `${method} ${path}: ${text}`);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      assert.equal(res.headers.get('allow'), '', `${method} ${path}`);
      assert.match(
        text,
        /^release 1\.0(\.0)? of project up-pkg is not hosted in pypi-hosted, the write member of group pypi: the group serves it from its proxy member pypi-proxy, which is read-only/,
        `${method} ${path}`,
      );
    }
    const whole = await fetch(`${server.url}/pypi/up-pkg`, { method: 'DELETE' });
    const text = await whole.text();
    assert.equal(whole.status, 405, text);
    assert.match(text, /^project up-pkg is not hosted in pypi-hosted, .* proxy member pypi-proxy/);
    // Nothing changed: the group still lists the file, not yanked.
    const page = await fetch(`${server.url}/simple/up-pkg/`, {
      headers: { accept: 'application/vnd.pypi.simple.v1+json' },
    });
    const doc = (await page.json()) as { files: { filename: string; yanked: unknown }[] };
    assert.deepEqual(
      doc.files.map((f) => [f.filename, f.yanked]),
      [[upFile, false]],
    );
  });

  test('a hosted release through the group: yank and unyank work', async () => {
    for (const action of ['yank', 'unyank']) {
      const res = await fetch(`${server.url}/pypi/own-pkg/1.0.0/${action}`, { method: 'POST' });
      assert.equal(res.status, 200, `${action}: ${await res.text()}`);
    }
  });

  test('a release in no member, or of a project the proxy has not cached: 404 as before', async () => {
    for (const [project, version] of [
      ['up-pkg', '9.9'],
      ['nobody-pkg', '1.0.0'],
      ['uncached-pkg', '1.0.0'],
    ] as const) {
      for (const [method, path] of [
        ['POST', `/pypi/${project}/${version}/yank`],
        ['DELETE', `/pypi/${project}/${version}`],
      ] as const) {
        const res = await fetch(`${server.url}${path}`, { method });
        const text = await res.text();
        assert.equal(res.status, 404, `${method} ${path}: ${text}`);
        assert.match(text, /^no release|not found/, `${method} ${path}`);
      }
    }
  });
});
