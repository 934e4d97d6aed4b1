/**
 * npm through a reverse proxy in front of NORA, as the production guide deploys it: the proxy
 * (on loopback, trusted by the default `[auth] trusted_proxies`, listed here too) sends
 * X-Forwarded-For, -Proto and -Host. A token restricted to the client's range works through the
 * proxy and not around it, and the tarball URLs in packuments point at the proxy, so npm fetches
 * every tarball through it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LOOPBACK_PROXY, startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { NpmHttp } from '../../integration/npm/client.ts';
import { NpmCli } from './clients.ts';

/** The address the proxy says the client has. */
const CLIENT_ADDRESS = '10.1.2.3';

describe('npm behind a trusted reverse proxy', { skip: new NpmCli().missing }, async () => {
  await using dir = await tempDir();
  let nora: TestServer;
  let front: http.Server;
  let frontUrl: string;
  const seen: string[] = [];
  let restrictedToken: string;

  before(async () => {
    nora = await startTestServer({
      config: {
        auth: {
          enabled: true,
          anonymous_read: true,
          allow_registration: true,
          trusted_proxies: [...LOOPBACK_PROXY],
        },
      },
    });
    const target = new URL(nora.url);
    front = http.createServer((req, res) => {
      seen.push(req.url ?? '');
      const upstream = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: {
            ...req.headers,
            'x-forwarded-for': CLIENT_ADDRESS,
            'x-forwarded-proto': 'http',
            'x-forwarded-host': req.headers.host ?? '',
          },
        },
        (reply) => {
          res.writeHead(reply.statusCode ?? 502, reply.headers);
          reply.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;

    const owner = new NpmHttp(`${nora.url}/npm`);
    assert.equal((await owner.login('olga', 'olga-pass')).status, 201);
    assert.equal((await owner.publish({ name: 'behind-proxy', version: '1.0.0' })).status, 201);
    const created = await owner.request('POST', '/-/npm/v1/tokens', {
      password: 'olga-pass',
      cidr_whitelist: ['10.0.0.0/8'],
    });
    assert.equal(created.status, 200, created.text);
    restrictedToken = created.json<{ token: string }>().token;
  });
  after(async () => {
    await new Promise((resolve) => front.close(resolve));
    await nora.close();
  });

  const npmAt = async (registry: string, name: string) => {
    const npm = new NpmCli();
    const home = path.join(dir.path, name);
    await fs.mkdir(home, { recursive: true });
    await npm.configure({ registry, token: restrictedToken, home });
    return npm;
  };

  test('a token for 10.0.0.0/8 works through the proxy and is refused around it', async () => {
    const through = await npmAt(`${frontUrl}/npm/`, 'through');
    assert.equal((await through.whoami()).stdout.trim(), 'olga');
    const around = await npmAt(`${nora.url}/npm/`, 'around');
    await assert.rejects(around.whoami(), /E401|401/);
  });

  test('npm install fetches the tarball through the proxy (URLs from X-Forwarded-Host)', async () => {
    const npm = await npmAt(`${frontUrl}/npm/`, 'install');
    const project = path.join(dir.path, 'project');
    await fs.mkdir(project);
    await fs.writeFile(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'p', version: '1.0.0', private: true }),
    );
    seen.length = 0;
    await npm.install(project, ['behind-proxy@1.0.0']);
    const installed = JSON.parse(
      await fs.readFile(path.join(project, 'node_modules', 'behind-proxy', 'package.json'), 'utf8'),
    ) as { version: string };
    assert.equal(installed.version, '1.0.0');
    assert.ok(
      seen.some((url) => url.startsWith('/npm/behind-proxy/-/behind-proxy-1.0.0.tgz')),
      `the tarball came through the proxy: ${seen.join(', ')}`,
    );
  });
});
