/**
 * A rule granting `write` without `read` on one hosted member of a group (what `nora import
 * --grant-write` proposes) reserves its paths against the group's other HOSTED members, not
 * against its proxies (RuleSet.answeringMembers, docs/auth.md "Semantics"). Since the 26th
 * session such rules chose no member, so a writer of another hosted member shadowed, through the
 * group, the name the rule gives to its writers: bob published `@corp/lib@9.0.0` to `npm-hosted`,
 * and a reader of the group was offered bob's 9.0.0 beside alice's 1.0.0 (as `latest`). The
 * group's proxies still answer names the hosted members lack.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { basic, rule } from '../../helpers/auth.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { escapedName, packumentOf, publishBody } from '../npm/fixtures.ts';

describe('a write-only rule on a hosted member keeps its names from the other hosted members', () => {
  let server: TestServer;
  let origin: http.Server;
  const alice = basic('alice', 'alice-pw-1');
  const bob = basic('bob', 'bob-pw-1');
  const carol = basic('carol', 'carol-pw-1');

  before(async () => {
    // The raw proxy's upstream: a file under the reserved folder, one a hosted member also has.
    origin = http.createServer((req, res) => {
      const body = { '/x/up.txt': 'UPSTREAM', '/x/top.txt': 'UPSTREAM-TOP' }[req.url ?? ''];
      if (body === undefined) res.writeHead(404).end('not found');
      else res.writeHead(200, { 'content-length': String(body.length) }).end(body);
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    const upstream = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
    server = await startTestServer({
      config: {
        npm: { proxy: '' },
        auth: {
          enabled: true,
          anonymous_read: false,
          rules: [
            rule({
              repositories: ['team-npm'],
              paths: ['@corp/*'],
              users: ['alice'],
              actions: ['write'],
            }),
            rule({
              repositories: ['team-raw'],
              paths: ['x/**'],
              users: ['alice'],
              actions: ['write'],
            }),
            // Beside them, who reads the members (as `nora import --grant-write` proposes it).
            rule({ repositories: ['team-*'], users: ['*'], actions: ['read'] }),
          ],
        },
        repositories: [
          { name: 'team-npm', format: 'npm', kind: 'hosted' },
          {
            name: 'all-npm',
            format: 'npm',
            kind: 'group',
            members: ['npm-hosted', 'team-npm'],
            write_member: 'npm-hosted',
          },
          { name: 'team-raw', format: 'raw', kind: 'hosted' },
          { name: 'up-raw', format: 'raw', kind: 'proxy', upstreams: [{ url: upstream }] },
          {
            name: 'all-raw',
            format: 'raw',
            kind: 'group',
            members: ['raw-hosted', 'team-raw', 'up-raw'],
            write_member: 'raw-hosted',
          },
        ],
      },
    });
    const { users } = server.app.context.identity;
    await users.create('alice', 'alice-pw-1', undefined, ['read', 'write']);
    await users.create('bob', 'bob-pw-1', undefined, ['read', 'write']);
    await users.create('carol', 'carol-pw-1', undefined, ['read']);
  });
  after(async () => {
    await server.close();
    await new Promise((resolve) => origin.close(resolve));
  });

  const get = async (url: string, authorization = carol) => {
    const res = await fetch(`${server.url}${url}`, {
      headers: { authorization, accept: 'application/json' },
    });
    return { status: res.status, text: await res.text() };
  };
  const put = async (url: string, authorization: string, body: string, type?: string) => {
    const res = await fetch(`${server.url}${url}`, {
      method: 'PUT',
      headers: { authorization, ...(type === undefined ? {} : { 'content-type': type }) },
      body,
    });
    return { status: res.status, text: await res.text() };
  };

  test('npm: the group offers the reserving member versions only, the other hosted member steps aside', async () => {
    const name = '@corp/lib';
    const publish = (repo: string, who: string, version: string) =>
      put(
        `/repository/${repo}/${escapedName(name)}`,
        who,
        JSON.stringify(publishBody({ name, version })),
        'application/json',
      );
    assert.equal((await publish('team-npm', alice, '1.0.0')).status, 201);
    // The rule restricts writes on team-npm only: bob may still publish the name to npm-hosted.
    assert.equal((await publish('team-npm', bob, '2.0.0')).status, 403);
    const shadow = await publish('npm-hosted', bob, '9.0.0');
    assert.equal(shadow.status, 201, shadow.text);

    assert.deepEqual(packumentOf(await get(`/repository/all-npm/${escapedName(name)}`)), {
      versions: ['1.0.0'],
      latest: '1.0.0',
    });
    assert.equal((await get(`/repository/all-npm/${name}/-/lib-9.0.0.tgz`)).status, 404);
    assert.equal((await get(`/repository/all-npm/${name}/-/lib-1.0.0.tgz`)).status, 200);
    // A name no rule reserves: every hosted member answers, as before.
    const free = await put(
      `/repository/npm-hosted/${escapedName('free-lib')}`,
      bob,
      JSON.stringify(publishBody({ name: 'free-lib', version: '1.0.0' })),
      'application/json',
    );
    assert.equal(free.status, 201, free.text);
    assert.equal((await get(`/repository/all-npm/${escapedName('free-lib')}`)).status, 200);
  });

  test('raw: the reserving member answers, the other hosted member not, the proxy still does', async () => {
    assert.equal((await put('/repository/team-raw/x/top.txt', alice, 'TEAM')).status, 201);
    assert.equal((await put('/raw/x/top.txt', bob, 'BOB')).status, 201);
    assert.equal((await put('/raw/x/bob-only.txt', bob, 'BOB2')).status, 201);

    assert.equal((await get('/repository/all-raw/x/top.txt')).text, 'TEAM');
    const miss = await get('/repository/all-raw/x/bob-only.txt');
    assert.equal(miss.status, 404);
    assert.match(
      miss.text,
      /a rule on team-raw reserves this name: group all-raw answers it from team-raw, up-raw only/,
    );
    // Not shut out: the proxy answers a reserved-folder file no hosted member has.
    const up = await get('/repository/all-raw/x/up.txt');
    assert.equal(up.status, 200, up.text);
    assert.equal(up.text, 'UPSTREAM');
    // Outside the rule's paths, the first hosted member answers as before.
    assert.equal((await put('/raw/y/top.txt', bob, 'BOB-Y')).status, 201);
    assert.equal((await get('/repository/all-raw/y/top.txt')).text, 'BOB-Y');
  });
});
