/**
 * Sixteenth trial F3: NORA listens on any port, but WHATWG fetch refuses the Fetch standard's
 * "bad ports" (6000, 6665–6669, 10080, …), so `nora go publish`/`delete`, which used the global
 * fetch, answered `cannot reach http://127.0.0.1:6000/go: bad port` for a server that was up.
 * They (and OIDC key discovery) now use core/http-client.ts, which connects to any port, as the
 * proxy engine's upstream client always did (undici's dispatcher API: the bad-port rule lives in
 * undici's fetch only), which the proxy test here keeps true. Runs the real CLI against a server
 * on a free port of that list; skipped, saying why, when every one is taken.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { JwksCache } from '../../../src/auth/jwks.ts';
import { freeBlockedPorts } from '../../helpers/blocked-port.ts';
import { nora } from '../../helpers/cli.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';

const NONE_FREE = 'every port of the Fetch bad-port list is taken on 127.0.0.1';

function skip(t: TestContext): void {
  process.stdout.write(`# skipped: ${NONE_FREE}\n`);
  t.skip(NONE_FREE);
}

/** A NORA on the first blocked port it can bind, or undefined when none is free. */
async function serverOnBlockedPort(
  config: Record<string, unknown>,
): Promise<TestServer | undefined> {
  for (const port of await freeBlockedPorts()) {
    try {
      return await startTestServer({ port, config });
    } catch (err) {
      if ((err as { code?: string }).code !== 'EADDRINUSE') throw err;
    }
  }
  return undefined;
}

/** `server` listening on the first blocked port it can bind; false when none is free. */
async function listenOnBlockedPort(server: Server): Promise<number | undefined> {
  for (const port of await freeBlockedPorts()) {
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => {
        resolve(false);
      });
      server.listen(port, '127.0.0.1', () => {
        resolve(true);
      });
    });
    if (bound) return port;
  }
  return undefined;
}

describe('a NORA on a port fetch refuses (6000, 10080, …)', () => {
  test('nora go publish and nora go delete reach it', async (t) => {
    const server = await serverOnBlockedPort({
      go: { proxy: '', sumdb: [] },
      auth: { enabled: true, anonymous_read: true, admin_users: ['root'] },
    });
    if (server === undefined) {
      skip(t);
      return;
    }
    await using work = await tempDir('nora-go-badport-');
    try {
      // The premise: the global fetch refuses this port.
      const refused = await fetch(`${server.url}/health`).catch((e: unknown) => e);
      assert.ok(refused instanceof Error, `fetch reached port ${server.port}`);

      const { users, tokens } = server.app.context.identity;
      assert.ok(await users.create('root', 'root-pw-12', undefined, ['read', 'write']));
      const admin = (await tokens.create('root', { role: 'admin' })).secret;
      const dir = path.join(work.path, 'hello');
      await fs.mkdir(dir);
      await fs.writeFile(path.join(dir, 'go.mod'), 'module corp.example.com/hello\n\ngo 1.21\n');
      await fs.writeFile(path.join(dir, 'hello.go'), 'package hello\n');
      const registry = `${server.url}/go`;

      const published = await nora(
        ['go', 'publish', '--registry', registry, '--token', admin, '--version', 'v1.3.0', dir],
        {},
      );
      assert.equal(published.code, 0, published.stderr);
      assert.match(published.stdout, /published corp\.example\.com\/hello@v1\.3\.0/);

      const deleted = await nora(
        ['go', 'delete', '--registry', registry, '--token', admin, 'corp.example.com/hello@v1.3.0'],
        {},
      );
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.match(deleted.stdout, /deleted corp\.example\.com\/hello@v1\.3\.0/);
    } finally {
      await server.close();
    }
  });

  test("a Go proxy's upstream on such a port (the proxy engine's client never used fetch)", async (t) => {
    const upstream = createServer((req, res) => {
      const found = req.url === '/example.org/up/@v/list';
      res.writeHead(found ? 200 : 404, { 'content-type': 'text/plain' });
      res.end(found ? 'v1.0.0\n' : 'not found\n');
    });
    const port = await listenOnBlockedPort(upstream);
    if (port === undefined) {
      skip(t);
      return;
    }
    try {
      await using server = await startTestServer({
        config: { go: { proxy: `http://127.0.0.1:${port}`, sumdb: [] } },
      });
      const res = await fetch(`${server.url}/go/example.org/up/@v/list`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'v1.0.0\n');
    } finally {
      upstream.closeAllConnections();
      await new Promise((resolve) => upstream.close(resolve));
    }
  });

  test('OIDC signing keys from an issuer on such a port', async (t) => {
    const keys = { keys: [{ kty: 'oct', kid: 'k1', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0' }] };
    const issuer = createServer((req, res) => {
      res.writeHead(req.url === '/jwks' ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(req.url === '/jwks' ? keys : {}));
    });
    const port = await listenOnBlockedPort(issuer);
    if (port === undefined) {
      skip(t);
      return;
    }
    try {
      const url = `http://127.0.0.1:${port}`;
      const getKey = await new JwksCache().keys({
        provider: 'ci',
        issuer: url,
        jwksUri: `${url}/jwks`,
        cacheMs: 60_000,
      });
      assert.equal(typeof getKey, 'function');
    } finally {
      await new Promise((resolve) => issuer.close(resolve));
    }
  });
});
