/**
 * NORA behind nginx with `proxy_cache`, with real clients (curl, npm) talking to nginx only. The
 * nginx configuration is the ordinary one with the harsh choices an operator may make: answers
 * without `Cache-Control` are kept 10 minutes (`proxy_cache_valid 200 10m`), the cache key is
 * nginx's default (no Host in it), the client's `Host` is passed on (`$http_host`) and so is the
 * client's own `X-Forwarded-Host` (nginx on loopback is listed in `[auth] trusted_proxies`), and no
 * `[server] public_url` is set. Auth is on with anonymous reads, and rules reserve `@corp/*` (npm)
 * and `private/**` (raw) for olga; raw files say `public, max-age=600` (`[raw] cache_control`,
 * as an operator serving release downloads might set it).
 * - The cache is live: a public raw file and a public npm tarball are cache HITs the second time
 *   (npm tarballs say no `Cache-Control` to anonymous clients, so `proxy_cache_valid` keeps them).
 * - (a) What olga read with credentials (a reserved raw file with curl, a reserved package with
 *   `npm install`) is never handed from the cache to an anonymous curl: 401, not a HIT.
 * - (b) A version `npm publish`ed through nginx is at once what an anonymous `npm view` and
 *   `npm install` through nginx see; a raw file PUT through nginx is at once in the listing.
 * - (c) Requests naming another host (`X-Forwarded-Host`, `Host`) get answers naming it, and
 *   those do not leak: the next anonymous `npm view` gets tarball URLs of nginx's own host and
 *   `npm install` fetches through it; Cargo's `config.json` names nginx's host.
 * nginx listens on 127.0.0.1 and is stopped at the end. A missing client skips and says so.
 * - OCI tag lists, referrers and `_catalog` (anonymous pulls, `docker_anon_pull`) say
 *   `no-cache`: never a HIT, so a new tag or signature is listed at once (tenth session F5).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { curl, curlHeaders } from '../../helpers/curl.ts';
import { runNginx, type NginxProcess } from '../../helpers/nginx.ts';
import { LOOPBACK_PROXY, startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools } from '../../helpers/tools.ts';
import { OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, sha256 } from '../../integration/oci/helpers.ts';
import { NpmHttp } from '../../integration/npm/client.ts';
import { NpmCli } from '../npm/clients.ts';

const OLGA = ['--user', 'olga:olga-pw-1'];

describe('behind nginx proxy_cache', { skip: missingTools('nginx', 'curl') }, () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let nora: TestServer;
  let nginx: NginxProcess;
  let token = '';

  before(async () => {
    work = await tempDir('nora-e2e-nginx-cache-');
    // nginx's workers (not root) write the cache below it.
    await fs.chmod(work.path, 0o755);
    nora = await startTestServer({
      config: {
        auth: {
          enabled: true,
          anonymous_read: true,
          docker_anon_pull: true,
          trusted_proxies: [...LOOPBACK_PROXY],
          rules: [
            {
              repositories: ['npm-hosted'],
              paths: ['@corp/*'],
              users: ['olga'],
              actions: ['read', 'write'],
            },
            {
              repositories: ['raw-hosted'],
              paths: ['private/**'],
              users: ['olga'],
              actions: ['read', 'write'],
            },
          ],
        },
        npm: { proxy: '' },
        cargo: { proxy: '' },
        raw: { cache_control: 'public, max-age=600' },
        docker: { upstreams: [] },
      },
    });
    const identity = nora.app.context.identity;
    assert.ok(await identity.users.create('olga', 'olga-pw-1', undefined, ['write']));
    token = (await identity.tokens.create('olga', { role: 'write' })).secret;
    const dir = path.join(work.path, 'nginx');
    nginx = await runNginx(dir, {
      readyPath: '/health',
      http: (listen) => [
        `proxy_cache_path ${dir}/cache levels=1:2 keys_zone=nora:1m max_size=64m inactive=10m use_temp_path=off;`,
        "log_format cache '$upstream_cache_status $status $request_method $request_uri';",
        `access_log ${dir}/access.log cache;`,
        'server {',
        `  listen ${listen};`,
        '  client_max_body_size 0;',
        '  location / {',
        `    proxy_pass ${nora.url};`,
        '    proxy_http_version 1.1;',
        '    proxy_set_header Connection "";',
        '    proxy_set_header Host $http_host;',
        '    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
        '    proxy_set_header X-Forwarded-Proto $scheme;',
        '    proxy_cache nora;',
        '    proxy_cache_valid 200 10m;',
        '    proxy_cache_revalidate on;',
        '    add_header X-Cache-Status $upstream_cache_status always;',
        '  }',
        '}',
      ],
    });
  });
  after(async () => {
    await nginx.stop();
    await nora.close();
    await work[Symbol.asyncDispose]();
  });

  /** An npm CLI for nginx's /npm/, olga's (with her token) or anonymous. */
  async function npmAs(who: 'olga' | 'anonymous'): Promise<NpmCli> {
    const npm = new NpmCli();
    const home = path.join(work.path, `npm-${who}`);
    await fs.mkdir(home, { recursive: true });
    await npm.configure({
      registry: `${nginx.url}/npm/`,
      token: who === 'olga' ? token : '',
      home,
    });
    return npm;
  }

  /** A package directory ready for `npm publish`. */
  async function packageDir(name: string, version: string): Promise<string> {
    const dir = path.join(work.path, 'pkg', name.replace('/', '+'), version);
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(
      path.join(dir, 'package.json'),
      JSON.stringify({ name, version, description: `${name} ${version}`, main: 'index.js' }),
    );
    await fs.writeFile(
      path.join(dir, 'index.js'),
      `module.exports = ${JSON.stringify(version)};\n`,
    );
    return dir;
  }

  /** Publishes with a PUT through nginx (where the publishing client is not the point). */
  async function publishHttp(name: string, version: string): Promise<void> {
    const reply = await new NpmHttp(`${nginx.url}/npm`, token).publish({ name, version });
    assert.equal(reply.status, 201, reply.text);
  }

  /** A fresh project directory; `npm install <specs>` in it; the installed versions. */
  async function install(npm: NpmCli, label: string, specs: string[]): Promise<string[]> {
    const project = path.join(work.path, 'projects', label);
    await fs.mkdir(project, { recursive: true });
    await fs.writeFile(
      path.join(project, 'package.json'),
      JSON.stringify({ name: label, version: '1.0.0', private: true }),
    );
    await npm.install(project, specs);
    const versions: string[] = [];
    for (const spec of specs) {
      const name = spec.slice(0, spec.lastIndexOf('@'));
      const manifest = await fs.readFile(
        path.join(project, 'node_modules', name, 'package.json'),
        'utf8',
      );
      versions.push((JSON.parse(manifest) as { version: string }).version);
    }
    return versions;
  }

  const cacheStatus = async (url: string, args: string[] = []) => {
    const { status, headers } = await curlHeaders(url, args);
    return { status, cache: headers['x-cache-status'] ?? '', headers };
  };

  test('the cache is live: a public raw file is a HIT the second time', async () => {
    const local = path.join(work.path, 'tool.txt');
    await fs.writeFile(local, 'a public tool\n');
    const put = await curl([...OLGA, '-T', local, `${nginx.url}/raw/pub/tool.txt`]);
    assert.equal(put.status, 201, put.body);
    const url = `${nginx.url}/raw/pub/tool.txt`;
    assert.equal((await cacheStatus(url)).cache, 'MISS');
    const second = await cacheStatus(url);
    assert.equal(second.status, 200);
    assert.equal(second.cache, 'HIT', JSON.stringify(second.headers));
  });

  test(
    '(a) what olga read with credentials is not served from the cache to anonymous clients',
    { skip: new NpmCli().missing },
    async () => {
      // raw: a reserved file, read by olga with curl through nginx.
      const local = path.join(work.path, 'plan.txt');
      await fs.writeFile(local, 'the private plan\n');
      const url = `${nginx.url}/raw/private/plan.txt`;
      assert.equal((await curl([...OLGA, '-T', local, url])).status, 201);
      for (let round = 0; round < 2; round++) {
        const olga = await curl([...OLGA, url]);
        assert.equal(olga.status, 200);
        assert.equal(olga.body, 'the private plan\n');
      }
      for (let round = 0; round < 2; round++) {
        const anonymous = await curl(['-D', '-', url]);
        assert.equal(anonymous.status, 401, anonymous.body);
        assert.doesNotMatch(anonymous.body, /private plan/);
        assert.doesNotMatch(anonymous.body, /^x-cache-status: HIT/im);
      }
      // npm: a reserved package published and installed by olga through nginx.
      const olga = await npmAs('olga');
      await publishHttp('@corp/secret', '1.0.0');
      assert.deepEqual(await install(olga, 'olga-secret', ['@corp/secret@1.0.0']), ['1.0.0']);
      const publicName = 'nx-public-a';
      await publishHttp(publicName, '1.0.0');
      // A public tarball fetched anonymously is kept by nginx: the cache would keep this one too.
      const publicTarball = `${nginx.url}/npm/${publicName}/-/${publicName}-1.0.0.tgz`;
      await cacheStatus(publicTarball);
      assert.equal((await cacheStatus(publicTarball)).cache, 'HIT');
      const tarball = `${nginx.url}/npm/@corp/secret/-/secret-1.0.0.tgz`;
      for (const target of [tarball, `${nginx.url}/npm/@corp%2fsecret`]) {
        for (let round = 0; round < 2; round++) {
          const anonymous = await cacheStatus(target);
          assert.equal(anonymous.status, 401, target);
          assert.notEqual(anonymous.cache, 'HIT', target);
        }
      }
      const anonymousNpm = await npmAs('anonymous');
      await assert.rejects(anonymousNpm.view('@corp/secret'), /E401|401/);
    },
  );

  test(
    '(b) a version published through nginx is seen at once by npm view and npm install, a raw PUT by the listing',
    { skip: new NpmCli().missing },
    async () => {
      const name = 'nx-fresh';
      const olga = await npmAs('olga');
      const reader = await npmAs('anonymous');
      await olga.publish(await packageDir(name, '1.0.0'));
      const latest = async () =>
        (JSON.parse((await reader.view(name)).stdout) as { version: string }).version;
      assert.equal(await latest(), '1.0.0');
      await olga.publish(await packageDir(name, '1.1.0'));
      assert.equal(await latest(), '1.1.0');
      assert.deepEqual(await install(reader, 'fresh-2', [`${name}@latest`]), ['1.1.0']);

      const listing = async () => {
        const answer = await curl(['-H', 'Accept: application/json', `${nginx.url}/raw/drops/`]);
        assert.equal(answer.status, 200, answer.body);
        return (JSON.parse(answer.body) as { entries: { name: string }[] }).entries.map(
          (e) => e.name,
        );
      };
      const local = path.join(work.path, 'drop.txt');
      await fs.writeFile(local, 'drop\n');
      assert.equal(
        (await curl([...OLGA, '-T', local, `${nginx.url}/raw/drops/a.txt`])).status,
        201,
      );
      assert.deepEqual(await listing(), ['a.txt']);
      assert.deepEqual(await listing(), ['a.txt']);
      assert.equal(
        (await curl([...OLGA, '-T', local, `${nginx.url}/raw/drops/b.txt`])).status,
        201,
      );
      assert.deepEqual(await listing(), ['a.txt', 'b.txt']);
    },
  );

  test(
    '(c) answers naming another Host / X-Forwarded-Host do not leak to other clients',
    { skip: new NpmCli().missing },
    async () => {
      const name = 'nx-hosts';
      await publishHttp(name, '1.0.0');
      const attacks = [
        { args: ['-H', 'X-Forwarded-Host: evil.example'], expect: 'http://evil.example/' },
        { args: ['-H', 'Host: evil2.example'], expect: 'http://evil2.example/' },
      ];
      for (const target of [`/npm/${name}`, '/cargo/index/config.json']) {
        for (const { args, expect } of attacks) {
          for (let round = 0; round < 2; round++) {
            const poisoned = await curl([...args, `${nginx.url}${target}`]);
            assert.equal(poisoned.status, 200, `${target}: ${poisoned.body}`);
            // NORA trusts nginx's X-Forwarded-Host: the attack reaches it.
            assert.ok(poisoned.body.includes(expect), `${target} names ${expect}`);
          }
        }
      }
      const reader = await npmAs('anonymous');
      const viewed = JSON.parse((await reader.view(name)).stdout) as {
        dist: { tarball: string };
      };
      assert.equal(viewed.dist.tarball, `${nginx.url}/npm/${name}/-/${name}-1.0.0.tgz`);
      assert.deepEqual(await install(reader, 'hosts', [`${name}@1.0.0`]), ['1.0.0']);
      const log = await fs.readFile(path.join(work.path, 'nginx', 'access.log'), 'utf8');
      assert.match(log, new RegExp(` 200 GET /npm/${name}/-/${name}-1\\.0\\.0\\.tgz`));
      const config = await curl([`${nginx.url}/cargo/index/config.json`]);
      assert.equal(config.status, 200);
      assert.match(config.body, new RegExp(`"dl":"${nginx.url}/cargo/api/v1/crates"`));
      assert.doesNotMatch(config.body, /evil/);
    },
  );

  test('OCI tag lists, referrers and _catalog are asked again each time: a new tag and a new referrer show at once (F5)', async () => {
    const auth = { authorization: `Basic ${Buffer.from('olga:olga-pw-1').toString('base64')}` };
    const blob = async (data: string) => {
      const digest = sha256(data);
      const res = await fetch(`${nora.url}/v2/lib/listed/blobs/uploads/?digest=${digest}`, {
        method: 'POST',
        headers: auth,
        body: data,
      });
      assert.equal(res.status, 201, await res.text());
      return { digest, size: Buffer.byteLength(data) };
    };
    const manifest = async (reference: string, extra: Record<string, unknown> = {}) => {
      const config = await blob('{"architecture":"amd64","os":"linux"}');
      const layer = await blob(`layer ${reference}`);
      const body = JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, ...config },
        layers: [{ mediaType: OCI_LAYER, ...layer }],
        ...extra,
      });
      const res = await fetch(`${nora.url}/v2/lib/listed/manifests/${reference}`, {
        method: 'PUT',
        headers: { ...auth, 'content-type': OCI_MANIFEST },
        body,
      });
      assert.equal(res.status, 201, await res.text());
      return { digest: sha256(body), size: Buffer.byteLength(body) };
    };
    const image = await manifest('v1');
    const tags = `${nginx.url}/v2/lib/listed/tags/list`;
    const referrers = `${nginx.url}/v2/lib/listed/referrers/${image.digest}`;
    const catalog = `${nginx.url}/v2/_catalog`;
    for (const url of [tags, referrers, catalog]) {
      for (let round = 0; round < 2; round++) {
        const answer = await cacheStatus(url);
        assert.equal(answer.status, 200, url);
        assert.equal(answer.headers['cache-control'], 'no-cache', url);
        assert.notEqual(answer.cache, 'HIT', `${url}: ${JSON.stringify(answer.headers)}`);
      }
    }
    await manifest('v2');
    await manifest('sig', {
      artifactType: 'application/vnd.dev.cosign.sig',
      subject: { mediaType: OCI_MANIFEST, ...image },
    });
    assert.match((await curl([tags])).body, /"v2"/);
    assert.match((await curl([referrers])).body, /application\/vnd\.dev\.cosign\.sig/);
  });
});
