/**
 * With auth on, OCI clients learn to send credentials from the 401 challenge of the base `/v2/`:
 * skopeo, podman and docker send none until it challenges them, and `podman login` reports
 * success on a 200 without sending any. Anonymous pulls still work when `anonymous_read` allows.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, run } from '../../helpers/tools.ts';
import { startOciServer } from '../../integration/oci/helpers.ts';
import { buildOciLayout } from '../oci-proxy/fixtures.ts';

const skip = missingTools('skopeo', 'podman');

describe('OCI with auth on: the /v2/ challenge', { skip }, () => {
  let server: TestServer;
  let work: { path: string; [Symbol.asyncDispose](): Promise<void> };

  const env = (): NodeJS.ProcessEnv => ({
    ...process.env,
    REGISTRY_AUTH_FILE: path.join(work.path, 'auth.json'),
    CONTAINERS_REGISTRIES_CONF: path.join(work.path, 'registries.conf'),
    HOME: work.path,
  });
  const tool = (name: string, args: readonly string[]) =>
    run(name, args, { env: env(), cwd: work.path, timeoutMs: 120_000, check: false });

  before(async () => {
    work = await tempDir('nora-oci-auth-');
    await fs.writeFile(path.join(work.path, 'auth.json'), '{"auths":{}}');
    await fs.writeFile(
      path.join(work.path, 'registries.conf'),
      'unqualified-search-registries = []\n',
    );
    server = await startOciServer({
      config: {
        docker: { upstreams: [] },
        auth: { enabled: true, allow_registration: true },
      },
    });
    const created = await fetch(`${server.url}/npm/-/user/org.couchdb.user:alice`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'alice', password: 'secret-pw-1', email: 'a@example.test' }),
    });
    assert.equal(created.status, 201);
    await buildOciLayout(path.join(work.path, 'layout'), 'v1', { layerSizes: [2048] });
  });

  after(async () => {
    await server.close();
    await work[Symbol.asyncDispose]();
  });

  test('GET /v2/ without credentials: 401 with a Basic challenge; with them: 200', async () => {
    const anonymous = await fetch(`${server.url}/v2/`);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic realm=/);
    const basic = Buffer.from('alice:secret-pw-1').toString('base64');
    const known = await fetch(`${server.url}/v2/`, {
      headers: { authorization: `Basic ${basic}` },
    });
    assert.equal(known.status, 200);
  });

  test('podman login: a wrong password fails, the right one succeeds', async () => {
    const wrong = await tool('podman', [
      'login',
      '--tls-verify=false',
      '-u',
      'alice',
      '-p',
      'wrong',
      server.host,
    ]);
    assert.notEqual(wrong.code, 0, `wrong password logged in: ${wrong.stdout}`);
    const right = await tool('podman', [
      'login',
      '--tls-verify=false',
      '-u',
      'alice',
      '-p',
      'secret-pw-1',
      server.host,
    ]);
    assert.equal(right.code, 0, right.stderr);
  });

  test('skopeo pushes with --dest-creds; an anonymous push is refused; anonymous pull works', async () => {
    const pushed = await tool('skopeo', [
      'copy',
      '--dest-tls-verify=false',
      '--dest-creds',
      'alice:secret-pw-1',
      `oci:${path.join(work.path, 'layout')}:v1`,
      `docker://${server.host}/a/b/c/img:v1`,
    ]);
    assert.equal(pushed.code, 0, pushed.stderr);
    const anonymousPush = await tool('skopeo', [
      'copy',
      '--dest-tls-verify=false',
      '--dest-no-creds',
      `oci:${path.join(work.path, 'layout')}:v1`,
      `docker://${server.host}/a/b/c/img:v2`,
    ]);
    assert.notEqual(anonymousPush.code, 0);
    const tags = await tool('skopeo', [
      'list-tags',
      '--tls-verify=false',
      '--no-creds',
      `docker://${server.host}/a/b/c/img`,
    ]);
    assert.equal(tags.code, 0, tags.stderr);
    assert.deepEqual((JSON.parse(tags.stdout) as { Tags: string[] }).Tags, ['v1']);
  });
});
