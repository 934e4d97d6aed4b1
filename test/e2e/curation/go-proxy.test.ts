/**
 * Curation on the Go module proxy (docs/curation.md "Go"), with Debian's `go` against NORA
 * proxying a scripted GOPROXY upstream that logs what it was asked (test/helpers/go-fixtures.ts):
 * - enforce: `go mod download` of a blocklisted module version fails with NORA's 403 and the
 *   rule's reason (through the group `/go` and the proxy alone); another version downloads; the
 *   blocked version is left out of `@v/list`, so `go mod download <module>@latest` resolves to
 *   the newest allowed one;
 * - `X-Nora-Bypass-Token` downloads the blocked `.zip`;
 * - internal namespaces: a module under one is never asked of the upstream (404);
 * - audit: the blocked version downloads and is counted as `audited` (once, at its `.zip`).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { goEnv, goRun } from '../../helpers/go.ts';
import { type GoUpstream, startGoUpstream } from '../../helpers/go-fixtures.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, output } from '../../helpers/tools.ts';

const MODULE = 'example.com/curated/lib';
const INTERNAL = 'corp.example/secret';
const TOKEN = 'go-bypass-secret';
const REASON = 'GHSA-2026-go01: v1.2.0 exfiltrates GOPATH';

describe('curation: go proxy (go mod download)', { skip: missingTools('go') }, () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let upstream: GoUpstream;
  let enforce: TestServer;
  let audit: TestServer;

  before(async () => {
    work = await tempDir('nora-curation-go-');
    upstream = await startGoUpstream({
      [MODULE]: ['v1.0.0', 'v1.1.0', 'v1.2.0'],
      [INTERNAL]: ['v1.0.0'],
    });
    const blocklist = path.join(work.path, 'blocklist.json');
    await fs.writeFile(
      blocklist,
      JSON.stringify({
        version: 1,
        rules: [{ registry: 'go', name: MODULE, version: '>=1.2.0', reason: REASON }],
      }),
    );
    const start = (mode: string, env: Record<string, string> = {}) =>
      startTestServer({
        config: {
          go: { sumdb: [], negative_cache_ttl: 0, metadata_ttl: 0 },
          curation: {
            mode,
            blocklist_path: blocklist,
            internal_namespaces: ['go:corp.example/**'],
          },
        },
        env: { NORA_GO_PROXY: upstream.url, ...env },
      });
    enforce = await start('enforce', { NORA_CURATION_BYPASS_TOKEN: TOKEN });
    audit = await start('audit');
  });
  after(async () => {
    await enforce.close();
    await audit.close();
    await upstream.close();
    await work[Symbol.asyncDispose]();
  });

  /** `go mod download -json <what>` with its own module cache, GOPROXY = `goproxy`. */
  const download = async (goproxy: string, what: string, home: string) =>
    goRun(
      ['mod', 'download', '-json', what],
      work.path,
      goEnv(path.join(work.path, home), { GOPROXY: goproxy, GOSUMDB: 'off', GONOSUMDB: '*' }),
      false,
    );

  test('enforce: the blocked version fails with 403 and the reason; others download', async () => {
    for (const [i, goproxy] of [
      `${enforce.url}/go`,
      `${enforce.url}/repository/go-proxy`,
    ].entries()) {
      const blocked = await download(goproxy, `${MODULE}@v1.2.0`, `e-blocked-${i}`);
      assert.notEqual(blocked.code, 0, output(blocked));
      assert.match(output(blocked), /403 Forbidden/, output(blocked));
      assert.match(output(blocked), /GHSA-2026-go01/, output(blocked));

      const allowed = await download(goproxy, `${MODULE}@v1.1.0`, `e-allowed-${i}`);
      assert.equal(allowed.code, 0, output(allowed));
      const got = JSON.parse(allowed.stdout) as { Version: string; Zip: string };
      assert.equal(got.Version, 'v1.1.0');
      await fs.access(got.Zip);

      // @v/list leaves v1.2.0 out: `@latest` resolves to the newest allowed version.
      const latest = await download(goproxy, `${MODULE}@latest`, `e-latest-${i}`);
      assert.equal(latest.code, 0, output(latest));
      assert.equal((JSON.parse(latest.stdout) as { Version: string }).Version, 'v1.1.0');
    }
    const list = await fetch(`${enforce.url}/go/${MODULE}/@v/list`);
    assert.deepEqual((await list.text()).trim().split('\n'), ['v1.0.0', 'v1.1.0']);
    // Refused before any upstream request for the blocked version's files.
    assert.ok(
      !upstream.requests.some((u) => u.includes('v1.2.0.mod') || u.includes('v1.2.0.zip')),
      upstream.requests.join('\n'),
    );
  });

  test('enforce: the bypass token fetches the blocked version', async () => {
    const url = `${enforce.url}/go/${MODULE}/@v/v1.2.0.zip`;
    const refused = await fetch(url);
    assert.equal(refused.status, 403);
    assert.match(await refused.text(), /GHSA-2026-go01/);
    const bypassed = await fetch(url, { headers: { 'X-Nora-Bypass-Token': TOKEN } });
    assert.equal(bypassed.status, 200);
    assert.equal((await bypassed.arrayBuffer()).byteLength > 0, true);
    // Still refused without the token (nothing kept the bypassed answer for others).
    assert.equal((await fetch(url)).status, 403);
  });

  test('internal namespace: never asked of the upstream, 404', async () => {
    const result = await download(`${enforce.url}/go`, `${INTERNAL}@v1.0.0`, 'internal');
    assert.notEqual(result.code, 0, output(result));
    assert.match(output(result), /404 Not Found/, output(result));
    for (const url of [`/go/${INTERNAL}/@v/list`, `/repository/go-proxy/${INTERNAL}/@latest`]) {
      assert.equal((await fetch(`${audit.url}${url}`)).status, 404, url);
    }
    assert.ok(
      !upstream.requests.some((u) => u.includes('corp.example')),
      upstream.requests.join('\n'),
    );
  });

  test('audit: the blocked version downloads and is counted once as audited', async () => {
    const result = await download(`${audit.url}/go`, `${MODULE}@v1.2.0`, 'audit');
    assert.equal(result.code, 0, output(result));
    assert.equal((JSON.parse(result.stdout) as { Version: string }).Version, 'v1.2.0');
    const metrics = await (await fetch(`${audit.url}/metrics`)).text();
    const line = metrics
      .split('\n')
      .find((l) => l.startsWith('nora_curation_decisions_total{') && l.includes('"audited"'));
    assert.ok(line?.includes('registry="go"'), metrics);
    assert.match(line ?? '', / 1$/, line);
  });
});
