/**
 * `[auth] read_only_users` with a running `nora serve` and real clients (new-user trial,
 * sixteenth session): users of the htpasswd file always had read + write, so a "read-only user"
 * could still publish with its password (or with the write token `npm login` made it), and the
 * rule a user would write instead takes read and write from everyone else. Here: reader's
 * password reads but `npm publish` (the real npm CLI, with `_auth`) and `curl -X PUT` on raw get
 * 403 naming the setting; the tokens reader gets (the token API, npm login) read only; writer
 * and anonymous readers are unaffected; SIGHUP taking reader out of the list and back in takes
 * effect at the next request. And every format's write answers reader 403 in its protocol's shape.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { basic, htpasswdOf } from '../../helpers/auth.ts';
import { nora } from '../../helpers/cli.ts';
import { freePort, type NoraProcess, startNoraProcess } from '../../helpers/process.ts';
import { buildOciLayout } from '../../e2e/oci-proxy/fixtures.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { makeSdist } from '../pypi/fixtures.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { npmHome } from '../../helpers/npm-ci.ts';
import { missingTools, run, type RunResult } from '../../helpers/tools.ts';

const READ_ONLY = /reader is a read-only user \(\[auth\] read_only_users\): it may not write/;

describe(
  '[auth] read_only_users with nora serve, npm and curl',
  { skip: missingTools('npm', 'curl') },
  () => {
    let dir: { path: string; [Symbol.asyncDispose](): Promise<void> };
    let server: NoraProcess;
    let configFile: string;
    let reloads = 0;

    const config = (readOnly: readonly string[]) =>
      [
        '[auth]',
        'enabled = true',
        'anonymous_read = true',
        `htpasswd_file = ${JSON.stringify(path.join(dir.path, 'users.htpasswd'))}`,
        `read_only_users = ${JSON.stringify(readOnly)}`,
        '[rate_limit]',
        'enabled = false',
        '[storage]',
        `path = ${JSON.stringify(path.join(dir.path, 'storage'))}`,
        '',
      ].join('\n');

    /** Rewrites the file, sends SIGHUP and waits for the reload's log line. */
    async function reload(readOnly: readonly string[]): Promise<void> {
      await fs.writeFile(configFile, config(readOnly));
      reloads += 1;
      server.child.kill('SIGHUP');
      const start = Date.now();
      while (server.output().split('configuration reloaded').length <= reloads) {
        if (Date.now() - start > 15_000) assert.fail(`no reload:\n${server.output()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }

    const putRaw = (file: string, authorization?: string) =>
      fetch(`${server.url}/raw/${file}`, {
        method: 'PUT',
        headers: {
          'content-type': 'application/octet-stream',
          ...(authorization === undefined ? {} : { authorization }),
        },
        body: `${file}\n`,
      });

    /** `curl -X PUT` of a raw file as `user:password`: the status and body. */
    async function curlPut(
      file: string,
      credentials: string,
    ): Promise<{ status: number; body: string }> {
      const result = await run(
        'curl',
        [
          '-s',
          '-u',
          credentials,
          '-X',
          'PUT',
          '--data-binary',
          'x',
          '-w',
          '\n%{http_code}',
          `${server.url}/raw/${file}`,
        ],
        { check: false, timeoutMs: 30_000 },
      );
      const lines = result.stdout.trimEnd().split('\n');
      return { status: Number(lines.pop()), body: lines.join('\n') };
    }

    /** Runs the real npm CLI in its own home, with `auth` (an .npmrc line after the registry). */
    async function npm(
      who: string,
      auth: string,
      args: readonly string[],
      cwd?: string,
    ): Promise<RunResult> {
      const home = path.join(dir.path, `npm-${who}`);
      const registry = `${server.url}/npm/`;
      const env = await npmHome(home, registry, auth);
      return run('npm', [...args, '--registry', registry], {
        cwd: cwd ?? home,
        env,
        timeoutMs: 120_000,
        check: false,
      });
    }

    async function project(name: string, version: string): Promise<string> {
      const where = path.join(dir.path, 'pkgs', `${name}-${version}`);
      await fs.mkdir(where, { recursive: true });
      await fs.writeFile(
        path.join(where, 'package.json'),
        JSON.stringify({ name, version, license: 'MIT', main: 'index.js' }),
      );
      await fs.writeFile(path.join(where, 'index.js'), 'module.exports = 1;\n');
      return where;
    }

    const passwordAuth = (user: string, password: string) =>
      `_auth=${Buffer.from(`${user}:${password}`).toString('base64')}`;

    async function mintToken(body: Record<string, unknown>): Promise<Response> {
      return fetch(`${server.url}/api/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    }

    before(async () => {
      dir = await tempDir('nora-readonly-');
      await fs.writeFile(
        path.join(dir.path, 'users.htpasswd'),
        htpasswdOf({ reader: 'reader-pw', writer: 'writer-pw' }),
      );
      configFile = path.join(dir.path, 'config.toml');
      await fs.writeFile(configFile, config(['reader']));
      server = await startNoraProcess({
        port: await freePort(),
        args: ['serve', '-c', configFile],
        env: {},
      });
    });
    after(async () => {
      server.child.kill('SIGTERM');
      await server.exited;
      await dir[Symbol.asyncDispose]();
    });

    test("reader's password reads but npm publish and a raw PUT are refused, naming the setting; others unaffected", async () => {
      const writerPublish = await npm(
        'writer',
        passwordAuth('writer', 'writer-pw'),
        ['publish'],
        await project('shared-pkg', '1.0.0'),
      );
      assert.equal(writerPublish.code, 0, writerPublish.stderr);

      const readerAuth = passwordAuth('reader', 'reader-pw');
      const refused = await npm(
        'reader',
        readerAuth,
        ['publish'],
        await project('readers-pkg', '1.0.0'),
      );
      assert.notEqual(refused.code, 0, 'reader published');
      assert.match(refused.stderr, /403/);
      assert.match(refused.stderr, READ_ONLY);
      const viewed = await npm('reader', readerAuth, ['view', 'shared-pkg', 'version']);
      assert.equal(viewed.code, 0, viewed.stderr);
      assert.match(viewed.stdout, /1\.0\.0/);

      const curled = await curlPut('reader/a.txt', 'reader:reader-pw');
      assert.equal(curled.status, 403, curled.body);
      assert.match(curled.body, READ_ONLY);
      assert.equal((await curlPut('writer/a.txt', 'writer:writer-pw')).status, 201);
      const read = await fetch(`${server.url}/raw/writer/a.txt`, {
        headers: { authorization: basic('reader', 'reader-pw') },
      });
      assert.equal(read.status, 200);
      // Anonymous clients still read (anonymous_read), and still may not write.
      assert.equal((await fetch(`${server.url}/raw/writer/a.txt`)).status, 200);
      assert.equal((await fetch(`${server.url}/npm/shared-pkg`)).status, 200);
      assert.equal((await putRaw('anon.txt')).status, 401);
    });

    test('the tokens reader gets read only: the token API (write asked: 403) and npm login', async () => {
      const write = await mintToken({ username: 'reader', password: 'reader-pw', role: 'write' });
      assert.equal(write.status, 403);
      assert.match(
        ((await write.json()) as { error: string }).error,
        /reader is a read-only user \(\[auth\] read_only_users\): it may only have read tokens, not write/,
      );
      const made = await mintToken({ username: 'reader', password: 'reader-pw', role: 'read' });
      assert.equal(made.status, 200);
      const { token } = (await made.json()) as { token: string };
      const withToken = await putRaw('reader/b.txt', `Bearer ${token}`);
      assert.equal(withToken.status, 403);
      assert.match(await withToken.text(), READ_ONLY);

      // npm login (its couchdb PUT, what `npm login` sends): a read token, not npm's usual write.
      const login = await fetch(`${server.url}/npm/-/user/org.couchdb.user:reader`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'reader', password: 'reader-pw', type: 'user' }),
      });
      assert.equal(login.status, 201, await login.clone().text());
      const npmToken = ((await login.json()) as { token: string }).token;
      const listed = await fetch(`${server.url}/api/tokens/list`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: basic('reader', 'reader-pw'),
        },
        body: '{}',
      });
      const tokens = ((await listed.json()) as { tokens: { role: string; description?: string }[] })
        .tokens;
      assert.deepEqual(
        tokens.map((t) => t.role),
        ['read', 'read'],
      );
      // On the host: nora token create, on the server's database.
      const cliWrite = await nora(
        ['token', 'create', '--user', 'reader', '--role', 'write', '-c', configFile],
        {},
      );
      assert.equal(cliWrite.code, 1, cliWrite.stderr);
      assert.match(
        cliWrite.stderr,
        /reader is a read-only user \(\[auth\] read_only_users\): it may only have read tokens, not write \(use --role read\)/,
      );
      const cliRead = await nora(
        ['token', 'create', '--user', 'reader', '--role', 'read', '-c', configFile],
        {},
      );
      assert.equal(cliRead.code, 0, cliRead.stderr);
      const refused = await npm(
        'reader-token',
        `_authToken=${npmToken}`,
        ['publish'],
        await project('readers-pkg', '1.0.1'),
      );
      assert.notEqual(refused.code, 0, 'reader published with its npm login token');
      assert.match(refused.stderr, READ_ONLY);
    });

    test('SIGHUP taking reader out of read_only_users and back in applies at the next request', async () => {
      // A write token made while reader was not listed: it reads once reader is listed again.
      await reload([]);
      assert.equal((await curlPut('reader/c.txt', 'reader:reader-pw')).status, 201);
      const made = await mintToken({ username: 'reader', password: 'reader-pw', role: 'write' });
      assert.equal(made.status, 200);
      const { token } = (await made.json()) as { token: string };
      assert.equal((await putRaw('reader/d.txt', `Bearer ${token}`)).status, 201);

      await reload(['reader']);
      const curled = await curlPut('reader/e.txt', 'reader:reader-pw');
      assert.equal(curled.status, 403, curled.body);
      assert.match(curled.body, READ_ONLY);
      const withToken = await putRaw('reader/f.txt', `Bearer ${token}`);
      assert.equal(withToken.status, 403);
      assert.match(await withToken.text(), READ_ONLY);
      assert.equal((await curlPut('writer/g.txt', 'writer:writer-pw')).status, 201);
    });
  },
);

