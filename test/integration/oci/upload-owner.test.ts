/**
 * An OCI upload session is its opener's (tenth security trial, F5): with auth on, another user
 * with write on the same image who learns the session's URL gets BLOB_UPLOAD_UNKNOWN (404, as
 * for a session that does not exist) on GET, PATCH, PUT and DELETE, and the session is left
 * intact; the opener goes on with any of its credentials (password, API token). With auth off,
 * anonymous sessions are anyone's, as before.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import type { TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { startOciServer } from './helpers.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const BOB = basic('bob', 'bobpw');
const CAROL = basic('carol', 'carolpw');
const digestOf = (content: string) =>
  `sha256:${createHash('sha256').update(content).digest('hex')}`;

describe('OCI upload sessions belong to the user that opened them', () => {
  let server: TestServer;
  let dir: Awaited<ReturnType<typeof tempDir>>;

  before(async () => {
    dir = await tempDir('upload-owner-');
    const file = path.join(dir.path, 'users.htpasswd');
    await fs.writeFile(
      file,
      `bob:${bcrypt.hashSync('bobpw', 4)}\ncarol:${bcrypt.hashSync('carolpw', 4)}\n`,
    );
    server = await startOciServer({
      config: {
        docker: { upstreams: [] },
        auth: { enabled: true, anonymous_read: false, htpasswd_file: file },
        repositories: [{ name: 'team-images', format: 'docker', kind: 'hosted' }],
      },
    });
  });
  after(async () => {
    await server.close();
    await dir[Symbol.asyncDispose]();
  });

  const call = (
    location: string,
    method: string,
    authorization: string,
    body?: string,
    headers: Record<string, string> = {},
  ) =>
    fetch(new URL(location, server.url), {
      method,
      headers: { authorization, ...headers },
      ...(body === undefined ? {} : { body }),
    });

  async function expectUnknown(response: Response): Promise<void> {
    const body = (await response.json()) as { errors: { code: string }[] };
    assert.equal(response.status, 404, JSON.stringify(body));
    assert.equal(body.errors[0]?.code, 'BLOB_UPLOAD_UNKNOWN');
  }

  test("another user's GET, PATCH, PUT and DELETE: BLOB_UPLOAD_UNKNOWN, the session intact", async () => {
    const opened = await call('/v2/team-images/bobapp/blobs/uploads/', 'POST', BOB);
    assert.equal(opened.status, 202);
    const location = opened.headers.get('location') ?? '';
    assert.match(location, /\/blobs\/uploads\/[0-9a-f-]{36}$/);
    const chunk = { 'content-type': 'application/octet-stream', 'content-range': '0-3' };
    assert.equal((await call(location, 'PATCH', BOB, 'abcd', chunk)).status, 202);

    await expectUnknown(await call(location, 'GET', CAROL));
    await expectUnknown(
      await call(location, 'PATCH', CAROL, 'efgh', { ...chunk, 'content-range': '4-7' }),
    );
    const put = new URL(location, server.url);
    put.searchParams.set('digest', digestOf('abcd'));
    await expectUnknown(await call(put.href, 'PUT', CAROL));
    await expectUnknown(await call(location, 'DELETE', CAROL));
    // An unknown session answers the same: nothing tells carol that bob's exists.
    await expectUnknown(
      await call(location.replace(/[0-9a-f-]{36}$/, crypto.randomUUID()), 'GET', CAROL),
    );

    // Bob's session is untouched: offset 4, and bob (with an API token this time) finishes it.
    const status = await call(location, 'GET', BOB);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-3');
    const made = await fetch(`${server.url}/api/tokens`, {
      method: 'POST',
      headers: { authorization: BOB, 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'write' }),
    });
    const { token } = (await made.json()) as { token: string };
    const finish = new URL(location, server.url);
    finish.searchParams.set('digest', digestOf('abcdefgh'));
    const done = await call(finish.href, 'PUT', `Bearer ${token}`, 'efgh', {
      ...chunk,
      'content-range': '4-7',
    });
    assert.equal(done.status, 201, await done.clone().text());
  });

  test('the opener can still cancel its session; then it is unknown to everyone', async () => {
    const opened = await call('/v2/team-images/bobapp/blobs/uploads/', 'POST', BOB);
    const location = opened.headers.get('location') ?? '';
    assert.equal((await call(location, 'DELETE', BOB)).status, 204);
    await expectUnknown(await call(location, 'GET', BOB));
  });
});

describe('OCI upload sessions with auth off are anyone’s (unchanged)', () => {
  let server: TestServer;

  before(async () => {
    server = await startOciServer({
      config: {
        docker: { upstreams: [] },
        auth: { enabled: false },
        repositories: [{ name: 'open-images', format: 'docker', kind: 'hosted' }],
      },
    });
  });
  after(async () => {
    await server.close();
  });

  test('a session opened anonymously is finished by another anonymous request', async () => {
    const opened = await fetch(`${server.url}/v2/open-images/app/blobs/uploads/`, {
      method: 'POST',
    });
    assert.equal(opened.status, 202);
    const finish = new URL(opened.headers.get('location') ?? '', server.url);
    finish.searchParams.set('digest', digestOf('anon'));
    const done = await fetch(finish, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: 'anon',
    });
    assert.equal(done.status, 201, await done.clone().text());
  });
});
