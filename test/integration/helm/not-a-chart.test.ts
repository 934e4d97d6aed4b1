/**
 * New-user trial: an upload of an empty body or of a web page (`curl -T` of an error page saved
 * in place of the chart) must be a 400 that says so, with nothing recorded. Empty bodies already
 * said "the body is empty"; a page said only "not a gzip stream", which did not point at the
 * mistake: it now says the body is a web page and quotes its start. ChartMuseum POST (raw and
 * multipart) and plain PUT alike.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

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
});
