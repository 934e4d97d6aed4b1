/**
 * Proxied documents and files are references too: a downstream NORA proxies an upstream NORA
 * (raw file, npm packument and tarball, Maven jar and maven-metadata.xml, PyPI simple page and
 * sdist, Helm index.yaml and chart), then passes with grace 0 and a clock 8 days ahead (every
 * unreferenced blob goes) run in the server and in another process; the upstream is stopped and
 * the downstream restarted (no memory caches): every cached answer is still served, identical.
 * A cached document or file the pass could remove would answer an error here.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SqlBlobIndex } from '../../../src/db/blob-index.ts';
import { upstreamId } from '../../../src/proxy/upstream-id.ts';
import { FORMATS } from '../../../src/formats/index.ts';
import { collectGarbage } from '../../../src/gc/collector.ts';
import { BlobStore } from '../../../src/storage/blob-store.ts';
import { buildChart } from '../../helpers/helm.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { NpmHttp } from '../npm/client.ts';
import { makeSdist, MULTIPART, multipartBody, twineFields } from '../pypi/fixtures.ts';
import { emptyJar } from '../../helpers/zip-fixtures.ts';

const DAY_MS = 86_400_000;

describe('gc keeps what proxies cached (documents and files)', () => {
  let upstream: TestServer;
  let server: TestServer;
  let dataDir: string;
  const config = () => ({
    cargo: { proxy: '' },
    npm: { proxy: `${upstream.url}/npm/` },
    pypi: { proxy: `${upstream.url}/simple/` },
    maven: { proxies: [{ url: `${upstream.url}/maven2/` }] },
    helm: { proxies: [{ url: `${upstream.url}/helm` }] },
    repositories: [
      { name: 'raw-up', format: 'raw', kind: 'proxy', upstreams: [{ url: `${upstream.url}/raw` }] },
    ],
  });
  const env = { NORA_GO_PROXY: 'none' };
  /** Downstream path → the bytes it answered before the passes. */
  const answers = new Map<string, Buffer>();

  before(async () => {
    upstream = await startTestServer({ config: { cargo: { proxy: '' } }, env });
    const put = async (p: string, body: Buffer | string) => {
      const res = await fetch(`${upstream.url}${p}`, { method: 'PUT', body });
      assert.ok(res.status < 300, `upstream PUT ${p}: ${res.status}`);
    };
    await put('/raw/site/file.txt', 'a proxied raw file');
    await put('/maven2/com/example/px/1.0/px-1.0.jar', emptyJar('proxied jar'));
    await put(
      '/maven2/com/example/px/1.0/px-1.0.pom',
      '<project><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId>' +
        '<artifactId>px</artifactId><version>1.0</version></project>',
    );
    const npm = new NpmHttp(`${upstream.url}/npm`);
    assert.equal((await npm.publish({ name: 'gc-proxied', version: '1.0.0' })).status, 201);
    const sdist = makeSdist('gc-proxied', '1.0');
    const upload = await fetch(`${upstream.url}/simple/`, {
      method: 'POST',
      headers: { 'content-type': MULTIPART },
      body: multipartBody(twineFields('gc-proxied', '1.0', sdist), sdist),
    });
    assert.equal(upload.status, 200, await upload.text());
    const chart = await buildChart({ name: 'gcproxied', version: '1.0.0' });
    const posted = await fetch(`${upstream.url}/helm/api/charts`, { method: 'POST', body: chart });
    assert.equal(posted.status, 201, await posted.text());

    // Ours, so that it outlives the first downstream server (restarted on it below).
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-gc-proxy-'));
    server = await startTestServer({ config: config(), env, dataDir });
    const get = async (p: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${server.url}${p}`, { headers });
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(res.status, 200, `downstream GET ${p}: ${body.toString().slice(0, 200)}`);
      answers.set(p, body);
      return body;
    };
    await get('/repository/raw-up/site/file.txt');
    await get('/maven2/com/example/px/1.0/px-1.0.jar');
    await get('/maven2/com/example/px/maven-metadata.xml');
    await get('/npm/gc-proxied');
    await get('/npm/gc-proxied/-/gc-proxied-1.0.0.tgz');
    const page = (await get('/simple/gc-proxied/')).toString();
    const href = /href="([^"#]+)/.exec(page)?.[1];
    assert.ok(href, page);
    await get(new URL(href, `${server.url}/simple/gc-proxied/`).pathname);
    const index = (await get('/helm/index.yaml')).toString();
    const chartUrl = /([^\s"[,]*gcproxied-1\.0\.0\.tgz)/.exec(index)?.[1];
    assert.ok(chartUrl, index);
    await get(new URL(chartUrl, `${server.url}/helm/`).pathname);
    // The fills record their cache rows once committed, after the answer: wait for the chart's
    // (the passes below run with a clock 8 days ahead, where an unrecorded fill is garbage).
    // 20 s bounds a failure only: the loop went on after 2 s, and the passes then removed it.
    // Chart rows are keyed by their upstream's URL (src/formats/helm/proxy.ts chartKey).
    const chartKey = `chart@${upstreamId(`${upstream.url}/helm`)}:gcproxied-1.0.0.tgz`;
    const deadline = Date.now() + 20_000;
    while (!(await server.app.context.proxy.lookup('helm-proxy', chartKey))) {
      assert.ok(Date.now() < deadline, "the chart fill's cache row was not recorded");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
  after(async () => {
    await server.close();
    await upstream.close().catch(() => undefined);
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  test('passes in the server and in another process, then a restart without the upstream', async () => {
    const { db, blobs } = server.app.context;
    for (const where of ['server', 'other'] as const) {
      await collectGarbage({
        db,
        blobs: where === 'server' ? blobs : new BlobStore(blobs.driver, new SqlBlobIndex(db)),
        formats: FORMATS,
        graceSeconds: 0,
        apply: true,
        now: Date.now() + 8 * DAY_MS,
        ...(where === 'server' ? { beforeMark: () => server.app.context.proxy.state.flush() } : {}),
      });
    }
    await upstream.close();
    await server.close();
    server = await startTestServer({ config: config(), env, dataDir });
    const failures: string[] = [];
    for (const [p, bytes] of answers) {
      const res = await fetch(`${server.url}${p}`);
      const body = Buffer.from(await res.arrayBuffer());
      if (res.status !== 200) failures.push(`${p}: ${res.status} ${body.toString().slice(0, 120)}`);
      // The packument is re-rendered (its cache fields differ after a restart): its versions.
      else if (p === '/npm/gc-proxied') {
        if (!body.toString().includes('"1.0.0"')) failures.push(`${p}: no 1.0.0`);
      } else if (!body.equals(bytes)) failures.push(`${p}: other bytes`);
    }
    assert.deepEqual(failures, []);
  });
});
