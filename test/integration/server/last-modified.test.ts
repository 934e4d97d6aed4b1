/**
 * Every immutable file answer carries Last-Modified (when it was stored here: published, or
 * fetched from an upstream) and answers If-Modified-Since with 304: PyPI files, Cargo `.crate`s
 * and Go `.mod`/`.zip`, hosted and proxied (raw, Maven, npm and Helm had it already). Gap found
 * 2026-12-02.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startFileRepos, type FileRepos } from '../../helpers/file-repos.ts';
import type { TestServer } from '../../helpers/server.ts';

describe('Last-Modified and If-Modified-Since on immutable files', () => {
  const MOD = 'example.com/lmdemo';
  let repos: FileRepos;
  let up: TestServer;
  let down: TestServer;
  let wheel: FileRepos['wheel'];

  before(async () => {
    repos = await startFileRepos({ project: 'lm-demo', module: MOD });
    ({ up, down, wheel } = repos);
  });
  after(() => repos.close());

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
