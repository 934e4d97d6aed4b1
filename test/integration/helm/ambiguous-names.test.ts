/**
 * An upstream index may list a chart whose file name also reads as another chart's
 * (`app-1.2.3-x` 0.1.0 → `app-1.2.3-x-0.1.0.tgz`, which splits at the first `-` a version
 * follows as `app` 1.2.3-x-0.1.0). Hosted uploads refuse such names; a proxy lists them, so they
 * must be fetchable (through a group too, whose hosted-name guard and the rules see the listed
 * name), and two charts spelling one file name alike must not both be listed. Gap found by the
 * parser property test ("ambiguous", test/unit/helm/parsers.property.test.ts).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { buildChart, sha256 } from '../../helpers/helm.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

type IndexDoc = { entries: Record<string, { version: string; urls: string[]; digest: string }[]> };

describe('helm: chart names whose file names read as another chart', () => {
  const files = new Map<string, Buffer>();
  const indexes = new Map<string, string>();
  let origin: http.Server;
  let nora: TestServer;
  let ambiguous: Buffer;
  let appHosted: Buffer;
  let webShort: Buffer;
  let webLong: Buffer;

  before(async () => {
    origin = http.createServer((req, res) => {
      const url = req.url ?? '/';
      const index = indexes.get(url);
      if (index !== undefined) {
        res.writeHead(200, { 'content-type': 'application/x-yaml' }).end(index);
        return;
      }
      const file = files.get(url);
      if (file) res.writeHead(200, { 'content-length': file.length }).end(file);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
    ambiguous = await buildChart({ name: 'app-1.2.3-x', version: '0.1.0' });
    appHosted = await buildChart({ name: 'app', version: '2.0.0' });
    webShort = await buildChart({ name: 'web', version: '1.0.0-b-2.0.0' });
    webLong = await buildChart({ name: 'web-1.0.0-b', version: '2.0.0' });
    files.set('/a/app-1.2.3-x-0.1.0.tgz', ambiguous);
    files.set('/b/web-long.tgz', webLong);
    files.set('/c/web-short.tgz', webShort);
    const entry = (name: string, version: string, bytes: Buffer, url: string): string =>
      `  - {apiVersion: v2, name: ${name}, version: ${version}, digest: ${sha256(bytes)}, urls: ["${base}${url}"]}`;
    indexes.set(
      '/a/index.yaml',
      [
        'apiVersion: v1',
        'entries:',
        '  app-1.2.3-x:',
        entry('app-1.2.3-x', '0.1.0', ambiguous, '/a/app-1.2.3-x-0.1.0.tgz'),
        '  web-1.0.0-b:',
        entry('web-1.0.0-b', '2.0.0', webLong, '/b/web-long.tgz'),
        '  web:',
        entry('web', '1.0.0-b-2.0.0', webShort, '/c/web-short.tgz'),
        '',
      ].join('\n'),
    );
    indexes.set(
      '/b/index.yaml',
      [
        'apiVersion: v1',
        'entries:',
        '  web-1.0.0-b:',
        entry('web-1.0.0-b', '2.0.0', webLong, '/b/web-long.tgz'),
        '',
      ].join('\n'),
    );
    indexes.set(
      '/c/index.yaml',
      [
        'apiVersion: v1',
        'entries:',
        '  web:',
        entry('web', '1.0.0-b-2.0.0', webShort, '/c/web-short.tgz'),
        '',
      ].join('\n'),
    );
    nora = await startTestServer({
      config: {
        helm: { index_ttl: 300 },
        repositories: [
          { name: 'hp', format: 'helm', kind: 'proxy', upstreams: [{ url: `${base}/a` }] },
          { name: 'long', format: 'helm', kind: 'proxy', upstreams: [{ url: `${base}/b` }] },
          { name: 'short', format: 'helm', kind: 'proxy', upstreams: [{ url: `${base}/c` }] },
          {
            name: 'hg',
            format: 'helm',
            kind: 'group',
            members: ['helm-hosted', 'hp'],
          },
          { name: 'both', format: 'helm', kind: 'group', members: ['long', 'short'] },
        ],
      },
    });
    // The hosted member holds `app`: the group's guard keeps proxies from serving `app`.
    const up = await fetch(`${nora.url}/helm/api/charts`, { method: 'POST', body: appHosted });
    assert.equal(up.status, 201, await up.text());
  });

  after(async () => {
    await nora.close();
    origin.closeAllConnections();
    await new Promise<void>((resolve) => {
      origin.close(() => {
        resolve();
      });
    });
  });

  async function index(repo: string): Promise<IndexDoc> {
    const res = await fetch(`${nora.url}/repository/${repo}/index.yaml`);
    assert.equal(res.status, 200);
    return parseYaml(await res.text()) as IndexDoc;
  }

  /** Every chart URL the index lists answers the bytes whose digest it lists. */
  async function assertListedFetchable(repo: string): Promise<number> {
    const doc = await index(repo);
    let count = 0;
    for (const [name, versions] of Object.entries(doc.entries)) {
      for (const version of versions) {
        const url = new URL(version.urls[0] ?? '', `${nora.url}/repository/${repo}/`);
        const res = await fetch(url);
        const body = Buffer.from(await res.arrayBuffer());
        assert.equal(res.status, 200, `${repo}: ${name} ${version.version}: ${body.toString()}`);
        assert.equal(sha256(body), version.digest, `${repo}: ${name} ${version.version}`);
        count++;
      }
    }
    return count;
  }

  test('the proxy lists the chart and serves it', async () => {
    const doc = await index('hp');
    assert.deepEqual(
      doc.entries['app-1.2.3-x']?.map((e) => e.urls[0]),
      ['charts/app-1.2.3-x-0.1.0.tgz'],
    );
    await assertListedFetchable('hp');
  });

  test('a group whose hosted member holds `app` lists and serves the proxy chart `app-1.2.3-x`', async () => {
    const doc = await index('hg');
    assert.ok(doc.entries['app-1.2.3-x'], 'listed');
    assert.ok(doc.entries['app'], 'the hosted chart too');
    assert.equal(await assertListedFetchable('hg'), 3); // app, app-1.2.3-x, one web
  });

  test('two charts spelling one file name alike: one listed, the one served', async () => {
    // One upstream listing both, and a group of two proxies listing one each.
    for (const repo of ['hp', 'both']) {
      const doc = await index(repo);
      const webs = [...(doc.entries['web'] ?? []), ...(doc.entries['web-1.0.0-b'] ?? [])];
      assert.equal(webs.length, 1, `${repo}: ${JSON.stringify(doc.entries)}`);
      await assertListedFetchable(repo);
    }
  });
});
