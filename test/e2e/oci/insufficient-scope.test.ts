/**
 * A signed-in user's registry token that lacks the grant a request needs (reader may pull, not
 * push): NORA answers as Distribution's token access controller does, 401 with
 * `WWW-Authenticate: Bearer …,scope=…,error="insufficient_scope"` and the refusal as
 * `error_description`, and real clients print the refusal: skopeo (with the password, and with a
 * held pull-only token) and oras (`--concurrency 1`, see docs/oci.md "Known client issues").
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestServer } from '../../helpers/server.ts';
import { startTestServer } from '../../helpers/server.ts';
import { missingTools } from '../../helpers/tools.ts';
import { buildOciLayout } from '../oci-proxy/fixtures.ts';
import { type ContainersWork, containersWork } from './containers-work.ts';

const REFUSAL = /reader may not write team\/app in docker/;

describe('a registry token without the grant: 401 insufficient_scope, the refusal printed', () => {
  let server: TestServer;
  let work: ContainersWork;

  before(async () => {
    work = await containersWork('nora-oci-scope-');
    server = await startTestServer({
      config: {
        docker: { upstreams: [] },
        auth: { enabled: true, anonymous_read: false },
      },
    });
    const { users } = server.app.context.identity;
    assert.ok(await users.create('reader', 'reader-pw-1', 'reader@example.test', ['read']));
    await buildOciLayout(path.join(work.path, 'layout'), 'v1', { layerSizes: [2048] });
    await fs.writeFile(path.join(work.path, 'file.txt'), 'an artifact\n');
  });

  after(async () => {
    await server.close();
    await work[Symbol.asyncDispose]();
  });

  /** A registry token for `reader`, asked for pull and push of team/app (granted pull only). */
  const heldToken = async (): Promise<string> => {
    const response = await fetch(
      `${server.url}/v2/token?service=nora&scope=repository:team/app:pull,push`,
      {
        headers: {
          authorization: `Basic ${Buffer.from('reader:reader-pw-1').toString('base64')}`,
        },
      },
    );
    assert.equal(response.status, 200);
    return ((await response.json()) as { token: string }).token;
  };

  test('the answer: 401, the challenge says insufficient_scope and why', async () => {
    const token = await heldToken();
    const response = await fetch(`${server.url}/v2/team/app/blobs/uploads/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(response.status, 401);
    const challenge = response.headers.get('www-authenticate') ?? '';
    assert.match(
      challenge,
      /^Bearer realm="[^"]+\/v2\/token",service="nora",scope="repository:team\/app:pull,push",error="insufficient_scope",error_description="reader may not write team\/app in docker"$/,
    );
    const body = (await response.json()) as { errors: [{ code: string; message: string }] };
    assert.equal(body.errors[0].code, 'UNAUTHORIZED');
    assert.match(body.errors[0].message, REFUSAL);
    // Basic credentials keep 403 DENIED: a new login would not help them.
    const basic = await fetch(`${server.url}/v2/team/app/blobs/uploads/`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('reader:reader-pw-1').toString('base64')}` },
    });
    assert.equal(basic.status, 403);
    assert.match(await basic.text(), /"code":"DENIED".*reader may not write team\/app in docker/);
  });

  test(
    'skopeo copy with the password, and with a held pull-only token',
    { skip: missingTools('skopeo') },
    async () => {
      const withPassword = await work.tool('skopeo', [
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        'reader:reader-pw-1',
        `oci:${path.join(work.path, 'layout')}:v1`,
        `docker://${server.host}/team/app:v1`,
      ]);
      // containers/image prints the challenge's error_description, then the body's error.
      assert.notEqual(withPassword.code, 0, 'reader pushed');
      assert.match(withPassword.stderr, /denied: reader may not write team\/app in docker/);
      const withToken = await work.tool('skopeo', [
        'copy',
        '--dest-tls-verify=false',
        '--dest-registry-token',
        await heldToken(),
        `oci:${path.join(work.path, 'layout')}:v1`,
        `docker://${server.host}/team/app:v1`,
      ]);
      assert.notEqual(withToken.code, 0, 'reader pushed with a pull-only token');
      assert.match(withToken.stderr, /denied: reader may not write team\/app in docker/);
    },
  );

  test('oras push --concurrency 1', { skip: missingTools('oras') }, async () => {
    const login = await work.tool('oras', [
      'login',
      '--plain-http',
      '-u',
      'reader',
      '-p',
      'reader-pw-1',
      server.host,
    ]);
    assert.equal(login.code, 0, login.stderr);
    const pushed = await work.tool('oras', [
      'push',
      '--plain-http',
      '--concurrency',
      '1',
      `${server.host}/team/app:v1`,
      'file.txt',
    ]);
    assert.notEqual(pushed.code, 0, 'reader pushed with oras');
    assert.match(pushed.stderr, /unauthorized: reader may not write team\/app in docker/);
  });
});
