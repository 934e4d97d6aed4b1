/**
 * Docker registry tokens (JWTs from `/v2/token`) end with the credential they were obtained with
 * (tenth security trial, F2): revoking the API token, changing the user's htpasswd password or
 * removing the user makes the registry tokens it already obtained fail at the next request
 * (401), not at their `exp` — while a token whose credential is unchanged keeps working across
 * unrelated writes (the check is memoized against the store's writes, not dropped).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import type { TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { startOciServer } from '../oci/helpers.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('registry tokens end with the credential they came from', () => {
  let server: TestServer;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let file: string;
  const lines = {
    bob: `bob:${bcrypt.hashSync('bobpw', 4)}`,
    carol: `carol:${bcrypt.hashSync('carolpw', 4)}`,
    dave: `dave:${bcrypt.hashSync('davepw', 4)}`,
  };

  before(async () => {
    dir = await tempDir('registry-token-binding-');
    file = path.join(dir.path, 'users.htpasswd');
    await fs.writeFile(file, `${lines.bob}\n${lines.carol}\n${lines.dave}\n`);
    server = await startOciServer({
      config: {
        docker: { upstreams: [] },
        auth: { enabled: true, anonymous_read: false, htpasswd_file: file, docker_token_ttl: 300 },
        repositories: [{ name: 'team-images', format: 'docker', kind: 'hosted' }],
      },
    });
  });
  after(async () => {
    await server.close();
    await dir[Symbol.asyncDispose]();
  });

  /**
   * Waits for the file watch (polled each second) to have read the file's new users: up to 20 s,
   * a bound for a failure only (5 s left four polls of slack on a loaded machine).
   */
  async function until(check: () => boolean): Promise<void> {
    for (let i = 0; i < 400 && !check(); i++) await sleep(50);
    await server.app.context.identity.settled();
    assert.ok(check(), 'the file watch read the new file');
  }

  async function registryToken(authorization: string, image: string): Promise<string> {
    const res = await fetch(
      `${server.url}/v2/token?service=nora&scope=repository:team-images/${image}:pull,push`,
      { headers: { authorization } },
    );
    const body = (await res.json()) as { token: string };
    assert.equal(res.status, 200, JSON.stringify(body));
    return body.token;
  }

  /** A monolithic blob push with `jwt`: its status (201 pushed, 401 refused). */
  async function pushBlob(jwt: string, image: string, content: string): Promise<number> {
    const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
    const res = await fetch(
      `${server.url}/v2/team-images/${image}/blobs/uploads/?digest=${digest}`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/octet-stream' },
        body: content,
      },
    );
    await res.arrayBuffer();
    return res.status;
  }

  const tagsStatus = async (jwt: string, image: string) => {
    const res = await fetch(`${server.url}/v2/team-images/${image}/tags/list`, {
      headers: { authorization: `Bearer ${jwt}` },
    });
    await res.arrayBuffer();
    return res.status;
  };

  async function apiToken(user: string, password: string): Promise<{ token: string; id: string }> {
    const res = await fetch(`${server.url}/api/tokens`, {
      method: 'POST',
      headers: { authorization: basic(user, password), 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'write', ttl_days: 1 }),
    });
    const body = (await res.json()) as { token: string; id: string };
    assert.equal(res.status, 200, JSON.stringify(body));
    return body;
  }

  test('revoking an API token ends the registry tokens it obtained at the next request', async () => {
    const { token, id } = await apiToken('bob', 'bobpw');
    const other = await apiToken('bob', 'bobpw');
    const jwt = await registryToken(basic('x', token), 'f2app');
    const kept = await registryToken(basic('x', other.token), 'f2app');
    // A registry token asked for with the registry token stays bound to the API token.
    const chained = await registryToken(`Bearer ${jwt}`, 'f2app');
    assert.equal(await pushBlob(jwt, 'f2app', 'before revocation'), 201);
    assert.equal(await pushBlob(chained, 'f2app', 'chained before revocation'), 201);

    const revoked = await fetch(`${server.url}/api/tokens/revoke`, {
      method: 'POST',
      headers: { authorization: basic('bob', 'bobpw'), 'content-type': 'application/json' },
      body: JSON.stringify({ id }),
    });
    assert.equal(revoked.status, 200);
    assert.equal(((await revoked.json()) as { revoked: boolean }).revoked, true);

    // Refusals count as failed logins (5 in a row lock the address for a second): a success
    // in between resets the count.
    const v2 = await fetch(`${server.url}/v2/`, { headers: { authorization: basic('x', token) } });
    assert.equal(v2.status, 401, 'the API token itself is refused');
    assert.equal(await pushBlob(jwt, 'f2app', 'after revocation'), 401);
    assert.equal(await pushBlob(chained, 'f2app', 'chained after revocation'), 401);
    // Bob's other token, and the registry token it obtained, are untouched.
    assert.equal(await pushBlob(kept, 'f2app', 'other token'), 201);
    assert.equal(await tagsStatus(jwt, 'f2app'), 401);
    const refused = await fetch(`${server.url}/v2/team-images/f2app/tags/list`, {
      headers: { authorization: `Bearer ${jwt}` },
    });
    const body = (await refused.json()) as { errors: { code: string; message: string }[] };
    const [error] = body.errors;
    assert.ok(error);
    assert.equal(error.code, 'UNAUTHORIZED');
    assert.match(error.message, /revoked/);
  });

  test('an htpasswd password change or removal ends the registry tokens from the old password', async () => {
    const carolJwt = await registryToken(basic('carol', 'carolpw'), 'carolapp');
    const daveJwt = await registryToken(basic('dave', 'davepw'), 'daveapp');
    const bobJwt = await registryToken(basic('bob', 'bobpw'), 'bobapp');
    assert.equal(await pushBlob(carolJwt, 'carolapp', 'carol 1'), 201);
    assert.equal(await pushBlob(daveJwt, 'daveapp', 'dave 1'), 201);
    assert.equal(await pushBlob(bobJwt, 'bobapp', 'bob 1'), 201);

    // carol gets a new password, dave is removed, bob's line is unchanged.
    const { htpasswd } = server.app.context.identity;
    const before = htpasswd.fingerprint('carol');
    await fs.writeFile(file, `${lines.bob}\ncarol:${bcrypt.hashSync('carolpw2', 4)}\n`);
    await until(() => !htpasswd.has('dave') && htpasswd.fingerprint('carol') !== before);

    assert.equal(await pushBlob(carolJwt, 'carolapp', 'carol 2'), 401);
    assert.equal(await tagsStatus(daveJwt, 'daveapp'), 401);
    assert.equal(await pushBlob(bobJwt, 'bobapp', 'bob 2'), 201, 'an unchanged password keeps it');
    const fresh = await registryToken(basic('carol', 'carolpw2'), 'carolapp');
    assert.equal(await pushBlob(fresh, 'carolapp', 'carol 3'), 201);
  });
});
