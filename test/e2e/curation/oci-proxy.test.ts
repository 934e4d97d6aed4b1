/**
 * Curation on the Docker/OCI proxy (docs/curation.md "Docker / OCI"), with skopeo pulling
 * through NORA from Debian's docker-registry behind a counting front
 * (test/e2e/oci-proxy/fixtures.ts):
 * - enforce: `skopeo copy` / `skopeo inspect` of a blocklisted tag fail with the 403 `DENIED`
 *   error and the rule's reason (through the `/v2/` group and the proxy alone), and the tag is
 *   never asked of the upstream; another tag of the same image pulls; tags/list leaves the
 *   blocked tag out;
 * - `X-Nora-Bypass-Token` fetches the blocked manifest;
 * - internal namespaces: an image under one is never asked of the upstream (404 MANIFEST_UNKNOWN
 *   / NAME_UNKNOWN), although the upstream has it;
 * - audit: the blocked tag pulls and is counted as `audited`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, output, run } from '../../helpers/tools.ts';
import {
  buildOciLayout,
  type Distribution,
  type Front,
  pushLayout,
  startDistribution,
  startFront,
} from '../oci-proxy/fixtures.ts';

const TOKEN = 'oci-bypass-secret';
const MANIFEST_ACCEPT =
  'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';

describe(
  'curation: docker proxy (skopeo)',
  { skip: missingTools('skopeo', 'docker-registry'), timeout: 240_000 },
  () => {
    let work: Awaited<ReturnType<typeof tempDir>>;
    let registry: Distribution;
    let front: Front;
    let enforce: TestServer;
    let audit: TestServer;

    before(async () => {
      work = await tempDir('nora-curation-oci-');
      await fs.mkdir(path.join(work.path, 'pulled'));
      registry = await startDistribution(path.join(work.path, 'registry'));
      for (const [name, tag] of [
        ['team/app', 'v1'],
        ['team/app', 'v2'],
        ['corp/secret', 'v1'],
      ] as const) {
        const layout = path.join(work.path, 'layouts', `${name.replace('/', '_')}-${tag}`);
        await buildOciLayout(layout, tag, { layerSizes: [1024] });
        await pushLayout(layout, tag, `${registry.host}/${name}:${tag}`);
      }
      front = await startFront(registry.url);
      const blocklist = path.join(work.path, 'blocklist.json');
      await fs.writeFile(
        blocklist,
        JSON.stringify({
          version: 1,
          rules: [
            { registry: 'docker', name: 'team/app', version: 'v2', reason: 'CVE-2026-7777 in v2' },
          ],
        }),
      );
      const start = (mode: string, env: Record<string, string> = {}) =>
        startTestServer({
          config: {
            docker: { upstreams: [{ url: front.url }], metadata_ttl: 0 },
            curation: {
              mode,
              blocklist_path: blocklist,
              internal_namespaces: ['docker:corp/**'],
            },
          },
          env,
        });
      enforce = await start('enforce', { NORA_CURATION_BYPASS_TOKEN: TOKEN });
      audit = await start('audit');
    });
    after(async () => {
      await enforce.close();
      await audit.close();
      await front.close();
      await registry.stop();
      await work[Symbol.asyncDispose]();
    });

    const copy = (host: string, reference: string, label: string) =>
      run(
        'skopeo',
        [
          'copy',
          '--src-tls-verify=false',
          `docker://${host}/${reference}`,
          `dir:${path.join(work.path, 'pulled', label)}`,
        ],
        { check: false },
      );
    const inspect = (host: string, reference: string) =>
      run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${host}/${reference}`], {
        check: false,
      });

    test('enforce: the blocked tag fails skopeo with DENIED and the reason; another tag pulls', async () => {
      const blocked = await copy(enforce.host, 'team/app:v2', 'blocked');
      assert.notEqual(blocked.code, 0, output(blocked));
      assert.match(output(blocked), /denied/i, output(blocked));
      assert.match(output(blocked), /CVE-2026-7777/, output(blocked));
      const inspected = await inspect(enforce.host, 'team/app:v2');
      assert.notEqual(inspected.code, 0, output(inspected));
      assert.match(output(inspected), /CVE-2026-7777/, output(inspected));

      const allowed = await copy(enforce.host, 'team/app:v1', 'allowed');
      assert.equal(allowed.code, 0, output(allowed));

      // The OCI error envelope, as the spec's clients read it: the group and the proxy alone.
      for (const base of ['/v2', '/repository/docker-proxy/v2']) {
        for (const method of ['GET', 'HEAD']) {
          const res = await fetch(`${enforce.url}${base}/team/app/manifests/v2`, {
            method,
            headers: { accept: MANIFEST_ACCEPT },
          });
          assert.equal(res.status, 403, `${method} ${base}`);
          if (method === 'HEAD') continue;
          const body = (await res.json()) as { errors: [{ code: string; message: string }] };
          assert.equal(body.errors[0].code, 'DENIED');
          assert.match(body.errors[0].message, /CVE-2026-7777/);
        }
      }
      // Refused before the upstream was asked about the tag.
      assert.equal(front.count('GET', /\/v2\/team\/app\/manifests\/v2$/), 0);
      assert.equal(front.count('HEAD', /\/v2\/team\/app\/manifests\/v2$/), 0);
      // tags/list leaves it out.
      const tags = (await (await fetch(`${enforce.url}/v2/team/app/tags/list`)).json()) as {
        tags: string[];
      };
      assert.deepEqual(tags.tags, ['v1']);
    });

    test('enforce: the bypass token fetches the blocked manifest', async () => {
      const url = `${enforce.url}/v2/team/app/manifests/v2`;
      const bypassed = await fetch(url, {
        headers: { accept: MANIFEST_ACCEPT, 'X-Nora-Bypass-Token': TOKEN },
      });
      assert.equal(bypassed.status, 200);
      await bypassed.arrayBuffer();
      const again = await fetch(url, { headers: { accept: MANIFEST_ACCEPT } });
      assert.equal(again.status, 403, 'still refused without the token');
    });

    test('internal namespace: never asked of the upstream, 404', async () => {
      for (const server of [enforce, audit]) {
        const pulled = await copy(server.host, 'corp/secret:v1', `internal-${server.port}`);
        assert.notEqual(pulled.code, 0, output(pulled));
        assert.match(output(pulled), /manifest unknown|not found/i, output(pulled));
        const res = await fetch(`${server.url}/v2/corp/secret/tags/list`);
        assert.equal(res.status, 404);
      }
      assert.ok(
        !front.requests.some((r) => r.path.includes('corp/secret')),
        front.requests.map((r) => `${r.method} ${r.path}`).join('\n'),
      );
    });

    test('audit: the blocked tag pulls and is counted as audited', async () => {
      const pulled = await copy(audit.host, 'team/app:v2', 'audit');
      assert.equal(pulled.code, 0, output(pulled));
      const metrics = await (await fetch(`${audit.url}/metrics`)).text();
      const line = metrics
        .split('\n')
        .find(
          (l) =>
            l.startsWith('nora_curation_decisions_total{') &&
            l.includes('"audited"') &&
            l.includes('registry="docker"'),
        );
      assert.ok(line !== undefined, metrics);
    });
  },
);
