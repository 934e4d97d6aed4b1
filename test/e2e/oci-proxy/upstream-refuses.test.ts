/**
 * An upstream that starts answering 401 (trial 34: NORA1 turned auth on under a NORA2 proxying it
 * without credentials). A 401/403 is an upstream failure, not "gone": a cached tag is served stale
 * (skopeo inspect and HTTP) and the log names the 401; an uncached one is a MANIFEST_UNKNOWN whose
 * message names the upstream's 401, never a bare one.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { removeDir } from '../../helpers/tmp.ts';
import { missingTools, run } from '../../helpers/tools.ts';
import { buildOciLayout, freePort, pushLayout } from './fixtures.ts';

const skip = missingTools('skopeo');
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

describe('docker proxy whose upstream turns auth on (401)', { skip, timeout: 180_000 }, () => {
  let dir: string;
  let upstream: TestServer | undefined;
  let proxy: TestServer | undefined;
  const lines: string[] = [];

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-ociproxy-401-'));
    const layout = path.join(dir, 'layout');
    await buildOciLayout(layout, 'v1', { layerSizes: [2_000] });
    const port = await freePort();
    const upstreamData = path.join(dir, 'upstream');
    await fs.mkdir(upstreamData);
    upstream = await startTestServer({ port, dataDir: upstreamData });
    for (const reference of ['myapp:latest', 'demo/art:v1', 'demo/other:v1']) {
      await pushLayout(layout, 'v1', `${upstream.host}/${reference}`);
    }
    proxy = await startTestServer({
      config: { docker: { upstreams: [{ url: upstream.url }], metadata_ttl: 0 } },
      logLevel: 'info',
      logStream: { write: (line) => void lines.push(line) },
    });
    for (const reference of ['myapp:latest', 'demo/art:v1']) {
      await run('skopeo', ['inspect', '--tls-verify=false', `docker://${proxy.host}/${reference}`]);
    }
    // The upstream restarts with auth on: anonymous requests get 401 from now on.
    await upstream.close();
    upstream = await startTestServer({
      port,
      dataDir: upstreamData,
      config: { auth: { enabled: true, anonymous_read: false } },
    });
    const refused = await fetch(`${upstream.url}/v2/myapp/manifests/latest`);
    await refused.arrayBuffer();
    assert.equal(refused.status, 401);
  });

  after(async () => {
    await proxy?.close();
    await upstream?.close();
    await removeDir(dir);
  });

  test('a cached tag is served stale, and the log names the 401', async () => {
    assert.ok(proxy);
    const res = await fetch(`${proxy.url}/v2/myapp/manifests/latest`, {
      headers: { accept: OCI_MANIFEST },
    });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.equal(res.headers.get('x-nora-stale'), 'true');
    const log = lines.join('');
    assert.match(log, /serving stale copy/);
    assert.match(log, /upstream docker-proxy\/0 answered 401 for (library\/)?myapp:latest/);
    const inspected = await run('skopeo', [
      'inspect',
      '--tls-verify=false',
      `docker://${proxy.host}/demo/art:v1`,
    ]);
    assert.match(inspected.stdout, /"Digest": "sha256:[0-9a-f]{64}"/);
  });

  test('an uncached tag is a MANIFEST_UNKNOWN naming the 401', async () => {
    assert.ok(proxy);
    const res = await fetch(`${proxy.url}/v2/demo/other/manifests/v1`, {
      headers: { accept: OCI_MANIFEST },
    });
    const body = (await res.json()) as { errors: { code: string; message: string }[] };
    assert.equal(res.status, 404);
    assert.equal(body.errors[0]?.code, 'MANIFEST_UNKNOWN');
    // The default `docker` is a group: its member-failure note names the 401.
    assert.match(body.errors[0].message, /upstream docker-proxy\/0 failed: HTTP 401/);
    assert.doesNotMatch(JSON.stringify(body), /127\.0\.0\.1/);
    // The proxy addressed alone: the same 404, its message the upstream's refusal.
    const alone = await fetch(`${proxy.url}/repository/docker-proxy/v2/demo/other/manifests/v1`, {
      headers: { accept: OCI_MANIFEST },
    });
    const aloneBody = (await alone.json()) as { errors: { code: string; message: string }[] };
    assert.equal(alone.status, 404);
    assert.equal(aloneBody.errors[0]?.code, 'MANIFEST_UNKNOWN');
    assert.match(
      aloneBody.errors[0].message,
      /^manifest unknown: v1 \(upstream docker-proxy\/0 answered 401 for demo\/other:v1: /,
    );
    assert.doesNotMatch(JSON.stringify(aloneBody), /127\.0\.0\.1/);
    const inspected = await run(
      'skopeo',
      ['inspect', '--tls-verify=false', `docker://${proxy.host}/demo/other:v1`],
      { check: false },
    );
    assert.notEqual(inspected.code, 0);
    assert.match(inspected.stderr, /HTTP 401/);
    assert.match(lines.join(''), /refused a manifest \(401\/403\)/);
  });
});
