/**
 * A SIGHUP emptying `[helm] proxies`, `[docker] upstreams` or `[maven] proxies` (trial 25 devD F4): the reloaded
 * configuration makes no default proxy (helm-proxy, docker-proxy), so the running one was "not
 * in the reloaded configuration" and it and its group (`/helm/`, `/v2/`) were closed to all but
 * admins until the restart. Now the reload applies the empty list: the default proxy keeps
 * running without upstreams until the restart (the reload warns so), the groups stay open as
 * the rules say, hosted content is served as before and a name only an upstream had is a miss;
 * a second reload putting the upstreams back applies them at once.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { AppConfig } from '../../../src/config/schema.ts';
import { buildChart } from '../../helpers/helm.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

const basic = (user: string): string =>
  `Basic ${Buffer.from(`${user}:${user}-pw`).toString('base64')}`;

// Refused at once (nothing listens on port 9): an upstream that has nothing.
const HELM_UPSTREAM = 'http://127.0.0.1:9/charts';
const DOCKER_UPSTREAM = 'http://127.0.0.1:9';
const MAVEN_UPSTREAM = 'http://127.0.0.1:9/maven2';

describe('SIGHUP emptying a format’s default proxy list', () => {
  let server: TestServer;
  const lines: string[] = [];

  before(async () => {
    server = await startTestServer({
      config: {
        auth: { enabled: true, anonymous_read: true },
        helm: { proxies: [HELM_UPSTREAM] },
        docker: { upstreams: [{ url: DOCKER_UPSTREAM }] },
        maven: { proxies: [MAVEN_UPSTREAM] },
      },
      logLevel: 'warn',
      logStream: { write: (line) => lines.push(line) },
    });
    await server.app.context.identity.users.create('carol', 'carol-pw', undefined, [
      'read',
      'write',
    ]);
    const chart = await buildChart({ name: 'demo', version: '1.0.0' });
    const upload = await fetch(`${server.url}/helm/api/charts`, {
      method: 'POST',
      headers: { authorization: basic('carol') },
      body: chart,
    });
    assert.equal(upload.status, 201, await upload.text());
  });
  after(async () => {
    await server.close();
  });

  const reload = (
    helm: AppConfig['helm']['proxies'],
    docker: AppConfig['docker']['upstreams'],
    maven: AppConfig['maven']['proxies'],
  ) => {
    const running = server.app.context.config();
    return server.app.reload({
      ...running,
      helm: { ...running.helm, proxies: helm },
      docker: { ...running.docker, upstreams: docker },
      maven: { ...running.maven, proxies: maven },
    });
  };

  test('applied: the groups stay open, the default proxies run without upstreams, the reload says so', async () => {
    assert.deepEqual(reload([], [], []), []);
    const { repositories } = server.app.context;
    assert.deepEqual(repositories.get('helm-proxy')?.upstreams, []);
    assert.deepEqual(repositories.get('docker-proxy')?.upstreams, []);
    assert.deepEqual(repositories.get('maven-proxy')?.upstreams, []);
    assert.deepEqual(server.app.context.config().helm.proxies, []);
    const log = lines.join('');
    assert.match(
      log,
      /"level":40[^\n]*"repositories":\["docker-proxy","maven-proxy","helm-proxy"\][^\n]*the reloaded configuration makes no docker-proxy, maven-proxy, helm-proxy \(its format's upstream list, \[docker\] upstreams or \[maven\]\/\[helm\] proxies, is empty\): they keep running without upstreams until the restart, which removes them/,
    );
    assert.doesNotMatch(log, /only admins may use them/);

    // /helm/: anonymous clients and carol read the hosted chart, as before the reload.
    for (const authorization of [undefined, basic('carol')]) {
      const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
      const index = await fetch(`${server.url}/helm/index.yaml`, { headers });
      const text = await index.text();
      assert.equal(index.status, 200, text);
      assert.match(text, /demo-1\.0\.0\.tgz/);
      const chart = await fetch(`${server.url}/helm/charts/demo-1.0.0.tgz`, { headers });
      assert.equal(chart.status, 200);
      await chart.arrayBuffer();
      // A chart no member has: 404, not the 401/403 of a closed repository.
      const missing = await fetch(`${server.url}/helm/charts/other-1.0.0.tgz`, { headers });
      assert.equal(missing.status, 404, await missing.text());
    }
    // /v2/ through the docker group: a miss (no upstream is asked), not "authentication required".
    const manifest = await fetch(`${server.url}/v2/library/alpine/manifests/latest`);
    assert.equal(manifest.status, 404, await manifest.text());
    const pom = await fetch(`${server.url}/maven2/org/example/lib/1.0/lib-1.0.pom`);
    assert.equal(pom.status, 404, await pom.text());
  });

  test('a second reload putting the upstreams back applies them without a restart', () => {
    assert.deepEqual(
      reload([{ url: HELM_UPSTREAM }], [{ url: DOCKER_UPSTREAM }], [{ url: MAVEN_UPSTREAM }]),
      [],
    );
    const { repositories } = server.app.context;
    assert.deepEqual(
      repositories.get('helm-proxy')?.upstreams.map((u) => u.url),
      [HELM_UPSTREAM],
    );
    assert.deepEqual(
      repositories.get('docker-proxy')?.upstreams.map((u) => u.url),
      [DOCKER_UPSTREAM],
    );
  });
});

test('maven: what the proxy cached is still served after a reload emptied [maven] proxies (trial 26 opsR F10)', async () => {
  const pom = Buffer.from(
    '<project><modelVersion>4.0.0</modelVersion><groupId>org.example</groupId><artifactId>cached</artifactId><version>1.0</version></project>\n',
  );
  const sha1 = createHash('sha1').update(pom).digest('hex');
  const upstream = http.createServer((request, response) => {
    if (request.url === '/maven2/org/example/cached/1.0/cached-1.0.pom') response.end(pom);
    else if (request.url === '/maven2/org/example/cached/1.0/cached-1.0.pom.sha1')
      response.end(sha1);
    else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const { port } = upstream.address() as AddressInfo;
  const server = await startTestServer({
    config: { maven: { proxies: [`http://127.0.0.1:${port}/maven2`] } },
  });
  try {
    const url = `${server.url}/maven2/org/example/cached/1.0/cached-1.0.pom`;
    const first = await fetch(url);
    assert.equal(first.status, 200, await first.clone().text());
    assert.deepEqual(Buffer.from(await first.arrayBuffer()), pom);
    const running = server.app.context.config();
    assert.deepEqual(
      server.app.reload({ ...running, maven: { ...running.maven, proxies: [] } }),
      [],
    );
    const cached = await fetch(url);
    assert.equal(cached.status, 200, await cached.clone().text());
    assert.deepEqual(Buffer.from(await cached.arrayBuffer()), pom);
    const miss = await fetch(`${server.url}/maven2/org/example/other/1.0/other-1.0.pom`);
    assert.equal(miss.status, 404);
  } finally {
    await server.close();
    upstream.close();
  }
});
