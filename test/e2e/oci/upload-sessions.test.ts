/**
 * `[docker] max_upload_sessions_per_client` with the real skopeo (test/integration/oci/
 * repositories-and-limits.test.ts has the HTTP side): `skopeo copy` of an image of five layers
 * into NORA, one upload session per blob. What skopeo (1.9, containers/image) does:
 *
 * - from an OCI layout (`oci:`) it uploads the blobs one at a time (a layout source is not read
 *   in parallel), so even a limit of 1 is never reached: the copy succeeds without a 429;
 * - from a registry (`docker://` → `docker://`) it uploads blobs in parallel; the sessions past
 *   the limit get 429 TOOMANYREQUESTS with Retry-After, which containers/image waits out (it
 *   retries a refused request without a body, up to 5 times), so the copy still succeeds, later.
 *
 * Whatever the outcome, the image is whole or absent (never a manifest naming a missing blob), no
 * session is left open, and a later copy under the same limit succeeds.
 *
 * Abandoned sessions (tenth session, trial ocijvm F1): with the client's whole budget held by
 * uploads killed mid-PATCH, a copy right after gets one 429 whose Retry-After outlasts
 * `upload_session_idle`, then reclaims them and succeeds (before the fix: 429 on every retry
 * until `upload_session_ttl`; skopeo gave up or ran into the test's timeout). With the default
 * settings and the budget held by sessions that never received a byte (trial 13 F2), the 429's
 * Retry-After is the time until the first is reclaimable (10 s for an empty session), not 3–10 s
 * against a 60 s reclaim: skopeo waits once and succeeds instead of giving up after 5 tries.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { request } from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import type { TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, output, run } from '../../helpers/tools.ts';
import { startOciServer } from '../../integration/oci/helpers.ts';
import { buildOciLayout } from '../oci-proxy/fixtures.ts';

const LAYERS = [200_000, 150_000, 120_000, 100_000, 80_000];

describe(
  'skopeo copy and the per-client upload session limit',
  {
    skip: missingTools('skopeo'),
  },
  () => {
    let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
    let layout = '';

    before(async () => {
      work = await tempDir('nora-e2e-oci-sessions-');
      layout = path.join(work.path, 'layout');
      await buildOciLayout(layout, 'v1', { layerSizes: LAYERS });
      // containers/image: isolated auth and registries files (the auth file must exist).
      await fs.writeFile(path.join(work.path, 'auth.json'), '{"auths":{}}');
      await fs.writeFile(
        path.join(work.path, 'registries.conf'),
        'unqualified-search-registries = []\n',
      );
    });
    after(async () => {
      await work[Symbol.asyncDispose]();
    });

    const copy = (from: string, to: string) =>
      run('skopeo', ['copy', '--src-tls-verify=false', '--dest-tls-verify=false', from, to], {
        env: {
          ...process.env,
          HOME: work.path,
          REGISTRY_AUTH_FILE: path.join(work.path, 'auth.json'),
          CONTAINERS_REGISTRIES_CONF: path.join(work.path, 'registries.conf'),
        },
        timeoutMs: 120_000,
        check: false,
      });
    const openSessions = async (server: TestServer) =>
      Number(
        (
          await sql<{ n: number }>`SELECT count(*) AS n FROM oci_uploads`.execute(
            server.app.context.db,
          )
        ).rows[0]?.n,
      );
    /** How many answers of `status` the server gave, by method (its /metrics). */
    const answered = async (server: TestServer, status: string) => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      const out: Record<string, number> = {};
      for (const [, labels = '', count = '0'] of text.matchAll(
        /^nora_http_requests_total\{([^}]*)\} (\d+)/gm,
      )) {
        if (!labels.includes(`status="${status}"`)) continue;
        const method = /method="([A-Z]+)"/.exec(labels)?.[1] ?? '?';
        out[method] = (out[method] ?? 0) + Number(count);
      }
      return out;
    };
    /** The tag's manifest digest and whether every blob it names is there, or undefined (404). */
    const pushed = async (server: TestServer, name: string, tag: string) => {
      const res = await fetch(`${server.url}/v2/${name}/manifests/${tag}`, {
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      if (res.status === 404) return undefined;
      assert.equal(res.status, 200);
      const manifest = (await res.json()) as {
        config: { digest: string };
        layers: { digest: string }[];
      };
      assert.equal(manifest.layers.length, LAYERS.length);
      for (const { digest } of [manifest.config, ...manifest.layers]) {
        const blob = await fetch(`${server.url}/v2/${name}/blobs/${digest}`, { method: 'HEAD' });
        assert.equal(blob.status, 200, `${name}:${tag} names ${digest}, which is missing`);
      }
      return res.headers.get('docker-content-digest');
    };

    test(
      'the default limit: a layout copied in, no session left open',
      { timeout: 120_000 },
      async () => {
        await using server = await startOciServer({ config: { docker: { upstreams: [] } } });
        assert.equal(server.config.docker.max_upload_sessions_per_client, 25);
        const result = await copy(`oci:${layout}:v1`, `docker://${server.host}/sess/app:v1`);
        assert.equal(result.code, 0, output(result));
        assert.ok(await pushed(server, 'sess/app', 'v1'));
        assert.equal(await openSessions(server), 0);
      },
    );

    test(
      'a limit of 1, from a layout: one blob at a time, no 429',
      { timeout: 120_000 },
      async () => {
        await using server = await startOciServer({
          config: { docker: { upstreams: [], max_upload_sessions_per_client: 1 } },
        });
        const result = await copy(`oci:${layout}:v1`, `docker://${server.host}/sess/app:v1`);
        assert.equal(result.code, 0, output(result));
        assert.ok(await pushed(server, 'sess/app', 'v1'));
        assert.deepEqual(await answered(server, '429'), {});
        assert.equal(await openSessions(server), 0);
      },
    );

    test(
      'a limit of 1, registry to registry: skopeo waits out the 429s; whole image, no session left, a later copy works',
      { timeout: 240_000 },
      async (t) => {
        await using source = await startOciServer({ config: { docker: { upstreams: [] } } });
        const seeded = await copy(`oci:${layout}:v1`, `docker://${source.host}/sess/app:v1`);
        assert.equal(seeded.code, 0, output(seeded));
        const digest = await pushed(source, 'sess/app', 'v1');
        await using server = await startOciServer({
          config: { docker: { upstreams: [], max_upload_sessions_per_client: 1 } },
        });
        const started = performance.now();
        const first = await copy(
          `docker://${source.host}/sess/app:v1`,
          `docker://${server.host}/sess/app:v1`,
        );
        const seconds = (performance.now() - started) / 1000;
        const refused = await answered(server, '429');
        t.diagnostic(
          `limit 1: skopeo exited ${first.code} after ${seconds.toFixed(1)} s; 429 answers: ${JSON.stringify(refused)}`,
        );
        assert.ok((refused['POST'] ?? 0) > 0, 'skopeo opened more than one session at once');
        assert.deepEqual(Object.keys(refused), ['POST'], 'only session starts are refused');
        if (first.code === 0) {
          assert.equal(await pushed(server, 'sess/app', 'v1'), digest);
        } else {
          // Out of retries: skopeo must show why, and nothing half-written is tagged.
          assert.match(output(first), /max_upload_sessions_per_client/, output(first));
          assert.equal(await pushed(server, 'sess/app', 'v1'), undefined);
        }
        assert.equal(await openSessions(server), 0, 'no upload session left open');

        const later = await copy(
          `docker://${source.host}/sess/app:v1`,
          `docker://${server.host}/sess/later:v1`,
        );
        assert.equal(later.code, 0, output(later));
        assert.equal(await pushed(server, 'sess/later', 'v1'), digest);
        assert.equal(await openSessions(server), 0);
      },
    );

    test(
      'pushes killed mid-PATCH at the limit do not lock the client out: the next copy reclaims their sessions (F1)',
      { timeout: 240_000 },
      async (t) => {
        await using server = await startOciServer({
          config: { docker: { upstreams: [], upload_session_idle: 2 } },
        });
        const limit = server.config.docker.max_upload_sessions_per_client;
        // As a cancelled CI job leaves them: each session's PATCH killed mid-body.
        for (let i = 0; i < limit; i++) {
          const started = await fetch(`${server.url}/v2/sess/killed/blobs/uploads/`, {
            method: 'POST',
          });
          assert.equal(started.status, 202);
          const location = started.headers.get('location') ?? '';
          await new Promise<void>((resolve) => {
            const req = request(`${server.url}${location}`, {
              method: 'PATCH',
              headers: { 'content-length': String(1024 * 1024) },
            });
            req.on('error', () => {
              resolve();
            });
            req.write(Buffer.alloc(32 * 1024, 1), () => {
              setTimeout(() => {
                req.destroy();
                resolve();
              }, 20);
            });
          });
        }
        assert.equal(await openSessions(server), limit);
        // At once: the first POSTs get 429 with a Retry-After past the idle period, which
        // skopeo waits out; then the abandoned sessions are reclaimed and the copy goes through.
        const result = await copy(`oci:${layout}:v1`, `docker://${server.host}/sess/other:v1`);
        const refused = await answered(server, '429');
        t.diagnostic(`skopeo exited ${result.code}; 429 answers: ${JSON.stringify(refused)}`);
        assert.equal(result.code, 0, output(result));
        assert.ok(await pushed(server, 'sess/other', 'v1'));
        assert.ok((await openSessions(server)) < limit, 'abandoned sessions were reclaimed');
      },
    );

    test(
      'the default settings, the whole budget held by sessions opened and never used: the next copy waits out one honest Retry-After and succeeds (trial 13 F2)',
      { timeout: 240_000 },
      async (t) => {
        await using server = await startOciServer({ config: { docker: { upstreams: [] } } });
        const limit = server.config.docker.max_upload_sessions_per_client;
        for (let i = 0; i < limit; i++) {
          const started = await fetch(`${server.url}/v2/sess/stray/blobs/uploads/`, {
            method: 'POST',
          });
          assert.equal(started.status, 202);
        }
        // Before: Retry-After 3–10 s against a reclaim after upload_session_idle (60 s); skopeo
        // retried 4 times and gave up, its error saying the wait would have been enough.
        const result = await copy(`oci:${layout}:v1`, `docker://${server.host}/sess/next:v1`);
        const refused = await answered(server, '429');
        t.diagnostic(`skopeo exited ${result.code}; 429 answers: ${JSON.stringify(refused)}`);
        assert.equal(result.code, 0, output(result));
        assert.ok((refused['POST'] ?? 0) >= 1, 'the budget was full when skopeo started');
        assert.ok(await pushed(server, 'sess/next', 'v1'));
      },
    );
  },
);