/** A server with auth on whose one user, reader (password reader-pw), is a read-only user. */
async function startReaderServer(dir: string): Promise<TestServer> {
  const file = path.join(dir, 'users.htpasswd');
  await fs.writeFile(file, htpasswdOf({ reader: 'reader-pw' }));
  return await startTestServer({
    config: {
      docker: { upstreams: [] },
      auth: { enabled: true, htpasswd_file: file, read_only_users: ['reader'] },
    },
  });
}

test("every format's write is refused to a read-only user in the protocol's own shape, naming the setting", async () => {
  await using dir = await tempDir('nora-readonly-formats-');
  await using server = await startReaderServer(dir.path);
  const form =
    '--zz\r\nContent-Disposition: form-data; name=":action"\r\n\r\nfile_upload\r\n' +
    '--zz\r\nContent-Disposition: form-data; name="name"\r\n\r\nfoo\r\n--zz--\r\n';
  // [method, url, extra headers, body, the refusal as the protocol carries it]
  const writes: [string, string, Record<string, string>, string, RegExp][] = [
    [
      'POST',
      '/v2/app/blobs/uploads/',
      {},
      '',
      /^\{"errors":\[\{"code":"DENIED","message":"reader is a read-only/,
    ],
    ['PUT', '/maven2/com/x/x/1.0/x-1.0.jar', {}, 'jar', /^reader is a read-only/],
    [
      'POST',
      '/simple/',
      { 'content-type': 'multipart/form-data; boundary=zz' },
      form,
      /^reader is a read-only/,
    ],
    ['PUT', '/cargo/api/v1/crates/new', {}, 'x', /^\{"errors":\[\{"detail":"reader is a read-only/],
    ['POST', '/helm/api/charts', {}, 'x', /^\{"error":"reader is a read-only/],
    ['PUT', '/go/example.com/mod/@v/v1.0.0.zip', {}, 'x', /^reader is a read-only/],
    ['PUT', '/raw/a.txt', {}, 'x', /^reader is a read-only/],
    [
      'PUT',
      '/npm/pkg',
      { 'content-type': 'application/json' },
      '{"name":"pkg"}',
      /^\{"error":"reader is a read-only/,
    ],
  ];
  for (const [method, url, headers, body, refusal] of writes) {
    const answer = await fetch(`${server.url}${url}`, {
      method,
      headers: { authorization: basic('reader', 'reader-pw'), ...headers },
      ...(body === '' ? {} : { body }),
    });
    const text = await answer.text();
    assert.equal(answer.status, 403, `${method} ${url}: ${text}`);
    assert.match(text, refusal, `${method} ${url}`);
    assert.match(text, /\(\[auth\] read_only_users\): it may not write/, `${method} ${url}`);
  }
});

test(
  'twine upload and skopeo copy (docker push) with the password of a read-only user: 403 naming the setting',
  {
    skip: missingTools('twine', 'skopeo'),
  },
  async () => {
    await using dir = await tempDir('nora-readonly-clients-');
    await using server = await startReaderServer(dir.path);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HOME: dir.path,
      REGISTRY_AUTH_FILE: path.join(dir.path, 'auth.json'),
      CONTAINERS_REGISTRIES_CONF: path.join(dir.path, 'registries.conf'),
    };
    const sdist = makeSdist('readers-dist', '1.0.0');
    const dist = path.join(dir.path, sdist.filename);
    await fs.writeFile(dist, sdist.data);
    const twine = await run(
      'twine',
      [
        'upload',
        '--non-interactive',
        '--repository-url',
        `${server.url}/simple/`,
        '-u',
        'reader',
        '-p',
        'reader-pw',
        dist,
      ],
      { env, cwd: dir.path, check: false, timeoutMs: 120_000 },
    );
    assert.notEqual(twine.code, 0, 'twine uploaded as reader');
    assert.match(`${twine.stdout}${twine.stderr}`, /403/);
    assert.equal(
      (await fetch(`${server.url}/simple/readers-dist/`)).status,
      404,
      'nothing uploaded',
    );

    await fs.writeFile(env['REGISTRY_AUTH_FILE'] ?? '', '{"auths":{}}');
    await fs.writeFile(
      env['CONTAINERS_REGISTRIES_CONF'] ?? '',
      'unqualified-search-registries = []\n',
    );
    await buildOciLayout(path.join(dir.path, 'layout'), 'v1', { layerSizes: [512] });
    const skopeo = await run(
      'skopeo',
      [
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        'reader:reader-pw',
        `oci:${path.join(dir.path, 'layout')}:v1`,
        `docker://${server.host}/readers/app:v1`,
      ],
      { env, cwd: dir.path, check: false, timeoutMs: 120_000 },
    );
    assert.notEqual(skopeo.code, 0, 'skopeo pushed as reader');
    assert.match(
      skopeo.stderr,
      /reader is a read-only user \(\[auth\] read_only_users\): it may not write/,
    );
  },
);
