/**
 * Authenticated upstreams: Distribution behind htpasswd basic auth (NORA's "not yet wired" case),
 * and a Docker-Hub-style bearer-token upstream (a token issuer in front of Distribution), with
 * the upstream's credentials and anonymously. skopeo pulls through NORA in each case.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { removeDir } from '../../helpers/tmp.ts';
import { missingTools, run } from '../../helpers/tools.ts';
import {
  buildOciLayout,
  type Distribution,
  pushLayout,
  startDistribution,
  startFront,
} from './fixtures.ts';

const skip = missingTools('skopeo', 'docker-registry', 'htpasswd');

describe('authenticated upstreams', { skip, timeout: 180_000 }, () => {
  let dir: string;
  let layout: string;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-ociproxy-auth-'));
    layout = path.join(dir, 'layout');
    await buildOciLayout(layout, 'v1', { layerSizes: [10_000, 120_000] });
  });

  after(async () => {
    await removeDir(dir);
  });

  async function pullAndVerify(host: string, reference: string, label: string): Promise<void> {
    const out = path.join(dir, 'pulled', label);
    await fs.mkdir(path.dirname(out), { recursive: true });
    await run('skopeo', [
      'copy',
      '--src-tls-verify=false',
      `docker://${host}/${reference}`,
      `dir:${out}`,
    ]);
    const files = (await fs.readdir(out)).filter((f) => /^[a-f0-9]{64}$/.test(f));
    assert.ok(files.length >= 2);
    for (const file of files) {
      const hex = createHash('sha256')
        .update(await fs.readFile(path.join(out, file)))
        .digest('hex');
      assert.equal(hex, file);
    }
  }

  test('htpasswd (basic auth) upstream with configured credentials', async () => {
    let registry: Distribution | undefined;
    try {
      registry = await startDistribution(path.join(dir, 'reg-basic'), {
        htpasswd: { user: 'puller', password: 's3cret' },
      });
      await pushLayout(layout, 'v1', `${registry.host}/private/app:v1`, 'puller:s3cret');
      await using nora = await startTestServer({
        config: { docker: { upstreams: [{ url: registry.url, auth: 'puller:s3cret' }] } },
      });
      await pullAndVerify(nora.host, 'private/app:v1', 'basic');
      // Without credentials the same upstream refuses: not found for the client, never a leak.
      await using anonymous = await startTestServer({
        config: { docker: { upstreams: [{ url: registry.url }] } },
      });
      const res = await fetch(`${anonymous.url}/v2/private/app/manifests/v1`);
      const text = await res.text();
      assert.equal(res.status, 404, text);
      assert.doesNotMatch(text, /127\.0\.0\.1/);
    } finally {
      await registry?.stop();
    }
  });

  test('bearer-token upstream: token fetched with the upstream credentials, cached per scope', async () => {
    const registry = await startDistribution(path.join(dir, 'reg-token'));
    const front = await startFront(registry.url, {
      user: 'robot',
      password: 'tok3n',
      expiresIn: 300,
    });
    try {
      await pushLayout(layout, 'v1', `${registry.host}/org/app:v1`);
      await using nora = await startTestServer({
        config: {
          docker: { upstreams: [{ url: front.url, auth: 'robot:tok3n' }], metadata_ttl: 0 },
        },
      });
      await pullAndVerify(nora.host, 'org/app:v1', 'token-1');
      await pullAndVerify(nora.host, 'org/app:v1', 'token-2');
      assert.equal(
        front.tokensIssued,
        1,
        'one token for repository:org/app:pull, reused until it expires',
      );
      const unauthorized = front.requests.filter((r) => r.path.startsWith('/v2/org/app')).length;
      assert.ok(unauthorized >= 1);

      await using wrong = await startTestServer({
        config: { docker: { upstreams: [{ url: front.url, auth: 'robot:wrong' }] } },
      });
      const res = await fetch(`${wrong.url}/v2/org/app/manifests/v1`);
      const text = await res.text();
      assert.ok(res.status === 502 || res.status === 404, `status ${res.status}`);
      assert.doesNotMatch(text, /127\.0\.0\.1/);
    } finally {
      await front.close();
      await registry.stop();
    }
  });

  test('bearer-token upstream with anonymous tokens (Docker Hub public images)', async () => {
    const registry = await startDistribution(path.join(dir, 'reg-anon-token'));
    const front = await startFront(registry.url, {});
    try {
      await pushLayout(layout, 'v1', `${registry.host}/library/busybox:v1`);
      await using nora = await startTestServer({
        config: { docker: { upstreams: [{ url: front.url }] } },
      });
      await pullAndVerify(nora.host, 'busybox:v1', 'anon-token');
      // "busybox" is tried as written, then as library/busybox: one anonymous token per scope.
      const issued = front.tokensIssued;
      assert.ok(issued >= 1 && issued <= 2, `tokens issued: ${issued}`);
      await pullAndVerify(nora.host, 'busybox:v1', 'anon-token-2');
      assert.equal(front.tokensIssued, issued, 'tokens are cached per scope');
    } finally {
      await front.close();
      await registry.stop();
    }
  });
});
