/**
 * A reload that changes a proxy repository's upstreams drops the misses it remembered (the
 * negative caches of the raw, Maven and Go proxies): the next request asks the new upstream
 * instead of answering the old upstream's 404 for `negative_cache_ttl`. A reload that leaves the
 * upstreams as they were keeps them. Found 2026-12-03: README said changed upstreams "apply to the
 * next request", but a remembered 404 outlived the reload by up to a minute (five for Maven).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { AppConfig } from '../../../src/config/schema.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

const POM =
  '<project><modelVersion>4.0.0</modelVersion><groupId>com.acme</groupId><artifactId>core</artifactId><version>1.0.0</version></project>\n';
const FILES: Record<string, string> = {
  '/raw/tools/tool.txt': 'tool v1\n',
  '/maven/com/acme/core/1.0.0/core-1.0.0.pom': POM,
  '/maven/com/acme/core/1.0.0/core-1.0.0.pom.sha1': createHash('sha1').update(POM).digest('hex'),
  '/go/example.com/fixed/@v/v1.0.0.info': '{"Version":"v1.0.0","Time":"2026-01-01T00:00:00Z"}',
};

/** An upstream on loopback: `files` when `right`, else 404 for everything; counts requests. */
async function startUpstream(
  right: boolean,
): Promise<{ url: string; hits: string[]; close: () => Promise<void> }> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    const body = right ? FILES[req.url ?? ''] : undefined;
    if (body === undefined) res.writeHead(404, { 'content-type': 'text/plain' }).end('not here\n');
    else res.writeHead(200, { 'content-length': Buffer.byteLength(body) }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function repositories(base: string): Record<string, unknown>[] {
  return [
    { name: 'raw-p', format: 'raw', kind: 'proxy', upstreams: [{ url: `${base}/raw/` }] },
    { name: 'mvn-p', format: 'maven', kind: 'proxy', upstreams: [{ url: `${base}/maven/` }] },
    { name: 'mvn-g', format: 'maven', kind: 'group', members: ['mvn-p'] },
    { name: 'go-p', format: 'go', kind: 'proxy', upstreams: [{ url: `${base}/go` }] },
  ];
}

const PATHS = [
  '/repository/raw-p/tools/tool.txt',
  '/repository/mvn-p/com/acme/core/1.0.0/core-1.0.0.pom',
  '/repository/mvn-g/com/acme/core/1.0.0/core-1.0.0.pom',
  '/repository/go-p/example.com/fixed/@v/v1.0.0.info',
];

describe('a reload that changes upstreams drops the remembered misses', () => {
  let wrong: Awaited<ReturnType<typeof startUpstream>>;
  let right: Awaited<ReturnType<typeof startUpstream>>;
  let server: TestServer;
  before(async () => {
    wrong = await startUpstream(false);
    right = await startUpstream(true);
    server = await startTestServer({ config: { repositories: repositories(wrong.url) } });
  });
  after(async () => {
    await server.close();
    await wrong.close();
    await right.close();
  });

  const get = async (path: string) => {
    const res = await fetch(`${server.url}${path}`);
    return { status: res.status, body: await res.text() };
  };

  /** The running config with every proxy repository pointed at `base`. */
  const pointedAt = (base: string): AppConfig => {
    const running = server.config;
    const named = repositories(base);
    return {
      ...running,
      repositories: running.repositories.map((repo) => {
        const next = named.find((r) => r['name'] === repo.name);
        return next === undefined ? repo : { ...repo, upstreams: next['upstreams'] };
      }),
    } as AppConfig;
  };

  test('404 from the wrong upstream, remembered; a reload without changes keeps it', async () => {
    for (const path of PATHS) assert.equal((await get(path)).status, 404, path);
    const asked = wrong.hits.length;
    for (const path of PATHS) assert.equal((await get(path)).status, 404, path);
    assert.equal(wrong.hits.length, asked, 'misses remembered: the upstream is not asked again');
    assert.deepEqual(server.app.reload(pointedAt(wrong.url)), []);
    for (const path of PATHS) assert.equal((await get(path)).status, 404, path);
    assert.equal(wrong.hits.length, asked, 'the same upstreams: the misses still hold');
  });

  test('upstreams repointed by a reload: the next request asks the new upstream', async () => {
    assert.deepEqual(server.app.reload(pointedAt(right.url)), []);
    const answers = new Map<string, string>([
      [PATHS[0]!, 'tool v1\n'],
      [PATHS[1]!, POM],
      [PATHS[2]!, POM],
    ]);
    for (const path of PATHS) {
      const answer = await get(path);
      assert.equal(answer.status, 200, `${path}: ${answer.body}`);
      const expected = answers.get(path);
      if (expected !== undefined) assert.equal(answer.body, expected, path);
      else assert.match(answer.body, /"Version":"v1\.0\.0"/);
    }
    assert.ok(right.hits.length >= 3, right.hits.join(' '));
  });
});
