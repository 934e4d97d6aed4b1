/**
 * New-user trial: an upload of an empty body or of a web page (`curl -T` of an error page saved
 * in place of the chart) must be a 400 that says so, with nothing recorded. Empty bodies already
 * said "the body is empty"; a page said only "not a gzip stream", which did not point at the
 * mistake: it now says the body is a web page and quotes its start. ChartMuseum POST (raw and
 * multipart) and plain PUT alike.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { buildChart } from '../../helpers/helm.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

/** `tar czf flat.tgz -C dir Chart.yaml values.yaml`: the files at the archive's top level. */
async function flatArchive(): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((resolve) => {
    pack.on('end', () => {
      resolve();
    });
  });
  pack.entry({ name: 'Chart.yaml' }, 'apiVersion: v2\nname: web\nversion: 1.0.0\n');
  pack.entry({ name: 'values.yaml' }, 'replicaCount: 1\n');
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

describe('Helm: an empty or HTML chart upload is a 400, nothing stored', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({});
  });
  after(() => server.close());

  const page = '<!DOCTYPE html>\n<html><body>404 Not Found</body></html>\n';
  const uploads = (body: string) => [
    fetch(`${server.url}/helm/api/charts`, { method: 'POST', body }),
    fetch(`${server.url}/helm/web-1.0.0.tgz`, { method: 'PUT', body }),
    (() => {
      const form = new FormData();
      form.append('chart', new Blob([body]), 'web-1.0.0.tgz');
      return fetch(`${server.url}/helm/api/charts`, { method: 'POST', body: form });
    })(),
  ];

  test('empty', async () => {
    for (const r of await Promise.all(uploads(''))) {
      assert.equal(r.status, 400);
      assert.deepEqual(await r.json(), {
        error:
          'not a chart archive (a gzipped tar): the body is empty: a chart archive (.tgz) was expected',
      });
    }
  });

  test('an HTML page', async () => {
    for (const r of await Promise.all(uploads(page))) {
      assert.equal(r.status, 400);
      assert.deepEqual(await r.json(), {
        error:
          'not a chart archive (a gzipped tar): the body is a web page (it starts with "<!DOCTYPE html> <htm"), not a .tgz: an error page saved in place of the chart?',
      });
    }
    const index = await (await fetch(`${server.url}/helm/index.yaml`)).text();
    assert.doesNotMatch(index, /web/);
  });

  // Trial 17 gomh F4: a flat archive and a chart gzipped twice got messages that did not say
  // what was wrong (an entry "outside its top folder \"Chart.yaml\"", a raw "Unexpected end of data").
  test('a flat archive: Chart.yaml is at the top level, where it belongs is said', async () => {
    const r = await fetch(`${server.url}/helm/api/charts`, {
      method: 'POST',
      body: await flatArchive(),
    });
    assert.equal(r.status, 400);
    assert.deepEqual(await r.json(), {
      error:
        'chart archive entry "Chart.yaml" is at the archive\'s top level: a chart archive holds one folder, <name>/Chart.yaml (e.g. `helm package` or `tar czf web-1.0.0.tgz web/`)',
    });
  });

  test('a chart gzipped twice: said so', async () => {
    const twice = gzipSync(await buildChart({ name: 'web', version: '1.0.0' }));
    for (const r of [
      await fetch(`${server.url}/helm/api/charts`, { method: 'POST', body: twice }),
      await fetch(`${server.url}/helm/web-1.0.0.tgz`, { method: 'PUT', body: twice }),
    ]) {
      assert.equal(r.status, 400);
      assert.deepEqual(await r.json(), {
        error:
          'not a chart archive (a gzipped tar): the gzip stream holds another gzip stream, not a tar (compressed twice?)',
      });
    }
    const index = await (await fetch(`${server.url}/helm/index.yaml`)).text();
    assert.doesNotMatch(index, /web/);
  });
});
