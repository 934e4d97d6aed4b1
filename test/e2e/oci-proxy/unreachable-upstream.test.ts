/**
 * Pushing to the default `/v2/` group while its upstream cannot be reached: the air-gapped
 * machine whose configuration still names Docker Hub (the default upstream). skopeo asks HEAD
 * for every blob before uploading it and may try a cross-repository mount; neither may fail the
 * push because the upstream is down. Pulls of content nobody has still get the 502.
 *
 * The upstream that accepts connections and never answers (a firewall that drops, a hung
 * mirror; trial 13 F5): each blob HEAD of a push through the group used to wait the whole
 * `proxy_timeout` (60 s) for the proxy member. It now waits `[docker] metadata_timeout` (5 s),
 * every wait counts toward the circuit breaker, and once it is open a push asks nothing upstream.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { removeDir } from '../../helpers/tmp.ts';
import { missingTools, run } from '../../helpers/tools.ts';
import { buildOciLayout, freePort } from './fixtures.ts';

const skip = missingTools('skopeo');
const UNKNOWN = `sha256:${'0'.repeat(64)}`;

describe('push to the default group with its upstream unreachable (skopeo)', { skip }, () => {
  let dir: string;
  let nora: TestServer;
  let host: string;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-unreachable-'));
    const dead = `http://127.0.0.1:${await freePort()}`;
    nora = await startTestServer({
      config: {
        docker: { upstreams: [{ url: dead }], proxy_timeout: 5 },
        repositories: [
          { name: 'mirror', format: 'docker', kind: 'proxy', upstreams: [{ url: dead }] },
        ],
      },
    });
    host = new URL(nora.url).host;
    await buildOciLayout(path.join(dir, 'layout'), 'v1', { layerSizes: [4096, 200_000] });
  });
  after(async () => {
    await nora.close();
    await removeDir(dir);
  });

  test('skopeo pushes, then pulls the same image back', async () => {
    await run('skopeo', [
      'copy',
      '--dest-tls-verify=false',
      `oci:${path.join(dir, 'layout')}:v1`,
      `docker://${host}/team/app:v1`,
    ]);
    // A second name: skopeo now tries to mount the blobs from team/app first.
    await run('skopeo', [
      'copy',
      '--dest-tls-verify=false',
      `oci:${path.join(dir, 'layout')}:v1`,
      `docker://${host}/team/copy:v1`,
    ]);
    for (const name of ['team/app', 'team/copy']) {
      const out = path.join(dir, name.replace('/', '_'));
      await run('skopeo', [
        'copy',
        '--src-tls-verify=false',
        `docker://${host}/${name}:v1`,
        `dir:${out}`,
      ]);
      // skopeo may recompress layers on push: check what was pulled against its own digests.
      const manifest = JSON.parse(await fs.readFile(path.join(out, 'manifest.json'), 'utf8')) as {
        layers: { digest: string }[];
      };
      assert.equal(manifest.layers.length, 2, name);
      for (const layer of manifest.layers) {
        const hex = layer.digest.split(':')[1] ?? '';
        const bytes = await fs.readFile(path.join(out, hex));
        assert.equal(createHash('sha256').update(bytes).digest('hex'), hex, `${name}: ${hex}`);
      }
    }
  });

  test('a blob nobody has: 404 in the group for HEAD and GET, the message naming the upstream', async () => {
    const url = `${nora.url}/v2/team/other/blobs/${UNKNOWN}`;
    assert.equal((await fetch(url, { method: 'HEAD' })).status, 404);
    const get = await fetch(url);
    assert.equal(get.status, 404);
    const body = (await get.json()) as { errors: { code: string; message: string }[] };
    assert.equal(body.errors[0]?.code, 'BLOB_UNKNOWN');
    assert.match(JSON.stringify(body), /upstream docker-proxy\/0 unreachable: /);
  });

  test('a mount from a name the group cannot reach falls back to an upload (202)', async () => {
    const reply = await fetch(
      `${nora.url}/v2/team/third/blobs/uploads/?mount=${UNKNOWN}&from=elsewhere/app`,
      { method: 'POST' },
    );
    assert.equal(reply.status, 202);
    assert.ok(reply.headers.get('location'));
  });

  test('a proxy repository (read-only, nothing to push) keeps the 502 for HEAD too', async () => {
    const reply = await fetch(`${nora.url}/v2/mirror/team/app/blobs/${UNKNOWN}`, {
      method: 'HEAD',
    });
    assert.equal(reply.status, 502);
  });
});

describe('push to the default group with an upstream that never answers (skopeo)', { skip }, () => {
  let dir: string;
  let nora: TestServer;
  let host: string;
  let blackHole: net.Server;
  const sockets = new Set<net.Socket>();
  let accepted = 0;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-blackhole-'));
    // Accepts every connection, reads what is sent, never answers.
    blackHole = net.createServer((socket) => {
      accepted += 1;
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    const { port } = blackHole.address() as net.AddressInfo;
    nora = await startTestServer({
      config: {
        // A proxy_timeout no push could wait out in this test: only metadata_timeout (default
        // 5 s) may bound the blob HEADs.
        docker: { upstreams: [{ url: `http://127.0.0.1:${port}` }], proxy_timeout: 600 },
        circuit_breaker: { threshold: 2, reset_timeout: 600 },
      },
    });
    host = new URL(nora.url).host;
    await buildOciLayout(path.join(dir, 'layout'), 'v1', { layerSizes: [4096] });
  });
  after(async () => {
    await nora.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => blackHole.close(resolve));
    await removeDir(dir);
  });

  const push = (name: string) =>
    run(
      'skopeo',
      [
        'copy',
        '--dest-tls-verify=false',
        `oci:${path.join(dir, 'layout')}:v1`,
        `docker://${host}/${name}:v1`,
      ],
      // Before the fix each of the two blob HEADs waited proxy_timeout (here 600 s).
      { timeoutMs: 120_000 },
    );
  const circuit = async () => {
    const health = (await (await fetch(`${nora.url}/health`)).json()) as {
      upstreams: Partial<Record<string, { state: string; consecutive_failures: number }>>;
    };
    return health.upstreams['docker-proxy/0'];
  };

  test(
    'the first push waits metadata_timeout per blob HEAD, each wait counts as a failure, the circuit opens',
    { timeout: 150_000 },
    async () => {
      await push('bh/app');
      assert.ok(accepted > 0, 'the proxy member asked the upstream');
      const state = await circuit();
      assert.equal(state?.state, 'open', JSON.stringify(state));
      assert.ok(state.consecutive_failures >= 2, JSON.stringify(state));
    },
  );

  test(
    'with the circuit open, the next push asks nothing upstream',
    { timeout: 150_000 },
    async () => {
      const before = accepted;
      await push('bh/app2');
      assert.equal(accepted, before, 'no connection to the hung upstream');
      const manifest = await fetch(`${nora.url}/v2/bh/app2/manifests/v1`, {
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      assert.equal(manifest.status, 200);
    },
  );

  test(
    'a tag list of a name nobody has, circuit open: 404 at once, naming the upstream',
    { timeout: 60_000 },
    async () => {
      const reply = await fetch(`${nora.url}/v2/library/other/tags/list`, {
        signal: AbortSignal.timeout(50_000),
      });
      assert.equal(reply.status, 404);
      assert.match(await reply.text(), /docker-proxy\/0/);
    },
  );
});
