/**
 * One `Allow` per URL and repository mode, whichever method was refused (trial 25 fmts F1): on a
 * proxy (maven, raw, helm) PUT and DELETE answer 405 `Allow: GET, HEAD`, and so must POST, PATCH
 * and OPTIONS (they listed `GET, HEAD, PUT, DELETE`); Helm's `api/prov` of a proxy serves no
 * method at all; a Go group's `@v/list` takes DELETE, and its PUT's 405 says so as a PATCH's does.
 * Hosted repositories keep listing their writes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

const METHODS = ['PUT', 'DELETE', 'POST', 'PATCH', 'OPTIONS'] as const;

/** The `Allow` of every 405 among `METHODS` at `url`, by method (other statuses left out). */
async function allows(url: string): Promise<Map<string, string | null>> {
  const found = new Map<string, string | null>();
  for (const method of METHODS) {
    const res = await fetch(url, method === 'PUT' ? { method, body: 'x' } : { method });
    await res.arrayBuffer();
    if (res.status === 405) found.set(method, res.headers.get('allow'));
  }
  return found;
}

describe('405 Allow: one per URL and repository mode', () => {
  let server: TestServer;
  before(async () => {
    // Nothing listens at the upstreams: no request below may need them.
    const upstreams = [{ url: 'http://127.0.0.1:9/' }];
    server = await startTestServer({
      config: {
        circuit_breaker: { enabled: false },
        repositories: [
          { name: 'mvn-px', format: 'maven', kind: 'proxy', upstreams },
          { name: 'raw-px', format: 'raw', kind: 'proxy', upstreams },
          { name: 'helm-px', format: 'helm', kind: 'proxy', upstreams },
          { name: 'raw-h', format: 'raw', kind: 'hosted' },
        ],
      },
    });
  });
  after(() => server.close());

  for (const [name, path] of [
    ['maven proxy file', '/repository/mvn-px/org/fm/demo/1.0/demo-1.0.jar'],
    ['raw proxy file', '/repository/raw-px/tools/1.0/hello.txt'],
    ['helm proxy chart', '/repository/helm-px/charts/web-1.0.0.tgz'],
    ['helm proxy chart at the root', '/repository/helm-px/web-1.0.0.tgz'],
    ['helm proxy api/charts', '/repository/helm-px/api/charts'],
    ['helm proxy api/charts/<name>/<version>', '/repository/helm-px/api/charts/web/1.0.0'],
  ] as const) {
    test(`${name}: every 405 says GET, HEAD`, async () => {
      const found = await allows(`${server.url}${path}`);
      assert.ok(found.has('POST') && found.has('PATCH'), JSON.stringify([...found]));
      for (const [method, allow] of found) assert.equal(allow, 'GET, HEAD', `${method} ${path}`);
    });
  }

  test('helm proxy api/prov (upload only): every 405 has an empty Allow', async () => {
    const found = await allows(`${server.url}/repository/helm-px/api/prov`);
    assert.ok(found.has('POST') && found.has('PATCH'), JSON.stringify([...found]));
    for (const [method, allow] of found) assert.equal(allow, '', method);
  });

  test('the Go group @v/list: PUT, POST, PATCH, OPTIONS all say GET, DELETE, HEAD', async () => {
    const found = await allows(`${server.url}/go/example.com/fmmod/@v/list`);
    for (const method of ['PUT', 'POST', 'PATCH', 'OPTIONS']) {
      assert.equal(found.get(method), 'GET, DELETE, HEAD', method);
    }
  });

  test('hosted repositories still list their writes', async () => {
    for (const path of [
      '/repository/raw-h/tools/hello.txt',
      '/maven2/org/fm/demo/1.0/demo-1.0.jar',
    ]) {
      const res = await fetch(`${server.url}${path}`, { method: 'PATCH' });
      assert.equal(res.status, 405, path);
      assert.equal(res.headers.get('allow'), 'GET, HEAD, PUT, DELETE', path);
    }
    const helm = await fetch(`${server.url}/helm/charts/web-1.0.0.tgz`, { method: 'PATCH' });
    assert.equal(helm.headers.get('allow'), 'GET, HEAD, PUT');
  });
});
