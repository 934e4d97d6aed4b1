/**
 * curl of a cached raw proxy file whose upstream hangs (a fixture that accepts the connection,
 * reads the request and never answers): the cached copy comes back within about the stale
 * deadline (`NORA_CB_STALE_AFTER`, 2 s here) with `x-nora-stale: true`, not after the
 * `proxy_timeout` (30 s here), and a second curl at once while that revalidation is still
 * pending; through the raw group too. curl's own limit (`-m 15`) bounds each request. The
 * fixture listens on 127.0.0.1 and is closed at the end. A missing client skips and says so.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { curl } from '../../helpers/curl.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { missingTools } from '../../helpers/tools.ts';

/**
 * 2 s: a curl that does not wait must exit within 0.8 of it, its own start and exit included;
 * at 1 s that left 0.8 s for spawning curl on a loaded CI machine.
 */
const STALE_AFTER_S = 2;
const PROXY_TIMEOUT_S = 30;
/** Well below the proxy timeout, with room for a loaded machine. */
const BOUND_S = 6;
const BODY = 'release 1.0 of the tool\n';

describe('raw proxy: curl of a cached file whose upstream hangs', () => {
  let hang = false;
  let asked = 0;
  const held = new Set<http.ServerResponse>();
  let origin: http.Server;
  let server: TestServer;

  before(async () => {
    origin = http.createServer((req, res) => {
      asked++;
      if (hang) {
        held.add(res);
        res.on('close', () => held.delete(res));
        return;
      }
      if (req.url === '/dist/tool-1.0.txt') {
        res.writeHead(200, { 'content-type': 'text/plain', etag: '"v1"' }).end(BODY);
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    const upstream = `http://127.0.0.1:${(origin.address() as AddressInfo).port}/dist`;
    server = await startTestServer({
      config: {
        // proxy_ttl 0: every read revalidates, so every read meets the hung upstream.
        raw: { proxy_timeout: PROXY_TIMEOUT_S, proxy_ttl: 0 },
        circuit_breaker: { enabled: false },
        repositories: [
          { name: 'dl', format: 'raw', kind: 'proxy', upstreams: [{ url: upstream }] },
          {
            name: 'dl-all',
            format: 'raw',
            kind: 'group',
            members: ['raw-hosted', 'dl'],
            write_member: 'raw-hosted',
          },
        ],
      },
      env: { NORA_CB_STALE_AFTER: String(STALE_AFTER_S) },
    });
  });
  after(async () => {
    for (const res of held) res.destroy();
    await server.close();
    origin.closeAllConnections();
    await new Promise((resolve) => origin.close(resolve));
  });

  /** curl with a 15 s limit: status, headers, body, and seconds (curl's start to its exit). */
  async function timedCurl(path: string) {
    const started = performance.now();
    const result = await curl(['-m', '15', '-D', '-', `${server.url}${path}`]);
    const seconds = (performance.now() - started) / 1000;
    const split = result.body.indexOf('\r\n\r\n');
    return {
      ...result,
      seconds,
      head: result.body.slice(0, split),
      content: result.body.slice(split + 4),
    };
  }

  test(
    'the cached copy within about the stale deadline, then at once; through the group too',
    { skip: missingTools('curl') },
    async () => {
      for (const path of ['/repository/dl/tool-1.0.txt', '/repository/dl-all/tool-1.0.txt']) {
        hang = false;
        const fresh = await timedCurl(path);
        assert.equal(fresh.status, 200, `${path}: ${fresh.stderr}`);
        assert.equal(fresh.content, BODY);
      }
      hang = true;
      // The proxy's read waits for the deadline; the group's may join the revalidation that one
      // started, so it has no lower bound.
      for (const path of ['/repository/dl/tool-1.0.txt', '/repository/dl-all/tool-1.0.txt']) {
        const first = await timedCurl(path);
        assert.equal(first.code, 0, `${path}: curl ${first.code} ${first.stderr}`);
        assert.equal(first.status, 200, path);
        assert.equal(first.content, BODY, path);
        assert.match(first.head, /^x-nora-stale: true\r?$/im, path);
        if (path === '/repository/dl/tool-1.0.txt')
          assert.ok(first.seconds >= STALE_AFTER_S * 0.8, `${path}: ${first.seconds} s`);
        assert.ok(
          first.seconds < BOUND_S,
          `${path}: ${first.seconds} s (stale deadline ${STALE_AFTER_S} s, proxy timeout ${PROXY_TIMEOUT_S} s)`,
        );
      }
      // The revalidation is still waiting on the hung upstream: the next curl neither waits
      // nor asks again.
      const before = asked;
      const again = await timedCurl('/repository/dl/tool-1.0.txt');
      assert.equal(again.content, BODY);
      assert.match(again.head, /^x-nora-stale: true\r?$/im);
      assert.ok(again.seconds < STALE_AFTER_S * 0.8, `the second curl took ${again.seconds} s`);
      assert.equal(asked, before, 'no new upstream request while one is pending');
    },
  );
});

test('docs/raw.md describes this deadline, not proxy_timeout, for a cached file (trial 33)', () => {
  const doc = readFileSync(new URL('../../../docs/raw.md', import.meta.url), 'utf8').replace(
    /\s+/g,
    ' ',
  );
  assert.doesNotMatch(doc, /does not use the engine's 5 s stale deadline/);
  assert.match(doc, /A revalidation uses the engine's stale deadline/);
  assert.match(doc, /`\[circuit_breaker\] stale_after`/);
});
