/**
 * npm accounts with [auth] enabled: adduser/login, whoami, tokens, publish needs a user;
 * self-registration on and off (`[auth] allow_registration`); tokens restricted to CIDRs, with the
 * client address taken from X-Forwarded-For behind a trusted proxy (`[auth] trusted_proxies`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LOOPBACK_PROXY, startTestServer, type TestServer } from '../../helpers/server.ts';
import { NpmHttp } from './client.ts';
import { publishBody } from './fixtures.ts';

type Json = Record<string, unknown>;

describe('npm accounts and tokens (auth enabled)', () => {
  let server: TestServer;
  let anon: NpmHttp;

  before(async () => {
    server = await startTestServer({
      // anonymous_read: on (the default). The X-Forwarded-For test plays a proxy on this host.
      config: {
        auth: { enabled: true, allow_registration: true, trusted_proxies: [...LOOPBACK_PROXY] },
      },
    });
    anon = new NpmHttp(`${server.url}/npm`);
  });
  after(async () => {
    await server.close();
  });

  test('anonymous publish → 401, anonymous read allowed, whoami → 401', async () => {
    const reply = await anon.publish({ name: 'secured', version: '1.0.0' });
    assert.equal(reply.status, 401);
    assert.ok(reply.json<{ error: string }>().error);
    assert.equal((await anon.packument('secured')).status, 404);
    assert.equal((await anon.request('GET', '/-/whoami')).status, 401);
  });

  test('adduser creates the user and returns a token; publish and whoami with it', async () => {
    const alice = new NpmHttp(`${server.url}/npm`);
    const reply = await alice.login('alice', 's3cret-pass');
    assert.equal(reply.status, 201, reply.text);
    assert.match(alice.token ?? '', /^nra_/);
    assert.deepEqual((await alice.request('GET', '/-/whoami')).json(), { username: 'alice' });
    assert.equal((await alice.publish({ name: 'secured', version: '1.0.0' })).status, 201);
    const doc = (await anon.packument('secured')).json<{
      versions: Record<string, { _npmUser?: { name: string } }>;
      maintainers: { name: string }[];
    }>();
    assert.equal(doc.versions['1.0.0']!._npmUser?.name, 'alice');
    assert.equal(doc.maintainers[0]!.name, 'alice');
  });

  // Trial 13 F7: the body's maintainers were stored verbatim, so alice could publish a package
  // that `npm owner ls` and `npm search` showed as root's, and carol's publish dropped alice.
  test("maintainers and publishers are the authenticated users, never the body's", async () => {
    const alice = new NpmHttp(`${server.url}/npm`);
    assert.equal((await alice.login('alice', 's3cret-pass')).status, 201);
    const spoofed = publishBody({ name: 'spoofed', version: '1.0.0' }) as Json;
    spoofed['maintainers'] = [{ name: 'root', email: 'root@example.invalid' }];
    const manifest = (spoofed['versions'] as Record<string, Json>)['1.0.0']!;
    manifest['_npmUser'] = { name: 'root' };
    manifest['maintainers'] = [{ name: 'root' }];
    assert.equal((await alice.request('PUT', '/spoofed', spoofed)).status, 201);
    const mallory = new NpmHttp(`${server.url}/npm`);
    assert.equal((await mallory.login('mallory', 'mallory-pass-1')).status, 201);
    const next = publishBody({ name: 'spoofed', version: '1.1.0' }) as Json;
    next['maintainers'] = [{ name: 'mallory' }];
    assert.equal((await mallory.request('PUT', '/spoofed', next)).status, 201);

    type Person = { name: string };
    const doc = (await anon.packument('spoofed')).json<{
      maintainers: Person[];
      versions: Record<string, { _npmUser?: Person; maintainers?: Person[] }>;
    }>();
    const names = (people: Person[] | undefined) => people?.map((p) => p.name);
    assert.deepEqual(names(doc.maintainers), ['alice', 'mallory']);
    assert.equal(doc.versions['1.0.0']!._npmUser?.name, 'alice');
    assert.deepEqual(names(doc.versions['1.0.0']!.maintainers), ['alice']);
    assert.equal(doc.versions['1.1.0']!._npmUser?.name, 'mallory');
    assert.deepEqual(names(doc.versions['1.1.0']!.maintainers), ['alice', 'mallory']);

    type Found = { objects: { package: Json }[] };
    const search = async (text: string) =>
      (await anon.request('GET', `/-/v1/search?text=${encodeURIComponent(text)}`)).json<Found>();
    assert.equal((await search('maintainer:root')).objects.length, 0);
    const hit = (await search('spoofed')).objects[0]!.package;
    assert.deepEqual(hit['publisher'], { username: 'mallory', email: 'mallory@example.test' });
    assert.deepEqual(
      (hit['maintainers'] as { username: string }[]).map((m) => m.username),
      ['alice', 'mallory'],
    );
  });

  test('login again: right password → new token, wrong password → 401; bad bodies → 400', async () => {
    const again = new NpmHttp(`${server.url}/npm`);
    assert.equal((await again.login('alice', 's3cret-pass')).status, 201);
    const wrong = new NpmHttp(`${server.url}/npm`);
    assert.equal((await wrong.login('alice', 'nope')).status, 401);
    const noPassword = await anon.request('PUT', '/-/user/org.couchdb.user:bob', { name: 'bob' });
    assert.equal(noPassword.status, 400);
    const mismatch = await anon.request('PUT', '/-/user/org.couchdb.user:bob', {
      name: 'eve',
      password: 'x',
    });
    assert.equal(mismatch.status, 400);
    const badName = await anon.request('PUT', '/-/user/org.couchdb.user:..%2fx', {
      name: '../x',
      password: 'x',
    });
    assert.equal(badName.status, 400);
  });

  test('Basic credentials work too', async () => {
    const basic = `Basic ${Buffer.from('alice:s3cret-pass').toString('base64')}`;
    const reply = await anon.request('GET', '/-/whoami', undefined, { authorization: basic });
    assert.deepEqual(reply.json(), { username: 'alice' });
    const bad = await anon.request('GET', '/-/whoami', undefined, {
      authorization: `Basic ${Buffer.from('alice:wrong').toString('base64')}`,
    });
    assert.equal(bad.status, 401);
  });

  test('token list / create (password required) / revoke; revoked and unknown tokens → 401', async () => {
    const alice = new NpmHttp(`${server.url}/npm`);
    await alice.login('alice', 's3cret-pass');
    const noPassword = await alice.request('POST', '/-/npm/v1/tokens', { readonly: true });
    assert.equal(noPassword.status, 401);
    const created = await alice.request('POST', '/-/npm/v1/tokens', {
      password: 's3cret-pass',
      readonly: true,
      cidr_whitelist: [],
    });
    assert.equal(created.status, 200, created.text);
    const token = created.json<{ token: string; key: string; readonly: boolean }>();
    assert.equal(token.readonly, true);
    const list = (await alice.request('GET', '/-/npm/v1/tokens')).json<{
      objects: { key: string; token: string; readonly: boolean }[];
      total: number;
    }>();
    assert.ok(list.total >= 2);
    const listed = list.objects.find((o) => o.key === token.key);
    assert.ok(listed);
    assert.ok(!listed.token.includes(token.token.slice(12)), 'the secret is never listed');

    const readonly = new NpmHttp(`${server.url}/npm`, token.token);
    assert.deepEqual((await readonly.request('GET', '/-/whoami')).json(), { username: 'alice' });
    assert.equal((await readonly.publish({ name: 'secured', version: '2.0.0' })).status, 403);

    assert.equal(
      (await alice.request('DELETE', `/-/npm/v1/tokens/token/${token.key.slice(0, 8)}`)).status,
      204,
    );
    assert.equal((await readonly.request('GET', '/-/whoami')).status, 401);
    assert.equal(
      (await alice.request('DELETE', '/-/npm/v1/tokens/token/doesnotexist')).status,
      404,
    );
    assert.equal(
      (await new NpmHttp(`${server.url}/npm`, 'nora_bogus').request('GET', '/-/whoami')).status,
      401,
    );
  });

  test('logout revokes the session token', async () => {
    const carol = new NpmHttp(`${server.url}/npm`);
    await carol.login('carol', 'carol-pass');
    const secret = carol.token!;
    assert.equal((await carol.request('DELETE', `/-/user/token/${secret}`)).status, 200);
    assert.equal((await carol.request('GET', '/-/whoami')).status, 401);
  });

  test('tokens are stored as sha256 only, passwords as scrypt', async () => {
    const dave = new NpmHttp(`${server.url}/npm`);
    await dave.login('dave', 'dave-pass');
    const db = server.app.context.db as unknown as {
      selectFrom(t: string): { selectAll(): { execute(): Promise<Record<string, unknown>[]> } };
    };
    const tokens = await db.selectFrom('auth_tokens').selectAll().execute();
    const dump = JSON.stringify(tokens);
    assert.ok(!dump.includes(dave.token!), 'no secret in the database');
    const users = await db.selectFrom('auth_users').selectAll().execute();
    assert.ok(users.every((u) => String(u['password_hash']).startsWith('scrypt$')));
    assert.ok(!JSON.stringify(users).includes('dave-pass'));
  });

  test('token create validates cidr_whitelist: bad ranges → 400 naming them', async () => {
    const erin = new NpmHttp(`${server.url}/npm`);
    await erin.login('erin', 'erin-pass');
    for (const bad of [['10.0.0.0/33'], ['not-an-ip'], ['10.0.0.0/8', 'fe80::1%eth0/64']]) {
      const reply = await erin.request('POST', '/-/npm/v1/tokens', {
        password: 'erin-pass',
        cidr_whitelist: bad,
      });
      assert.equal(reply.status, 400, reply.text);
      assert.match(reply.json<{ error: string }>().error, /invalid CIDR/);
    }
    const tooMany = await erin.request('POST', '/-/npm/v1/tokens', {
      password: 'erin-pass',
      cidr_whitelist: Array.from({ length: 65 }, (_, i) => `10.0.${i}.0/24`),
    });
    assert.equal(tooMany.status, 400);
  });

  test('a CIDR-restricted token works inside its ranges and is refused (401) outside', async () => {
    const frank = new NpmHttp(`${server.url}/npm`);
    await frank.login('frank', 'frank-pass');
    const create = async (cidrs: string[]) => {
      const reply = await frank.request('POST', '/-/npm/v1/tokens', {
        password: 'frank-pass',
        cidr_whitelist: cidrs,
      });
      assert.equal(reply.status, 200, reply.text);
      const created = reply.json<{ token: string; cidr_whitelist: string[] }>();
      assert.deepEqual(created.cidr_whitelist, cidrs);
      return created.token;
    };
    // Over TCP from 127.0.0.1.
    const local = new NpmHttp(`${server.url}/npm`, await create(['127.0.0.0/8']));
    assert.deepEqual((await local.request('GET', '/-/whoami')).json(), { username: 'frank' });
    assert.equal((await local.publish({ name: 'cidr-ok', version: '1.0.0' })).status, 201);
    const mapped = new NpmHttp(`${server.url}/npm`, await create(['::ffff:127.0.0.1/128']));
    assert.equal((await mapped.request('GET', '/-/whoami')).status, 200);
    const elsewhere = new NpmHttp(`${server.url}/npm`, await create(['10.0.0.0/8', 'fd00::/8']));
    const refused = await elsewhere.request('GET', '/-/whoami');
    assert.equal(refused.status, 401);
    assert.match(
      refused.json<{ error: string }>().error,
      /may only be used from 10\.0\.0\.0\/8, fd00::\/8.*127\.0\.0\.1/,
    );
    // Refused for reads too, and before anything else happens (no anonymous fallback).
    assert.equal((await elsewhere.packument('cidr-ok')).status, 401);
    assert.equal((await elsewhere.publish({ name: 'cidr-no', version: '1.0.0' })).status, 401);
    assert.equal((await anon.packument('cidr-no')).status, 404);

    // Other client addresses, as the socket would report them (inject sets remoteAddress).
    const inject = (token: string, remoteAddress: string) =>
      server.app.fastify.inject({
        method: 'GET',
        url: '/npm/-/whoami',
        headers: { authorization: `Bearer ${token}` },
        remoteAddress,
      });
    const v6 = await create(['fd00::/8']);
    assert.equal((await inject(v6, 'fd00::1234')).statusCode, 200);
    assert.equal((await inject(v6, '2001:db8::1')).statusCode, 401);
    const v4 = await create(['10.0.0.0/8']);
    assert.equal((await inject(v4, '::ffff:10.9.8.7')).statusCode, 200);
    assert.equal((await inject(v4, '10.9.8.7')).statusCode, 200);
    assert.equal((await inject(v4, '::ffff:11.0.0.1')).statusCode, 401);
  });

  test('behind a trusted proxy X-Forwarded-For is the client address; from anyone else it is ignored', async () => {
    const ivy = new NpmHttp(`${server.url}/npm`);
    await ivy.login('ivy', 'ivy-pass');
    const reply = await ivy.request('POST', '/-/npm/v1/tokens', {
      password: 'ivy-pass',
      cidr_whitelist: ['10.0.0.0/8'],
    });
    const token = reply.json<{ token: string }>().token;
    const whoami = (peer: string, forwardedFor: string) =>
      server.app.fastify.inject({
        method: 'GET',
        url: '/npm/-/whoami',
        headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': forwardedFor },
        remoteAddress: peer,
      });
    // trusted_proxies: loopback (a proxy on the same host; NORA's default).
    assert.equal((await whoami('127.0.0.1', '10.1.2.3')).statusCode, 200);
    assert.equal((await whoami('::1', '10.1.2.3')).statusCode, 200);
    // Chains are walked from the right past trusted hops only: the first untrusted one counts.
    assert.equal((await whoami('127.0.0.1', '10.1.2.3, 127.0.0.1')).statusCode, 200);
    const spoofed = await whoami('127.0.0.1', '10.1.2.3, 192.0.2.9');
    assert.equal(spoofed.statusCode, 401);
    assert.match(spoofed.json<{ error: string }>().error, /192\.0\.2\.9/);
    // A peer that is not a trusted proxy is taken at its socket address, whatever it claims.
    const direct = await whoami('192.0.2.5', '10.1.2.3');
    assert.equal(direct.statusCode, 401);
    assert.match(direct.json<{ error: string }>().error, /192\.0\.2\.5/);
  });
});

describe('[auth] trusted_proxies', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ config: { auth: { trusted_proxies: ['10.9.0.0/16'] } } });
    const alpha = await new NpmHttp(`${server.url}/npm`).publish({ name: 'fwd', version: '1.0.0' });
    assert.equal(alpha.status, 201, alpha.text);
  });
  after(async () => {
    await server.close();
  });

  const tarballUrl = async (peer: string, headers: Record<string, string>) => {
    const reply = await server.app.fastify.inject({
      method: 'GET',
      url: '/npm/fwd',
      headers: { host: 'nora.internal:4000', ...headers },
      remoteAddress: peer,
    });
    assert.equal(reply.statusCode, 200, reply.body);
    const doc = reply.json<{ versions: Record<string, { dist: { tarball: string } }> }>();
    return doc.versions['1.0.0']?.dist.tarball;
  };
  const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'npm.example.com' };

  test('tarball URLs follow X-Forwarded-Proto/Host from a trusted proxy only', async () => {
    assert.equal(
      await tarballUrl('10.9.1.1', forwarded),
      'https://npm.example.com/npm/fwd/-/fwd-1.0.0.tgz',
    );
    // Loopback is not in this list: its forwarded headers are ignored.
    assert.equal(
      await tarballUrl('127.0.0.1', forwarded),
      'http://nora.internal:4000/npm/fwd/-/fwd-1.0.0.tgz',
    );
  });

  test('a reload applies a new list at once', async () => {
    server.app.reload({ ...server.config, auth: { ...server.config.auth, trusted_proxies: [] } });
    assert.equal(
      await tarballUrl('10.9.1.1', forwarded),
      'http://nora.internal:4000/npm/fwd/-/fwd-1.0.0.tgz',
    );
  });

  test('invalid entries are a configuration error naming the key; the variable takes a list', async () => {
    const { parseConfigObject } = await import('../../../src/config/load.ts');
    assert.throws(
      () => parseConfigObject({ auth: { trusted_proxies: ['10.0.0.0/33', 'proxy.local'] } }, {}),
      /trusted_proxies[\s\S]*"10\.0\.0\.0\/33", "proxy\.local"/,
    );
    const { config } = parseConfigObject({}, { NORA_AUTH_TRUSTED_PROXIES: '10.0.0.0/8, fd00::/8' });
    assert.deepEqual(config.auth.trusted_proxies, ['10.0.0.0/8', 'fd00::/8']);
    assert.deepEqual(parseConfigObject({}, {}).config.auth.trusted_proxies, ['127.0.0.1', '::1']);
  });
});

describe('npm self-registration off ([auth] allow_registration = false, the default)', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({
      // The test client stands for many clients (X-Forwarded-For) behind a proxy on this host.
      config: {
        auth: { enabled: true, allow_registration: true, trusted_proxies: [...LOOPBACK_PROXY] },
      },
    });
    // An account made while registration was open, then registration closed by a reload.
    assert.equal((await new NpmHttp(`${server.url}/npm`).login('gina', 'gina-pass')).status, 201);
    server.app.reload({
      ...server.config,
      auth: { ...server.config.auth, allow_registration: false },
    });
  });
  after(async () => {
    await server.close();
  });

  test('the default is off', async () => {
    const { parseConfigObject } = await import('../../../src/config/load.ts');
    assert.equal(parseConfigObject({}, {}).config.auth.allow_registration, false);
  });

  test('an unknown name cannot register, and is not told apart from a wrong password', async () => {
    // Found by new users: 403 "user … does not exist" for an unknown name but 401 for a known
    // one told which names exist. Now both get the same 401, the same body and headers.
    const login = (user: string, password: string, from: string) =>
      new NpmHttp(`${server.url}/npm`).request(
        'PUT',
        `/-/user/org.couchdb.user:${user}`,
        { name: user, password, email: `${user}@example.test` },
        { 'x-forwarded-for': from },
      );
    const unknown = await login('mallory', 'whatever', '10.77.0.1');
    const wrong = await login('gina', 'wrong-pass', '10.77.0.2');
    assert.equal(unknown.status, 401, unknown.text);
    assert.equal(unknown.text, wrong.text);
    assert.equal(unknown.headers.get('www-authenticate'), wrong.headers.get('www-authenticate'));
    assert.equal(unknown.headers.get('content-type'), wrong.headers.get('content-type'));
    // Not created as a side effect: still unknown afterwards.
    assert.equal((await login('mallory', 'whatever', '10.77.0.3')).status, 401);
    // Counted as failed logins: from the 5th failure on the address is locked (429), as for
    // wrong passwords of existing users.
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push((await login(`nosuchuser${String(i)}`, 'guess', '10.77.0.9')).status);
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
    // The same for one unknown name probed from many addresses: the name is counted too.
    const byName: number[] = [];
    for (let i = 0; i < 6; i++) {
      byName.push((await login('nosuchuser', 'guess', `10.78.0.${String(i + 1)}`)).status);
    }
    assert.deepEqual(byName, [401, 401, 401, 401, 401, 429]);
  });

  test('an existing user still logs in (right password → token, wrong → 401) and publishes', async () => {
    const gina = new NpmHttp(`${server.url}/npm`);
    assert.equal((await gina.login('gina', 'wrong')).status, 401);
    const reply = await gina.login('gina', 'gina-pass');
    assert.equal(reply.status, 201, reply.text);
    assert.deepEqual((await gina.request('GET', '/-/whoami')).json(), { username: 'gina' });
    assert.equal((await gina.publish({ name: 'closed-reg', version: '1.0.0' })).status, 201);
  });
});

describe('self-registration: a name differing only by case from a user is refused', () => {
  let server: TestServer;
  let dir: string;

  before(async () => {
    const fs = await import('node:fs/promises');
    const os = await import('node:os');
    const path = await import('node:path');
    const bcrypt = (await import('bcryptjs')).default;
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-npm-case-'));
    const file = path.join(dir, 'users.htpasswd');
    await fs.writeFile(file, `root:${bcrypt.hashSync('root-pw', 4)}\n`);
    server = await startTestServer({
      config: {
        auth: {
          enabled: true,
          anonymous_read: true,
          allow_registration: true,
          htpasswd_file: file,
          admin_users: ['alice'],
          // A group naming the htpasswd user: its case twin is still a 409 (trial 13 F4).
          groups: { writers: ['root'] },
        },
      },
    });
    assert.equal((await new NpmHttp(`${server.url}/npm`).login('dave', 'dave-pass')).status, 201);
  });
  after(async () => {
    await server.close();
    const fs = await import('node:fs/promises');
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('Dave next to dave, Root next to htpasswd root, ALICE next to admin alice: 409', async () => {
    for (const [name, existing] of [
      ['Dave', 'dave'],
      ['DAVE', 'dave'],
      ['Root', 'root'],
      ['ALICE', 'alice'],
    ] as const) {
      const client = new NpmHttp(`${server.url}/npm`);
      const reply = await client.login(name, 'some-pass');
      assert.equal(reply.status, 409, `${name}: ${reply.text}`);
      const { error } = reply.json<{ error: string }>();
      assert.match(error, new RegExp(`"${existing}" only by case`), error);
      assert.equal(client.token, undefined);
    }
    // Not created as a side effect.
    const stored = await server.app.context.identity.users.get('Dave');
    assert.equal(stored, undefined);
  });

  test('existing users are unaffected; an unrelated new name registers', async () => {
    assert.equal((await new NpmHttp(`${server.url}/npm`).login('dave', 'dave-pass')).status, 201);
    assert.equal((await new NpmHttp(`${server.url}/npm`).login('root', 'root-pw')).status, 201);
    assert.equal((await new NpmHttp(`${server.url}/npm`).login('erin', 'erin-pass')).status, 201);
  });
});

describe('self-registration: a name the configuration grants rights to is refused', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({
      config: {
        auth: {
          enabled: true,
          anonymous_read: true,
          allow_registration: true,
          groups: { release: ['shipper'] },
          rules: [
            {
              repositories: ['npm-hosted'],
              paths: ['@corp/*'],
              users: ['relbot'],
              groups: ['release'],
              actions: ['read', 'write'],
            },
          ],
        },
      },
    });
  });
  after(() => server.close());

  // The refusal used to name the rule or group (`[auth.groups] release`) and advise the
  // htpasswd file: configuration told to an anonymous caller (trial 13 F4).
  test('relbot (a rule) and shipper (a group): 403 saying reserved, not where; no account made', async () => {
    for (const name of ['relbot', 'RelBot', 'shipper']) {
      const client = new NpmHttp(`${server.url}/npm`);
      const reply = await client.login(name, 'stranger-pass');
      assert.equal(reply.status, 403, `${name}: ${reply.text}`);
      const { error } = reply.json<{ error: string }>();
      assert.match(error, /reserved by this server's configuration/, error);
      assert.doesNotMatch(error, /rules|groups|release|htpasswd/, error);
      assert.equal(await server.app.context.identity.users.get(name), undefined);
    }
  });

  test('an unrelated name registers; an account made before the rule still logs in', async () => {
    assert.equal((await new NpmHttp(`${server.url}/npm`).login('erin', 'erin-pass')).status, 201);
    await server.app.context.identity.users.create('relbot', 'relbot-pass', undefined);
    assert.equal(
      (await new NpmHttp(`${server.url}/npm`).login('relbot', 'relbot-pass')).status,
      201,
    );
  });
});

describe('npm publish with auth off: no publisher, and no maintainers taken from the body', () => {
  test('an anonymous publish records neither; npm owner ls then prints "no admin found"', async () => {
    await using server = await startTestServer();
    const anon = new NpmHttp(`${server.url}/npm`);
    const body = publishBody({ name: 'anon-claims', version: '1.0.0' }) as Json;
    body['maintainers'] = [{ name: 'root' }];
    const manifest = (body['versions'] as Record<string, Json>)['1.0.0']!;
    manifest['_npmUser'] = { name: 'root' };
    manifest['maintainers'] = [{ name: 'root' }];
    assert.equal((await anon.request('PUT', '/anon-claims', body)).status, 201);
    const doc = (await anon.packument('anon-claims')).json<
      Json & { versions: Record<string, Json> }
    >();
    assert.equal(doc['maintainers'], undefined);
    assert.equal(doc.versions['1.0.0']!['_npmUser'], undefined);
    assert.equal(doc.versions['1.0.0']!['maintainers'], undefined);
  });
});
