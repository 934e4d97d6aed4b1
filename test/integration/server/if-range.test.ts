/**
 * If-Range (RFC 9110 §13.1.5) on every format's ranged GET: a Range under an If-Range that does
 * not match the file's current validator (another entity-tag, a weak one, a date that is not the
 * Last-Modified, no date at all) is ignored and the whole file is sent, 200; a matching one (the
 * strong ETag, the exact Last-Modified) keeps the 206. Maven answered 206 whatever the If-Range
 * said (found 2026-12-03); hosted, proxied and grouped files of npm, PyPI, Cargo, Go, Helm, OCI,
 * Maven and raw, through HTTP.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { buildChart } from '../../helpers/helm.ts';
import { startFileRepos, type FileRepos } from '../../helpers/file-repos.ts';
import type { TestServer } from '../../helpers/server.ts';
import { publishBody as npmPublishBody } from '../npm/fixtures.ts';
import { zipLike } from '../../helpers/zip-fixtures.ts';

const JAR = '/com/acme/platform/core/1.0.0/core-1.0.0.jar';
const MOD = 'example.com/ifrange';
const RANGE = 'bytes=0-9';

/** Asks `url` with a Range under each kind of If-Range and checks 206 vs 200 and the bytes. */
async function assertIfRange(url: string): Promise<void> {
  // Asked once before: a proxy's first answer (its fill) may carry a Last-Modified a second
  // before the stored copy's, which answers from then on.
  await (await fetch(url)).arrayBuffer();
  const first = await fetch(url);
  const whole = Buffer.from(await first.arrayBuffer());
  assert.equal(first.status, 200, `${url}: ${whole.toString('utf8', 0, 300)}`);
  assert.ok(whole.length > 10, `${url}: ${whole.length} bytes`);
  const etag = first.headers.get('etag');
  const lastModified = first.headers.get('last-modified');
  // A date validator is strong only a second after the change (RFC 9110 §8.8.2.2): the exact
  // Last-Modified keeps the Range once that second has passed.
  if (lastModified !== null) {
    const wait = Date.parse(lastModified) + 1100 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  const cases: { ifRange: string | undefined; status: 200 | 206; why: string }[] = [
    { ifRange: undefined, status: 206, why: 'no If-Range' },
    { ifRange: '"nope"', status: 200, why: 'another entity-tag' },
    { ifRange: 'not a date', status: 200, why: 'neither a tag nor a date' },
  ];
  if (etag !== null) {
    assert.ok(!etag.startsWith('W/'), `${url}: ETag ${etag}`);
    cases.push({ ifRange: etag, status: 206, why: 'the ETag' });
    cases.push({ ifRange: `W/${etag}`, status: 200, why: 'a weak tag (never a strong match)' });
  }
  if (lastModified !== null) {
    const older = new Date(Date.parse(lastModified) - 3_600_000).toUTCString();
    cases.push({ ifRange: older, status: 200, why: 'a date older than the file' });
    cases.push({ ifRange: lastModified, status: 206, why: 'the Last-Modified' });
  }
  for (const { ifRange, status, why } of cases) {
    const res = await fetch(url, {
      headers: { range: RANGE, ...(ifRange === undefined ? {} : { 'if-range': ifRange }) },
    });
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(res.status, status, `${url}: If-Range ${String(ifRange)} (${why})`);
    if (status === 200) {
      assert.ok(body.equals(whole), `${url}: the whole file (${why})`);
      assert.equal(res.headers.get('content-range'), null, `${url} (${why})`);
    } else {
      assert.ok(body.equals(whole.subarray(0, 10)), `${url}: the range (${why})`);
      assert.equal(res.headers.get('content-range'), `bytes 0-9/${whole.length}`);
    }
  }
}

describe('If-Range on every format', () => {
  let repos: FileRepos;
  let up: TestServer;
  let down: TestServer;
  let wheel: FileRepos['wheel'];
  let blobDigest = '';

  before(async () => {
    repos = await startFileRepos({
      project: 'ifr-demo',
      module: MOD,
      down: (upUrl) => ({
        maven: { proxies: [`${upUrl}/repository/maven-hosted/`] },
        repositories: [
          { name: 'raw-p', format: 'raw', kind: 'proxy', upstreams: [{ url: `${upUrl}/raw/` }] },
          {
            name: 'helm-p',
            format: 'helm',
            kind: 'proxy',
            upstreams: [{ url: `${upUrl}/helm/` }],
          },
        ],
      }),
    });
    ({ up, down, wheel } = repos);
    const put = async (path: string, body: Buffer | string, headers = {}) => {
      const res = await fetch(`${up.url}${path}`, { method: 'PUT', body, headers });
      assert.ok(res.status < 300, `${path}: ${res.status} ${await res.text()}`);
    };
    // A real zip: a hosted jar without its own end record is refused.
    await put(`/maven2${JAR}`, zipLike(400));
    await put('/raw/docs/file.bin', Buffer.from('raw bytes, more than ten of them'));
    await put(
      '/npm/ifr-demo',
      JSON.stringify(npmPublishBody({ name: 'ifr-demo', version: '1.0.0' })),
      {
        'content-type': 'application/json',
      },
    );
    await put(
      '/helm/charts/ifr-demo-1.0.0.tgz',
      await buildChart({ name: 'ifr-demo', version: '1.0.0' }),
    );
    const blob = Buffer.from('an OCI blob of a few dozen bytes');
    blobDigest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    const pushed = await fetch(`${up.url}/v2/ifr/demo/blobs/uploads/?digest=${blobDigest}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: blob,
    });
    assert.equal(pushed.status, 201, await pushed.text());
  });
  after(() => repos.close());

  test('Maven: hosted, group, proxy and the group over the proxy', async () => {
    await assertIfRange(`${up.url}/repository/maven-hosted${JAR}`);
    await assertIfRange(`${up.url}/maven2${JAR}`);
    await assertIfRange(`${down.url}/repository/maven-proxy${JAR}`);
    await assertIfRange(`${down.url}/maven2${JAR}`);
  });

  test('raw: hosted and proxy', async () => {
    await assertIfRange(`${up.url}/raw/docs/file.bin`);
    await assertIfRange(`${down.url}/repository/raw-p/docs/file.bin`);
  });

  test('npm tarballs', async () => {
    await assertIfRange(`${up.url}/npm/ifr-demo/-/ifr-demo-1.0.0.tgz`);
  });

  test('PyPI files: hosted and proxy', async () => {
    await assertIfRange(`${up.url}/repository/py-h/simple/ifr-demo/${wheel.filename}`);
    await assertIfRange(`${down.url}/repository/py-p/simple/ifr-demo/${wheel.filename}`);
  });

  test('Cargo .crate: hosted and proxy', async () => {
    await assertIfRange(`${up.url}/repository/cr-h/api/v1/crates/ifr_demo/0.1.0/download`);
    const index = await fetch(`${down.url}/repository/cr-p/index/if/r_/ifr_demo`);
    assert.equal(index.status, 200, await index.text());
    await assertIfRange(`${down.url}/repository/cr-p/api/v1/crates/ifr_demo/0.1.0/download`);
  });

  test('Go .zip: hosted and proxy', async () => {
    await assertIfRange(`${up.url}/repository/go-h/${MOD}/@v/v1.0.0.zip`);
    await assertIfRange(`${down.url}/repository/go-p/${MOD}/@v/v1.0.0.zip`);
  });

  test('Helm charts: hosted and proxy', async () => {
    await assertIfRange(`${up.url}/helm/charts/ifr-demo-1.0.0.tgz`);
    const index = await fetch(`${down.url}/repository/helm-p/index.yaml`);
    assert.equal(index.status, 200, await index.text());
    await fetch(`${down.url}/repository/helm-p/charts/ifr-demo-1.0.0.tgz`).then((r) =>
      r.arrayBuffer(),
    );
    await assertIfRange(`${down.url}/repository/helm-p/charts/ifr-demo-1.0.0.tgz`);
  });

  test('OCI blobs', async () => {
    await assertIfRange(`${up.url}/v2/ifr/demo/blobs/${blobDigest}`);
  });
});
