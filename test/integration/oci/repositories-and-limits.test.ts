/**
 * Named docker repositories (`/v2/<repo>/<image>`, `/repository/<repo>/v2`), read-only proxy
 * repositories, upload limits (429 + Retry-After), idle-session purge and resuming an upload
 * after a restart.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { tempDir } from '../../helpers/tmp.ts';
import { Client, expectError, startOciServer, sha256 } from './helpers.ts';

const NAMED = {
  docker: { upstreams: [] },
  repositories: [
    { name: 'team', format: 'docker', kind: 'hosted' },
    { name: 'mirror', format: 'docker', kind: 'proxy', upstreams: [{ url: 'http://127.0.0.1:9' }] },
    { name: 'all', format: 'docker', kind: 'group', members: ['team', 'mirror'] },
  ],
};

describe('named repositories', () => {
  test('/v2/<repo>/<image> and /repository/<repo>/v2 address the same hosted repository', async () => {
    await using server = await startOciServer({ config: NAMED });
    const client = new Client(server.url);
    const image = await client.pushImage('team/app', 'v1');
    const viaPrefix = await client.fetch('/repository/team/v2/app/manifests/v1');
    assert.equal(viaPrefix.status, 200);
    assert.equal(viaPrefix.headers.get('docker-content-digest'), image.digest);
    await viaPrefix.text();
    // The default group does not see it (different repository), under its own name.
    await expectError(await client.fetch('/v2/app/manifests/v1'), 404, 'MANIFEST_UNKNOWN');
    // The group containing `team` does.
    const viaGroup = await client.fetch('/v2/all/app/manifests/v1');
    assert.equal(viaGroup.status, 200);
    await viaGroup.text();
    assert.deepEqual(await (await client.fetch('/repository/team/v2/app/tags/list')).json(), {
      name: 'app',
      tags: ['v1'],
    });
    const catalog = (await (await client.fetch('/v2/_catalog')).json()) as {
      repositories: string[];
    };
    assert.ok(catalog.repositories.includes('team/app'), JSON.stringify(catalog));
    assert.deepEqual(await (await client.fetch('/repository/team/v2/_catalog')).json(), {
      repositories: ['app'],
    });
    // Pushing through the group lands in its hosted member.
    const viaGroupPush = await client.pushImage('all/other', 'v1');
    const inTeam = await client.fetch(`/repository/team/v2/other/manifests/${viaGroupPush.digest}`);
    assert.equal(inTeam.status, 200);
    await inTeam.text();
    // Upload Location keeps the URL the client used.
    const start = await client.fetch('/repository/team/v2/app/blobs/uploads/', { method: 'POST' });
    assert.match(
      start.headers.get('location') ?? '',
      /^\/repository\/team\/v2\/app\/blobs\/uploads\/[0-9a-f-]{36}$/,
    );
    const unknown = await client.fetch('/repository/nope/v2/app/tags/list');
    assert.equal(unknown.status, 404);
    await unknown.text();
  });

  test('a proxy repository answers 405 UNSUPPORTED to push, delete and upload', async () => {
    await using server = await startOciServer({ config: NAMED });
    const client = new Client(server.url);
    const digest = sha256('x');
    for (const [path, method] of [
      ['/v2/mirror/lib/app/blobs/uploads/', 'POST'],
      [`/v2/mirror/lib/app/blobs/uploads/?digest=${digest}`, 'POST'],
      ['/v2/mirror/lib/app/manifests/v1', 'PUT'],
      ['/v2/mirror/lib/app/manifests/v1', 'DELETE'],
      [`/v2/mirror/lib/app/blobs/${digest}`, 'DELETE'],
      ['/repository/mirror/v2/lib/app/blobs/uploads/', 'POST'],
    ] as const) {
      await expectError(
        await client.fetch(path, method === 'DELETE' ? { method } : { method, body: 'x' }),
        405,
        'UNSUPPORTED',
      );
    }
  });
});

describe('upload limits and sessions', () => {
  test('NORA_MAX_UPLOAD_SESSIONS → 429 TOOMANYREQUESTS with Retry-After', async () => {
    await using server = await startOciServer({ env: { NORA_MAX_UPLOAD_SESSIONS: '2' } });
    const client = new Client(server.url);
    const first = await client.fetch('/v2/lim/a/blobs/uploads/', { method: 'POST' });
    assert.equal(first.status, 202);
    assert.equal((await client.fetch('/v2/lim/a/blobs/uploads/', { method: 'POST' })).status, 202);
    const refused = await client.fetch('/v2/lim/a/blobs/uploads/', { method: 'POST' });
    const retry = Number(refused.headers.get('retry-after'));
    assert.ok(retry >= 3 && retry <= 10, `Retry-After ${retry}`);
    await expectError(refused, 429, 'TOOMANYREQUESTS');
    // Finishing one frees a slot.
    await client.fetch(first.headers.get('location') ?? '', { method: 'DELETE' });
    assert.equal((await client.fetch('/v2/lim/a/blobs/uploads/', { method: 'POST' })).status, 202);
  });

  test('max_upload_sessions_per_client: one user cannot take every session', async () => {
    await using server = await startOciServer({
      config: { auth: { enabled: true }, docker: { max_upload_sessions: 10 } },
      env: { NORA_MAX_UPLOAD_SESSIONS_PER_CLIENT: '2' },
    });
    const users = server.app.context.identity.users;
    await users.create('bob', 'bob-password', undefined);
    await users.create('carol', 'carol-password', undefined);
    const as = (user: string) => ({
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${user}:${user}-password`).toString('base64')}`,
      },
    });
    const client = new Client(server.url);
    assert.equal((await client.fetch('/v2/bob/a/blobs/uploads/', as('bob'))).status, 202);
    assert.equal((await client.fetch('/v2/bob/b/blobs/uploads/', as('bob'))).status, 202);
    const refused = await client.fetch('/v2/bob/c/blobs/uploads/', as('bob'));
    assert.ok(refused.headers.get('retry-after'));
    const body = await expectError(refused, 429, 'TOOMANYREQUESTS');
    assert.match(
      body.errors[0]?.message ?? '',
      /for bob: 2 open \(max 2 per client, \[docker\] max_upload_sessions_per_client\)/,
    );
    // Another user still pushes: bob's sessions are not the server's whole pool.
    assert.equal((await client.fetch('/v2/carol/a/blobs/uploads/', as('carol'))).status, 202);
  });

  test('NORA_MAX_UPLOAD_SESSION_SIZE_MB → 429 and the session keeps its good bytes', async () => {
    await using server = await startOciServer({ env: { NORA_MAX_UPLOAD_SESSION_SIZE_MB: '1' } });
    const client = new Client(server.url);
    const start = await client.fetch('/v2/lim/b/blobs/uploads/', { method: 'POST' });
    const location = start.headers.get('location') ?? '';
    const half = Buffer.alloc(600 * 1024, 1);
    assert.equal((await client.fetch(location, { method: 'PATCH', body: half })).status, 202);
    const over = await client.fetch(location, { method: 'PATCH', body: half });
    assert.ok(over.headers.get('retry-after'));
    await expectError(over, 429, 'TOOMANYREQUESTS');
    const status = await client.fetch(location);
    assert.equal(status.headers.get('range'), `0-${half.length - 1}`);
    const done = await client.fetch(`${location}?digest=${sha256(half)}`, { method: 'PUT' });
    assert.equal(done.status, 201, await done.text());
  });

  test('idle sessions are purged after docker.upload_session_ttl', async () => {
    await using server = await startOciServer({ config: { docker: { upload_session_ttl: 1 } } });
    const client = new Client(server.url);
    const start = await client.fetch('/v2/purge/a/blobs/uploads/', { method: 'POST' });
    const location = start.headers.get('location') ?? '';
    await client.fetch(location, { method: 'PATCH', body: 'some bytes' });
    // The purge timer runs every ttl/2 (min 1 s); allow a few rounds.
    const deadline = Date.now() + 8000;
    let status = 204;
    while (Date.now() < deadline && status !== 404) {
      await new Promise((r) => setTimeout(r, 500));
      const response = await client.fetch(location);
      status = response.status;
      await response.text();
    }
    assert.equal(status, 404);
  });

  test('a reload that shortens docker.upload_session_ttl purges on the new period at once', async () => {
    // Started with the default TTL (1800 s): the purge timer is set 60 s ahead.
    await using server = await startOciServer();
    const client = new Client(server.url);
    const start = await client.fetch('/v2/purge/b/blobs/uploads/', { method: 'POST' });
    const location = start.headers.get('location') ?? '';
    await client.fetch(location, { method: 'PATCH', body: 'some bytes' });
    server.app.reload({
      ...server.config,
      docker: { ...server.config.docker, upload_session_ttl: 1 },
    });
    const deadline = Date.now() + 8000;
    let status = 204;
    while (Date.now() < deadline && status !== 404) {
      await new Promise((r) => setTimeout(r, 500));
      const response = await client.fetch(location);
      status = response.status;
      await response.text();
    }
    assert.equal(status, 404, 'purged within seconds, not after the old 60 s period');
  });

  test('a chunked upload resumes after a restart (the hash is recomputed at finalize)', async () => {
    await using dir = await tempDir('nora-oci-restart-');
    let location: string;
    {
      await using server = await startOciServer({ dataDir: dir.path });
      const client = new Client(server.url);
      const start = await client.fetch('/v2/restart/img/blobs/uploads/', { method: 'POST' });
      location = start.headers.get('location') ?? '';
      assert.equal(
        (await client.fetch(location, { method: 'PATCH', body: 'before restart, ' })).status,
        202,
      );
    }
    await using server = await startOciServer({ dataDir: dir.path });
    const client = new Client(server.url);
    const status = await client.fetch(location);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-15');
    const whole = 'before restart, after restart';
    const done = await client.fetch(`${location}?digest=${sha256(whole)}`, {
      method: 'PUT',
      body: 'after restart',
    });
    assert.equal(done.status, 201, await done.text());
    assert.equal(
      await (await client.fetch(`/v2/restart/img/blobs/${sha256(whole)}`)).text(),
      whole,
    );
  });
});

describe('deduplication', () => {
  test('concurrent pushes of one layer to many repositories store it once', async () => {
    await using server = await startOciServer({ config: NAMED });
    const client = new Client(server.url);
    const layer = Buffer.alloc(256 * 1024, 42);
    const digest = sha256(layer);
    const names = ['dedup/a', 'dedup/b', 'dedup/c', 'team/dedup', 'dedup/d', 'dedup/e'];
    await Promise.all(names.map((name) => client.pushBlob(name, layer)));
    for (const name of names) {
      const head = await client.fetch(`/v2/${name}/blobs/${digest}`, { method: 'HEAD' });
      assert.equal(head.status, 200, name);
    }
    const hex = digest.slice('sha256:'.length);
    const dir = path.join(server.config.storage.path, 'blobs', 'sha256', hex.slice(0, 2));
    assert.deepEqual(
      (await fs.readdir(dir)).filter((f) => f === hex),
      [hex],
    );
    const rows = await server.app.context.db
      .selectFrom('blobs')
      .select('digest')
      .where('digest', '=', digest)
      .execute();
    assert.equal(rows.length, 1);
  });
});
