/**
 * Every immutable file answer carries Last-Modified (when it was stored here: published, or
 * fetched from an upstream) and answers If-Modified-Since with 304: PyPI files, Cargo `.crate`s
 * and Go `.mod`/`.zip`, hosted and proxied (raw, Maven, npm and Helm had it already). Gap found
 * 2026-12-02.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { crateBody } from '../cargo/fixtures.ts';
import { makeWheel, makeZip, MULTIPART, multipartBody, twineFields } from '../pypi/fixtures.ts';

describe('Last-Modified and If-Modified-Since on immutable files', () => {
  let up: TestServer;
  let down: TestServer;
  const wheel = makeWheel('lm-demo', '1.0');
  const MOD = 'example.com/lmdemo';

  before(async () => {
    up = await startTestServer({
      config: {
        repositories: [
          { name: 'py-h', format: 'pypi', kind: 'hosted' },
          { name: 'cr-h', format: 'cargo', kind: 'hosted' },
          { name: 'go-h', format: 'go', kind: 'hosted' },
        ],
      },
    });
    const py = await fetch(`${up.url}/repository/py-h/`, {
      method: 'POST',
      headers: { 'content-type': MULTIPART },
      body: multipartBody(twineFields('lm-demo', '1.0', wheel), wheel),
    });
    assert.equal(py.status, 200, await py.text());
    const crate = await fetch(`${up.url}/repository/cr-h/api/v1/crates/new`, {
      method: 'PUT',
      body: await crateBody('lm_demo', '0.1.0'),
    });
    assert.equal(crate.status, 200, await crate.text());
    const zip = makeZip([
      { name: `${MOD}@v1.0.0/go.mod`, data: Buffer.from(`module ${MOD}\n\ngo 1.19\n`) },
      { name: `${MOD}@v1.0.0/lm.go`, data: Buffer.from('package lmdemo\n') },
    ]);
    const go = await fetch(`${up.url}/repository/go-h/${MOD}/@v/v1.0.0.zip`, {
      method: 'PUT',
      headers: { 'content-type': 'application/zip' },
      body: zip,
    });
    assert.equal(go.status, 201, await go.text());
    down = await startTestServer({
      config: {
        repositories: [
          {
            name: 'py-p',
            format: 'pypi',
            kind: 'proxy',
            upstreams: [{ url: `${up.url}/repository/py-h/simple/` }],
          },
          {
            name: 'cr-p',
            format: 'cargo',
            kind: 'proxy',
            upstreams: [{ url: `${up.url}/repository/cr-h/index/` }],
          },
          {
            name: 'go-p',
            format: 'go',
            kind: 'proxy',
            upstreams: [{ url: `${up.url}/repository/go-h` }],
          },
        ],
      },
    });
  });
  after(async () => {
    await down.close();
    await up.close();
  });

  /** Last-Modified is there, not in the future, stable, and If-Modified-Since gives 304. */
  async function assertLastModified(url: string): Promise<void> {
    const first = await fetch(url);
    await first.arrayBuffer();
    assert.equal(first.status, 200, url);
    const lastModified = first.headers.get('last-modified');
    assert.ok(lastModified !== null, `${url}: Last-Modified`);
    const at = Date.parse(lastModified);
    assert.ok(Number.isFinite(at) && at <= Date.now(), `${url}: ${lastModified}`);
    // Answered again (from the store or memory now): a Last-Modified no later than the first.
    const again = await fetch(url);
    await again.arrayBuffer();
    const second = Date.parse(again.headers.get('last-modified') ?? '');
    assert.ok(second <= at + 1000, `${url}: ${again.headers.get('last-modified')}`);
    const since = new Date(Math.max(at, second)).toUTCString();
    const notModified = await fetch(url, { headers: { 'if-modified-since': since } });
    await notModified.arrayBuffer();
    assert.equal(notModified.status, 304, `${url}: If-Modified-Since ${since}`);
    const older = await fetch(url, {
      headers: { 'if-modified-since': new Date(at - 3_600_000).toUTCString() },
    });
    await older.arrayBuffer();
    assert.equal(older.status, 200, `${url}: an older If-Modified-Since`);
    // If-None-Match decides when both are sent (RFC 9110 §13.2.2).
    const otherTag = await fetch(url, {
      headers: { 'if-modified-since': since, 'if-none-match': '"other"' },
    });
    await otherTag.arrayBuffer();
    assert.equal(otherTag.status, 200, `${url}: If-None-Match decides`);
  }

  test('PyPI files, hosted and proxied', async () => {
    await assertLastModified(`${up.url}/repository/py-h/simple/lm-demo/${wheel.filename}`);
    await assertLastModified(`${down.url}/repository/py-p/simple/lm-demo/${wheel.filename}`);
    await assertLastModified(`${up.url}/repository/py-h/simple/lm-demo/${wheel.filename}.metadata`);
  });

  test('Cargo .crate downloads, hosted and proxied', async () => {
    await assertLastModified(`${up.url}/repository/cr-h/api/v1/crates/lm_demo/0.1.0/download`);
    const index = await fetch(`${down.url}/repository/cr-p/index/lm/_d/lm_demo`);
    assert.equal(index.status, 200, await index.text());
    await assertLastModified(`${down.url}/repository/cr-p/api/v1/crates/lm_demo/0.1.0/download`);
  });

  test('Go .mod and .zip, hosted and proxied', async () => {
    for (const file of ['mod', 'zip']) {
      await assertLastModified(`${up.url}/repository/go-h/${MOD}/@v/v1.0.0.${file}`);
      await assertLastModified(`${down.url}/repository/go-p/${MOD}/@v/v1.0.0.${file}`);
    }
  });
});
