/**
 * A client is never locked out by its own abandoned upload sessions (tenth session, trial
 * ocijvm F1). A push killed mid-PATCH (a cancelled CI job) leaves sessions whose UUIDs died with
 * the process; a shared CI account at `max_upload_sessions_per_client` then got 429 for every
 * push until `upload_session_ttl` (30 min). Now, at the limit, the client's own sessions that
 * have received nothing for `[docker] upload_session_idle` are cancelled, least recently used
 * first, to make room; a session with a body streaming in, and another client's sessions, are
 * never taken. Only when none is idle is the 429 sent, saying what counts and when one frees.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { Client, expectError, startOciServer } from './helpers.ts';

const auth = (user: string) =>
  `Basic ${Buffer.from(`${user}:${user}-password`).toString('base64')}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** [docker] upload_session_idle here: far longer than the test's steps take on a loaded machine. */
const IDLE_S = 60;

/** A PATCH that sends part of its announced body and is then killed, as a cancelled job's. */
function killedPatch(base: string, location: string, user: string): Promise<void> {
  return new Promise((resolve) => {
    const req = request(`${base}${location}`, {
      method: 'PATCH',
      headers: { authorization: auth(user), 'content-length': String(1024 * 1024) },
    });
    req.on('error', () => {
      resolve();
    });
    req.write(Buffer.alloc(64 * 1024, 7), () => {
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 50);
    });
  });
}

