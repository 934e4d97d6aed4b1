/**
 * Curation on the Helm proxy (docs/curation.md "Helm"), with curl as the client (the helm binary
 * is not installed here; `helmPull` does what `helm pull` does) against a fixture upstream that
 * logs what it was asked:
 * - enforce: a blocklisted chart version's `.tgz` (and `.prov`) is a 403 whose ChartMuseum error
 *   names the rule's reason, through the proxy and through a group; the proxied index.yaml leaves
 *   that version out, so a pull of the chart gets the allowed one; another version downloads;
 * - `X-Nora-Bypass-Token` with the configured token downloads the blocked version;
 * - internal namespaces: a chart the upstream index lists under an internal name is not offered
 *   and its archive is never asked of the upstream (404);
 * - audit: the blocked version is served and counted as `audited`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { curl } from '../../helpers/curl.ts';
import {
  buildChart,
  type FixtureHost,
  helmPull,
  serveFixture,
  sha256,
} from '../../helpers/helm.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools } from '../../helpers/tools.ts';

const TOKEN = 'helm-bypass-secret';
const REASON = 'CVE-2026-4242: web 2.0.0 ships a backdoored init container';

describe('curation: helm proxy (curl)', { skip: missingTools('curl') }, () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let upstream: FixtureHost;
  let enforce: TestServer;
  let audit: TestServer;
  const charts = new Map<string, Buffer>();

  before(async () => {
    work = await tempDir('nora-curation-helm-');
    for (const [name, version] of [
      ['web', '1.0.0'],
      ['web', '2.0.0'],
      ['corp-secret', '1.0.0'],
    ] as const) {
      charts.set(`${name}-${version}.tgz`, await buildChart({ name, version }));
    }
    const entries = (name: string, versions: string[]) => [
      `  ${name}:`,
      ...versions.map((v) => {
        const file = `${name}-${v}.tgz`;
        return `  - {apiVersion: v2, name: ${name}, version: ${v}, digest: ${sha256(charts.get(file) ?? Buffer.alloc(0))}, urls: ["charts/${file}"]}`;
      }),
    ];
    const index = [
      'apiVersion: v1',
      'entries:',
      ...entries('web', ['2.0.0', '1.0.0']),
      ...entries('corp-secret', ['1.0.0']),
      'generated: "2026-01-01T00:00:00Z"',
    ].join('\n');
    upstream = await serveFixture((req, res) => {
      const url = req.url ?? '/';
      if (url === '/index.yaml') return void res.writeHead(200).end(index);
      const file = charts.get(url.replace(/^\/charts\//, ''));
      if (file === undefined) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-length': file.length }).end(file);
    });
    const blocklist = path.join(work.path, 'blocklist.json');
    await fs.writeFile(
      blocklist,
      JSON.stringify({
        version: 1,
        rules: [{ registry: 'helm', name: 'web', version: '2.0.0', reason: REASON }],
      }),
    );
    const config = (mode: string) => ({
      helm: { proxies: [{ url: upstream.url.replace(/\/$/, '') }], index_ttl: 0 },
      curation: { mode, blocklist_path: blocklist, internal_namespaces: ['corp-*'] },
    });
    enforce = await startTestServer({
      config: config('enforce'),
      env: { NORA_CURATION_BYPASS_TOKEN: TOKEN },
    });
    audit = await startTestServer({ config: config('audit') });
  });
  after(async () => {
    await enforce.close();
    await audit.close();
    await upstream.close();
    await work[Symbol.asyncDispose]();
  });

  test('enforce: the blocked version is a 403 naming the reason; the index leaves it out', async () => {
    for (const base of ['/repository/helm-proxy', '/helm']) {
      const blocked = await curl([`${enforce.url}${base}/charts/web-2.0.0.tgz`]);
      assert.equal(blocked.status, 403, `${base}: ${blocked.body}`);
      const error = JSON.parse(blocked.body) as { error: string };
      assert.match(error.error, /CVE-2026-4242/, blocked.body);
      const prov = await curl([`${enforce.url}${base}/charts/web-2.0.0.tgz.prov`]);
      assert.equal(prov.status, 403, prov.body);

      const allowed = await curl([
        '-o',
        path.join(work.path, 'web-1.tgz'),
        `${enforce.url}${base}/charts/web-1.0.0.tgz`,
      ]);
      assert.equal(allowed.status, 200, allowed.stderr);
      assert.deepEqual(
        await fs.readFile(path.join(work.path, 'web-1.tgz')),
        charts.get('web-1.0.0.tgz'),
      );

      const index = await curl([`${enforce.url}${base}/index.yaml`]);
      assert.equal(index.status, 200);
      const doc = parseYaml(index.body) as { entries: Record<string, { version: string }[]> };
      assert.deepEqual(
        doc.entries['web']?.map((e) => e.version),
        ['1.0.0'],
        index.body,
      );
      assert.equal(doc.entries['corp-secret'], undefined, 'an internal chart is not offered');
      // What `helm pull web` picks: the newest version the index offers.
      const pulled = await helmPull(`${enforce.url}${base}`, 'web');
      assert.equal(pulled.version, '1.0.0');
    }
  });

  test('enforce: the bypass token downloads the blocked version; a wrong token does not', async () => {
    const url = `${enforce.url}/repository/helm-proxy/charts/web-2.0.0.tgz`;
    const out = path.join(work.path, 'web-2.tgz');
    const bypassed = await curl(['-o', out, '-H', `X-Nora-Bypass-Token: ${TOKEN}`, url]);
    assert.equal(bypassed.status, 200, bypassed.stderr);
    assert.deepEqual(await fs.readFile(out), charts.get('web-2.0.0.tgz'));
    const wrong = await curl(['-H', 'X-Nora-Bypass-Token: guess', url]);
    assert.equal(wrong.status, 403, wrong.body);
  });

  test('internal namespace: never asked of the upstream, 404', async () => {
    const before = upstream.hits.length;
    for (const base of ['/repository/helm-proxy', '/helm']) {
      const r = await curl([`${enforce.url}${base}/charts/corp-secret-1.0.0.tgz`]);
      assert.equal(r.status, 404, r.body);
    }
    const audited = await curl([`${audit.url}/repository/helm-proxy/charts/corp-secret-1.0.0.tgz`]);
    assert.equal(audited.status, 404, audited.body);
    const asked = upstream.hits.slice(before).map((h) => h.url);
    assert.ok(!asked.some((u) => u.includes('corp-secret')), asked.join('\n'));
  });

  test('audit: the blocked version is served, listed and counted as audited', async () => {
    const out = path.join(work.path, 'web-2-audit.tgz');
    const served = await curl([
      '-o',
      out,
      `${audit.url}/repository/helm-proxy/charts/web-2.0.0.tgz`,
    ]);
    assert.equal(served.status, 200, served.stderr);
    assert.deepEqual(await fs.readFile(out), charts.get('web-2.0.0.tgz'));
    const index = await curl([`${audit.url}/repository/helm-proxy/index.yaml`]);
    const doc = parseYaml(index.body) as { entries: Record<string, { version: string }[]> };
    assert.deepEqual(
      doc.entries['web']?.map((e) => e.version),
      ['2.0.0', '1.0.0'],
    );
    const metrics = await curl([`${audit.url}/metrics`]);
    assert.match(
      metrics.body,
      /nora_curation_decisions_total\{[^}]*registry="helm"[^}]*decision="audited"[^}]*\} 1\b|nora_curation_decisions_total\{[^}]*decision="audited"[^}]*registry="helm"[^}]*\} 1\b/,
      metrics.body
        .split('\n')
        .filter((l) => l.includes('curation'))
        .join('\n'),
    );
  });
});
