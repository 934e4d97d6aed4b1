/**
 * `nora healthcheck` (NORA's verb for a container HEALTHCHECK): exit 0 and one line for a healthy
 * server found through the configuration (NORA_PORT, a wildcard NORA_HOST probed on loopback),
 * exit 1 with the reason for no server, a timeout, a 503, an answer that is not NORA's, and a
 * degraded server under --strict (without it, degraded passes: a restart mends no full disk).
 * The canned answers come from a fixture server shaped as /health answers.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import type net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { localServerUrl } from '../../../src/config/server-url.ts';
import { nora } from '../../helpers/cli.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

/** A fixture answering `status` and `body` (/ready: ready); never answers when `status` is 0. */
async function cannedServer(status: number, body: string): Promise<{ url: string; close(): void }> {
  const server = http.createServer((request, response) => {
    if (status === 0) return;
    // /ready answers as NORA's does when storage and database answer (degraded ones included).
    const answer = request.url === '/ready' ? JSON.stringify({ status: 'ready' }) : body;
    response.writeHead(status, { 'content-type': 'application/json' }).end(answer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

describe('nora healthcheck', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  test('a healthy server, found by NORA_PORT (and NORA_HOST=0.0.0.0 on loopback): exit 0', async () => {
    const result = await nora(['healthcheck'], {
      NORA_PORT: String(server.port),
      NORA_HOST: '0.0.0.0',
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /^healthy: NORA \S+ at http:\/\/127\.0\.0\.1:\d+\/health, up \d+ s\n$/,
    );
    const ready = await nora(['healthcheck', '--ready', '--url', server.url], {});
    assert.equal(ready.code, 0, ready.stderr);
    assert.match(ready.stdout, /^ready: /);
  });

  test('no server there: exit 1 (never 2, which Docker reserves), saying so', async () => {
    const gone = await cannedServer(200, '{}');
    gone.close();
    const result = await nora(['healthcheck', '--url', gone.url], {});
    assert.equal(result.code, 1);
    assert.match(result.stderr, /unhealthy: .*connection refused/);
  });

  test('a server that never answers: exit 1 after --timeout-secs', async () => {
    const silent = await cannedServer(0, '');
    try {
      const result = await nora(['healthcheck', '--url', silent.url, '--timeout-secs', '0.5'], {});
      assert.equal(result.code, 1);
      assert.match(result.stderr, /no answer within 0\.5 s/);
    } finally {
      silent.close();
    }
  });

  test('503 unhealthy, and an answer that is not NORA’s: exit 1', async () => {
    const unhealthy = await cannedServer(503, JSON.stringify({ status: 'unhealthy' }));
    const other = await cannedServer(200, '<html>welcome to nginx</html>');
    try {
      const a = await nora(['healthcheck', '--url', unhealthy.url], {});
      assert.equal(a.code, 1);
      assert.match(a.stderr, /answered 503, status "unhealthy"/);
      const b = await nora(['healthcheck', '--url', other.url], {});
      assert.equal(b.code, 1);
      assert.match(b.stderr, /without NORA's JSON status/);
    } finally {
      unhealthy.close();
      other.close();
    }
  });

  test('degraded passes, naming why; --strict makes it exit 1', async () => {
    const degraded = await cannedServer(
      200,
      JSON.stringify({
        status: 'degraded',
        version: '9.9.9',
        uptime_seconds: 7,
        storage: { reachable: true, writable: false, write_error: 'EROFS' },
        database: { writable: true, full: false },
      }),
    );
    try {
      const loose = await nora(['healthcheck', '--url', degraded.url], {});
      assert.equal(loose.code, 0, loose.stderr);
      assert.match(
        loose.stdout,
        /^degraded: NORA 9\.9\.9 .*storage not writable \(EROFS\): uploads fail/,
      );
      const strict = await nora(['healthcheck', '--url', degraded.url, '--strict'], {});
      assert.equal(strict.code, 1);
      assert.match(strict.stderr, /--strict: unhealthy/);
      // With --ready, --strict asks /health too (it was ignored: trial 24 opsA F4); a --url naming
      // /health is the server's root (F3), and its credentials are not printed (F13).
      const url = new URL(degraded.url);
      url.username = 'ci';
      url.password = 'secret';
      const both = await nora(
        ['healthcheck', '--ready', '--strict', '--url', `${url.toString()}health`],
        {},
      );
      assert.equal(both.code, 1);
      assert.match(both.stderr, /degraded: .*\/health(?!\/health)/);
      assert.doesNotMatch(both.stderr, /secret|\/health\/health/);
    } finally {
      degraded.close();
    }
  });

  test('a config file the running server refused at SIGHUP: its [server] address is probed, exit 0 (trial 25 ops F9)', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-hc-'));
    try {
      const file = path.join(dir, 'config.toml');
      await fs.writeFile(
        file,
        `[server]\nhost = "0.0.0.0"\nport = ${server.port}\n\n[auth]\nanonymous_reads = false\n`,
      );
      const result = await nora(['healthcheck', '--config', file], {});
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^healthy: /);
      assert.match(
        result.stderr,
        /^note: the configuration does not validate \(.*anonymous_reads.*\); probing the address its \[server\] host\/port \(or NORA_HOST\/NORA_PORT\) give\n$/,
      );
      // TOML that does not parse names no address: unhealthy, saying why…
      await fs.writeFile(file, '[server\nport = 1\n');
      const broken = await nora(['healthcheck', '--config', file], {});
      assert.equal(broken.code, 1);
      assert.match(broken.stderr, /^unhealthy: cannot read the configuration: /);
      // …unless NORA_PORT does (trial 26 opsR F3).
      const byEnv = await nora(['healthcheck', '--config', file], {
        NORA_PORT: String(server.port),
      });
      assert.equal(byEnv.code, 0, byEnv.stderr);
      assert.match(byEnv.stderr, /^note: the configuration does not validate \(/);
      assert.doesNotMatch(byEnv.stderr, /:; /);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  test('a --url that does not parse or is not http(s): credentials never printed (trial 25 ops F1)', async () => {
    for (const url of [
      'http://user:s3cretpw@127.0.0.1:99999/',
      'user:s3cretpw@127.0.0.1:14501',
      'http://user:s3cretpw@[::1',
      'http//user:s3cretpw@127.0.0.1:14501',
      '//user:s3cretpw@127.0.0.1:14501',
    ]) {
      const result = await nora(['healthcheck', '--url', url], {});
      assert.equal(result.code, 1, url);
      assert.doesNotMatch(result.stdout + result.stderr, /s3cretpw/, url);
      assert.match(result.stderr, /^unhealthy: .* is not an http:\/\/ or https:\/\/ URL\n$/, url);
    }
    // A URL that parses: a `?token=` in it is not printed either (trial 26 opsR F6).
    const gone = await nora(['healthcheck', '--url', 'http://127.0.0.1:9/?token=s3cretpw'], {});
    assert.equal(gone.code, 1);
    assert.doesNotMatch(gone.stdout + gone.stderr, /s3cretpw/);
  });

  test('https:// to a plain-HTTP server, and a --url with a path: one clear line each (trial 25 ops F12)', async () => {
    const tls = await nora(['healthcheck', '--url', server.url.replace('http://', 'https://')], {});
    assert.equal(tls.code, 1);
    assert.match(
      tls.stderr,
      /^unhealthy: https:\/\/127\.0\.0\.1:\d+\/health: TLS handshake failed \(wrong version number\): is the server plain HTTP\? use http:\/\/\n$/,
    );
    assert.doesNotMatch(tls.stderr, /SSL routines|openssl/);
    // NORA's own 404 under a repository's path is not "another server on that port".
    for (const url of [`${server.url}/raw/`, `${server.url}/raw/health`]) {
      const result = await nora(['healthcheck', '--url', url], {});
      assert.equal(result.code, 1, url);
      assert.match(
        result.stderr,
        /^unhealthy: http:\/\/127\.0\.0\.1:\d+\/raw\/health answered 404: no \/health under \/raw\/ \(a --url names the server's root, such as http:\/\/host:4000, or its \/health; not a repository's URL\)\n$/,
        url,
      );
    }
    // A 404 at the root's /health is no NORA: the other-server note stays.
    const other = await cannedServer(404, 'not found');
    try {
      const result = await nora(['healthcheck', '--url', other.url], {});
      assert.match(result.stderr, /answered 404 without NORA's JSON status \(is another server/);
    } finally {
      other.close();
    }
  });

  test('a --url with a path on an auth-on NORA: its 401 gives the same hint as its 404 (trial 32 ops)', async () => {
    await using locked = await startTestServer({
      config: { auth: { enabled: true, anonymous_read: false } },
    });
    for (const url of [`${locked.url}/raw/health`, `${locked.url}/raw/`]) {
      const result = await nora(['healthcheck', '--url', url], {});
      assert.equal(result.code, 1, url);
      assert.match(
        result.stderr,
        /^unhealthy: http:\/\/127\.0\.0\.1:\d+\/raw\/health answered 401: no \/health under \/raw\/ \(a --url names the server's root/,
        url,
      );
    }
    // A 401 from a server that is not NORA keeps the other-server note.
    const other = await cannedServer(401, 'no');
    try {
      const result = await nora(['healthcheck', '--url', `${other.url}/raw/`], {});
      assert.match(result.stderr, /answered 401 without NORA's JSON status \(is another server/);
    } finally {
      other.close();
    }
  });

  test('a bad --timeout-secs is a usage error, exit 1 (Docker reserves 2)', async () => {
    const result = await nora(['healthcheck', '--timeout-secs', '0'], {});
    assert.equal(result.code, 1);
    assert.match(result.stderr, /timeout-secs/);
  });
});

test('localServerUrl: wildcards reached on loopback, IPv6 bracketed', () => {
  assert.equal(localServerUrl('127.0.0.1', 4000), 'http://127.0.0.1:4000');
  assert.equal(localServerUrl('0.0.0.0', 4000), 'http://127.0.0.1:4000');
  assert.equal(localServerUrl('::', 8080), 'http://[::1]:8080');
  assert.equal(localServerUrl('[::]', 8080), 'http://[::1]:8080');
  assert.equal(localServerUrl('fd00::1', 1), 'http://[fd00::1]:1');
  assert.equal(localServerUrl('nora.internal', 4000), 'http://nora.internal:4000');
});