describe('upload sessions idle past docker.upload_session_idle make room for their client', () => {
  test('killed pushes do not lock the user out; others’ sessions and streaming ones are kept', async () => {
    const lines: string[] = [];
    await using server = await startOciServer({
      logLevel: 'info',
      logStream: {
        write(line: string) {
          lines.push(line);
        },
      },
      config: {
        auth: { enabled: true },
        docker: {
          upstreams: [],
          max_upload_sessions: 6,
          max_upload_sessions_per_client: 3,
          upload_session_idle: IDLE_S,
        },
      },
    });
    // Sessions are made idle by ageing their rows, not by sleeping past a short idle time: with
    // 1 s, a loaded machine took that long for the pushes below, so the check that the limit
    // holds within the idle time met an idle session already (202, not 429).
    const ageSessions = () =>
      server.app.context.db
        .$extendTables<{ oci_uploads: { updated_at: number } }>()
        .updateTable('oci_uploads')
        .set({ updated_at: sql<number>`updated_at - ${(IDLE_S + 60) * 1000}` })
        .execute();
    const users = server.app.context.identity.users;
    await users.create('ci', 'ci-password', undefined);
    await users.create('carol', 'carol-password', undefined);
    const client = new Client(server.url);
    const post = (user: string, name = 'ci/app') =>
      client.fetch(`/v2/${name}/blobs/uploads/`, {
        method: 'POST',
        headers: { authorization: auth(user) },
      });
    const status = async (user: string, location: string) => {
      const response = await client.fetch(location, { headers: { authorization: auth(user) } });
      await response.text();
      return response.status;
    };

    // carol holds two sessions she does not use.
    const carols: string[] = [];
    for (let i = 0; i < 2; i++) {
      const started = await post('carol', 'carol/app');
      assert.equal(started.status, 202);
      carols.push(started.headers.get('location') ?? '');
    }
    // ci: three sessions, each PATCH killed mid-body.
    const killed: string[] = [];
    for (let i = 0; i < 3; i++) {
      const started = await post('ci');
      assert.equal(started.status, 202);
      const location = started.headers.get('location') ?? '';
      killed.push(location);
      await killedPatch(server.url, location, 'ci');
      await sleep(20); // distinct updated_at, so "least recently used first" is checkable
    }
    await sleep(100);

    // Within the idle period the limit holds, and the 429 says what counts and when room comes.
    const refused = await post('ci');
    const retry = Number(refused.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 10, `Retry-After ${retry}`);
    const body = await expectError(refused, 429, 'TOOMANYREQUESTS');
    const message = body.errors[0]?.message ?? '';
    assert.match(
      message,
      /for ci: 3 open \(max 3 per client, \[docker\] max_upload_sessions_per_client\)/,
    );
    assert.match(message, /counts from its POST until its PUT or DELETE/);
    assert.match(message, /no bytes for 60 s \(\[docker\] upload_session_idle\)/);
    const soonest = Number(/reclaimable in (\d+) s/.exec(message)?.[1]);
    assert.ok(soonest >= 1 && soonest <= IDLE_S, message);

    await ageSessions();
    // Past it, ci's next push gets a session: its oldest abandoned one is cancelled for it.
    const next = await post('ci');
    assert.equal(next.status, 202, await next.text());
    assert.equal(await status('ci', killed[0] ?? ''), 404);
    // The operator sees which session went, whose, and how far it had got.
    const reclaims = lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => String(entry.msg).startsWith('cancelled an idle upload session'));
    assert.equal(reclaims.length, 1, JSON.stringify(reclaims));
    const reclaim = reclaims[0] ?? {};
    assert.equal(reclaim.uploadId, (killed[0] ?? '').split('/').at(-1)?.split('?')[0]);
    assert.equal(reclaim.repository, 'docker-hosted');
    assert.equal(reclaim.name, 'ci/app');
    assert.equal(reclaim.client, 'ci');
    assert.equal(typeof reclaim.offset, 'number');
    assert.ok(Number(reclaim.idleSeconds) >= 1, JSON.stringify(reclaim));
    assert.equal(await status('ci', killed[1] ?? ''), 204);
    assert.equal(await status('ci', killed[2] ?? ''), 204);
    // carol's idle sessions were not ci's to take, though the server was at its limit too.
    for (const location of carols) assert.equal(await status('carol', location), 204);

    // A session with a body streaming in is not idle, however old its row.
    await ageSessions();
    const streaming = killed[1] ?? '';
    const patch = request(`${server.url}${streaming}`, {
      method: 'PATCH',
      headers: { authorization: auth('ci'), 'transfer-encoding': 'chunked' },
    });
    const patched = new Promise<number>((resolve, reject) => {
      patch.on('response', (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      patch.on('error', reject);
    });
    patch.write(Buffer.alloc(1000, 1));
    await sleep(200);
    // ci holds killed[1] (streaming, its row aged), killed[2] and the new one (both idle):
    // two POSTs reclaim killed[2] and the next one, never the streaming session.
    for (let i = 0; i < 2; i++) {
      const again = await post('ci');
      assert.equal(again.status, 202, await again.text());
      patch.write(Buffer.alloc(1000, 1));
    }
    assert.equal(await status('ci', killed[2] ?? ''), 404);
    patch.end(Buffer.alloc(1000, 1));
    assert.equal(await patched, 202);
    const range = await client.fetch(streaming, { headers: { authorization: auth('ci') } });
    assert.equal(range.headers.get('range'), '0-3999');
    await range.text();
  });
});

describe('the 429 at the per-client limit tells the truth about when room comes (trial 13 F2)', () => {
  /** Moves every session's last byte `seconds` into the past. */
  const age = (server: Awaited<ReturnType<typeof startOciServer>>, seconds: number) =>
    server.app.context.db
      .$extendTables<{ oci_uploads: { updated_at: number } }>()
      .updateTable('oci_uploads')
      .set({ updated_at: sql<number>`updated_at - ${seconds * 1000}` })
      .execute();

  test('sessions holding bytes, none in use: Retry-After is the time until the first is reclaimable', async () => {
    await using server = await startOciServer({
      config: {
        docker: { upstreams: [], max_upload_sessions_per_client: 2, upload_session_idle: IDLE_S },
      },
    });
    const client = new Client(server.url);
    for (let i = 0; i < 2; i++) {
      const started = await client.fetch('/v2/f2/bytes/blobs/uploads/', { method: 'POST' });
      assert.equal(started.status, 202);
      const patched = await client.fetch(started.headers.get('location') ?? '', {
        method: 'PATCH',
        body: Buffer.alloc(100, 1),
      });
      assert.equal(patched.status, 202);
    }
    // Their last bytes came 20 s ago (a push that died then): reclaimable in 40 s, no sooner.
    await age(server, 20);
    const refused = await client.fetch('/v2/f2/bytes/blobs/uploads/', { method: 'POST' });
    const retry = Number(refused.headers.get('retry-after'));
    const message = (await expectError(refused, 429, 'TOOMANYREQUESTS')).errors[0]?.message ?? '';
    const soonest = Number(/reclaimable in (\d+) s/.exec(message)?.[1]);
    assert.ok(soonest > IDLE_S - 20 - 5 && soonest <= IDLE_S - 20, message);
    assert.equal(retry, soonest, `Retry-After ${retry}, the message says ${soonest} s`);
  });

  test('sessions that never received a byte are reclaimable after 10 s, and Retry-After says so', async () => {
    await using server = await startOciServer({
      config: {
        docker: { upstreams: [], max_upload_sessions_per_client: 3, upload_session_idle: IDLE_S },
      },
    });
    const client = new Client(server.url);
    const opened: string[] = [];
    for (let i = 0; i < 3; i++) {
      const started = await client.fetch('/v2/f2/empty/blobs/uploads/', { method: 'POST' });
      assert.equal(started.status, 202);
      opened.push(started.headers.get('location') ?? '');
    }
    const refused = await client.fetch('/v2/f2/empty/blobs/uploads/', { method: 'POST' });
    const retry = Number(refused.headers.get('retry-after'));
    const message = (await expectError(refused, 429, 'TOOMANYREQUESTS')).errors[0]?.message ?? '';
    assert.match(message, /or 10 s when it has received none at all/);
    assert.ok(retry >= 1 && retry <= 10, `Retry-After ${retry}`);
    assert.equal(retry, Number(/reclaimable in (\d+) s/.exec(message)?.[1]), message);
    // 11 s later (well within upload_session_idle), the next POST reclaims the oldest.
    await age(server, 11);
    const next = await client.fetch('/v2/f2/empty/blobs/uploads/', { method: 'POST' });
    assert.equal(next.status, 202, await next.text());
    const gone = await client.fetch(opened[0] ?? '');
    assert.equal(gone.status, 404);
    await gone.text();
  });
});
